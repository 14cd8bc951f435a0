"""The chat screen under textual's pilot: conversations, messages, sending, notifications."""

from __future__ import annotations

from functools import partial

import anyio
import pytest
from textual.widgets import Label, ListView

from aura_agent import Agent, AgentConfig, HostSecret
from aura_cli.tui import (
    AgentChatSource,
    ChatScreenApp,
    ChatSnapshot,
    ContactItem,
    ConversationItem,
    MessageLine,
    notifications_between,
)
from aura_core.errors import AuthorizationDenied
from aura_features.rendezvous import run_relay

pytestmark = pytest.mark.anyio


class ScriptedSource:
    """A chat source whose snapshot the test changes; sends land in the snapshot."""

    def __init__(self, snapshot: ChatSnapshot) -> None:
        self.current = snapshot
        self.sent: list[tuple[str, str]] = []
        self.refuse: str | None = None
        self._changed = anyio.Event()

    def snapshot(self) -> ChatSnapshot:
        return self.current

    async def wait_for_change(self) -> None:
        await self._changed.wait()
        self._changed = anyio.Event()

    def change(self, snapshot: ChatSnapshot) -> None:
        self.current = snapshot
        self._changed.set()

    async def send(self, conversation: str, text: str) -> None:
        if self.refuse:
            raise AuthorizationDenied(self.refuse)
        self.sent.append((conversation, text))
        self.current = _with_line(self.current, conversation, MessageLine("Alice", text, True))


def _with_line(snapshot: ChatSnapshot, key: str, line: MessageLine) -> ChatSnapshot:
    conversations = tuple(
        ConversationItem(c.key, c.title, (*c.lines, line)) if c.key == key else c
        for c in snapshot.conversations
    )
    return ChatSnapshot(snapshot.me, conversations, snapshot.contacts)


def _start() -> ChatSnapshot:
    return ChatSnapshot(
        me="Alice",
        conversations=(
            ConversationItem("bob", "Bob", (MessageLine("Bob", "hi Alice", False),)),
            ConversationItem("carol", "Carol", ()),
        ),
        contacts=(ContactItem("Bob", "bob", True), ContactItem("Carol", "carol", False)),
    )


def _texts(app: ChatScreenApp, selector: str) -> list[str]:
    view = app.query_one(selector, ListView)
    return [str(label.render()) for label in view.query(Label)]


async def test_screen_shows_conversations_contacts_and_messages():
    app = ChatScreenApp(ScriptedSource(_start()))
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        assert _texts(app, "#conversations") == ["▸ Bob (1)", "  Carol (0)"]
        assert _texts(app, "#contacts") == ["● Bob", "○ Carol"]
        assert _texts(app, "#messages") == ["Bob: hi Alice"]
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.selected == "carol"
        assert _texts(app, "#messages") == []


async def test_typing_and_enter_sends_to_the_selected_conversation():
    source = ScriptedSource(_start())
    app = ChatScreenApp(source)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.click("#compose")
        await pilot.press(*"see you at 5", "enter")
        await pilot.pause()
        assert source.sent == [("bob", "see you at 5")]
        assert _texts(app, "#messages") == ["Bob: hi Alice", "me: see you at 5"]
        assert app.query_one("#compose").value == ""


async def test_a_refused_send_is_a_notification_and_keeps_the_text():
    source = ScriptedSource(_start())
    source.refuse = "no guarded membership in this context"
    app = ChatScreenApp(source)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.click("#compose")
        await pilot.press(*"hello", "enter")
        await pilot.pause()
        assert source.sent == []
        assert _texts(app, "#notifications") == ["not sent: no guarded membership in this context"]
        assert app.query_one("#compose").value == "hello"


