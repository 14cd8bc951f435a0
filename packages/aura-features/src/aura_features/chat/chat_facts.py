"""The facts chat writes into a context journal.

Every chat fact names its ``channel`` (except a nickname, which holds for the
whole context), its ``author`` and a ``clock``: a Lamport counter over the
context's chat facts (one more than the highest the author had seen), which
orders history causally on every replica without trusting wall clocks.
Facts are signed by the author's per-context key; which key that must be is
checked by :mod:`aura_features.chat.chat_fact_types`.

Message text never appears in clear: ``chat.message_sent`` and
``chat.message_edited`` carry an AMP data frame (header + XChaCha20-Poly1305
ciphertext) from the author's sending chain, which only members holding the
channel epoch's keys can open. Everything else (who is in a channel, reads,
deliveries, deletions, moderation) is visible to the context's members, like
the metadata of any group chat.

Decoding is strict: exact field sets, typed and bounded fields, canonical
DAG-CBOR (checked by the journal), control characters refused in text a UI
shows. Refusals are ``InvalidEncoding`` naming the field.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from typing import Any, ClassVar, Self

import attrs

from aura_core.canonical_fields import (
    U64_MAX,
    as_encoding_error,
    read_authority,
    read_bytes,
    read_choice,
    read_hash,
    read_list,
    read_map,
    read_str,
    read_text,
    read_uint,
)
from aura_core.errors import InvalidEncoding, InvalidInput
from aura_core.identifiers import AuthorityId, ChannelId
from aura_features.chat.chat_identifiers import CHANNEL_SALT_BYTES, MessageId
from aura_features.chat.epoch_secret import SEALED_SECRET_BYTES
from aura_protocol.amp.frames import MAX_FRAME_BYTES, DataFrame, decode_frame, encode_frame

__all__ = [
    "BOX_KEY_BYTES",
    "CHAT_FACT_BODIES",
    "MAX_CHANNEL_MEMBERS",
    "MAX_FRAME_FACT_BYTES",
    "MAX_NICK_CHARS",
    "MAX_REASON_CHARS",
    "MAX_TOPIC_CHARS",
    "ChannelClosed",
    "ChannelCreated",
    "ChannelMode",
    "ChannelRekeyed",
    "ChannelUpdated",
    "ChatFactBody",
    "DeliveryUpdated",
    "MemberInvited",
    "MemberJoined",
    "MemberLeft",
    "MessageDeleted",
    "MessageEdited",
    "MessageRead",
    "MessageSent",
    "Moderation",
    "ModerationAction",
    "NicknameSet",
    "Position",
    "check_channel_name",
    "check_nick",
]

MAX_TOPIC_CHARS = 256
MAX_NICK_CHARS = 32
MAX_REASON_CHARS = 256
MAX_CHANNEL_MEMBERS = 1024
BOX_KEY_BYTES = 32
MAX_FRAME_FACT_BYTES = 64 * 1024
"""Largest AMP frame a message fact may carry (the text limit keeps real ones far below)."""

_CHANNEL_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_NICK = re.compile(r"[^\s\x00-\x1f\x7f-\x9f]{1,32}")


def check_channel_name(value: object) -> str:
    """A channel name: 1..32 of ``a-z 0-9 _ -``, starting with a letter or digit (shown ``#name``)."""
    if type(value) is not str or not _CHANNEL_NAME.fullmatch(value):
        raise InvalidInput(
            f"a channel name is 1..32 characters of a-z, 0-9, '_' and '-', got {value!r:.40}"
        )
    return value


def check_nick(value: object) -> str:
    """A nickname: 1..32 visible characters (no spaces, controls or invisible format marks)."""
    if (
        type(value) is not str
        or not _NICK.fullmatch(value)
        or any(unicodedata.category(ch)[0] in "CZ" for ch in value)
    ):
        raise InvalidInput(
            f"a nickname is 1..{MAX_NICK_CHARS} visible characters without spaces, got {value!r:.40}"
        )
    return value


def _u64(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not int or not 0 <= value <= U64_MAX:
        raise InvalidInput(f"{attribute.name} must be an integer in 0..2**64-1")


def _instance(kind: type) -> Any:
    def check(_instance: object, attribute: attrs.Attribute, value: object) -> None:
        if not isinstance(value, kind):
            raise InvalidInput(f"{attribute.name} must be a {kind.__name__}")

    return check


def _text(limit: int, *, minimum: int = 0) -> Any:
    def check(_instance: object, attribute: attrs.Attribute, value: object) -> None:
        if type(value) is not str or not minimum <= len(value) <= limit:
            raise InvalidInput(f"{attribute.name} must be text of {minimum}..{limit} characters")
        if any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in value):
            raise InvalidInput(f"{attribute.name} contains control characters")

    return check


def _frame(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if not isinstance(value, DataFrame):
        raise InvalidInput(f"{attribute.name} must be an AMP DataFrame")


def _optional_authority(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if value is not None and not isinstance(value, AuthorityId):
        raise InvalidInput(f"{attribute.name} must be an AuthorityId or None")


class ChannelMode(enum.StrEnum):
    """Who may join: anyone in the context, invitees only, or a direct chat of two."""

    OPEN = "open"
    INVITE = "invite"
    DIRECT = "direct"


class ModerationAction(enum.StrEnum):
    MUTE = "mute"
    UNMUTE = "unmute"
    BAN = "ban"
    UNBAN = "unban"
    KICK = "kick"
    PIN = "pin"
    UNPIN = "unpin"
    GRANT_MODERATOR = "grant_moderator"
    REVOKE_MODERATOR = "revoke_moderator"

    @property
    def targets_message(self) -> bool:
        return self in (ModerationAction.PIN, ModerationAction.UNPIN)

    @property
    def creator_only(self) -> bool:
        """Moderator roles are granted and revoked by the channel's creator alone."""
        return self in (ModerationAction.GRANT_MODERATOR, ModerationAction.REVOKE_MODERATOR)


@attrs.frozen(order=True)
class Position:
    """A place in one sender's message sequence: AMP epoch, then generation."""

    epoch: int = attrs.field(validator=_u64)
    generation: int = attrs.field(validator=_u64)

    def to_canonical(self) -> list[int]:
        return [self.epoch, self.generation]

    @classmethod
    def from_canonical(cls, value: Any, what: str) -> Position:
        pair = read_list(value, what, min_items=2, max_items=2)
        return cls(read_uint(pair[0], f"{what} epoch"), read_uint(pair[1], f"{what} generation"))


# --------------------------------------------------------------------------- common header


def _header(value: Any, what: str, extra: tuple[str, ...], *, channel: bool = True) -> dict:
    keys = ("by", "clk", *extra) + (("ch",) if channel else ())
    return read_map(value, what, keys)


def _common(fields: dict, what: str) -> tuple[ChannelId, AuthorityId, int]:
    return (
        read_hash(fields["ch"], f"{what} channel", ChannelId),
        read_authority(fields["by"], f"{what} author"),
        read_uint(fields["clk"], f"{what} clock"),
    )


def _start(body: Any) -> dict[str, Any]:
    return {"ch": body.channel.raw, "by": body.author.raw, "clk": body.clock}


def _decoding(what: str, build: Any) -> Any:
    try:
        return build()
    except InvalidEncoding:
        raise
    except InvalidInput as exc:
        raise as_encoding_error(what, exc) from None


_CHANNEL = attrs.field(validator=_instance(ChannelId))
_AUTHOR = attrs.field(validator=_instance(AuthorityId))


# --------------------------------------------------------------------------- channels


@attrs.frozen
class ChannelCreated:
    """A channel comes into being. ``box_key`` is the creator's X25519 key for epoch secrets.

    An open or invite-only channel has a name and a random ``salt``; a direct
    channel has no name and names its ``peer``. The id must be the one these
    derive (checked against the journal's context).
    """

    TYPE_ID: ClassVar[str] = "chat.channel_created"
    channel: ChannelId = _CHANNEL
    author: AuthorityId = _AUTHOR
    clock: int = attrs.field(validator=_u64)
    mode: ChannelMode = attrs.field(converter=ChannelMode)
    name: str = attrs.field()
    topic: str = attrs.field(validator=_text(MAX_TOPIC_CHARS))
    box_key: bytes = attrs.field()
    salt: bytes = attrs.field(default=b"")
    peer: AuthorityId | None = attrs.field(default=None, validator=_optional_authority)

    def __attrs_post_init__(self) -> None:
        if type(self.box_key) is not bytes or len(self.box_key) != BOX_KEY_BYTES:
            raise InvalidInput(f"box_key must be {BOX_KEY_BYTES} bytes")
        if self.mode is ChannelMode.DIRECT:
            if self.name != "" or self.salt != b"" or self.peer is None:
                raise InvalidInput("a direct channel has no name or salt and names its peer")
            if self.peer == self.author:
                raise InvalidInput("a direct channel's peer is not its creator")
        else:
            check_channel_name(self.name)
            if self.peer is not None:
                raise InvalidInput("only a direct channel names a peer")
            if type(self.salt) is not bytes or len(self.salt) != CHANNEL_SALT_BYTES:
                raise InvalidInput(f"a named channel has a {CHANNEL_SALT_BYTES}-byte salt")

    def to_canonical(self) -> dict[str, Any]:
        value = _start(self)
        value.update(
            mode=self.mode.value,
            name=self.name,
            topic=self.topic,
            box=self.box_key,
            salt=self.salt,
            peer=None if self.peer is None else self.peer.raw,
        )
        return value

    @classmethod
    def from_canonical(cls, value: Any) -> Self:
        what = "channel_created"
        fields = _header(value, what, ("mode", "name", "topic", "box", "salt", "peer"))
        channel, author, clock = _common(fields, what)
        mode = read_choice(fields["mode"], f"{what} mode", [m.value for m in ChannelMode])
        peer = fields["peer"]
        return _decoding(
            what,
            lambda: cls(
                channel,
                author,
                clock,
                ChannelMode(mode),
                read_str(fields["name"], f"{what} name", max_length=32),
                read_text(fields["topic"], f"{what} topic", max_length=MAX_TOPIC_CHARS),
                read_bytes(fields["box"], f"{what} box key", size=BOX_KEY_BYTES),
                read_bytes(fields["salt"], f"{what} salt", max_size=CHANNEL_SALT_BYTES),
                None if peer is None else read_authority(peer, f"{what} peer"),
            ),
        )


@attrs.frozen
class ChannelUpdated:
    """A new topic (moderators and the creator only)."""

    TYPE_ID: ClassVar[str] = "chat.channel_updated"
    channel: ChannelId = _CHANNEL
    author: AuthorityId = _AUTHOR
    clock: int = attrs.field(validator=_u64)
    topic: str = attrs.field(validator=_text(MAX_TOPIC_CHARS))

    def to_canonical(self) -> dict[str, Any]:
        value = _start(self)
        value["topic"] = self.topic
        return value

    @classmethod
    def from_canonical(cls, value: Any) -> Self:
        what = "channel_updated"
        fields = _header(value, what, ("topic",))
        channel, author, clock = _common(fields, what)
        topic = read_text(fields["topic"], f"{what} topic", max_length=MAX_TOPIC_CHARS)
        return _decoding(what, lambda: cls(channel, author, clock, topic))


@attrs.frozen
class ChannelClosed:
    """The creator closes the channel: it becomes read-only history."""

    TYPE_ID: ClassVar[str] = "chat.channel_closed"
    channel: ChannelId = _CHANNEL
    author: AuthorityId = _AUTHOR
    clock: int = attrs.field(validator=_u64)

    def to_canonical(self) -> dict[str, Any]:
        return _start(self)

    @classmethod
    def from_canonical(cls, value: Any) -> Self:
        what = "channel_closed"
        channel, author, clock = _common(_header(value, what, ()), what)
        return _decoding(what, lambda: cls(channel, author, clock))


@attrs.frozen
class ChannelRekeyed:
    """A new AMP epoch for the channel: its members and the epoch secret sealed to each.

    This is the agreement that makes pending membership changes real: a
    member is in the channel from the first epoch that lists it. Only the
    creator issues rekeys. ``secrets[i]`` is sealed to ``members[i]``'s box key.
    """

    TYPE_ID: ClassVar[str] = "chat.channel_rekeyed"
    channel: ChannelId = _CHANNEL
    author: AuthorityId = _AUTHOR
    clock: int = attrs.field(validator=_u64)
    epoch: int = attrs.field(validator=_u64)
    members: tuple[AuthorityId, ...] = attrs.field(converter=tuple)
    secrets: tuple[bytes, ...] = attrs.field(converter=tuple)

    def __attrs_post_init__(self) -> None:
        if self.epoch < 1:
            raise InvalidInput("rekey epochs start at 1")
        if not 1 <= len(self.members) <= MAX_CHANNEL_MEMBERS:
            raise InvalidInput(f"a channel epoch has 1..{MAX_CHANNEL_MEMBERS} members")
        if not all(isinstance(m, AuthorityId) for m in self.members):
            raise InvalidInput("rekey members must be AuthorityId values")
        if list(self.members) != sorted(set(self.members)):
            raise InvalidInput("rekey members must be sorted and distinct")
        if len(self.secrets) != len(self.members):
            raise InvalidInput("a rekey carries one sealed secret per member")
        if not all(type(s) is bytes and len(s) == SEALED_SECRET_BYTES for s in self.secrets):
            raise InvalidInput(f"each sealed epoch secret is {SEALED_SECRET_BYTES} bytes")

    def secret_for(self, member: AuthorityId) -> bytes | None:
        for candidate, sealed in zip(self.members, self.secrets, strict=True):
            if candidate == member:
                return sealed
        return None

    def to_canonical(self) -> dict[str, Any]:
        value = _start(self)
        value.update(
            epoch=self.epoch,
            members=[m.raw for m in self.members],
            secrets=list(self.secrets),
        )
        return value

    @classmethod
    def from_canonical(cls, value: Any) -> Self:
        what = "channel_rekeyed"
        fields = _header(value, what, ("epoch", "members", "secrets"))
        channel, author, clock = _common(fields, what)
        epoch = read_uint(fields["epoch"], f"{what} epoch", minimum=1)
        raw_members = read_list(
            fields["members"], f"{what} members", min_items=1, max_items=MAX_CHANNEL_MEMBERS
        )
        members = [read_authority(m, f"{what} member") for m in raw_members]
        raw_secrets = read_list(
            fields["secrets"], f"{what} secrets", min_items=1, max_items=MAX_CHANNEL_MEMBERS
        )
        secrets = [
            read_bytes(s, f"{what} sealed secret", size=SEALED_SECRET_BYTES) for s in raw_secrets
        ]
        return _decoding(what, lambda: cls(channel, author, clock, epoch, members, secrets))


# --------------------------------------------------------------------------- membership


@attrs.frozen
class MemberInvited:
    """A member invites ``invitee`` (needed to join an invite-only channel)."""

    TYPE_ID: ClassVar[str] = "chat.member_invited"
    channel: ChannelId = _CHANNEL
    author: AuthorityId = _AUTHOR
    clock: int = attrs.field(validator=_u64)
    invitee: AuthorityId = attrs.field(validator=_instance(AuthorityId))

    def to_canonical(self) -> dict[str, Any]:
        value = _start(self)
        value["who"] = self.invitee.raw
        return value

    @classmethod
    def from_canonical(cls, value: Any) -> Self:
        what = "member_invited"
        fields = _header(value, what, ("who",))
        channel, author, clock = _common(fields, what)
        invitee = read_authority(fields["who"], f"{what} invitee")
        return _decoding(what, lambda: cls(channel, author, clock, invitee))


@attrs.frozen
class MemberJoined:
    """The author asks to be in the channel; pending until a rekey lists it."""

    TYPE_ID: ClassVar[str] = "chat.member_joined"
    channel: ChannelId = _CHANNEL
    author: AuthorityId = _AUTHOR
    clock: int = attrs.field(validator=_u64)
    box_key: bytes = attrs.field()

    def __attrs_post_init__(self) -> None:
        if type(self.box_key) is not bytes or len(self.box_key) != BOX_KEY_BYTES:
            raise InvalidInput(f"box_key must be {BOX_KEY_BYTES} bytes")

    def to_canonical(self) -> dict[str, Any]:
        value = _start(self)
        value["box"] = self.box_key
        return value

    @classmethod
    def from_canonical(cls, value: Any) -> Self:
        what = "member_joined"
        fields = _header(value, what, ("box",))
        channel, author, clock = _common(fields, what)
        box = read_bytes(fields["box"], f"{what} box key", size=BOX_KEY_BYTES)
        return _decoding(what, lambda: cls(channel, author, clock, box))


@attrs.frozen
class MemberLeft:
    """The author leaves; it stops sending at once and loses the keys at the next rekey."""

    TYPE_ID: ClassVar[str] = "chat.member_left"
    channel: ChannelId = _CHANNEL
    author: AuthorityId = _AUTHOR
    clock: int = attrs.field(validator=_u64)

    def to_canonical(self) -> dict[str, Any]:
        return _start(self)

    @classmethod
    def from_canonical(cls, value: Any) -> Self:
        what = "member_left"
        channel, author, clock = _common(_header(value, what, ()), what)
        return _decoding(what, lambda: cls(channel, author, clock))


# --------------------------------------------------------------------------- messages


def _read_frame(value: Any, what: str) -> DataFrame:
    raw = read_bytes(value, what, max_size=MAX_FRAME_FACT_BYTES)
    if len(raw) > MAX_FRAME_BYTES:  # pragma: no cover - the fact cap is far below the AMP cap
        raise InvalidEncoding(f"{what} is larger than an AMP frame")
    frame = decode_frame(raw)
    if not isinstance(frame, DataFrame):
        raise InvalidEncoding(f"{what} must be an AMP data frame, not an acknowledgement")
    return frame


@attrs.frozen
class MessageSent:
    """A message, sealed in an AMP frame of the author's chain (its id comes from the frame)."""

    TYPE_ID: ClassVar[str] = "chat.message_sent"
    channel: ChannelId = _CHANNEL
    author: AuthorityId = _AUTHOR
    clock: int = attrs.field(validator=_u64)
    frame: DataFrame = attrs.field(validator=_frame)

    @property
    def position(self) -> Position:
        return Position(self.frame.header.epoch, self.frame.header.generation)

    def to_canonical(self) -> dict[str, Any]:
        value = _start(self)
        value["frame"] = encode_frame(self.frame)
        return value

    @classmethod
    def from_canonical(cls, value: Any) -> Self:
        what = "message_sent"
        fields = _header(value, what, ("frame",))
        channel, author, clock = _common(fields, what)
        frame = _read_frame(fields["frame"], f"{what} frame")
        return _decoding(what, lambda: cls(channel, author, clock, frame))


@attrs.frozen
class MessageEdited:
    """New text for the author's own message ``target``, sealed like a message."""

    TYPE_ID: ClassVar[str] = "chat.message_edited"
    channel: ChannelId = _CHANNEL
    author: AuthorityId = _AUTHOR
    clock: int = attrs.field(validator=_u64)
    target: MessageId = attrs.field(validator=_instance(MessageId))
    frame: DataFrame = attrs.field(validator=_frame)

    @property
    def position(self) -> Position:
        return Position(self.frame.header.epoch, self.frame.header.generation)

    def to_canonical(self) -> dict[str, Any]:
        value = _start(self)
        value["target"] = self.target.raw
        value["frame"] = encode_frame(self.frame)
        return value

    @classmethod
    def from_canonical(cls, value: Any) -> Self:
        what = "message_edited"
        fields = _header(value, what, ("target", "frame"))
        channel, author, clock = _common(fields, what)
        target = read_hash(fields["target"], f"{what} target", MessageId)
        frame = _read_frame(fields["frame"], f"{what} frame")
        return _decoding(what, lambda: cls(channel, author, clock, target, frame))


@attrs.frozen
class MessageDeleted:
    """``target`` is deleted (by its author or a moderator); its text is no longer shown."""

    TYPE_ID: ClassVar[str] = "chat.message_deleted"
    channel: ChannelId = _CHANNEL
    author: AuthorityId = _AUTHOR
    clock: int = attrs.field(validator=_u64)
    target: MessageId = attrs.field(validator=_instance(MessageId))

    def to_canonical(self) -> dict[str, Any]:
        value = _start(self)
        value["target"] = self.target.raw
        return value

    @classmethod
    def from_canonical(cls, value: Any) -> Self:
        what = "message_deleted"
        fields = _header(value, what, ("target",))
        channel, author, clock = _common(fields, what)
        target = read_hash(fields["target"], f"{what} target", MessageId)
        return _decoding(what, lambda: cls(channel, author, clock, target))


@attrs.frozen
class MessageRead:
    """The author has read the channel up to and including ``through``."""

    TYPE_ID: ClassVar[str] = "chat.message_read"
    channel: ChannelId = _CHANNEL
    author: AuthorityId = _AUTHOR
    clock: int = attrs.field(validator=_u64)
    through: MessageId = attrs.field(validator=_instance(MessageId))

    def to_canonical(self) -> dict[str, Any]:
        value = _start(self)
        value["through"] = self.through.raw
        return value

    @classmethod
    def from_canonical(cls, value: Any) -> Self:
        what = "message_read"
        fields = _header(value, what, ("through",))
        channel, author, clock = _common(fields, what)
        through = read_hash(fields["through"], f"{what} through", MessageId)
        return _decoding(what, lambda: cls(channel, author, clock, through))


@attrs.frozen
class DeliveryUpdated:
    """The author (a recipient) holds every message ``sender`` sealed in ``epoch`` below ``below``.

    The journal-level twin of an AMP acknowledgement: it travels with the ack
    and stays, so every replica can show which messages reached whom.
    """

    TYPE_ID: ClassVar[str] = "chat.delivery_updated"
    channel: ChannelId = _CHANNEL
    author: AuthorityId = _AUTHOR
    clock: int = attrs.field(validator=_u64)
    sender: AuthorityId = attrs.field(validator=_instance(AuthorityId))
    epoch: int = attrs.field(validator=_u64)
    below: int = attrs.field(validator=_u64)

    def to_canonical(self) -> dict[str, Any]:
        value = _start(self)
        value.update(sender=self.sender.raw, epoch=self.epoch, below=self.below)
        return value

    @classmethod
    def from_canonical(cls, value: Any) -> Self:
        what = "delivery_updated"
        fields = _header(value, what, ("sender", "epoch", "below"))
        channel, author, clock = _common(fields, what)
        sender = read_authority(fields["sender"], f"{what} sender")
        epoch = read_uint(fields["epoch"], f"{what} epoch")
        below = read_uint(fields["below"], f"{what} below")
        return _decoding(what, lambda: cls(channel, author, clock, sender, epoch, below))


@attrs.frozen
class NicknameSet:
    """The author's display name in this context (all its channels)."""

    TYPE_ID: ClassVar[str] = "chat.nickname_set"
    author: AuthorityId = _AUTHOR
    clock: int = attrs.field(validator=_u64)
    nick: str = attrs.field()

    def __attrs_post_init__(self) -> None:
        check_nick(self.nick)

    def to_canonical(self) -> dict[str, Any]:
        return {"by": self.author.raw, "clk": self.clock, "nick": self.nick}

    @classmethod
    def from_canonical(cls, value: Any) -> Self:
        what = "nickname_set"
        fields = _header(value, what, ("nick",), channel=False)
        author = read_authority(fields["by"], f"{what} author")
        clock = read_uint(fields["clk"], f"{what} clock")
        nick = read_str(fields["nick"], f"{what} nick", max_length=MAX_NICK_CHARS, min_length=1)
        return _decoding(what, lambda: cls(author, clock, nick))


# --------------------------------------------------------------------------- moderation


@attrs.frozen
class Moderation:
    """A moderator's action on a member (or, for pins, on a message).

    ``cutoff`` (member actions) is the target's position the moderator had
    reached: a mute or ban hides the target's messages from there on, an
    unmute or unban shows them again from there on. AMP positions of one
    sender are unforgeable and totally ordered, so a muted member cannot
    slip a message in "before" the mute.
    """

    TYPE_ID: ClassVar[str] = "chat.moderation"
    channel: ChannelId = _CHANNEL
    author: AuthorityId = _AUTHOR
    clock: int = attrs.field(validator=_u64)
    action: ModerationAction = attrs.field(converter=ModerationAction)
    member: AuthorityId | None = attrs.field(default=None, validator=_optional_authority)
    message: MessageId | None = attrs.field(default=None)
    cutoff: Position = attrs.field(factory=lambda: Position(0, 0), validator=_instance(Position))
    reason: str = attrs.field(default="", validator=_text(MAX_REASON_CHARS))

    def __attrs_post_init__(self) -> None:
        if self.action.targets_message:
            if not isinstance(self.message, MessageId) or self.member is not None:
                raise InvalidInput(f"{self.action.value} names a message and no member")
        elif not isinstance(self.member, AuthorityId) or self.message is not None:
            raise InvalidInput(f"{self.action.value} names a member and no message")

    def to_canonical(self) -> dict[str, Any]:
        value = _start(self)
        value.update(
            act=self.action.value,
            member=None if self.member is None else self.member.raw,
            msg=None if self.message is None else self.message.raw,
            cut=self.cutoff.to_canonical(),
            why=self.reason,
        )
        return value

    @classmethod
    def from_canonical(cls, value: Any) -> Self:
        what = "moderation"
        fields = _header(value, what, ("act", "member", "msg", "cut", "why"))
        channel, author, clock = _common(fields, what)
        action = read_choice(fields["act"], f"{what} action", [a.value for a in ModerationAction])
        member = None if fields["member"] is None else read_authority(fields["member"], what)
        message = None if fields["msg"] is None else read_hash(fields["msg"], what, MessageId)
        cutoff = Position.from_canonical(fields["cut"], f"{what} cutoff")
        reason = read_text(fields["why"], f"{what} reason", max_length=MAX_REASON_CHARS)
        return _decoding(
            what,
            lambda: cls(
                channel, author, clock, ModerationAction(action), member, message, cutoff, reason
            ),
        )


ChatFactBody = (
    ChannelCreated
    | ChannelUpdated
    | ChannelClosed
    | ChannelRekeyed
    | MemberInvited
    | MemberJoined
    | MemberLeft
    | MessageSent
    | MessageEdited
    | MessageDeleted
    | MessageRead
    | DeliveryUpdated
    | NicknameSet
    | Moderation
)

CHAT_FACT_BODIES: tuple[type, ...] = (
    ChannelCreated,
    ChannelUpdated,
    ChannelClosed,
    ChannelRekeyed,
    MemberInvited,
    MemberJoined,
    MemberLeft,
    MessageSent,
    MessageEdited,
    MessageDeleted,
    MessageRead,
    DeliveryUpdated,
    NicknameSet,
    Moderation,
)
"""Every chat fact body type (one fact type each)."""
