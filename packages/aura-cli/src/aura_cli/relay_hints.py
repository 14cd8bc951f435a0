"""Relay hints as one line of text: ``tcp://127.0.0.1:4000#<relay public key, 64 hex digits>``.

A relay hint is the address to dial and the Noise static key the relay must
prove, so the key travels with the address (``aura relay serve`` prints the
line; ``aura init --relay`` and ``AURA_RELAY`` take it).
"""

from __future__ import annotations

from aura_cli.command_failure import UsageError
from aura_core.errors import InvalidInput
from aura_features.rendezvous import RelayHint

__all__ = ["format_hint", "parse_hint"]

_KEY_HEX = 64


def format_hint(hint: RelayHint) -> str:
    return f"{hint.address}#{hint.relay_key.hex()}"


def parse_hint(text: object) -> RelayHint:
    """Parse ``ADDRESS#KEYHEX``; ``UsageError`` says which part is wrong."""
    if type(text) is not str:
        raise UsageError("a relay hint must be text like tcp://127.0.0.1:4000#<64 hex digits>")
    address, separator, key_hex = text.strip().rpartition("#")
    if not separator:
        raise UsageError(
            f"relay hint {text[:80]!r} has no '#<key>': expected ADDRESS#<64 hex digits> "
            "as printed by 'aura relay serve'"
        )
    if len(key_hex) != _KEY_HEX:
        raise UsageError(f"relay hint key must be {_KEY_HEX} hex digits, got {len(key_hex)}")
    try:
        key = bytes.fromhex(key_hex)
    except ValueError:
        raise UsageError("relay hint key is not hexadecimal") from None
    try:
        return RelayHint(address, key)
    except InvalidInput as exc:
        raise UsageError(f"relay hint address: {exc.message}") from None
