"""One authority's keys inside one context, all derived by DKD from its root key.

Every context gets its own receipt-signing key (Ed25519) and its own Noise
channel keys (X25519 static key + the context PSK), derived from the root key,
the authority, the context and the context's epoch. Two contexts of one
authority therefore share no public key an observer could link, and a new
epoch gives new keys. Flow-charge facts go to the authority's own journal and
are signed by the device's key, which never leaves that journal.
"""

from __future__ import annotations

import attrs
from nacl.signing import SigningKey

from aura_core.effects import ChannelKeys
from aura_core.errors import InvalidInput
from aura_core.hashing import derive_context_key, kdf
from aura_core.identifiers import AuthorityId, ContextId, DeviceId, Epoch
from aura_effects.channel_keys import channel_public_key, derive_channel_keys
from aura_protocol.guards.context_roster import ContextMember

__all__ = ["RECEIPT_SIGNING_PURPOSE", "ContextIdentity", "DeviceSigner"]

RECEIPT_SIGNING_PURPOSE = "receipt-signing-ed25519"
"""DKD purpose of the per-context receipt key."""
_DEVICE_FACT_KDF = "AURA_DEVICE_FACT_SIGNING_V1"
_EPOCH_ZERO = Epoch(0)


def _root(root_key: object) -> bytes:
    if type(root_key) is not bytes or len(root_key) < 32:
        raise InvalidInput("a root key must be at least 32 bytes")
    return root_key


@attrs.frozen(repr=False)
class ContextIdentity:
    """This authority's receipt key and channel keys for one (context, epoch)."""

    authority: AuthorityId
    context: ContextId
    epoch: Epoch
    signing_key: SigningKey = attrs.field(eq=False)
    channel_keys: ChannelKeys = attrs.field(eq=False)

    @classmethod
    def derive(
        cls,
        root_key: bytes,
        *,
        authority: AuthorityId,
        context: ContextId,
        epoch: Epoch = _EPOCH_ZERO,
        context_secret: bytes = b"",
    ) -> ContextIdentity:
        """Derive both keys; ``context_secret`` (if the context has one) goes into the PSK."""
        if not isinstance(authority, AuthorityId) or not isinstance(context, ContextId):
            raise InvalidInput("a context identity needs an AuthorityId and a ContextId")
        if not isinstance(epoch, Epoch):
            raise InvalidInput("epoch must be an Epoch")
        seed = derive_context_key(
            _root(root_key),
            authority=authority.raw,
            context=context.raw,
            epoch=epoch.value,
            purpose=RECEIPT_SIGNING_PURPOSE,
        )
        channel = derive_channel_keys(
            root_key,
            authority=authority,
            context=context,
            epoch=epoch,
            context_secret=context_secret,
        )
        return cls(authority, context, epoch, SigningKey(seed), channel)

    @property
    def signing_public(self) -> bytes:
        """The Ed25519 key receipts of this authority in this context verify under."""
        return bytes(self.signing_key.verify_key)

    @property
    def channel_public(self) -> bytes:
        """The X25519 static key peers dial (Noise IK)."""
        return channel_public_key(self.channel_keys)

    def sign(self, message: bytes) -> bytes:
        return self.signing_key.sign(message).signature

    def member(self, address: str | None = None) -> ContextMember:
        """The public entry other members keep for this authority."""
        return ContextMember(self.authority, self.signing_public, self.channel_public, address)

    def __repr__(self) -> str:
        return f"ContextIdentity({self.authority}, {self.context}, {self.epoch}, keys=<secret>)"


@attrs.frozen(repr=False)
class DeviceSigner:
    """The device key that attests this device's flow-charge facts in its authority journal."""

    device: DeviceId
    signing_key: SigningKey = attrs.field(eq=False)

    @classmethod
    def derive(cls, root_key: bytes, *, authority: AuthorityId, device: DeviceId) -> DeviceSigner:
        if not isinstance(authority, AuthorityId) or not isinstance(device, DeviceId):
            raise InvalidInput("a device signer needs an AuthorityId and a DeviceId")
        material = _root(root_key) + authority.raw + device.raw
        return cls(device, SigningKey(kdf(_DEVICE_FACT_KDF, material, 32)))

    def __repr__(self) -> str:
        return f"DeviceSigner({self.device}, key=<secret>)"
