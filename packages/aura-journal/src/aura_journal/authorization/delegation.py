"""How a threshold authority roots its Biscuit tokens.

A Biscuit root key must sign every token it issues, but an account's key is
a FROST group key held as shares: running a threshold ceremony per token is
not practical. So the group signs, once per device and epoch, a
*delegation statement* naming a device-level Biscuit root public key, the
epoch, an optional expiry and the most the device may grant (capabilities,
optionally limited to some contexts). The device then issues tokens with its
root key. A verifier checks the delegation against the authority's group key
(a FROST group signature is a plain Ed25519 signature), then the token
against the delegated device root, and refuses any grant beyond the
delegation. A stolen device key therefore yields at most what the account
delegated to that device, and only until the account rotates its epoch.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Self

import attrs
import biscuit_auth

from aura_core import dag_cbor
from aura_core.crypto.ed25519 import verify_signature
from aura_core.errors import CryptoError, InvalidEncoding, InvalidInput
from aura_core.identifiers import AuthorityId, ContextId, Epoch
from aura_core.time_domains import PhysicalTime
from aura_journal.authorization.capability import Capability

__all__ = ["DELEGATION_DOMAIN", "Delegation", "SignedDelegation"]

DELEGATION_DOMAIN = b"AURA_CAPABILITY_DELEGATION_V1\x00"
"""Prefix of the signed message, so this signature cannot be replayed as another kind."""

_VERSION = 1
_STATEMENT_KEYS = frozenset(
    {
        "v",
        "authority",
        "group_key",
        "device_root",
        "epoch",
        "capabilities",
        "contexts",
        "not_after_ms",
    }
)
_SIGNED_KEYS = frozenset({"statement", "signature"})
_MAX_CAPABILITIES = 256
_MAX_CONTEXTS = 1024
_I64_MAX = 2**63 - 1


def _key32(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not bytes or len(value) != 32:
        raise InvalidInput(f"{attribute.name} must be a 32-byte Ed25519 public key")


def _device_root(instance: object, attribute: attrs.Attribute, value: object) -> None:
    _key32(instance, attribute, value)
    try:
        biscuit_auth.PublicKey.from_bytes(value, biscuit_auth.Algorithm.Ed25519)
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
            raise
        raise InvalidInput("device_root is not a valid Ed25519 public key") from None


def _capabilities(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not frozenset or not all(isinstance(c, Capability) for c in value):
        raise InvalidInput("capabilities must be a frozenset of Capability")
    if not 1 <= len(value) <= _MAX_CAPABILITIES:
        raise InvalidInput(
            f"a delegation grants 1..{_MAX_CAPABILITIES} capabilities, got {len(value)}"
        )


def _contexts(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if value is None:
        return
    if type(value) is not frozenset or not all(isinstance(c, ContextId) for c in value):
        raise InvalidInput("contexts must be None (any context) or a frozenset of ContextId")
    if not 1 <= len(value) <= _MAX_CONTEXTS:
        raise InvalidInput(f"a delegation names 1..{_MAX_CONTEXTS} contexts, got {len(value)}")


def _epoch(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if not isinstance(value, Epoch):
        raise InvalidInput("epoch must be an Epoch")
    if value.value > _I64_MAX:
        raise InvalidInput("epoch must fit a signed 64-bit Datalog integer")


@attrs.frozen
class Delegation:
    """What the authority's group key vouches for: a device root and its ceiling."""

    authority: AuthorityId = attrs.field(validator=attrs.validators.instance_of(AuthorityId))
    group_key: bytes = attrs.field(validator=_key32)
    device_root: bytes = attrs.field(validator=_device_root)
    epoch: Epoch = attrs.field(validator=_epoch)
    capabilities: frozenset[Capability] = attrs.field(validator=_capabilities)
    contexts: frozenset[ContextId] | None = attrs.field(default=None, validator=_contexts)
    not_after: PhysicalTime | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(attrs.validators.instance_of(PhysicalTime)),
    )

    def allows(self, context: ContextId, capability: Capability) -> bool:
        """Whether a token rooted here may grant ``capability`` in ``context``."""
        return capability in self.capabilities and (
            self.contexts is None or context in self.contexts
        )

    def expired(self, now: PhysicalTime) -> bool:
        """Past ``not_after`` at the latest instant ``now`` may stand for."""
        return self.not_after is not None and now.latest_ms > self.not_after.ts_ms

    def to_canonical(self) -> dict[str, Any]:
        return {
            "v": _VERSION,
            "authority": self.authority.raw,
            "group_key": self.group_key,
            "device_root": self.device_root,
            "epoch": self.epoch.value,
            "capabilities": sorted(str(c) for c in self.capabilities),
            "contexts": None if self.contexts is None else [c.raw for c in sorted(self.contexts)],
            "not_after_ms": None if self.not_after is None else self.not_after.ts_ms,
        }

    @classmethod
    def from_canonical(cls, value: object) -> Self:
        if type(value) is not dict or value.keys() != _STATEMENT_KEYS:
            raise InvalidEncoding("delegation statement must be a map with exactly the v1 keys")
        if value["v"] != _VERSION:
            raise InvalidEncoding(f"unsupported delegation version {value['v']!r}")
        caps = value["capabilities"]
        if type(caps) is not list or not all(type(c) is str for c in caps):
            raise InvalidEncoding("delegation capabilities must be a list of strings")
        if caps != sorted(set(caps)):
            raise InvalidEncoding("delegation capabilities must be sorted and unique")
        contexts = value["contexts"]
        if contexts is not None:
            if type(contexts) is not list or not all(type(c) is bytes for c in contexts):
                raise InvalidEncoding("delegation contexts must be null or a list of byte strings")
            if contexts != sorted(set(contexts)):
                raise InvalidEncoding("delegation contexts must be sorted and unique")
        not_after = value["not_after_ms"]
        if not_after is not None and type(not_after) is not int:
            raise InvalidEncoding("delegation not_after_ms must be null or an integer")
        if type(value["authority"]) is not bytes or type(value["epoch"]) is not int:
            raise InvalidEncoding("delegation authority must be bytes and epoch an integer")
        try:
            return cls(
                authority=AuthorityId(value["authority"]),
                group_key=value["group_key"],
                device_root=value["device_root"],
                epoch=Epoch(value["epoch"]),
                capabilities=frozenset(Capability.parse(c) for c in caps),
                contexts=None if contexts is None else frozenset(ContextId(c) for c in contexts),
                not_after=None if not_after is None else PhysicalTime(not_after),
            )
        except InvalidEncoding:
            raise
        except InvalidInput as exc:
            raise InvalidEncoding(f"invalid delegation statement: {exc.message}") from None

    def signing_message(self) -> bytes:
        """The exact bytes the authority's group key signs (domain tag + DAG-CBOR)."""
        return DELEGATION_DOMAIN + dag_cbor.encode(self.to_canonical())

    @classmethod
    def of(
        cls,
        *,
        authority: AuthorityId,
        group_key: bytes,
        device_root: bytes,
        epoch: Epoch,
        capabilities: Iterable[Capability],
        contexts: Iterable[ContextId] | None = None,
        not_after: PhysicalTime | None = None,
    ) -> Self:
        """Convenience constructor taking any iterables."""
        return cls(
            authority=authority,
            group_key=group_key,
            device_root=device_root,
            epoch=epoch,
            capabilities=frozenset(capabilities),
            contexts=None if contexts is None else frozenset(contexts),
            not_after=not_after,
        )


