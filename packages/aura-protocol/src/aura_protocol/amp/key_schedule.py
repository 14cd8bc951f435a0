"""AMP key schedule: every key of a channel epoch, derived with the BLAKE3 KDF.

From the channel epoch secret (agreed elsewhere, e.g. by consensus) each
member gets its own sending chain, seeded from (secret, context, channel,
epoch, member). A chain is a symmetric hash ratchet: the chain key of
generation ``g + 1`` is a one-way function of generation ``g``'s, and the
message key of generation ``g`` is derived from ``g``'s chain key bound to
(context, channel, epoch, sender, generation). Deleting a chain key after
stepping it forward makes earlier message keys unrecoverable (forward
secrecy within the epoch).

Sender chains are per member rather than one per channel so that two members
sending at once never derive the same key; the message key's inputs still
include every coordinate MECHANICS.md names. Each message key comes with a
24-byte XChaCha20 nonce from the same derivation; since a key encrypts one
message only, the nonce need not be random and costs nothing on the wire.
"""

from __future__ import annotations

import attrs
import blake3

from aura_core.errors import InvalidInput
from aura_core.hashing import kdf

__all__ = [
    "EPOCH_SECRET_SIZE",
    "KEY_SIZE",
    "NONCE_SIZE",
    "ChannelCoordinates",
    "MessageKey",
    "ack_key",
    "bound_message_key",
    "chain_seed",
    "message_key",
    "next_chain_key",
]

EPOCH_SECRET_SIZE = 32
KEY_SIZE = 32
NONCE_SIZE = 24

_CHAIN_SEED = "AURA_AMP_CHAIN_SEED_V1"
_CHAIN_STEP = "AURA_AMP_CHAIN_STEP_V1"
_MESSAGE_KEY = "AURA_AMP_MESSAGE_KEY_V1"
_ACK_KEY = "AURA_AMP_ACK_KEY_V1"


_new_blake3 = blake3.blake3


def _framed(*parts: bytes) -> bytes:
    return b"".join(len(part).to_bytes(4, "big") + part for part in parts)


def _derive(context: str, material: bytes, length: int) -> bytes:
    """:func:`aura_core.hashing.kdf` for the fixed contexts of this module, minus its
    argument checks (the inputs here are always well-formed); byte-identical, as a test pins."""
    return _new_blake3(material, derive_key_context=context).digest(length)


@attrs.frozen
class ChannelCoordinates:
    """Where a key belongs: context id, channel id and epoch (raw forms)."""

    context: bytes
    channel: bytes
    epoch: int
    _framed: bytes = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        if type(self.context) is not bytes or type(self.channel) is not bytes:
            raise InvalidInput("channel coordinates hold raw context and channel ids (bytes)")
        if type(self.epoch) is not int or not 0 <= self.epoch < 2**64:
            raise InvalidInput("epoch must be an int in 0..2**64-1")
        framed = _framed(self.context, self.channel, self.epoch.to_bytes(8, "big"))
        object.__setattr__(self, "_framed", framed)

    def framed(self) -> bytes:
        return self._framed

    def binding(self, sender: bytes) -> bytes:
        """What every message key of ``sender``'s chain here is bound to."""
        return self._framed + _framed(sender)


@attrs.frozen(repr=False)
class MessageKey:
    """The AEAD key and nonce of one message. Never printed."""

    key: bytes
    nonce: bytes

    def __repr__(self) -> str:
        return "MessageKey(<secret>)"


def _check_secret(secret: object) -> bytes:
    if type(secret) is not bytes or len(secret) != EPOCH_SECRET_SIZE:
        raise InvalidInput(f"a channel epoch secret must be {EPOCH_SECRET_SIZE} bytes")
    return secret


def chain_seed(secret: bytes, where: ChannelCoordinates, sender: bytes) -> bytes:
    """Chain key of generation 0 of ``sender``'s chain in this channel epoch."""
    material = _check_secret(secret) + where.framed() + _framed(sender)
    return kdf(_CHAIN_SEED, material, KEY_SIZE)


def next_chain_key(chain_key: bytes) -> bytes:
    """One step of the hash ratchet (one-way)."""
    return _derive(_CHAIN_STEP, chain_key, KEY_SIZE)


def bound_message_key(chain_key: bytes, binding: bytes, generation: int) -> MessageKey:
    """:func:`message_key` with ``binding = where.binding(sender)`` computed once per chain."""
    material = chain_key + binding + b"\x00\x00\x00\x08" + generation.to_bytes(8, "big")
    derived = _derive(_MESSAGE_KEY, material, KEY_SIZE + NONCE_SIZE)
    return MessageKey(derived[:KEY_SIZE], derived[KEY_SIZE:])


def message_key(
    chain_key: bytes, where: ChannelCoordinates, sender: bytes, generation: int
) -> MessageKey:
    """Key and nonce of the message at ``generation`` (``chain_key`` is that generation's)."""
    return bound_message_key(chain_key, where.binding(sender), generation)


def ack_key(secret: bytes, where: ChannelCoordinates) -> bytes:
    """MAC key for acknowledgements in this channel epoch (shared by its members)."""
    return kdf(_ACK_KEY, _check_secret(secret) + where.framed(), KEY_SIZE)
