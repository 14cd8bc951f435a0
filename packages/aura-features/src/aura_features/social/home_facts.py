"""The facts of homes: creation, membership, roles, storage, neighbor links and moderation.

A home is a small group that shares storage and relays. Its facts live in
the home's own context journal (:func:`home_context`); each names the home
and the authority acting (``by``) and carries a threshold attestation by
that authority's key as the home registered it. Seven fact types:

=========================  ==========================================================
``home.created``           name, creator and its key, storage quota
``home.membership``        ``add`` (a moderator adds a member and its key) / ``leave``
``home.role``              ``grant`` / ``revoke`` moderator
``home.quota``             a moderator sets the storage quota (bytes)
``home.storage``           a member ``charge``\\ s / ``release``\\ s bytes for an object
``home.neighbor``          a moderator ``link``\\ s / ``unlink``\\ s a neighbouring home
``home.moderation``        ``mute`` / ``unmute`` / ``ban`` / ``unban`` / ``kick`` a member,
                           ``pin`` / ``unpin`` an item
=========================  ==========================================================

Whether an action is allowed (only moderators moderate, quotas, the cap of
four neighbors...) depends on the home's state, so it is decided by
:mod:`aura_features.social.home_state` — at admission and again on replay.
"""

from __future__ import annotations

import enum
from typing import Any, ClassVar

import attrs

from aura_core.canonical_fields import (
    U64_MAX,
    as_encoding_error,
    read_authority,
    read_bytes,
    read_choice,
    read_map,
    read_text,
    read_uint,
)
from aura_core.errors import InvalidEncoding, InvalidInput
from aura_core.identifiers import AuthorityId, ContextId, HomeId

__all__ = [
    "HOME_FACT_TYPE_IDS",
    "MAX_HOME_NAME_CHARS",
    "MAX_REASON_CHARS",
    "HomeCreated",
    "HomeMembership",
    "HomeModeration",
    "HomeNeighbor",
    "HomeQuota",
    "HomeRole",
    "HomeStorage",
    "MembershipOp",
    "ModerationOp",
    "NeighborOp",
    "RoleOp",
    "StorageOp",
    "home_context",
    "home_id_for",
]

MAX_HOME_NAME_CHARS = 64
MAX_REASON_CHARS = 200


def home_id_for(creator: AuthorityId, seed: bytes) -> HomeId:
    """A new home's id: derived from its creator and a fresh random seed."""
    if type(seed) is not bytes or len(seed) < 16:
        raise InvalidInput("a home seed is at least 16 random bytes")
    return HomeId.derive("home", creator.raw, seed)


def home_context(home: HomeId) -> ContextId:
    """The context journal holding ``home``'s facts."""
    return ContextId.derive("home-context", home.raw)


def _home(value: object, what: str) -> HomeId:
    return HomeId(read_bytes(value, what, size=32))


def _key(value: object, what: str) -> bytes:
    return read_bytes(value, what, size=32)


def _check(instance: Any, **fields: Any) -> None:
    for name, expected in fields.items():
        value = getattr(instance, name)
        if not isinstance(value, expected):
            raise InvalidInput(f"{type(instance).__name__}.{name} must be {expected.__name__}")


class MembershipOp(enum.StrEnum):
    ADD = "add"
    LEAVE = "leave"


class RoleOp(enum.StrEnum):
    GRANT = "grant"
    REVOKE = "revoke"


class StorageOp(enum.StrEnum):
    CHARGE = "charge"
    RELEASE = "release"


class NeighborOp(enum.StrEnum):
    LINK = "link"
    UNLINK = "unlink"


class ModerationOp(enum.StrEnum):
    MUTE = "mute"
    UNMUTE = "unmute"
    BAN = "ban"
    UNBAN = "unban"
    KICK = "kick"
    PIN = "pin"
    UNPIN = "unpin"


_TARGETED = frozenset({ModerationOp.PIN, ModerationOp.UNPIN})


@attrs.frozen
class HomeCreated:
    TYPE_ID: ClassVar[str] = "home.created"
    home: HomeId
    name: str
    creator: AuthorityId
    creator_key: bytes = attrs.field(repr=False)
    quota_bytes: int

    def __attrs_post_init__(self) -> None:
        _check(self, home=HomeId, creator=AuthorityId)
        if type(self.name) is not str or not 1 <= len(self.name) <= MAX_HOME_NAME_CHARS:
            raise InvalidInput(f"a home name is 1..{MAX_HOME_NAME_CHARS} characters")
        if type(self.creator_key) is not bytes or len(self.creator_key) != 32:
            raise InvalidInput("the creator key is 32 bytes")
        if type(self.quota_bytes) is not int or not 0 <= self.quota_bytes <= U64_MAX:
            raise InvalidInput("quota_bytes must be a u64")

    @property
    def by(self) -> AuthorityId:
        return self.creator

    def to_canonical(self) -> dict[str, Any]:
        return {
            "home": self.home.raw,
            "name": self.name,
            "by": self.creator.raw,
            "key": self.creator_key,
            "quota": self.quota_bytes,
        }

    @classmethod
    def from_canonical(cls, value: Any) -> HomeCreated:
        f = read_map(value, "home.created", ("home", "name", "by", "key", "quota"))
        return cls(
            _home(f["home"], "home"),
            read_text(f["name"], "home name", max_length=MAX_HOME_NAME_CHARS, min_length=1),
            read_authority(f["by"], "home creator"),
            _key(f["key"], "creator key"),
            read_uint(f["quota"], "home quota"),
        )


