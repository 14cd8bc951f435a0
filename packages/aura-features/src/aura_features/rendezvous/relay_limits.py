"""What one relay is willing to hold and serve: sizes, lifetimes and quotas."""

from __future__ import annotations

import attrs

from aura_core.errors import InvalidInput
from aura_features.rendezvous.sealed_envelope import MAX_SEALED_ENVELOPE_BYTES

__all__ = ["RelayLimits"]


def _positive_int(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not int or value <= 0:
        raise InvalidInput(f"RelayLimits.{attribute.name} must be a positive int, got {value!r}")


def _positive_number(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) not in (int, float) or not value > 0:  # type: ignore[operator]
        raise InvalidInput(f"RelayLimits.{attribute.name} must be a positive number, got {value!r}")


@attrs.frozen
class RelayLimits:
    """Bounds a relay enforces. Mailbox and relay-wide quotas are kept in its database;
    connection quotas (rate, bytes) live with the connection, since senders are anonymous."""

    max_envelope_bytes: int = attrs.field(
        default=MAX_SEALED_ENVELOPE_BYTES, validator=_positive_int
    )
    """Largest ciphertext accepted."""
    max_ttl_s: int = attrs.field(default=7 * 24 * 3600, validator=_positive_int)
    """Longest an envelope is kept (a longer TTL is shortened to this)."""
    mailbox_max_envelopes: int = attrs.field(default=1024, validator=_positive_int)
    mailbox_max_bytes: int = attrs.field(default=32 * 1024 * 1024, validator=_positive_int)
    store_max_bytes: int = attrs.field(default=1024 * 1024 * 1024, validator=_positive_int)
    """Ciphertext bytes the whole relay holds at most."""
    connection_deposit_rate: float = attrs.field(default=5000.0, validator=_positive_number)
    """Sustained deposits per second one connection may make (token bucket)."""
    connection_deposit_burst: int = attrs.field(default=8192, validator=_positive_int)
    connection_max_bytes: int = attrs.field(default=256 * 1024 * 1024, validator=_positive_int)
    """Ciphertext bytes one connection may deposit over its lifetime."""
    fetch_max: int = attrs.field(default=256, validator=_positive_int)
    """Most envelopes one fetch returns."""
    fetch_max_bytes: int = attrs.field(default=900 * 1024, validator=_positive_int)
    """Ciphertext bytes one fetch returns at most (always at least one envelope), so a
    response fits a Noise channel's default 1 MiB message limit."""
    ack_max: int = attrs.field(default=1024, validator=_positive_int)
    max_in_flight: int = attrs.field(default=1024, validator=_positive_int)
    """Requests one connection may have outstanding (pipelining window)."""
    max_connections: int = attrs.field(default=1024, validator=_positive_int)
    idle_timeout_s: float = attrs.field(default=300.0, validator=_positive_number)
    batch_max: int = attrs.field(default=1024, validator=_positive_int)
    """Requests committed together in one durable transaction."""
    require_receipts: bool = attrs.field(
        default=False, validator=attrs.validators.instance_of(bool)
    )
    """Refuse envelopes without a receipt chain (a relay serving only its social graph)."""
