"""Trace redaction, reactive signals, channel key derivation and handler composition."""

from __future__ import annotations

import logging

import anyio
import pytest

from aura_core.effect_context import EffectContext, ExecutionMode
from aura_core.effects import Effects, ReactiveEffects, TraceEffects
from aura_core.errors import InvalidInput
from aura_core.identifiers import AuthorityId, ContextId, DeviceId, SessionId
from aura_effects import (
    REDACTED,
    LoggingTrace,
    NoiseNetwork,
    SignalHub,
    SqliteStorage,
    SystemTime,
    build_effects,
    channel_public_key,
    context_psk,
    derive_channel_keys,
)
from aura_effects.simulated import MemoryStorage, MemoryTrace, Scheduler, VirtualClock

CTX = EffectContext(AuthorityId(b"\x01" * 16), SessionId(b"\x02" * 16), ContextId(b"\x03" * 16))
DEVICE = DeviceId(b"\x04" * 16)
ROOT = b"\x05" * 32


def test_logging_trace_writes_structured_records_without_secrets(caplog) -> None:
    trace = LoggingTrace()
    assert isinstance(trace, TraceEffects)
    with caplog.at_level(logging.INFO, logger="aura.trace"):
        trace.event(CTX, "chat.send", channel="general", size=12, signing_key="abc", psk="x")
    (record,) = caplog.records
    fields = record.aura
    assert fields["event"] == "chat.send"
    assert fields["authority"] == str(CTX.authority) and fields["context"] == str(CTX.context)
    assert fields["field.channel"] == "general" and fields["field.size"] == 12
    assert fields["field.signing_key"] == REDACTED and fields["field.psk"] == REDACTED
    assert "abc" not in caplog.text


@pytest.mark.parametrize("trace", [LoggingTrace(), MemoryTrace()])
def test_traces_refuse_bytes_and_bad_names(trace) -> None:
    with pytest.raises(InvalidInput, match="must be str"):
        trace.event(CTX, "x", blob=b"\x00" * 32)
    with pytest.raises(InvalidInput):
        trace.event("not a context", "x")


def test_memory_trace_keeps_records() -> None:
    trace = MemoryTrace()
    trace.event(CTX, "a", n=1)
    trace.event(CTX, "b", seed="s")
    assert [r.name for r in trace.records] == ["a", "b"]
    assert trace.named("b")[0].fields == {"seed": REDACTED}


@pytest.mark.anyio
async def test_signals_coalesce_to_the_latest_value() -> None:
    hub = SignalHub()
    assert isinstance(hub, ReactiveEffects)
    assert hub.latest("unread", 0) == 0
    hub.emit("unread", 1)
    stream = hub.subscribe("unread")
    seen: list[int] = []
    got_first = anyio.Event()

    async def consume() -> None:
        async for value in stream:
            seen.append(value)
            got_first.set()
            if value == 100:
                return

    async with anyio.create_task_group() as tg:
        tg.start_soon(consume)
        await got_first.wait()
        for value in range(2, 101):  # a burst while the consumer is not looking
            hub.emit("unread", value)
    assert seen == [1, 100]
    assert hub.latest("unread") == 100 and hub.version("unread") == 100


@pytest.mark.anyio
async def test_signal_subscription_closes() -> None:
    hub = SignalHub()
    stream = hub.subscribe("status")
    result: list[object] = []

    async def consume() -> None:
        result.extend([v async for v in stream])

    async with anyio.create_task_group() as tg:
        tg.start_soon(consume)
        await anyio.wait_all_tasks_blocked()
        await stream.aclose()
    assert result == []
    with pytest.raises(InvalidInput):
        hub.emit("Bad Name", 1)


def test_channel_keys_are_per_context_and_deterministic() -> None:
    authority = AuthorityId(b"\x01" * 16)
    one = derive_channel_keys(ROOT, authority=authority, context=ContextId(b"\x03" * 16))
    again = derive_channel_keys(ROOT, authority=authority, context=ContextId(b"\x03" * 16))
    other = derive_channel_keys(ROOT, authority=authority, context=ContextId(b"\x09" * 16))
    assert one == again and repr(one) == "ChannelKeys(<secret>)"
    assert one.static_private != other.static_private and one.psk != other.psk
    assert channel_public_key(one) != channel_public_key(other)
    # every member of the context derives the same PSK, whatever its own root key
    peer = derive_channel_keys(
        b"\x06" * 32, authority=AuthorityId(b"\x07" * 16), context=ContextId(b"\x03" * 16)
    )
    assert peer.psk == one.psk and peer.static_private != one.static_private
    assert context_psk(ContextId(b"\x03" * 16), 0, b"invite secret") != one.psk
    assert context_psk(ContextId(b"\x03" * 16), 1) != one.psk
    with pytest.raises(InvalidInput):
        derive_channel_keys(ROOT, authority="a", context=ContextId(b"\x03" * 16))


