"""Context channels over real loopback TCP: peers are authorities, keys are per context."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import anyio
import pytest

from aura_core.errors import TransportError, ValidationError
from aura_core.identifiers import ContextId
from aura_effects import NoiseNetwork
from aura_protocol.channel import ContextChannel, ContextNetwork
from aura_protocol.guards import ContextMembership, SendRequest


def _load_world():
    name = "aura_protocol_test_guard_world"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("protocol_guard_world.py")
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


W = _load_world()
CTX = ContextId(bytes(range(64, 80)))
OTHER = ContextId(bytes(range(80, 96)))
pytestmark = pytest.mark.anyio


def _world():
    world = W.GuardWorld(["alice", "bob", "mallory"])
    world.context(CTX, ["alice", "bob"])
    world.context(OTHER, ["mallory", "bob"])
    return world


def _set_address(world, context, name, address) -> None:
    roster = world.rosters[context].with_address(world[name].authority, address)
    world.rosters[context] = roster
    for agent in world.agents.values():
        if context in agent.stack.memberships:
            old = agent.stack.memberships.get(context)
            agent.stack.memberships.put(
                ContextMembership(identity=old.identity, roster=roster, token=old.token)
            )


async def test_members_exchange_messages_and_see_each_other_as_authorities() -> None:
    world = _world()
    alice, bob = world["alice"], world["bob"]
    bob_net = ContextNetwork(NoiseNetwork(), bob.stack.memberships)
    alice_net = ContextNetwork(NoiseNetwork(), alice.stack.memberships)
    seen: list[tuple[object, bytes]] = []

    async def echo(channel: ContextChannel) -> None:
        message = await channel.recv()
        seen.append((channel.peer, message))
        await channel.send(b"echo:" + message)

    async with bob_net.listen(CTX, "tcp://127.0.0.1:0", echo) as listener:
        _set_address(world, CTX, "bob", listener.address)
        async with alice_net.connect(CTX, bob.authority) as channel:
            assert channel.peer == bob.authority and channel.context == CTX
            await channel.send(b"hello")
            assert await channel.recv() == b"echo:hello"
    assert seen == [(alice.authority, b"hello")]


async def test_a_guarded_envelope_travels_over_the_channel_and_is_accepted_once() -> None:
    world = _world()
    alice, bob = world["alice"], world["bob"]
    received: list[bytes] = []
    done = anyio.Event()

    async def inbox(channel: ContextChannel) -> None:
        for _ in range(2):
            received.append(await channel.recv())
        done.set()

    async with ContextNetwork(NoiseNetwork(), bob.stack.memberships).listen(
        CTX, "tcp://127.0.0.1:0", inbox
    ) as listener:
        _set_address(world, CTX, "bob", listener.address)
        alice.sender.commit(
            SendRequest(
                context=CTX,
                peer=bob.authority,
                address=listener.address,
                payload=b"over tcp",
                capability=W.SEND,
                cost=2,
            )
        )
        async with ContextNetwork(NoiseNetwork(), alice.stack.memberships).connect(
            CTX, bob.authority
        ) as channel:

            class ChannelTransport:
                async def send(self, address: str, envelope: bytes) -> None:
                    await channel.send(envelope)
                    await channel.send(envelope)  # a retransmission

            assert await alice.sender.flush(ChannelTransport()) == 1
            with anyio.fail_after(5):
                await done.wait()
    first, second = (bob.receiver.accept(data, context=CTX) for data in received)
    assert (first.payload, first.duplicate, second.duplicate) == (b"over tcp", False, True)


async def test_a_member_of_another_context_cannot_complete_a_handshake() -> None:
    world = _world()
    bob, mallory = world["bob"], world["mallory"]
    served: list[object] = []

    async def handler(channel: ContextChannel) -> None:
        served.append(channel.peer)

    async with ContextNetwork(NoiseNetwork(handshake_timeout_s=2), bob.stack.memberships).listen(
        CTX, "tcp://127.0.0.1:0", handler
    ) as listener:
        _set_address(world, OTHER, "bob", listener.address)  # mallory dials with OTHER's keys
        mallory_net = ContextNetwork(NoiseNetwork(handshake_timeout_s=2), mallory.stack.memberships)
        with pytest.raises(TransportError):
            async with mallory_net.connect(OTHER, bob.authority) as channel:
                await channel.send(b"let me in")
                await channel.recv()
        with pytest.raises(ValidationError, match="not a member"):
            async with mallory_net.connect(CTX, bob.authority):
                pass  # pragma: no cover
    assert served == []


async def test_a_non_member_with_context_keys_is_refused_by_the_roster() -> None:
    world = _world()
    bob, mallory = world["bob"], world["mallory"]
    # mallory learns the context id and derives keys for it, but is not in bob's roster
    impostor_identity = mallory.identity(CTX)
    served: list[object] = []

    async def handler(channel: ContextChannel) -> None:
        served.append(channel.peer)

    async with ContextNetwork(NoiseNetwork(handshake_timeout_s=2), bob.stack.memberships).listen(
        CTX, "tcp://127.0.0.1:0", handler
    ) as listener:
        bob_key = world.rosters[CTX].member(bob.authority).channel_key
        with pytest.raises(TransportError):
            async with NoiseNetwork(handshake_timeout_s=2).connect(
                listener.address, impostor_identity.channel_keys, remote_static=bob_key
            ) as channel:
                await channel.send(b"hi")
                await channel.recv()
    assert served == []


def test_channel_keys_are_distinct_per_context_and_epoch() -> None:
    world = _world()
    bob = world["bob"]
    keys = {
        bob.identity(context, epoch).channel_keys.static_private
        for context in (CTX, OTHER)
        for epoch in (W.Epoch(0), W.Epoch(1))
    }
    assert len(keys) == 4
    assert world.rosters[CTX].member(bob.authority) != world.rosters[OTHER].member(bob.authority)