def _signature(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not bytes or len(value) != 64:
        raise InvalidInput("delegation signature must be 64 bytes (Ed25519 / FROST)")


@attrs.frozen
class SignedDelegation:
    """A delegation and the authority's (threshold) signature over it."""

    statement: Delegation = attrs.field(validator=attrs.validators.instance_of(Delegation))
    signature: bytes = attrs.field(validator=_signature)

    def verify(self, group_key: bytes) -> None:
        """Check the statement names ``group_key`` and that key signed it; raise ``CryptoError``."""
        if self.statement.group_key != group_key:
            raise CryptoError("delegation names a different group key than the trusted authority's")
        if not verify_signature(group_key, self.statement.signing_message(), self.signature):
            raise CryptoError(
                "delegation signature does not verify under the authority's group key"
            )

    def to_canonical(self) -> dict[str, Any]:
        return {"statement": self.statement.to_canonical(), "signature": self.signature}

    @classmethod
    def from_canonical(cls, value: object) -> Self:
        if type(value) is not dict or value.keys() != _SIGNED_KEYS:
            raise InvalidEncoding("signed delegation must be a map {statement, signature}")
        signature = value["signature"]
        if type(signature) is not bytes or len(signature) != 64:
            raise InvalidEncoding("delegation signature must be 64 bytes")
        return cls(Delegation.from_canonical(value["statement"]), signature)

    def to_bytes(self) -> bytes:
        return dag_cbor.encode(self.to_canonical())

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        return cls.from_canonical(dag_cbor.decode(data, allow_floats=False))
