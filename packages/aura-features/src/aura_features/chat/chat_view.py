"""What a member sees: channels, members, history and search, from the reduced state.

:class:`ChatView` joins the journal's reduced :class:`ChatState` (which holds
ciphertext only) with the bodies this member opened with its AMP keys. It
answers with frozen records a UI can show directly. Everything it reports is
a function of the fact set and of which frames this member could open, so
two members holding the same facts and keys see the same history.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from types import MappingProxyType

import attrs

from aura_core.errors import InvalidInput, NotFound
from aura_core.identifiers import AuthorityId, ChannelId
from aura_features.chat.channel_state import ChannelState, MemberStatus, MessageRecord
from aura_features.chat.chat_facts import ChannelMode
from aura_features.chat.chat_identifiers import MessageId
from aura_features.chat.chat_state import ChatState
from aura_features.chat.message_body import MessageBody, MessageKind

__all__ = ["ChannelInfo", "ChatView", "DeliveryState", "MemberInfo", "MessageView"]

_MAX_LIMIT = 10_000


class DeliveryState(enum.IntEnum):
    """How far a message got to one recipient (ordered: a later state implies the earlier)."""

    SENT = 0
    DELIVERED = 1
    READ = 2


@attrs.frozen
class MessageView:
    id: MessageId
    channel: ChannelId
    author: AuthorityId
    author_name: str
    kind: MessageKind | None
    text: str | None
    """``None`` when deleted, hidden, or not (yet) opened by this member."""
    clock: int
    sent_at_ms: int | None
    edited: bool
    deleted: bool
    hidden: str | None
    """Why the message is hidden (``muted``, ``banned``, ``closed``, ``equivocated``)."""
    pinned: bool
    opened: bool
    delivery: Mapping[AuthorityId, DeliveryState] = attrs.field(
        converter=lambda m: MappingProxyType(dict(m)), eq=False
    )

    @property
    def state(self) -> DeliveryState:
        """The least advanced recipient's state (``READ`` when nobody else is in the epoch)."""
        return min(self.delivery.values(), default=DeliveryState.READ)


@attrs.frozen
class ChannelInfo:
    id: ChannelId
    name: str
    mode: ChannelMode
    topic: str
    creator: AuthorityId
    closed: bool
    epoch: int | None
    my_status: str
    moderators: frozenset[AuthorityId]
    members: frozenset[AuthorityId]

    @property
    def label(self) -> str:
        return f"#{self.name}" if self.name else f"direct:{self.id.hex()[:12]}"


@attrs.frozen
class MemberInfo:
    authority: AuthorityId
    name: str
    status: str
    moderator: bool
    muted: bool
    banned: bool