@attrs.frozen
class HomeMembership:
    TYPE_ID: ClassVar[str] = "home.membership"
    home: HomeId
    op: MembershipOp = attrs.field(converter=MembershipOp)
    member: AuthorityId
    by: AuthorityId
    member_key: bytes | None = attrs.field(default=None, repr=False)

    def __attrs_post_init__(self) -> None:
        _check(self, home=HomeId, member=AuthorityId, by=AuthorityId)
        if self.op is MembershipOp.ADD:
            if type(self.member_key) is not bytes or len(self.member_key) != 32:
                raise InvalidInput("adding a member registers its 32-byte key")
        elif self.member_key is not None:
            raise InvalidInput("leaving names no key")

    def to_canonical(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "home": self.home.raw,
            "op": self.op.value,
            "member": self.member.raw,
            "by": self.by.raw,
        }
        if self.member_key is not None:
            value["key"] = self.member_key
        return value

    @classmethod
    def from_canonical(cls, value: Any) -> HomeMembership:
        f = read_map(value, "home.membership", ("home", "op", "member", "by"), ("key",))
        key = f.get("key")
        try:
            return cls(
                _home(f["home"], "home"),
                read_choice(f["op"], "membership op", [o.value for o in MembershipOp]),
                read_authority(f["member"], "member"),
                read_authority(f["by"], "acting authority"),
                None if key is None else _key(key, "member key"),
            )
        except InvalidEncoding:
            raise
        except InvalidInput as exc:
            raise as_encoding_error("home.membership", exc) from None


@attrs.frozen
class HomeRole:
    TYPE_ID: ClassVar[str] = "home.role"
    home: HomeId
    op: RoleOp = attrs.field(converter=RoleOp)
    subject: AuthorityId
    by: AuthorityId

    def __attrs_post_init__(self) -> None:
        _check(self, home=HomeId, subject=AuthorityId, by=AuthorityId)

    def to_canonical(self) -> dict[str, Any]:
        return {
            "home": self.home.raw,
            "op": self.op.value,
            "subject": self.subject.raw,
            "by": self.by.raw,
        }

    @classmethod
    def from_canonical(cls, value: Any) -> HomeRole:
        f = read_map(value, "home.role", ("home", "op", "subject", "by"))
        return cls(
            _home(f["home"], "home"),
            read_choice(f["op"], "role op", [o.value for o in RoleOp]),
            read_authority(f["subject"], "role subject"),
            read_authority(f["by"], "acting authority"),
        )


@attrs.frozen
class HomeQuota:
    TYPE_ID: ClassVar[str] = "home.quota"
    home: HomeId
    quota_bytes: int
    by: AuthorityId

    def __attrs_post_init__(self) -> None:
        _check(self, home=HomeId, by=AuthorityId)
        if type(self.quota_bytes) is not int or not 0 <= self.quota_bytes <= U64_MAX:
            raise InvalidInput("quota_bytes must be a u64")

    def to_canonical(self) -> dict[str, Any]:
        return {"home": self.home.raw, "quota": self.quota_bytes, "by": self.by.raw}

    @classmethod
    def from_canonical(cls, value: Any) -> HomeQuota:
        f = read_map(value, "home.quota", ("home", "quota", "by"))
        return cls(
            _home(f["home"], "home"),
            read_uint(f["quota"], "home quota"),
            read_authority(f["by"], "acting authority"),
        )


@attrs.frozen
class HomeStorage:
    TYPE_ID: ClassVar[str] = "home.storage"
    home: HomeId
    op: StorageOp = attrs.field(converter=StorageOp)
    item: bytes = attrs.field(repr=lambda b: b.hex()[:16])
    size: int
    by: AuthorityId

    def __attrs_post_init__(self) -> None:
        _check(self, home=HomeId, by=AuthorityId)
        if type(self.item) is not bytes or len(self.item) != 32:
            raise InvalidInput("a stored item is named by a 32-byte id")
        if type(self.size) is not int or not 0 <= self.size <= U64_MAX:
            raise InvalidInput("size must be a u64")

    def to_canonical(self) -> dict[str, Any]:
        return {
            "home": self.home.raw,
            "op": self.op.value,
            "item": self.item,
            "size": self.size,
            "by": self.by.raw,
        }

    @classmethod
    def from_canonical(cls, value: Any) -> HomeStorage:
        f = read_map(value, "home.storage", ("home", "op", "item", "size", "by"))
        return cls(
            _home(f["home"], "home"),
            read_choice(f["op"], "storage op", [o.value for o in StorageOp]),
            read_bytes(f["item"], "stored item", size=32),
            read_uint(f["size"], "stored size"),
            read_authority(f["by"], "acting authority"),
        )


