"""Where a relay listens and which Noise static key it proves: what a descriptor or invite names."""

from __future__ import annotations

from typing import Any

import attrs

from aura_core.canonical_fields import as_encoding_error, read_bytes, read_map, read_str
from aura_core.errors import InvalidEncoding, InvalidInput
from aura_effects.noise_network import parse_address

__all__ = ["MAX_ADDRESS_CHARS", "RelayHint", "check_address"]

MAX_ADDRESS_CHARS = 256


def check_address(address: object, what: str = "address") -> str:
    """A ``tcp://`` or ``ws://`` address (``InvalidInput`` otherwise); ``mem://`` is for tests."""
    if type(address) is not str or not 0 < len(address) <= MAX_ADDRESS_CHARS:
        raise InvalidInput(f"{what} must be a string of 1..{MAX_ADDRESS_CHARS} characters")
    parse_address(address)
    return address


def _check_address(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    check_address(value, f"RelayHint.{attribute.name}")


def _check_key(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not bytes or len(value) != 32:
        raise InvalidInput(f"RelayHint.{attribute.name} must be a 32-byte X25519 public key")


@attrs.frozen(order=True)
class RelayHint:
    """A relay's transport address and its Noise static public key (clients dial it with IK)."""

    address: str = attrs.field(validator=_check_address)
    relay_key: bytes = attrs.field(validator=_check_key, repr=lambda k: k.hex()[:16] + "…")

    def to_canonical(self) -> dict[str, Any]:
        return {"addr": self.address, "key": self.relay_key}

    @classmethod
    def from_canonical(cls, value: Any) -> RelayHint:
        fields = read_map(value, "relay hint", ("addr", "key"))
        try:
            return cls(
                read_str(fields["addr"], "relay address", max_length=MAX_ADDRESS_CHARS),
                read_bytes(fields["key"], "relay key", size=32),
            )
        except InvalidEncoding:
            raise
        except InvalidInput as exc:
            raise as_encoding_error("relay hint", exc) from None