@pytest.mark.anyio
async def test_derived_keys_open_a_channel_only_within_the_context() -> None:
    context = ContextId(b"\x03" * 16)
    alice = derive_channel_keys(ROOT, authority=AuthorityId(b"\x01" * 16), context=context)
    bob = derive_channel_keys(b"\x06" * 32, authority=AuthorityId(b"\x07" * 16), context=context)

    async def hello(channel) -> None:
        await channel.send(b"hi " + channel.peer.static_public[:4])

    net = NoiseNetwork()
    async with (
        net.listen("mem://alice", alice, hello) as listener,
        net.connect(listener.address, bob, remote_static=channel_public_key(alice)) as channel,
    ):
        assert await channel.recv() == b"hi " + channel_public_key(bob)[:4]


def test_build_effects_modes(tmp_path) -> None:
    production = build_effects(
        ExecutionMode.PRODUCTION,
        device=DEVICE,
        storage_path=tmp_path / "p.db",
        secrets_key=b"\x01" * 32,
    )
    assert isinstance(production, Effects)
    assert isinstance(production.storage, SqliteStorage) and isinstance(production.time, SystemTime)
    production.storage.close()

    scheduler = Scheduler()
    sim_a = build_effects(ExecutionMode.SIMULATION, device=DEVICE, seed=1, scheduler=scheduler)
    sim_b = build_effects(ExecutionMode.SIMULATION, device=DEVICE, seed=1, scheduler=scheduler)
    assert isinstance(sim_a.time, VirtualClock) and sim_a.time.scheduler is scheduler
    assert isinstance(sim_a.storage, MemoryStorage)
    assert sim_a.random.random_bytes(16) == sim_b.random.random_bytes(16)
    assert sim_a.order_clock.next_order() == sim_b.order_clock.next_order()
    other_device = build_effects(ExecutionMode.SIMULATION, device=DeviceId(b"\x09" * 16), seed=1)
    assert other_device.random.random_bytes(16) != sim_a.random.random_bytes(16)

    testing = build_effects(ExecutionMode.TESTING, device=DEVICE)
    assert isinstance(testing.time, SystemTime) and isinstance(testing.trace, MemoryTrace)
    assert testing.logical_clock.tick().counters() == {DEVICE: 1}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mode": ExecutionMode.PRODUCTION},
        {"mode": ExecutionMode.PRODUCTION, "storage_path": "x.db"},
        {"mode": ExecutionMode.SIMULATION},
        {"mode": ExecutionMode.TESTING, "scheduler": Scheduler()},
        {"mode": ExecutionMode.TESTING, "storage_path": "x.db"},
        {"mode": "production"},
    ],
)
def test_build_effects_rejects_inconsistent_arguments(kwargs) -> None:
    with pytest.raises(InvalidInput):
        build_effects(device=DEVICE, **kwargs)


async def _simulated_exchange(seed: int) -> tuple[bytes, bytes]:
    """Two simulation-mode agents on one scheduler and memory hub talk over a Noise channel."""
    from aura_effects import MemoryHub

    scheduler, hub = Scheduler(), MemoryHub()
    alice_fx = build_effects(
        ExecutionMode.SIMULATION, device=DEVICE, seed=seed, scheduler=scheduler, memory_hub=hub
    )
    bob_fx = build_effects(
        ExecutionMode.SIMULATION,
        device=DeviceId(b"\x08" * 16),
        seed=seed,
        scheduler=scheduler,
        memory_hub=hub,
    )
    context = ContextId(b"\x03" * 16)
    alice = derive_channel_keys(ROOT, authority=AuthorityId(b"\x01" * 16), context=context)
    bob = derive_channel_keys(b"\x06" * 32, authority=AuthorityId(b"\x07" * 16), context=context)
    sealed: list[bytes] = []
    start = alice_fx.time.monotonic()

    async def serve(channel) -> None:
        await alice_fx.time.sleep(3600)  # virtual: costs no wall time
        box = alice_fx.crypto.seal(channel.peer.static_public, b"welcome")
        sealed.append(box)
        await channel.send(box)

    async with anyio.create_task_group() as tg:
        tg.start_soon(alice_fx.time.drive)
        async with (
            alice_fx.network.listen("mem://alice", alice, serve) as listener,
            bob_fx.network.connect(
                listener.address, bob, remote_static=channel_public_key(alice)
            ) as channel,
        ):
            received = await channel.recv()
        tg.cancel_scope.cancel()
    assert alice_fx.time.monotonic() - start >= 3600
    return received, sealed[0]


@pytest.mark.anyio
async def test_simulation_mode_agents_talk_deterministically() -> None:
    first = await _simulated_exchange(5)
    again = await _simulated_exchange(5)
    other = await _simulated_exchange(6)
    assert first == again
    assert first[0] == first[1]
    assert other[1] != first[1]
