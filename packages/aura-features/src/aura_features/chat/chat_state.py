"""The chat reducer: a context's chat facts folded into per-channel state.

:class:`ChatReducer` is a commutative fold (``aura_journal.Reducer``): each
fact is indexed into the :class:`ChatState` of its context in O(1) (a
bisection for messages), so the journal's cached view stays current fact by
fact and any arrival order gives the same state. What the facts *mean* is
decided by :class:`~aura_features.chat.channel_state.ChannelState`.
"""

from __future__ import annotations

from typing import Any

from aura_core.identifiers import AuthorityId, ChannelId
from aura_features.chat.channel_state import ChannelState, Stamp
from aura_features.chat.chat_fact_types import CHAT_TYPE_IDS
from aura_features.chat.chat_facts import NicknameSet
from aura_journal.facts import Fact

__all__ = ["CHAT_REDUCER", "ChatReducer", "ChatState"]

CHAT_REDUCER = "chat"
"""Name of the chat reducer (and of its journal view)."""


class ChatState:
    """Every channel of one context, nicknames, and the highest Lamport clock seen."""

    def __init__(self) -> None:
        self.channels: dict[ChannelId, ChannelState] = {}
        self._nicks: dict[AuthorityId, tuple[Stamp, str]] = {}
        self.max_clock = 0
        self.fact_count = 0

    def add(self, fact: Fact, body: Any) -> ChannelState | None:
        """Index one fact; returns the channel it belongs to (``None`` for a nickname)."""
        self.fact_count += 1
        if body.clock > self.max_clock:
            self.max_clock = body.clock
        if type(body) is NicknameSet:
            stamp = (body.clock, fact.sort_key)
            known = self._nicks.get(body.author)
            if known is None or stamp > known[0]:
                self._nicks[body.author] = (stamp, body.nick)
            return None
        channel = self.channels.get(body.channel)
        if channel is None:
            channel = self.channels[body.channel] = ChannelState(body.channel)
        channel.add(fact, body)
        return channel

    def channel(self, channel: ChannelId) -> ChannelState | None:
        """The channel's state, if its creation fact is known."""
        state = self.channels.get(channel)
        return state if state is not None and state.created is not None else None

    def nick(self, author: AuthorityId) -> str | None:
        known = self._nicks.get(author)
        return None if known is None else known[1]

    def nicks(self) -> dict[AuthorityId, str]:
        return {author: nick for author, (_stamp, nick) in self._nicks.items()}


class ChatReducer:
    """``aura_journal`` fold over every chat fact type."""

    name = CHAT_REDUCER
    fact_types = CHAT_TYPE_IDS

    def initial(self) -> ChatState:
        return ChatState()

    def apply(self, state: ChatState, fact: Fact, body: Any) -> ChatState:
        state.add(fact, body)
        return state
