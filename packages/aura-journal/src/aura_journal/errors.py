"""Errors the journal layer raises, all members of the ``AuraError`` family.

Each rejection a journal can make has its own class, so callers (anti-entropy,
the guard chain, tests) can tell a forged signature from a missing parent
without reading messages. Every class derives from the ``aura_core`` error it
refines, so code that only knows the core family still handles it.
"""

from __future__ import annotations

from aura_core.errors import (
    CryptoError,
    ErrorKind,
    InvalidInput,
    ValidationError,
)

__all__ = [
    "AttestationInvalid",
    "AttestationRequired",
    "GroupKeyMismatch",
    "InsufficientSigners",
    "MissingDependency",
    "SnapshotConflict",
    "SnapshotMismatch",
    "StaleParent",
    "TreeOpInvalid",
    "UnknownFactType",
    "UnknownParent",
]


class UnknownFactType(InvalidInput):
    """A fact names a type the journal's registry does not know."""


class AttestationRequired(ValidationError):
    """A fact carries no attestation, or one of a kind its type does not accept."""


class AttestationInvalid(CryptoError):
    """A fact's signature does not verify against the key it names."""


class GroupKeyMismatch(CryptoError):
    """A tree operation is signed by a group key other than the one the tree holds."""


class InsufficientSigners(ValidationError):
    """A threshold attestation has fewer signers than the governing policy requires."""


class StaleParent(ValidationError):
    """A tree operation's parent epoch does not match the state its commitment names."""


class MissingDependency(ValidationError):
    """A fact refers to something this journal does not hold yet; retry once it arrives."""

    kind = ErrorKind.TRANSIENT


class UnknownParent(MissingDependency):
    """A tree operation names a parent commitment that no known tree state has."""


class TreeOpInvalid(ValidationError):
    """A tree operation cannot apply to its parent state (unknown node, duplicate leaf...)."""


class SnapshotMismatch(ValidationError):
    """A snapshot's stored reductions differ from reducing the facts it covers."""


class SnapshotConflict(ValidationError):
    """Garbage collection was asked for with a snapshot that is not the agreed head."""