@attrs.frozen
class HomeNeighbor:
    TYPE_ID: ClassVar[str] = "home.neighbor"
    home: HomeId
    op: NeighborOp = attrs.field(converter=NeighborOp)
    neighbor: HomeId
    by: AuthorityId

    def __attrs_post_init__(self) -> None:
        _check(self, home=HomeId, neighbor=HomeId, by=AuthorityId)
        if self.neighbor == self.home:
            raise InvalidInput("a home is not its own neighbor")

    def to_canonical(self) -> dict[str, Any]:
        return {
            "home": self.home.raw,
            "op": self.op.value,
            "neighbor": self.neighbor.raw,
            "by": self.by.raw,
        }

    @classmethod
    def from_canonical(cls, value: Any) -> HomeNeighbor:
        f = read_map(value, "home.neighbor", ("home", "op", "neighbor", "by"))
        try:
            return cls(
                _home(f["home"], "home"),
                read_choice(f["op"], "neighbor op", [o.value for o in NeighborOp]),
                _home(f["neighbor"], "neighbor home"),
                read_authority(f["by"], "acting authority"),
            )
        except InvalidEncoding:
            raise
        except InvalidInput as exc:
            raise as_encoding_error("home.neighbor", exc) from None


@attrs.frozen
class HomeModeration:
    """A moderator's action on a member (``subject``) or an item (``target``, for pins)."""

    TYPE_ID: ClassVar[str] = "home.moderation"
    home: HomeId
    op: ModerationOp = attrs.field(converter=ModerationOp)
    by: AuthorityId
    subject: AuthorityId | None = None
    target: bytes | None = attrs.field(default=None, repr=lambda b: b and b.hex()[:16])
    until_ms: int | None = None
    reason: str | None = None

    def __attrs_post_init__(self) -> None:
        _check(self, home=HomeId, by=AuthorityId)
        if self.op in _TARGETED:
            if self.subject is not None or type(self.target) is not bytes or len(self.target) != 32:
                raise InvalidInput(f"{self.op.value} names a 32-byte target and no member")
        elif not isinstance(self.subject, AuthorityId) or self.target is not None:
            raise InvalidInput(f"{self.op.value} names a member and no target")
        if self.until_ms is not None:
            if self.op is not ModerationOp.MUTE:
                raise InvalidInput("only a mute has an end time")
            if type(self.until_ms) is not int or not 0 < self.until_ms <= U64_MAX:
                raise InvalidInput("until_ms must be a positive u64")
        if self.reason is not None and (
            type(self.reason) is not str or not 1 <= len(self.reason) <= MAX_REASON_CHARS
        ):
            raise InvalidInput(f"a reason is 1..{MAX_REASON_CHARS} characters")

    def to_canonical(self) -> dict[str, Any]:
        value: dict[str, Any] = {"home": self.home.raw, "op": self.op.value, "by": self.by.raw}
        if self.subject is not None:
            value["subject"] = self.subject.raw
        if self.target is not None:
            value["target"] = self.target
        if self.until_ms is not None:
            value["until"] = self.until_ms
        if self.reason is not None:
            value["why"] = self.reason
        return value

    @classmethod
    def from_canonical(cls, value: Any) -> HomeModeration:
        f = read_map(
            value, "home.moderation", ("home", "op", "by"), ("subject", "target", "until", "why")
        )
        try:
            return cls(
                _home(f["home"], "home"),
                read_choice(f["op"], "moderation op", [o.value for o in ModerationOp]),
                read_authority(f["by"], "acting authority"),
                None if "subject" not in f else read_authority(f["subject"], "moderated member"),
                None if "target" not in f else read_bytes(f["target"], "pinned item", size=32),
                None if "until" not in f else read_uint(f["until"], "mute end", minimum=1),
                None
                if "why" not in f
                else read_text(f["why"], "reason", max_length=MAX_REASON_CHARS, min_length=1),
            )
        except InvalidEncoding:
            raise
        except InvalidInput as exc:
            raise as_encoding_error("home.moderation", exc) from None


HOME_BODIES = (
    HomeCreated,
    HomeMembership,
    HomeRole,
    HomeQuota,
    HomeStorage,
    HomeNeighbor,
    HomeModeration,
)
HOME_FACT_TYPE_IDS = frozenset(body.TYPE_ID for body in HOME_BODIES)
