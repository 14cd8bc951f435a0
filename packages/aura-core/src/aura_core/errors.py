"""One error family for the whole system.

Every error carries an :class:`ErrorKind` so callers can decide what to do
(retry, report, repair) without parsing messages. Messages name the input
that was wrong and never contain secrets.
"""

from __future__ import annotations

import enum

__all__ = [
    "AuraError",
    "AuthorizationDenied",
    "ConsensusError",
    "CryptoError",
    "ErrorKind",
    "InsufficientBudget",
    "InvalidEncoding",
    "InvalidIdentifier",
    "InvalidInput",
    "JournalCommitFailed",
    "LeakageBudgetExceeded",
    "NamespaceMismatch",
    "NotFound",
    "ProtocolViolation",
    "StorageError",
    "TransportError",
    "ValidationError",
]


class ErrorKind(enum.Enum):
    """How an error should be handled."""

    TRANSIENT = "transient"
    """A retry (perhaps after backoff) may succeed."""
    PERMANENT = "permanent"
    """The operation or input is invalid; retrying the same thing fails again."""
    SYSTEM = "system"
    """Infrastructure failed (disk, socket, corrupted store); may need repair."""


class AuraError(Exception):
    """Base of every error raised by Aura packages.

    Subclasses set a default :attr:`kind`; an instance may override it.
    """

    kind: ErrorKind = ErrorKind.PERMANENT

    def __init__(self, message: str, *, kind: ErrorKind | None = None) -> None:
        super().__init__(message)
        self.message = message
        if kind is not None:
            self.kind = kind

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, kind={self.kind.value})"


class InvalidInput(AuraError):
    """A caller passed a value that is out of range or malformed."""


class InvalidIdentifier(InvalidInput):
    """An identifier string or byte form could not be parsed."""


class InvalidEncoding(InvalidInput):
    """Bytes are not the canonical encoding they claim to be."""


class ValidationError(AuraError):
    """A structurally valid value breaks a domain rule (bad signature, stale epoch...)."""


class CryptoError(ValidationError):
    """A cryptographic check failed or a cryptographic input was invalid."""


class NamespaceMismatch(InvalidInput):
    """Two journals (or a fact and a journal) belong to different namespaces."""


class NotFound(AuraError):
    """A requested item does not exist."""


class AuthorizationDenied(AuraError):
    """The capability guard refused an operation. The message names the failed check."""


class InsufficientBudget(AuraError):
    """The flow budget has no headroom for this send; wait for the next epoch."""

    kind = ErrorKind.TRANSIENT


class LeakageBudgetExceeded(AuraError):
    """A send would exceed the privacy (leakage) budget for an observer class."""

    kind = ErrorKind.TRANSIENT


class JournalCommitFailed(AuraError):
    """Facts (and the charge coupled to them) could not be committed durably."""

    kind = ErrorKind.SYSTEM


class StorageError(AuraError):
    """The storage backend failed."""

    kind = ErrorKind.SYSTEM


class TransportError(AuraError):
    """A network channel failed or a peer sent something the channel rejects."""

    kind = ErrorKind.TRANSIENT


class ProtocolViolation(ValidationError):
    """A peer broke the protocol (unexpected message, wrong role, bad sequence)."""


class ConsensusError(AuraError):
    """Consensus could not reach a decision (conflict, equivocation, timeout)."""

    kind = ErrorKind.TRANSIENT
