"""Randomness, clocks and order tokens, production and simulated."""

from __future__ import annotations

import time

import anyio
import pytest

from aura_core.effects import (
    LogicalClockEffects,
    OrderClockEffects,
    PhysicalTimeEffects,
    RandomEffects,
)
from aura_core.errors import InvalidInput
from aura_core.identifiers import DeviceId
from aura_core.time_domains import LogicalTime
from aura_effects import DeviceLogicalClock, RandomOrderClock, SystemRandom, SystemTime
from aura_effects.simulated import Scheduler, SeededRandom, VirtualClock

DEV_A = DeviceId(b"\x01" * 16)
DEV_B = DeviceId(b"\x02" * 16)


def test_protocols_are_satisfied() -> None:
    assert isinstance(SystemRandom(), RandomEffects)
    assert isinstance(SeededRandom(1), RandomEffects)
    assert isinstance(SystemTime(), PhysicalTimeEffects)
    assert isinstance(VirtualClock(Scheduler()), PhysicalTimeEffects)
    assert isinstance(DeviceLogicalClock(DEV_A), LogicalClockEffects)
    assert isinstance(RandomOrderClock(SystemRandom()), OrderClockEffects)


@pytest.mark.parametrize("source", [SystemRandom(), SeededRandom(3)])
def test_random_bytes_lengths_and_range(source) -> None:
    assert source.random_bytes(0) == b""
    assert len(source.random_bytes(5000)) == 5000
    assert 0 <= source.random_u64() < 2**64
    with pytest.raises(InvalidInput):
        source.random_bytes(-1)
    with pytest.raises(InvalidInput):
        source.random_bytes(1.5)


def test_seeded_random_is_reproducible_independent_of_chunking() -> None:
    one = SeededRandom(42)
    two = SeededRandom(42)
    whole = one.random_bytes(10_000)
    pieces = b"".join(two.random_bytes(n) for n in (1, 4095, 1, 3000, 2903))
    assert whole == pieces
    assert SeededRandom(43).random_bytes(32) != SeededRandom(42).random_bytes(32)
    assert SeededRandom(b"\x2a").random_bytes(8) == SeededRandom(42).random_bytes(8)


def test_forks_are_independent_and_stable() -> None:
    root = SeededRandom(9)
    a1 = root.fork("a").random_bytes(16)
    root.random_bytes(100)  # drawing from the parent does not move a fork
    assert root.fork("a").random_bytes(16) == a1
    assert root.fork("b").random_bytes(16) != a1


def test_seeded_helpers() -> None:
    rng = SeededRandom(1)
    draws = [rng.below(6) for _ in range(600)]
    assert set(draws) == set(range(6))
    assert all(0 <= rng.uniform() < 1 for _ in range(100))
    assert not any(rng.chance(0.0) for _ in range(50))
    assert all(rng.chance(1.0) for _ in range(50))
    with pytest.raises(InvalidInput):
        rng.below(0)
    with pytest.raises(InvalidInput):
        SeededRandom(-1)


def test_order_tokens_are_unique_and_deterministic_under_a_seed() -> None:
    tokens = [RandomOrderClock(SystemRandom()).next_order() for _ in range(100)]
    assert len(set(tokens)) == 100
    assert (
        RandomOrderClock(SeededRandom(1)).next_order()
        == RandomOrderClock(SeededRandom(1)).next_order()
    )


def test_logical_clock_ticks_and_observes() -> None:
    a, b = DeviceLogicalClock(DEV_A), DeviceLogicalClock(DEV_B)
    t1 = a.tick()
    assert t1.counters() == {DEV_A: 1} and t1.lamport == 1
    t2 = b.observe(t1)
    assert t1.happened_before(t2)
    assert t2.counters() == {DEV_A: 1, DEV_B: 1} and t2.lamport == 2
    assert b.current() == t2
    assert DeviceLogicalClock(DEV_A, start=t2).tick().lamport == 3
    with pytest.raises(InvalidInput):
        b.observe("later")
    with pytest.raises(InvalidInput):
        DeviceLogicalClock("device")
    assert isinstance(a.current(), LogicalTime)


def test_system_time_is_close_to_the_os_clock() -> None:
    clock = SystemTime(uncertainty_ms=5)
    now = clock.now()
    assert abs(now.ts_ms - time.time() * 1000) < 5000
    assert now.uncertainty_ms == 5
    assert clock.monotonic() <= clock.monotonic()


def test_scheduler_orders_by_deadline_then_insertion() -> None:
    scheduler = Scheduler(start_us=0)
    seen: list[str] = []
    scheduler.call_at(20, seen.append, "c")
    scheduler.call_at(10, seen.append, "a")
    scheduler.call_at(10, seen.append, "b")
    cancelled = scheduler.call_at(15, seen.append, "never")
    cancelled.cancel()
    scheduler.call_at(-5, seen.append, "now")  # past deadlines run now, never earlier
    assert scheduler.run() == 4
    assert seen == ["now", "a", "b", "c"]
    assert scheduler.now_us == 20
    scheduler.call_later(1_000_000, seen.append, "later")
    assert scheduler.advance(0.5) == 0 and scheduler.now_us == 500_020
    assert scheduler.advance(1) == 1 and seen[-1] == "later"


def test_virtual_clock_reads_scheduler_time_with_skew() -> None:
    scheduler = Scheduler(start_us=1_000_000_000)
    clock = VirtualClock(scheduler, skew_s=-2.5)
    assert clock.now().ts_ms == 1_000_000 - 2500
    assert clock.monotonic() == 1000.0
    clock.set_skew(1)
    assert clock.now().ts_ms == 1_001_000 and clock.skew_s == 1.0


@pytest.mark.anyio
async def test_virtual_sleep_costs_no_wall_time() -> None:
    scheduler = Scheduler()
    clock = VirtualClock(scheduler)
    start_virtual, start_wall = clock.monotonic(), time.monotonic()
    order: list[str] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        order.append(name)

    async with anyio.create_task_group() as tg:
        tg.start_soon(clock.drive)
        async with anyio.create_task_group() as sleepers:
            sleepers.start_soon(sleeper, "hour", 3600)
            sleepers.start_soon(sleeper, "minute", 60)
            sleepers.start_soon(sleeper, "day", 86_400)
        tg.cancel_scope.cancel()
    assert order == ["minute", "hour", "day"]
    assert clock.monotonic() - start_virtual == 86_400
    assert time.monotonic() - start_wall < 5


@pytest.mark.anyio
async def test_sleep_rejects_bad_durations() -> None:
    with pytest.raises(InvalidInput):
        await SystemTime().sleep(-1)
    with pytest.raises(InvalidInput):
        await VirtualClock(Scheduler()).sleep(float("nan"))