class ChatView:
    """Read side of one member's chat in one context."""

    def __init__(
        self,
        state: Callable[[], ChatState],
        bodies: Mapping[MessageId, MessageBody | None],
        me: AuthorityId,
    ) -> None:
        self._state = state
        self._bodies = bodies
        self.me = me

    # ------------------------------------------------------------------ channels

    def _channel(self, channel: ChannelId) -> ChannelState:
        state = self._state().channel(channel)
        if state is None:
            raise NotFound(f"no channel {channel} is known here")
        return state

    def channel(self, channel: ChannelId) -> ChannelInfo:
        state = self._channel(channel)
        created = state.created
        assert created is not None
        current = state.current_epoch
        return ChannelInfo(
            channel,
            created.name,
            created.mode,
            state.topic,
            created.author,
            state.closed_at is not None,
            None if current is None else current.epoch,
            state.status(self.me),
            state.moderators,
            state.epoch_members(),
        )

    def channels(self) -> list[ChannelInfo]:
        """Every known channel, by name then id."""
        chat = self._state()
        infos = [self.channel(ch) for ch in list(chat.channels) if chat.channel(ch) is not None]
        return sorted(infos, key=lambda info: (info.name, info.id))

    def find_channel(self, name: str) -> ChannelId:
        """The channel called ``name`` (with or without ``#``); ambiguous names are refused."""
        wanted = name[1:] if name.startswith("#") else name
        matches = [info.id for info in self.channels() if info.name == wanted]
        if not matches:
            raise NotFound(f"no channel named #{wanted} is known here")
        if len(matches) > 1:
            raise InvalidInput(
                f"{len(matches)} channels are named #{wanted}; name one by id "
                f"({', '.join(str(m) for m in matches[:3])})"
            )
        return matches[0]

    def direct_channel_with(self, peer: AuthorityId) -> ChannelId | None:
        """A direct channel between this member and ``peer``, if one exists."""
        for info in self.channels():
            if info.mode is not ChannelMode.DIRECT:
                continue
            created = self._channel(info.id).created
            assert created is not None
            if {created.author, created.peer} == {self.me, peer}:
                return info.id
        return None

    # ------------------------------------------------------------------ people

    def display_name(self, authority: AuthorityId) -> str:
        nick = self._state().nick(authority)
        return nick if nick is not None else str(authority)[len("authority-") :][:8]

    def resolve_member(self, name: str) -> AuthorityId:
        """An authority by nickname or printed id."""
        if name.startswith("authority-"):
            return AuthorityId.parse(name)
        matches = [a for a, nick in self._state().nicks().items() if nick == name]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise InvalidInput(f"{len(matches)} members use the nickname {name!r}; use the id")
        raise NotFound(f"nobody here is called {name!r}")

    def members(self, channel: ChannelId) -> list[MemberInfo]:
        state = self._channel(channel)
        moderators = state.moderators
        people = []
        for authority in sorted(state.known_members()):
            status = state.status(authority)
            if status == MemberStatus.OUTSIDE and not state.is_banned(authority):
                continue
            people.append(
                MemberInfo(
                    authority,
                    self.display_name(authority),
                    status,
                    authority in moderators,
                    state.is_muted(authority),
                    state.is_banned(authority),
                )
            )
        return people

    # ------------------------------------------------------------------ messages

    def _view(self, state: ChannelState, record: MessageRecord) -> MessageView:
        hidden = state.hidden_reason(record)
        deleted = state.is_deleted(record.id)
        edits = state.edits_of(record.id)
        body = self._bodies.get(record.id)
        opened = record.id in self._bodies and body is not None
        for edit in edits:
            edited_body = self._bodies.get(edit.frame_id)
            if edited_body is not None:
                body = edited_body if opened else None
                break
        show = opened and not deleted and hidden is None and body is not None
        return MessageView(
            record.id,
            state.channel,
            record.author,
            self.display_name(record.author),
            body.kind if show and body is not None else None,
            body.text if show and body is not None else None,
            record.stamp[0],
            record.sent_at_ms,
            bool(edits),
            deleted,
            hidden,
            state.pinned(record.id),
            opened,
            self._delivery(state, record),
        )

    def _delivery(
        self, state: ChannelState, record: MessageRecord
    ) -> dict[AuthorityId, DeliveryState]:
        rekey = state.epoch_of(record.position.epoch)
        if rekey is None:
            return {}
        index = state.history_index(record.id)
        out = {}
        for member in rekey.members:
            if member == record.author:
                continue
            read = state.read_through(member)
            if read is not None and index is not None and read >= index:
                out[member] = DeliveryState.READ
            elif (
                state.delivered_below(member, record.author, record.position.epoch)
                > record.position.generation
            ):
                out[member] = DeliveryState.DELIVERED
            else:
                out[member] = DeliveryState.SENT
        return out

    def message(self, message: MessageId) -> MessageView:
        for state in self._state().channels.values():
            record = state.messages.get(message)
            if record is not None and state.created is not None:
                return self._view(state, record)
        raise NotFound(f"no message {message} is known here")

    def history(
        self,
        channel: ChannelId,
        *,
        limit: int | None = None,
        before: MessageId | None = None,
        include_hidden: bool = False,
    ) -> list[MessageView]:
        """Messages in history order (oldest first); the newest ``limit`` before ``before``."""
        if limit is not None and (type(limit) is not int or not 0 < limit <= _MAX_LIMIT):
            raise InvalidInput(f"limit must be an int in 1..{_MAX_LIMIT}")
        state = self._channel(channel)
        ids = state.history()
        if before is not None:
            index = state.history_index(before)
            if index is None:
                raise NotFound(f"no message {before} in {channel}")
            ids = ids[:index]
        out: list[MessageView] = []
        for mid in reversed(ids):
            view = self._view(state, state.messages[mid])
            if view.hidden is not None and not include_hidden:
                continue
            out.append(view)
            if limit is not None and len(out) >= limit:
                break
        out.reverse()
        return out

    def search(
        self, query: str, *, channel: ChannelId | None = None, limit: int = 50
    ) -> list[MessageView]:
        """Visible messages whose current text contains ``query`` (case-insensitive), newest first."""
        if type(query) is not str or not query.strip():
            raise InvalidInput("a search needs some text")
        if type(limit) is not int or not 0 < limit <= _MAX_LIMIT:
            raise InvalidInput(f"limit must be an int in 1..{_MAX_LIMIT}")
        needle = query.casefold()
        chat = self._state()
        channels = [channel] if channel is not None else list(chat.channels)
        hits: list[MessageView] = []
        for ch in channels:
            state = self._channel(ch) if channel is not None else chat.channel(ch)
            if state is None:
                continue
            for mid in state.history():
                view = self._view(state, state.messages[mid])
                if view.text is not None and needle in view.text.casefold():
                    hits.append(view)
        hits.sort(key=lambda v: (v.clock, v.author.raw), reverse=True)
        return hits[:limit]

    def unread(self, channel: ChannelId) -> int:
        """Visible messages by others after this member's read marker."""
        state = self._channel(channel)
        read = state.read_through(self.me)
        start = 0 if read is None else read + 1
        count = 0
        for mid in state.history()[start:]:
            record = state.messages[mid]
            if record.author != self.me and state.hidden_reason(record) is None:
                count += 1
        return count
