"""Who belongs to a context, at which epoch, and under which public keys.

The roster is what a member knows about its context: the current epoch and,
for each member authority, the Ed25519 key its receipts verify under, the
X25519 static key its channels use and (optionally) where to reach it. Receipt
checks, channel admission and relays all consult it, so a key, receipt or
message of one context is never accepted in another.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

import attrs
import nacl.bindings

from aura_core.errors import InvalidInput, ValidationError
from aura_core.identifiers import AuthorityId, ContextId, Epoch

__all__ = ["ContextMember", "ContextRoster"]

_MAX_MEMBERS = 4096


def _key32(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not bytes or len(value) != 32:
        raise InvalidInput(f"ContextMember.{attribute.name} must be 32 bytes")


def _ed25519_point(instance: object, attribute: attrs.Attribute, value: object) -> None:
    _key32(instance, attribute, value)
    if not nacl.bindings.crypto_core_ed25519_is_valid_point(value):
        raise InvalidInput("ContextMember.signing_key is not a valid Ed25519 public key")


def _address(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if value is not None and (type(value) is not str or not 0 < len(value) <= 256):
        raise InvalidInput("ContextMember.address must be None or a string of 1..256 characters")


@attrs.frozen
class ContextMember:
    """One member authority's public keys (and address) in one context."""

    authority: AuthorityId = attrs.field(validator=attrs.validators.instance_of(AuthorityId))
    signing_key: bytes = attrs.field(validator=_ed25519_point)
    channel_key: bytes = attrs.field(validator=_key32)
    address: str | None = attrs.field(default=None, validator=_address)


@attrs.frozen
class ContextRoster:
    """A context's epoch and members (keyed by authority)."""

    context: ContextId = attrs.field(validator=attrs.validators.instance_of(ContextId))
    epoch: Epoch = attrs.field(validator=attrs.validators.instance_of(Epoch))
    members: Mapping[AuthorityId, ContextMember] = attrs.field(eq=False)
    _by_channel_key: Mapping[bytes, ContextMember] = attrs.field(init=False, eq=False, repr=False)
    _identity: tuple[ContextMember, ...] = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        members = self.members
        if not isinstance(members, Mapping) or not 2 <= len(members) <= _MAX_MEMBERS:
            raise InvalidInput(f"a context roster needs 2..{_MAX_MEMBERS} members")
        for authority, member in members.items():
            if not isinstance(member, ContextMember) or member.authority != authority:
                raise InvalidInput("roster members must be ContextMember values keyed by authority")
        by_key = {m.channel_key: m for m in members.values()}
        signing = {m.signing_key for m in members.values()}
        if len(by_key) != len(members) or len(signing) != len(members):
            raise InvalidInput("two roster members share a key")
        object.__setattr__(self, "members", MappingProxyType(dict(members)))
        object.__setattr__(self, "_by_channel_key", MappingProxyType(by_key))
        object.__setattr__(
            self, "_identity", tuple(sorted(members.values(), key=lambda m: m.authority))
        )

    @classmethod
    def of(
        cls, context: ContextId, epoch: Epoch, members: Iterable[ContextMember]
    ) -> ContextRoster:
        table: dict[AuthorityId, ContextMember] = {}
        for member in members:
            if not isinstance(member, ContextMember):
                raise InvalidInput("roster members must be ContextMember values")
            if member.authority in table:
                raise InvalidInput(f"{member.authority} is listed twice in the roster")
            table[member.authority] = member
        return cls(context, epoch, table)

    def __contains__(self, authority: object) -> bool:
        return authority in self.members

    def member(self, authority: AuthorityId) -> ContextMember:
        """The member entry, or ``ValidationError`` naming the outsider."""
        member = self.members.get(authority)
        if member is None:
            raise ValidationError(f"{authority} is not a member of {self.context}")
        return member

    def by_channel_key(self, channel_key: bytes) -> ContextMember | None:
        return self._by_channel_key.get(channel_key)

    def with_address(self, authority: AuthorityId, address: str) -> ContextRoster:
        """The same roster with ``authority`` reachable at ``address``."""
        members = dict(self.members)
        members[authority] = attrs.evolve(self.member(authority), address=address)
        return ContextRoster(self.context, self.epoch, members)