async def test_arrivals_redraw_and_notify():
    source = ScriptedSource(_start())
    app = ChatScreenApp(source)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        later = _with_line(source.current, "bob", MessageLine("Bob", "are you there?", False))
        later = ChatSnapshot(
            later.me,
            later.conversations,
            (ContactItem("Bob", "bob", True), ContactItem("Carol", "carol", True)),
        )
        source.change(later)
        for _ in range(20):
            await pilot.pause()
            if len(_texts(app, "#messages")) == 2:
                break
        assert _texts(app, "#messages") == ["Bob: hi Alice", "Bob: are you there?"]
        assert _texts(app, "#notifications") == [
            "Carol is now reachable",
            "Bob: new message from Bob",
        ]


def test_notifications_name_new_contacts_and_skip_own_messages():
    before = _start()
    after = _with_line(before, "carol", MessageLine("Alice", "mine", True))
    after = ChatSnapshot(
        after.me, after.conversations, (*after.contacts, ContactItem("Dan", "dan", False))
    )
    assert notifications_between(before, after) == ["new contact: Dan"]
    assert notifications_between(before, before) == []


async def test_screen_runs_over_a_live_agent(tmp_path):
    config = AgentConfig(data_dir=tmp_path, signal_batch_s=0.0)
    async with Agent(config, HostSecret.from_key(bytes(32))) as agent:
        await agent.create_account()
        await agent.run("profile.set_nickname", nickname="Alice")
        source = AgentChatSource(agent)
        assert source.snapshot().me == "Alice"
        app = ChatScreenApp(source)
        async with app.run_test(size=(120, 30)) as pilot:
            await pilot.pause()
            assert app.sub_title == "Alice"
            assert _texts(app, "#messages") == []
            title = app.query_one("#conversation-title", Label)
            assert "no conversation yet" in str(title.render())
            await pilot.press("ctrl+q")


async def _until(predicate, timeout=30.0):
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(0.05)


async def test_a_conversation_between_two_live_agents_on_the_screen(tmp_path):
    """Alice's screen over her agent; Bob writes through a loopback relay; Alice answers."""

    def config(name, relays):
        return AgentConfig(
            data_dir=tmp_path / name,
            relays=relays,
            relay_poll_s=0.05,
            sync_interval_s=0.2,
            signal_batch_s=0.0,
        )

    async with anyio.create_task_group() as tg:
        endpoint = await tg.start(
            partial(
                run_relay,
                "127.0.0.1",
                0,
                tmp_path / "relay.sqlite",
                relay_key=bytes(range(32)),
                sweep_interval_s=None,
            )
        )
        secret = HostSecret.from_key(bytes(range(1, 33)))
        async with (
            Agent(config("alice", endpoint.hints), secret) as alice,
            Agent(config("bob", endpoint.hints), secret) as bob,
        ):
            await alice.create_account()
            await alice.run("profile.set_nickname", nickname="Alice")
            await bob.create_account()
            code = await alice.run("contacts.invite", nickname="Alice")
            await bob.run("contacts.accept", code=code, nickname="Bob")
            app = ChatScreenApp(AgentChatSource(alice))
            async with app.run_test(size=(140, 30)) as pilot:
                await _until(
                    lambda: all(
                        any(c.reachable for c in agent.query("contacts.list"))
                        for agent in (alice, bob)
                    )
                )
                await _until(lambda: _texts(app, "#contacts") == ["● Bob"])
                assert "new contact: Bob" in app.notices
                await bob.run("chat.send_message", to=str(alice.authority), text="hi from Bob")
                await _until(
                    lambda: (
                        [
                            line.text
                            for line in alice.query("chat.history", **{"with": str(bob.authority)})
                        ]
                        == ["hi from Bob"]
                    )
                )
                await _until(lambda: _texts(app, "#messages") == ["Bob: hi from Bob"])
                assert "Bob: new message from Bob" in app.notices
                await pilot.click("#compose")
                await pilot.press(*"hello Bob", "enter")

                def bob_has_it():
                    lines = bob.query("chat.history", **{"with": str(alice.authority)})
                    return any(line.text == "hello Bob" for line in lines)

                await _until(bob_has_it)
                assert _texts(app, "#messages") == ["Bob: hi from Bob", "me: hello Bob"]
        tg.cancel_scope.cancel()
