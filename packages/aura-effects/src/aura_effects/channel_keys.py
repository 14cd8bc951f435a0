"""Keys for Noise channels: the static key from DKD, the PSK from the context.

* Static key: ``derive_context_key(root, authority, context, epoch,
  purpose="noise-static-x25519")`` — a different X25519 key per context, so
  two contexts of one device cannot be linked by their channel keys.
* PSK: ``kdf("AURA_NOISE_PSK_V1", u64(len(ctx)) || ctx || u64(epoch) ||
  u64(len(secret)) || secret)``. Every member of the context computes the same
  value. With only the (non-secret) context id it binds the channel to the
  context, so a handshake meant for one context cannot complete in another;
  when the context has a shared secret (for example from its invitation) pass
  it as ``context_secret`` and outsiders who know the id cannot complete the
  handshake at all.
"""

from __future__ import annotations

import nacl.bindings

from aura_core.effects import ChannelKeys
from aura_core.errors import InvalidInput
from aura_core.hashing import derive_context_key, kdf
from aura_core.identifiers import AuthorityId, ContextId, Epoch

__all__ = [
    "NOISE_PSK_CONTEXT",
    "NOISE_STATIC_PURPOSE",
    "channel_public_key",
    "context_psk",
    "derive_channel_keys",
]

NOISE_STATIC_PURPOSE = "noise-static-x25519"
NOISE_PSK_CONTEXT = "AURA_NOISE_PSK_V1"


def _epoch_value(epoch: Epoch | int) -> int:
    value = epoch.value if isinstance(epoch, Epoch) else epoch
    if type(value) is not int or not 0 <= value < 2**64:
        raise InvalidInput(f"epoch must be an Epoch or an int in 0..2**64-1, got {epoch!r}")
    return value


def context_psk(context: ContextId, epoch: Epoch | int = 0, context_secret: bytes = b"") -> bytes:
    """The 32-byte Noise PSK every member of ``context`` derives alike."""
    if not isinstance(context, ContextId):
        raise InvalidInput(f"context must be a ContextId, got {type(context).__name__}")
    if type(context_secret) is not bytes:
        raise InvalidInput("context_secret must be bytes")
    material = b"".join(
        (
            len(context.raw).to_bytes(8, "big"),
            context.raw,
            _epoch_value(epoch).to_bytes(8, "big"),
            len(context_secret).to_bytes(8, "big"),
            context_secret,
        )
    )
    return kdf(NOISE_PSK_CONTEXT, material, 32)


def derive_channel_keys(
    root_key: bytes,
    *,
    authority: AuthorityId,
    context: ContextId,
    epoch: Epoch | int = 0,
    context_secret: bytes = b"",
) -> ChannelKeys:
    """This authority's channel keys for one context and epoch."""
    if not isinstance(authority, AuthorityId):
        raise InvalidInput(f"authority must be an AuthorityId, got {type(authority).__name__}")
    if not isinstance(context, ContextId):
        raise InvalidInput(f"context must be a ContextId, got {type(context).__name__}")
    static = derive_context_key(
        root_key,
        authority=authority.raw,
        context=context.raw,
        epoch=_epoch_value(epoch),
        purpose=NOISE_STATIC_PURPOSE,
    )
    return ChannelKeys(static_private=static, psk=context_psk(context, epoch, context_secret))


def channel_public_key(keys: ChannelKeys) -> bytes:
    """The X25519 public key peers must know to open an IK channel to us."""
    return nacl.bindings.crypto_scalarmult_base(keys.static_private)
