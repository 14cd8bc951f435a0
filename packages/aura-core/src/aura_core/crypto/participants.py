"""Participant identifiers and threshold parameters, checked in one place.

Identifiers are the x-coordinates of Shamir shares: nonzero scalars, here
Python ints in [1, L). Thresholds follow RFC 9591 (``MIN_PARTICIPANTS`` of
``MAX_PARTICIPANTS``) plus Aura's rule that a threshold of one is only the
single-signer case (plain Ed25519): a 1-of-n key would let any one of n
devices act alone while looking like a threshold key.
"""

from __future__ import annotations

from collections.abc import Iterable

from aura_core.crypto.ed25519_group import ORDER, serialize_scalar
from aura_core.errors import InvalidInput

__all__ = [
    "MAX_PARTICIPANTS",
    "check_identifier",
    "check_identifiers",
    "check_threshold",
    "serialize_identifier",
]

MAX_PARTICIPANTS = 65535
"""Upper bound on participants per key (as in the reference implementation's u16)."""


def check_identifier(value: object, *, name: str = "identifier") -> int:
    """Return ``value`` if it is an int in [1, L), else raise :class:`InvalidInput`."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput(f"{name} must be an int, got {type(value).__name__}")
    if not 0 < value < ORDER:
        if value == 0:
            raise InvalidInput(f"{name} must be nonzero")
        raise InvalidInput(f"{name} must be in [1, L), got {value}")
    return value


def check_identifiers(values: Iterable[object], *, name: str = "identifiers") -> tuple[int, ...]:
    """Validate distinct identifiers; returns them sorted ascending."""
    seen: set[int] = set()
    for value in values:
        ident = check_identifier(value, name=f"{name} entry")
        if ident in seen:
            raise InvalidInput(f"{name}: duplicate identifier {ident}")
        seen.add(ident)
    if len(seen) > MAX_PARTICIPANTS:
        raise InvalidInput(f"{name}: {len(seen)} participants exceed the limit {MAX_PARTICIPANTS}")
    return tuple(sorted(seen))


def check_threshold(min_signers: object, max_signers: object) -> tuple[int, int]:
    """Validate ``min_signers``-of-``max_signers``; refuse 1-of-n with n > 1."""
    for label, value in (("min_signers", min_signers), ("max_signers", max_signers)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidInput(f"{label} must be an int, got {type(value).__name__}")
    assert isinstance(min_signers, int) and isinstance(max_signers, int)
    if min_signers < 1:
        raise InvalidInput(f"min_signers must be at least 1, got {min_signers}")
    if max_signers > MAX_PARTICIPANTS:
        raise InvalidInput(f"max_signers {max_signers} exceeds the limit {MAX_PARTICIPANTS}")
    if min_signers > max_signers:
        raise InvalidInput(f"min_signers {min_signers} exceeds max_signers {max_signers}")
    if min_signers == 1 and max_signers != 1:
        raise InvalidInput(
            f"a 1-of-{max_signers} key is refused: a threshold of 1 is only allowed for a "
            "single participant (plain Ed25519)"
        )
    return min_signers, max_signers


def serialize_identifier(identifier: int) -> bytes:
    """The 32-byte scalar encoding of an identifier, as hashed by FROST."""
    return serialize_scalar(identifier)
