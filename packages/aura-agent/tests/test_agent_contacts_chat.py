"""Two agents become contacts and chat through a relay on loopback (real sockets, Noise, SQLite)."""

from __future__ import annotations

import os
from functools import partial

import anyio
import pytest

from aura_agent import Agent, AgentConfig, HostSecret
from aura_features.rendezvous import run_relay

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
    async with anyio.create_task_group() as tg:
        endpoint = await tg.start(
            partial(
                run_relay,
                "127.0.0.1",
                0,
                tmp_path / "relay.db",
                relay_key=os.urandom(32),
                sweep_interval_s=None,
            )
        )
        relays = endpoint.hints
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
            assert status.relays[0].reachable
            assert status.contexts == 1
        tg.cancel_scope.cancel()
