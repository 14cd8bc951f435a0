"""Two agents become contacts and chat through a relay on loopback (real sockets, Noise, SQLite)."""

from __future__ import annotations

import os
import socket
from contextlib import asynccontextmanager
from functools import partial

import anyio
import pytest

from aura_agent import Agent, AgentConfig, HostSecret
from aura_core.errors import InvalidInput, NotFound
from aura_features.invitation import InvitationReplayed
from aura_features.rendezvous import run_relay
from aura_journal import JournalNamespace
from aura_testkit import loopback_relay

pytestmark = pytest.mark.anyio


def _config(tmp_path, name, relays):
    return AgentConfig(
        data_dir=tmp_path / name,
        relays=relays,
        relay_poll_s=0.05,
        sync_interval_s=0.2,
        signal_batch_s=0.0,
    )


async def _until(predicate, what, timeout=20.0):
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(0.02)


async def test_two_agents_become_contacts_and_chat_over_a_loopback_relay(tmp_path):
    async with loopback_relay(tmp_path) as relays:
        secret = HostSecret.from_key(os.urandom(32))
        alice_config, bob_config = (
            _config(tmp_path, "alice", relays),
            _config(tmp_path, "bob", relays),
        )
        async with Agent(alice_config, secret) as alice, Agent(bob_config, secret) as bob:
            await alice.create_account()
            await bob.create_account()
            code = await alice.run("contacts.invite", nickname="Alice")
            assert code.startswith("aura:v1:")
            context = await bob.run("contacts.accept", code=code, nickname="Bob")

            def reachable(agent):
                contacts = agent.query("contacts.list")
                return len(contacts) == 1 and contacts[0].reachable

            await _until(lambda: reachable(alice) and reachable(bob), "contacts")
            (alice_sees,) = alice.query("contacts.list")
            (bob_sees,) = bob.query("contacts.list")
            assert alice_sees.authority == bob.authority and alice_sees.nickname == "Bob"
            assert bob_sees.authority == alice.authority and bob_sees.nickname == "Alice"
            assert str(alice_sees.context) == context == str(bob_sees.context)

            def said(agent, other):
                lines = agent.query("chat.history", **{"with": str(other.authority)})
                return [(line.author, line.text) for line in lines]

            # The first message waits until Bob has joined the new direct channel.
            assert await alice.run(
                "chat.send_message", to=str(bob.authority), text="hello Bob"
            ) in (
                "queued",
                "sent",
            )
            await _until(lambda: (alice.authority, "hello Bob") in said(bob, alice), "bob receives")
            assert (
                await bob.run("chat.send_message", to=str(alice.authority), text="hi Alice")
                == "sent"
            )
            await _until(lambda: (bob.authority, "hi Alice") in said(alice, bob), "alice receives")
            assert (
                said(alice, bob)
                == said(bob, alice)
                == [
                    (alice.authority, "hello Bob"),
                    (bob.authority, "hi Alice"),
                ]
            )
            status = bob.status()
            assert status.receipts_accepted >= 1
            assert status.receipts_rejected == 0
            assert status.relays[0].reachable
            assert status.contexts == 1
            # Every chat send was charged against the flow budget of (context, peer).
            assert 0 < status.flow_spent <= status.flow_limit
            assert 0 < status.flow_max_utilization < 1
            assert status.anti_entropy_sessions > 0 and status.anti_entropy_lag_s is not None


@asynccontextmanager
async def _relay(path, key, port):
    async with anyio.create_task_group() as tg:
        endpoint = await tg.start(
            partial(run_relay, "127.0.0.1", port, path, relay_key=key, sweep_interval_s=None)
        )
        try:
            yield endpoint
        finally:
            tg.cancel_scope.cancel()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _said(agent, other):
    lines = agent.query("chat.history", **{"with": str(other.authority)})
    return [(line.author, line.text) for line in lines]


async def test_a_message_committed_while_the_relay_is_down_is_sent_after_a_restart(tmp_path):
    key, port = os.urandom(32), _free_port()
    secret = HostSecret.from_key(os.urandom(32))
    async with _relay(tmp_path / "relay.db", key, port) as endpoint:
        relays = endpoint.hints
    alice_config, bob_config = _config(tmp_path, "alice", relays), _config(tmp_path, "bob", relays)
    async with Agent(alice_config, secret) as alice, Agent(bob_config, secret) as bob:
        await alice.create_account()
        await bob.create_account()
        async with _relay(tmp_path / "relay.db", key, port):
            code = await alice.run("contacts.invite", nickname="Alice")
            invitations = alice.query("contacts.invitations")
            assert [(i.sent, i.status) for i in invitations] == [(True, "open")]
            await bob.run("contacts.accept", code=code, nickname="Bob")
            await _until(
                lambda: all(
                    len(a.query("contacts.list")) == 1 and a.query("contacts.list")[0].reachable
                    for a in (alice, bob)
                ),
                "contacts",
            )
            await alice.run("chat.send_message", to=str(bob.authority), text="first")
            await _until(lambda: (alice.authority, "first") in _said(bob, alice), "first")
            (sent,) = alice.query("contacts.invitations")
            assert (sent.status, sent.peer) == ("redeemed", bob.authority)
            (received,) = bob.query("contacts.invitations")
            assert (received.sent, received.status, received.peer) == (
                False,
                "accepted",
                alice.authority,
            )
        # The relay is gone: a message is committed (charged, in the outbox) but cannot leave.
        await alice.run("chat.send_message", to=str(bob.authority), text="while the relay was down")
        await _until(lambda: not alice.status().relays[0].reachable, "relay seen down")
        assert alice.status().outbox_pending >= 1
        alice_authority, bob_authority = alice.authority, bob.authority
    # Both restart from their data directories; the relay comes back on the same address.
    async with (
        _relay(tmp_path / "relay.db", key, port),
        Agent(alice_config, secret) as alice,
        Agent(bob_config, secret) as bob,
    ):
        assert [c.authority for c in bob.query("contacts.list")] == [alice_authority]
        assert (alice_authority, "first") in _said(bob, alice)
        await _until(lambda: alice.status().outbox_pending == 0, "outbox flushed")
        await _until(
            lambda: (alice_authority, "while the relay was down") in _said(bob, alice),
            "delivered after restart",
        )
        assert bob_authority == bob.authority
        await _until(lambda: alice.status().relays[0].reachable, "relay seen up again")


