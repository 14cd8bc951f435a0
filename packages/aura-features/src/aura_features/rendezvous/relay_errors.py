"""Why a relay refused a request, as members of the ``AuraError`` family.

The relay answers a refused request with a short code and a message; the
client raises the matching class, so callers can tell "slow down" (quota,
transient) from "never retry this" (replay, malformed) without parsing text.
"""

from __future__ import annotations

from typing import ClassVar

from aura_core.errors import AuraError, ErrorKind, InvalidEncoding, InvalidInput, ValidationError

__all__ = [
    "RELAY_ERROR_CODES",
    "EnvelopeReplayed",
    "EnvelopeTooLarge",
    "MalformedRelayRequest",
    "ReceiptChainRejected",
    "RelayBusy",
    "RelayQuotaExceeded",
    "RelayRefused",
    "RelayUnavailable",
    "relay_error",
]


class RelayRefused(AuraError):
    """A relay refused a request; :attr:`code` is the wire code of the reason."""

    code: ClassVar[str] = "refused"


class RelayQuotaExceeded(RelayRefused):
    """A mailbox, connection or the whole relay is full; retry after the recipient fetches."""

    code: ClassVar[str] = "quota"
    kind = ErrorKind.TRANSIENT


class EnvelopeReplayed(RelayRefused, ValidationError):
    """The relay already holds (or delivered) an envelope with this id within its TTL."""

    code: ClassVar[str] = "replay"


class EnvelopeTooLarge(RelayRefused, InvalidInput):
    """The envelope is larger than this relay accepts."""

    code: ClassVar[str] = "too_large"


class MalformedRelayRequest(RelayRefused, InvalidEncoding):
    """The request frame does not decode as a relay request."""

    code: ClassVar[str] = "malformed"


class ReceiptChainRejected(RelayRefused, ValidationError):
    """The attached receipt chain is invalid, or this relay cannot check it, or it needs one."""

    code: ClassVar[str] = "receipts"


class RelayUnavailable(RelayRefused):
    """The relay's storage failed; the request was not applied. Retry later."""

    code: ClassVar[str] = "unavailable"
    kind = ErrorKind.TRANSIENT


class RelayBusy(RelayRefused):
    """The relay serves too many connections right now."""

    code: ClassVar[str] = "busy"
    kind = ErrorKind.TRANSIENT


RELAY_ERROR_CODES: dict[str, type[RelayRefused]] = {
    cls.code: cls
    for cls in (
        RelayQuotaExceeded,
        EnvelopeReplayed,
        EnvelopeTooLarge,
        MalformedRelayRequest,
        ReceiptChainRejected,
        RelayUnavailable,
        RelayBusy,
    )
}


def relay_error(code: str, message: str) -> RelayRefused:
    """The exception for a refusal the relay reported (an unknown code gives :class:`RelayRefused`)."""
    cls = RELAY_ERROR_CODES.get(code, RelayRefused)
    return cls(f"relay refused the request ({code}): {message}")
