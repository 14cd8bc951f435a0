"""Pair and cluster harnesses driving sans-IO protocol objects."""

from __future__ import annotations

import pytest

from aura_core.errors import InvalidInput, NotFound
from aura_effects.simulated import FaultPlan
from aura_testkit import ClusterHarness, PairHarness, PingPong


def test_pair_harness_step_by_step() -> None:
    a, b = PingPong("b", interval=1.0, count=3), PingPong()
    pair = PairHarness({"a": a, "b": b})
    assert pair.fire_due_timers() == 1
    assert [out.payload for _, out in pair.queue] == [b"ping:1"]
    pair.deliver_one()
    assert [out.payload for _, out in pair.queue] == [b"pong:1"]
    pair.deliver_all()
    assert a.pongs == [1]
    pair.advance(0.5)
    assert not pair.queue
    pair.advance(0.5)
    assert [out.payload for _, out in pair.queue] == [b"ping:2"]
    pair.run_until_quiet()
    assert a.pongs == [1, 2]
    assert pair.advance(10) == 1
    pair.deliver_all()
    assert a.pongs == [1, 2, 3]


def test_pair_harness_faults() -> None:
    a, b = PingPong("b", interval=1.0, count=3), PingPong()
    pair = PairHarness({"a": a, "b": b})
    pair.advance(2.0)  # three pings queued
    assert len(pair.queue) == 3
    pair.drop_next()
    pair.swap_next_two()
    pair.duplicate_next()
    pair.deliver_all()
    assert [p for _, p, _ in b.received] == [b"ping:3", b"ping:3", b"ping:2"]
    assert sorted(a.pongs) == [2, 3, 3]
    with pytest.raises(NotFound):
        pair.drop_next()
    with pytest.raises(InvalidInput):
        PairHarness({"a": a})
    with pytest.raises(InvalidInput):
        pair.advance(-1)


def test_pair_harness_keeps_undeliverable_messages() -> None:
    pair = PairHarness({"a": PingPong("nobody", count=1), "b": PingPong()})
    pair.run_until_quiet()
    assert [out.destination for _, out in pair.undeliverable] == ["nobody"]


def test_cluster_harness_with_faults_is_reproducible() -> None:
    def build(seed: int) -> ClusterHarness:
        factories = {"hub": lambda env: PingPong()}
        for i in range(4):
            factories[f"n{i}"] = lambda env: PingPong("hub", interval=0.5, count=30)
        return ClusterHarness(factories, seed=seed, faults=FaultPlan(jitter_s=0.2, drop_rate=0.1))

    first, second = build(11), build(11)
    first.run_until_idle()
    second.run_until_idle()
    assert first.trace_hash() == second.trace_hash()
    answered = sum(len(p.pongs) for name, p in first.protocols().items() if name != "hub")
    assert 80 < answered < 120, first.replay_hint()
    assert "seed=11" in first.replay_hint()
    build(12).run(3.0)
