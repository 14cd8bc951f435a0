"""Recording mocks, manual clock and scripted randomness."""

from __future__ import annotations

import pytest

from aura_core.effects import PhysicalTimeEffects, RandomEffects, StorageEffects
from aura_core.errors import InvalidInput
from aura_effects import SystemRandom
from aura_testkit import ManualClock, Recorded, ScriptedRandom, recording_effects


def test_recorded_proxy_records_results_and_errors() -> None:
    proxy = Recorded(SystemRandom())
    assert isinstance(proxy, RandomEffects)
    data = proxy.random_bytes(4)
    with pytest.raises(InvalidInput):
        proxy.random_bytes(-1)
    assert proxy.names() == ["random_bytes", "random_bytes"]
    ok, failed = proxy.calls
    assert ok.args == (4,) and ok.result == data and ok.error is None
    assert isinstance(failed.error, InvalidInput)


@pytest.mark.anyio
async def test_recorded_proxy_handles_async_methods() -> None:
    clock = Recorded(ManualClock(start_ms=0))
    await clock.sleep(2.5)
    assert clock.calls[0].method == "sleep" and clock.calls[0].args == (2.5,)
    assert clock.now().ts_ms == 2500


def test_recording_effects_bundle_records_every_handler() -> None:
    recorded = recording_effects(seed=3)
    effects = recorded.effects
    assert isinstance(effects.storage, StorageEffects)
    effects.random.random_bytes(8)
    effects.order_clock.next_order()
    with effects.storage.transaction() as txn:
        txn.put("t", b"k", b"v")
    assert recorded.recorders["random"].names() == ["random_bytes"]
    assert recorded.calls("storage")[0].method == "transaction"
    assert recording_effects(seed=3).effects.random.random_bytes(8) == recording_effects(
        seed=3
    ).effects.random.random_bytes(8)


def test_manual_clock() -> None:
    clock = ManualClock(start_ms=1000)
    assert isinstance(clock, PhysicalTimeEffects)
    clock.advance(1.5)
    assert clock.now().ts_ms == 2500 and clock.monotonic() == 2.5
    clock.set(10)
    assert clock.now().ts_ms == 10
    with pytest.raises(InvalidInput):
        clock.advance(-1)


def test_scripted_random() -> None:
    rng = ScriptedRandom([b"\xaa" * 2, b"\x01" * 8])
    assert rng.random_bytes(2) == b"\xaa\xaa"
    assert rng.random_u64() == int.from_bytes(b"\x01" * 8, "big")
    assert rng.random_bytes(3) == b"\x00\x01\x02"
    assert rng.random_bytes(2) == b"\x03\x04"
    with pytest.raises(InvalidInput, match="scripted random value has 1 bytes"):
        ScriptedRandom([b"x"]).random_bytes(2)