async def test_declining_and_editing(tmp_path):
    key = os.urandom(32)
    secret = HostSecret.from_key(os.urandom(32))
    async with _relay(tmp_path / "relay.db", key, 0) as endpoint:
        relays = endpoint.hints
        configs = [_config(tmp_path, name, relays) for name in ("alice", "bob", "carol")]
        async with (
            Agent(configs[0], secret) as alice,
            Agent(configs[1], secret) as bob,
            Agent(configs[2], secret) as carol,
        ):
            for agent in (alice, bob, carol):
                await agent.create_account()
            declined = await alice.run("contacts.invite")
            await carol.run("contacts.decline", code=declined)
            (answer,) = carol.query("contacts.invitations")
            assert (answer.sent, answer.status) == (False, "declined")
            with pytest.raises(InvitationReplayed):
                await carol.run("contacts.accept", code=declined)
            code = await alice.run("contacts.invite")
            await bob.run("contacts.accept", code=code)
            await _until(
                lambda: all(
                    len(a.query("contacts.list")) == 1 and a.query("contacts.list")[0].reachable
                    for a in (alice, bob)
                ),
                "contacts",
            )
            channel = await alice.run(
                "chat.create_channel", name="plans", members=(str(bob.authority),), topic="weekend"
            )
            assert channel.startswith("channel:")
            await alice.run("chat.send_message", to=str(bob.authority), text="draft")
            await _until(lambda: (alice.authority, "draft") in _said(bob, alice), "draft")
            (line,) = alice.query("chat.history", **{"with": str(bob.authority)})
            message = alice.node.services["chat"].conversation(bob.authority)
            assert line.text == "draft" and message.lines[0].mine
            history_id = (
                alice.node.services["chat"]
                .services[message.context]
                .view.history(message.channel)[0]
                .id
            )
            await alice.run("chat.edit_message", message=str(history_id), text="final")
            await _until(lambda: (alice.authority, "final") in _said(bob, alice), "edit")
            with pytest.raises(NotFound):
                await alice.run("chat.edit_message", message="message:" + "00" * 32, text="x")
            with pytest.raises(NotFound):
                await carol.run("chat.send_message", to=str(alice.authority), text="not a contact")


async def test_contacts_with_direct_links_stay_in_sync_while_the_relay_is_down(tmp_path):
    key, port = os.urandom(32), _free_port()
    secret = HostSecret.from_key(os.urandom(32))
    async with _relay(tmp_path / "relay.db", key, port) as endpoint:
        relays = endpoint.hints

    def config(name):
        return AgentConfig(
            data_dir=tmp_path / name,
            relays=relays,
            listen_address="tcp://127.0.0.1:0",
            relay_poll_s=0.05,
            sync_interval_s=0.2,
            signal_batch_s=0.0,
        )

    async with Agent(config("alice"), secret) as alice, Agent(config("bob"), secret) as bob:
        await alice.create_account()
        await bob.create_account()
        async with _relay(tmp_path / "relay.db", key, port):
            await bob.run("contacts.accept", code=await alice.run("contacts.invite"))

            def direct_known(agent, other):
                contacts = agent.query("contacts.list")
                if len(contacts) != 1 or not contacts[0].reachable:
                    return False
                namespace = JournalNamespace.context(contacts[0].context)
                book = agent.node.book.journal(namespace).state("rendezvous_descriptors")
                descriptor = book.latest(other.authority)
                return descriptor is not None and descriptor.addresses

            await _until(lambda: direct_known(alice, bob) and direct_known(bob, alice), "addresses")
        # No relay any more: the chat message is committed (its envelope waits for a relay),
        # and anti-entropy over the direct link carries its fact to Bob, who opens it.
        await alice.run("chat.send_message", to=str(bob.authority), text="over the direct link")
        await _until(
            lambda: (alice.authority, "over the direct link") in _said(bob, alice), "direct sync"
        )
        assert alice._direct.sent > 0 and bob._direct.received > 0
        await _until(lambda: not alice.status().relays[0].reachable, "relay seen down")


def test_listen_address_must_let_the_system_pick_ports(tmp_path):
    with pytest.raises(InvalidInput, match="tcp://HOST:0"):
        AgentConfig(data_dir=tmp_path, listen_address="tcp://127.0.0.1:7400")
    assert AgentConfig(data_dir=tmp_path, listen_address="tcp://127.0.0.1:0").listen_address
