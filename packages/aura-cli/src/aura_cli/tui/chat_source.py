"""What the chat screen shows, as plain values, and where it comes from.

The screen never touches the agent directly: it renders a :class:`ChatSnapshot`
and calls :meth:`ChatSource.send`. :class:`AgentChatSource` builds snapshots
from a running agent's ``chat`` and ``contacts`` signals and wakes the screen
when either changes (signals are batched and always give the newest value, so
a burst of arrivals costs one redraw). Notifications are the difference
between two snapshots: new messages from others, new contacts, contacts
becoming reachable.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import anyio
import attrs

from aura_agent import Agent
from aura_core.errors import InvalidInput, NotFound

__all__ = [
    "AgentChatSource",
    "ChatSnapshot",
    "ChatSource",
    "ContactItem",
    "ConversationItem",
    "MessageLine",
    "notifications_between",
]


@attrs.frozen
class MessageLine:
    author: str
    text: str | None
    """``None`` while the message cannot be opened yet (keys still on their way) or deleted."""
    mine: bool


@attrs.frozen
class ConversationItem:
    key: str
    """What :meth:`ChatSource.send` takes to address this conversation."""
    title: str
    lines: tuple[MessageLine, ...] = ()


@attrs.frozen
class ContactItem:
    name: str
    authority: str
    reachable: bool


@attrs.frozen
class ChatSnapshot:
    me: str
    conversations: tuple[ConversationItem, ...] = ()
    contacts: tuple[ContactItem, ...] = ()

    def conversation(self, key: str) -> ConversationItem | None:
        return next((c for c in self.conversations if c.key == key), None)


@runtime_checkable
class ChatSource(Protocol):
    def snapshot(self) -> ChatSnapshot: ...

    async def wait_for_change(self) -> None:
        """Return once the snapshot may have changed (at least once since the last call)."""
        ...

    async def send(self, conversation: str, text: str) -> None: ...


def notifications_between(before: ChatSnapshot, after: ChatSnapshot) -> list[str]:
    """What a person should be told about the change from ``before`` to ``after``."""
    notes: list[str] = []
    known = {c.authority: c for c in before.contacts}
    for contact in after.contacts:
        old = known.get(contact.authority)
        if old is None:
            notes.append(f"new contact: {contact.name}")
        elif contact.reachable and not old.reachable:
            notes.append(f"{contact.name} is now reachable")
    for conversation in after.conversations:
        old_conversation = before.conversation(conversation.key)
        seen = 0 if old_conversation is None else len(old_conversation.lines)
        for line in conversation.lines[seen:]:
            if not line.mine:
                notes.append(f"{conversation.title}: new message from {line.author}")
    return notes


class AgentChatSource:
    """A :class:`ChatSource` over a running :class:`~aura_agent.Agent`."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self._subscriptions = [
            agent.subscribe(name)
            for name, feature in (
                ("chat", "chat"),
                ("contacts", "contacts"),
                ("account", "account"),
            )
            if feature in agent.features
        ]

    def _names(self) -> dict[str, str]:
        contacts = self.agent.latest("contacts", ()) if "contacts" in self.agent.features else ()
        return {str(c.authority): c.nickname or str(c.authority)[:18] for c in contacts}

    def snapshot(self) -> ChatSnapshot:
        agent = self.agent
        me = agent.latest("profile.nickname") if "profile" in agent.features else None
        names = self._names()
        contacts = agent.latest("contacts", ()) if "contacts" in agent.features else ()
        chats = agent.latest("chat", ()) if "chat" in agent.features else ()
        return ChatSnapshot(
            me=me or str(agent.authority or agent.device),
            conversations=tuple(
                ConversationItem(
                    str(c.contact),
                    names.get(str(c.contact), str(c.contact)),
                    tuple(
                        MessageLine(
                            names.get(str(line.author), line.author_name), line.text, line.mine
                        )
                        for line in c.lines
                    ),
                )
                for c in chats
            ),
            contacts=tuple(
                ContactItem(names[str(c.authority)], str(c.authority), bool(c.reachable))
                for c in contacts
            ),
        )

    async def wait_for_change(self) -> None:
        # Subscriptions count versions, so the waits cancelled when one signal wins lose
        # nothing: the next call still sees what the others got meanwhile.
        async with anyio.create_task_group() as tg:

            async def wait(subscription: Any) -> None:
                await subscription.__anext__()
                tg.cancel_scope.cancel()

            for subscription in self._subscriptions:
                tg.start_soon(wait, subscription)
            if not self._subscriptions:
                await anyio.sleep_forever()

    async def send(self, conversation: str, text: str) -> None:
        if "chat.send_message" not in self.agent.operations:
            raise NotFound("this agent has no chat feature loaded")
        if not text.strip():
            raise InvalidInput("the message is empty")
        await self.agent.run("chat.send_message", to=conversation, text=text)
