"""Handing a channel's AMP epoch secret to each member inside a journal fact.

A rekey fact carries the new epoch's 32-byte secret once per member, sealed
to that member's chat box key (X25519; the public half is published in its
``chat.channel_created`` or ``chat.member_joined`` fact, the private half
never leaves the member's storage). Sealing is ephemeral-static X25519 with
the key derived by the BLAKE3 KDF and XChaCha20-Poly1305; the associated
data binds context, channel, epoch and member, so a sealed secret cannot be
moved to another epoch, channel or member. The ephemeral key is drawn from
the injected randomness, so simulations stay exact.

The box key is separate from the Noise static key of the context (no key
serves two protocols) and stable across context epochs, so a member can
re-open old epochs' secrets after a restart.
"""

from __future__ import annotations

import hmac

import nacl.bindings as sodium
import nacl.exceptions

from aura_core.effects import RandomEffects
from aura_core.errors import CryptoError, InvalidInput
from aura_core.hashing import kdf
from aura_core.identifiers import AuthorityId, ChannelId, ContextId

__all__ = [
    "BOX_KEY_SECRET_PREFIX",
    "EPOCH_SECRET_BYTES",
    "SEALED_SECRET_BYTES",
    "box_public_key",
    "open_epoch_secret",
    "seal_epoch_secret",
]

EPOCH_SECRET_BYTES = 32
SEALED_SECRET_BYTES = 32 + EPOCH_SECRET_BYTES + 16
"""Ephemeral public key, ciphertext of the secret, Poly1305 tag."""
BOX_KEY_SECRET_PREFIX = "chat-box-key:"
"""Storage secret name prefix of a member's box key (one per context)."""

_KDF_CONTEXT = "AURA_CHAT_EPOCH_SECRET_V1"
_AAD_DOMAIN = b"AURA_CHAT_EPOCH_SECRET_AAD_V1"


def box_public_key(private_key: bytes) -> bytes:
    if type(private_key) is not bytes or len(private_key) != 32:
        raise InvalidInput("a chat box key is 32 bytes")
    return sodium.crypto_scalarmult_base(private_key)


def _binding(context: ContextId, channel: ChannelId, epoch: int, member: AuthorityId) -> bytes:
    return _AAD_DOMAIN + context.raw + channel.raw + epoch.to_bytes(8, "big") + member.raw


def _shared(private_key: bytes, public_key: bytes) -> bytes:
    try:
        shared = sodium.crypto_scalarmult(private_key, public_key)
    except (nacl.exceptions.CryptoError, nacl.exceptions.RuntimeError, ValueError):
        raise CryptoError("X25519 agreement with the box key failed") from None
    if hmac.compare_digest(shared, bytes(32)):
        raise CryptoError("the box key is a low-order point")
    return shared


def _key_and_nonce(shared: bytes, ephemeral: bytes, recipient: bytes, aad: bytes) -> bytes:
    return kdf(_KDF_CONTEXT, shared + ephemeral + recipient + aad, 32 + 24)


def seal_epoch_secret(
    secret: bytes,
    recipient_box_key: bytes,
    *,
    context: ContextId,
    channel: ChannelId,
    epoch: int,
    member: AuthorityId,
    random: RandomEffects,
) -> bytes:
    """``secret`` sealed to ``member``'s box key for this (context, channel, epoch)."""
    if type(secret) is not bytes or len(secret) != EPOCH_SECRET_BYTES:
        raise InvalidInput(f"an epoch secret is {EPOCH_SECRET_BYTES} bytes")
    if type(recipient_box_key) is not bytes or len(recipient_box_key) != 32:
        raise InvalidInput("a box key is 32 bytes")
    ephemeral_private = random.random_bytes(32)
    ephemeral = sodium.crypto_scalarmult_base(ephemeral_private)
    aad = _binding(context, channel, epoch, member)
    derived = _key_and_nonce(
        _shared(ephemeral_private, recipient_box_key), ephemeral, recipient_box_key, aad
    )
    sealed = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        secret, aad, derived[32:], derived[:32]
    )
    return ephemeral + sealed


def open_epoch_secret(
    sealed: bytes,
    box_private_key: bytes,
    *,
    context: ContextId,
    channel: ChannelId,
    epoch: int,
    member: AuthorityId,
) -> bytes:
    """The epoch secret, or ``CryptoError`` if it was not sealed to this key for these coordinates."""
    if type(sealed) is not bytes or len(sealed) != SEALED_SECRET_BYTES:
        raise CryptoError(f"a sealed epoch secret is {SEALED_SECRET_BYTES} bytes")
    ephemeral, body = sealed[:32], sealed[32:]
    own_public = box_public_key(box_private_key)
    aad = _binding(context, channel, epoch, member)
    derived = _key_and_nonce(_shared(box_private_key, ephemeral), ephemeral, own_public, aad)
    try:
        return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
            body, aad, derived[32:], derived[:32]
        )
    except nacl.exceptions.CryptoError:
        raise CryptoError(
            f"the epoch {epoch} secret of {channel} does not open with this member's box key"
        ) from None
