"""The devices and recovery features with every frame on real loopback TCP, Noise-encrypted.

A small :class:`FrameTransport` for this test: each agent gets its own
Noise ``IKpsk2`` listener on 127.0.0.1 with its own static key, and a frame
goes over a fresh channel to the destination's listener (first line: the
source route). So custody and recovery ceremonies cross real sockets, the
Noise handshake and the frame codec between five agent processes' worth of
state (separate SQLite data directories).
"""

from __future__ import annotations

import os
from contextlib import AsyncExitStack

import anyio
import pytest

from aura_agent import Agent, AgentConfig, HostSecret
from aura_agent.builtin_features import BUILTIN_FEATURES
from aura_agent.custody_feature import devices_feature
from aura_agent.recovery_feature import recovery_feature
from aura_core.effects import ChannelKeys
from aura_core.errors import AuraError, TransportError
from aura_effects import NoiseNetwork, channel_public_key

pytestmark = pytest.mark.anyio

KEY = os.urandom(32)
PSK = b"\x07" * 32


class LoopbackTransport:
    """Routes to Noise listeners on 127.0.0.1 (one per attached agent, opened beforehand)."""

    def __init__(self, slots: list[tuple[ChannelKeys, str]], sinks: dict[int, object]) -> None:
        self.network = NoiseNetwork()
        self._free = list(slots)
        self._slots: dict[str, tuple[ChannelKeys, str]] = {}
        self.sinks = sinks
        """Where each listener hands its frames (filled in as agents attach)."""
        self.frames = 0

    def attach(self, route, sink):
        keys, address = self._free.pop(0)
        self._slots[route] = (keys, address)
        self.sinks[id(keys)] = sink

    def detach(self, route):
        self._slots.pop(route, None)

    async def deliver(self, source, destination, frame):
        target = self._slots.get(destination)
        mine = self._slots.get(source)
        if target is None or mine is None:
            raise TransportError(f"no listener for {destination!r:.60}")
        keys, address = target
        try:
            async with self.network.connect(
                address, mine[0], remote_static=channel_public_key(keys)
            ) as channel:
                await channel.send(source.encode() + b"\n" + frame)
        except (AuraError, OSError) as exc:
            raise TransportError(f"sending to {destination} failed") from exc
        self.frames += 1


async def _listeners(stack: AsyncExitStack, count: int, sinks: dict[int, object]):
    network = NoiseNetwork()
    slots = []
    for _ in range(count):
        keys = ChannelKeys(os.urandom(32), PSK)

        async def handler(channel, keys=keys):
            try:
                while True:
                    source, _sep, frame = (await channel.recv()).partition(b"\n")
                    sinks[id(keys)](source.decode(), frame)
            except (AuraError, anyio.EndOfStream, anyio.BrokenResourceError):
                return

        listener = await stack.enter_async_context(
            network.listen("tcp://127.0.0.1:0", keys, handler)
        )
        slots.append((keys, listener.address))
    return slots


def _agent(tmp_path, name, transport):
    config = AgentConfig(data_dir=tmp_path / name, sync_interval_s=0.2, signal_batch_s=0.0)
    features = [f for f in (m() for m in BUILTIN_FEATURES) if f.name not in {"contacts", "chat"}]
    features = [f for f in features if f.name not in {"devices", "recovery"}]
    features += [devices_feature(), recovery_feature()]
    return Agent(config, HostSecret.from_key(KEY), features=features, transport=transport)


async def _until(predicate, timeout=30.0):
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(0.02)


async def test_a_two_of_three_account_and_a_guardian_recovery_over_noise_tcp(tmp_path):
    async with AsyncExitStack() as stack:
        sinks: dict[int, object] = {}
        transport = LoopbackTransport(await _listeners(stack, 6, sinks), sinks)
        bob = await stack.enter_async_context(_agent(tmp_path, "bob", transport))
        carol = await stack.enter_async_context(_agent(tmp_path, "carol", transport))
        laptop = await stack.enter_async_context(_agent(tmp_path, "laptop", transport))
        tablet = await stack.enter_async_context(_agent(tmp_path, "tablet", transport))
        await bob.create_account()
        await carol.create_account()
        async with _agent(tmp_path, "phone", transport) as phone:
            record = await phone.run("devices.create_account")
            for guardian in (bob, carol):
                invitation = await phone.run(
                    "recovery.invite_guardian",
                    guardian=str(guardian.authority),
                    route=str(guardian.device),
                )
                await _until(lambda g=guardian: g.query("recovery.status")["invitations"])
                await guardian.run("recovery.accept", invitation=invitation)
            await _until(lambda: len(phone.query("recovery.status")["accepted"]) == 2)
            for device in (laptop, tablet):
                await phone.run("devices.add", device=str(device.device))
                await device.run(
                    "devices.join", authority=str(record.authority), sponsor=str(phone.device)
                )
                await _until(lambda d=device: d.authority == record.authority)
            await _until(lambda: phone.query("devices.status")["threshold"] == 2)
            assert len(phone.query("devices.status")["devices"]) == 3
            await phone.run("recovery.seat_guardians", threshold=2, dispute_window_s=1)
            for guardian in (bob, carol):
                await _until(lambda g=guardian: g.query("recovery.status")["wards"])
            for device in (phone, laptop, tablet):  # the change completed everywhere
                await _until(lambda d=device: len(d.query("recovery.status")["guardians"]) == 2)
            kept = [d.query("devices.status")["identifier"] for d in (laptop, tablet)]
        async with _agent(tmp_path, "new-phone", transport) as new_phone:
            recovery = await new_phone.run(
                "recovery.start",
                authority=str(record.authority),
                guardians={str(g.authority): str(g.device) for g in (bob, carol)},
                threshold=2,
                kept=kept,
                group_key=record.group_public_key.hex(),
            )
            for guardian in (bob, carol):
                await _until(lambda g=guardian: g.query("recovery.status")["requests"])
                await guardian.run("recovery.approve", recovery=recovery)
            await _until(lambda: new_phone.authority == record.authority)
            assert new_phone.account.group_public_key == record.group_public_key
            await _until(
                lambda: new_phone.query("recovery.status")["recovering"]["outcome"] == "completed"
            )
            expected = {str(d.device) for d in (laptop, tablet, new_phone)}
            for device in (laptop, tablet, new_phone):
                await _until(
                    lambda d=device: (
                        {r for _i, r in d.query("devices.status")["devices"]} == expected
                    )
                )
        assert transport.frames > 50
