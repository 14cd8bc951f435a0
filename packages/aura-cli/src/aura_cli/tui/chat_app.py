"""The chat screen: conversations and contacts on the left, messages in the middle, notices right.

Enter sends what is typed to the selected conversation; Ctrl+N moves to the
next conversation; Ctrl+Q quits. The screen redraws whenever its
:class:`~aura_cli.tui.chat_source.ChatSource` reports a change, and lists
what changed (new messages, new or newly reachable contacts, failed sends)
under "notifications".
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Header, Input, Label, ListItem, ListView

from aura_cli.tui.chat_source import (
    ChatSnapshot,
    ChatSource,
    ConversationItem,
    notifications_between,
)
from aura_core.errors import AuraError

__all__ = ["ChatScreenApp"]

_UNREADABLE = "(not readable yet)"


def _message_text(author: str, text: str | None, mine: bool) -> str:
    who = "me" if mine else author
    return f"{who}: {_UNREADABLE if text is None else text}"


class ChatScreenApp(App[None]):
    """The ``aura tui`` app over any :class:`ChatSource`."""

    TITLE = "Aura"
    CSS = """
    #sidebar { width: 32; border-right: solid $primary; }
    #notices { width: 36; border-left: solid $primary; }
    .heading { text-style: bold; padding: 0 1; background: $boost; width: 100%; }
    #conversations { height: 1fr; }
    #contacts { height: 1fr; }
    #messages { height: 1fr; }
    #notifications { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit"),
        Binding("ctrl+n", "next_conversation", "Next conversation"),
    ]

    def __init__(self, source: ChatSource) -> None:
        super().__init__()
        self.source = source
        self.snapshot: ChatSnapshot = source.snapshot()
        self.selected: str | None = (
            self.snapshot.conversations[0].key if self.snapshot.conversations else None
        )
        self.notices: list[str] = []
        self._shown: tuple[object, ...] | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            with Vertical(id="sidebar"):
                yield Label("Conversations", classes="heading")
                yield ListView(id="conversations")
                yield Label("Contacts", classes="heading")
                yield ListView(id="contacts")
            with Vertical(id="main"):
                yield Label("", id="conversation-title", classes="heading")
                yield ListView(id="messages")
                yield Input(placeholder="type a message, Enter sends", id="compose")
            with Vertical(id="notices"):
                yield Label("Notifications", classes="heading")
                yield ListView(id="notifications")
        yield Footer()

    async def on_mount(self) -> None:
        self.sub_title = self.snapshot.me
        await self._redraw()
        self.run_worker(self._follow(), exclusive=True, group="follow")

    async def _follow(self) -> None:
        while True:
            await self.source.wait_for_change()
            await self.refresh_from_source()

    async def refresh_from_source(self) -> None:
        """Take a new snapshot, note what changed, redraw."""
        fresh = self.source.snapshot()
        for note in notifications_between(self.snapshot, fresh):
            await self.add_notice(note)
        self.snapshot = fresh
        if self.selected is None and fresh.conversations:
            self.selected = fresh.conversations[0].key
        await self._redraw()

    async def add_notice(self, text: str) -> None:
        self.notices.append(text)
        await self.query_one("#notifications", ListView).append(ListItem(Label(text)))

    def _current(self) -> ConversationItem | None:
        return None if self.selected is None else self.snapshot.conversation(self.selected)

    async def _redraw(self) -> None:
        current = self._current()
        shape = (self.snapshot, self.selected)
        if shape == self._shown:
            return
        self._shown = shape
        conversations = self.query_one("#conversations", ListView)
        await conversations.clear()
        index = None
        for position, item in enumerate(self.snapshot.conversations):
            marker = "▸ " if item.key == self.selected else "  "
            await conversations.append(
                ListItem(Label(f"{marker}{item.title} ({len(item.lines)})"), name=item.key)
            )
            if item.key == self.selected:
                index = position
        if index is not None:
            conversations.index = index
        contacts = self.query_one("#contacts", ListView)
        await contacts.clear()
        for contact in self.snapshot.contacts:
            state = "●" if contact.reachable else "○"
            await contacts.append(
                ListItem(Label(f"{state} {contact.name}"), name=contact.authority)
            )
        title = self.query_one("#conversation-title", Label)
        messages = self.query_one("#messages", ListView)
        await messages.clear()
        if current is None:
            title.update("no conversation yet: invite someone with 'aura invite create'")
            return
        title.update(f"with {current.title}")
        for line in current.lines:
            await messages.append(ListItem(Label(_message_text(line.author, line.text, line.mine))))
        if current.lines:
            messages.index = len(current.lines) - 1

    async def on_list_view_selected(self, event: ListView.Selected) -> None:
        if event.list_view.id == "conversations" and event.item.name:
            self.selected = event.item.name
            await self._redraw()

    async def action_next_conversation(self) -> None:
        keys = [c.key for c in self.snapshot.conversations]
        if not keys:
            return
        position = keys.index(self.selected) + 1 if self.selected in keys else 0
        self.selected = keys[position % len(keys)]
        await self._redraw()

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            return
        if self.selected is None:
            await self.add_notice("not sent: there is no conversation to send to")
            return
        try:
            await self.source.send(self.selected, text)
        except AuraError as exc:
            await self.add_notice(f"not sent: {exc.message}")
            return
        event.input.value = ""
        await self.refresh_from_source()
