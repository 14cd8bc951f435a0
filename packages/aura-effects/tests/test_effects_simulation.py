"""Deterministic simulation: same seed same trace, and each fault hook doing what it says."""

from __future__ import annotations

import itertools

import pytest

from aura_core.effects import Incoming, Outgoing
from aura_core.errors import InvalidInput, NotFound
from aura_effects.simulated import (
    EventKind,
    FaultPlan,
    InFlight,
    MemoryStorage,
    SeededRandom,
    Simulation,
)
from aura_testkit import PingPong


def pair(seed: int = 1, faults=None, count: int = 20, keep: bool = True) -> Simulation:
    sim = Simulation(seed, faults=faults, keep_events=keep)
    sim.add_node("b", lambda env: PingPong())
    sim.add_node("a", lambda env: PingPong("b", interval=1.0, count=count))
    return sim


def kinds(sim: Simulation) -> list[EventKind]:
    return [e.kind for e in sim.log.events]


def test_clean_run_delivers_everything_in_order() -> None:
    sim = pair()
    sim.run_until_idle()
    a = sim.protocol("a")
    assert a.pongs == list(range(1, 21))
    assert sim.network.dropped == 0
    received_at = [now for _, _, now in sim.protocol("b").received]
    gaps = {round(later - earlier, 6) for earlier, later in itertools.pairwise(received_at)}
    assert gaps == {1.0}, "one ping per interval, each after the default 1 ms latency"


def test_same_seed_same_trace_hash_different_seed_differs() -> None:
    plan = FaultPlan(
        latency_s=0.01, jitter_s=0.05, drop_rate=0.2, duplicate_rate=0.2, delay_rate=0.1
    )
    hashes = []
    for seed in (7, 7, 8):
        sim = pair(seed, plan, count=200, keep=False)
        sim.run_until_idle()
        hashes.append(sim.trace_hash())
    assert hashes[0] == hashes[1]
    assert hashes[0] != hashes[2]


def test_trace_hash_does_not_depend_on_keeping_events() -> None:
    """The hot-path encoders must write exactly the bytes the generic one writes."""
    plan = FaultPlan(latency_s=0.01, jitter_s=0.05, drop_rate=0.2, duplicate_rate=0.2)
    runs = []
    for keep in (True, False):
        sim = pair(3, plan, count=50, keep=keep)
        sim.run_until_idle()
        runs.append(sim.trace_hash())
    assert runs[0] == runs[1]


def test_drop_fault() -> None:
    sim = pair(faults=FaultPlan(drop_rate=1.0))
    sim.run_until_idle()
    assert sim.protocol("b").received == []
    assert sim.network.dropped == 20
    assert EventKind.DELIVER not in kinds(sim)


def test_duplicate_fault() -> None:
    sim = pair(faults=FaultPlan(duplicate_rate=1.0), count=5)
    sim.run_until_idle()
    pings = [p for _, p, _ in sim.protocol("b").received]
    assert pings == [b"ping:%d" % n for n in range(1, 6) for _ in range(2)]
    assert sim.protocol("a").pongs == [n for n in range(1, 6) for _ in range(4)]
    assert kinds(sim).count(EventKind.DUPLICATE) == 5 + 10


def test_jitter_and_delay_reorder_messages() -> None:
    sim = Simulation(
        3, faults=FaultPlan(latency_s=0.001, jitter_s=0.5, delay_rate=0.3, delay_s=2.0)
    )
    sim.add_node("b", lambda env: PingPong())
    sim.add_node("a", lambda env: PingPong("b", interval=0.05, count=60))
    sim.run_until_idle()
    numbers = [int(p.split(b":")[1]) for _, p, _ in sim.protocol("b").received]
    assert sorted(numbers) == list(range(1, 61)), "every message arrives exactly once"
    assert numbers != sorted(numbers), "but not in order"


def test_custom_per_message_hook_sees_every_message() -> None:
    seen: list[InFlight] = []

    def hook(message: InFlight, rng: SeededRandom) -> list[int]:
        seen.append(message)
        return [] if message.payload == b"ping:2" else [1000]

    sim = pair(faults=hook, count=3)
    sim.run_until_idle()
    assert [m.payload for m in seen] == [b"ping:1", b"pong:1", b"ping:2", b"ping:3", b"pong:3"]
    assert sim.protocol("a").pongs == [1, 3]


def test_partition_and_heal() -> None:
    sim = pair(count=10)
    sim.run(for_s=2.5)  # pings 1..3 go through
    sim.partition(["a"], ["b"])
    sim.run(for_s=3)  # pings 4..6 are cut
    sim.heal()
    sim.run_until_idle()
    assert sim.protocol("a").pongs == [1, 2, 3, 7, 8, 9, 10]
    assert EventKind.PARTITION in kinds(sim) and EventKind.HEAL in kinds(sim)


def test_one_way_block() -> None:
    sim = pair(count=3)
    sim.network.block("b", "a")
    sim.run_until_idle()
    assert len(sim.protocol("b").received) == 3
    assert sim.protocol("a").pongs == []


def test_crash_loses_in_flight_messages_and_restart_rebuilds_from_storage() -> None:
    starts: list[int] = []

    def responder(env):
        starts.append(env.incarnation)
        with env.storage.transaction() as txn:
            boots = int.from_bytes(txn.get("node", b"boots") or bytes(1), "big") + 1
            txn.put("node", b"boots", boots.to_bytes(1, "big"))
        return PingPong()

    sim = Simulation(5, faults=FaultPlan(latency_s=0.3))
    sim.add_node("b", responder)
    sim.add_node("a", lambda env: PingPong("b", interval=1.0, count=6))
    sim.run(for_s=1.1)  # ping 1 answered, ping 2 in flight
    sim.crash("b")
    with pytest.raises(NotFound):
        sim.protocol("b")
    sim.run(for_s=2)
    sim.restart("b")
    sim.run_until_idle()
    assert starts == [1, 2]
    with sim.environment("b").storage.transaction() as txn:
        assert txn.get("node", b"boots") == b"\x02"
    assert 2 not in sim.protocol("a").pongs and 3 not in sim.protocol("a").pongs
    assert sim.protocol("a").pongs[-1] == 6
    with pytest.raises(InvalidInput):
        sim.restart("b")


def test_clock_skew_shifts_what_a_node_sees() -> None:
    sim = pair(count=2)
    sim.set_clock_skew("b", -30.0)
    sim.run_until_idle()
    (_, _, b_now), _ = sim.protocol("b").received
    sent_at = sim.scheduler.now_us / 1e6
    assert b_now < sent_at - 29
    assert sim.environment("b").clock.now().ts_ms < sim.environment("a").clock.now().ts_ms - 29_000


def test_skewed_timers_fire_on_the_nodes_own_clock() -> None:
    sim = Simulation(1)
    start = sim.scheduler.now_us / 1e6
    sim.add_node("b", lambda env: PingPong())
    sim.add_node("a", lambda env: PingPong("b", interval=1.0, count=1, start=start + 10))
    sim.set_clock_skew("a", 5.0)  # a's clock runs 5 s ahead: its 10 s timer fires after 5 s
    sim.run(for_s=5.5)
    assert sim.protocol("a").sent == 1


def test_inject_delivers_external_input() -> None:
    sim = pair(count=0)
    sim.inject("b", b"ping:99", source="a")
    sim.run_until_idle()
    assert sim.protocol("a").pongs == [99]


def test_storage_corruption_and_lost_commits() -> None:
    store = MemoryStorage(secrets_key=b"\x01" * 32, random=SeededRandom(1))
    with store.transaction() as txn:
        txn.put("t", b"k", b"value")
        txn.append_fact("j", b"f", b"body")
        txn.put_secret("s", b"secret")
    with store.transaction() as txn:
        txn.put("t", b"k", b"newer")
        txn.enqueue_outbox("d", b"p")
    store.corrupt_value("t", b"k", 0)
    store.corrupt_fact("j", b"f", 1)
    store.corrupt_secret("s")
    with store.transaction() as txn:
        assert txn.get("t", b"k") == bytes([ord("n") ^ 0xFF]) + b"ewer"
        assert txn.scan_facts("j")[0].body == b"b" + bytes([ord("o") ^ 0xFF]) + b"dy"
        with pytest.raises(Exception, match="failed authentication"):
            txn.get_secret("s")
    assert store.lose_last_commits(1) == 1
    with store.transaction() as txn:
        assert txn.get("t", b"k") == b"value"
        assert txn.pending_outbox() == []
    assert store.lose_last_commits(5) == 1
    with store.transaction() as txn:
        assert (
            txn.get("t", b"k") is None and txn.scan_facts("j") == [] and txn.get_secret("s") is None
        )
    with pytest.raises(NotFound):
        store.corrupt_value("t", b"missing")


def test_network_rejects_non_bytes_and_unknown_nodes() -> None:
    sim = pair(count=0)
    with pytest.raises(InvalidInput):
        sim.network.send("a", "b", "text")
    sim.network.send("a", "nobody", b"x")
    assert sim.network.dropped == 1
    with pytest.raises(NotFound):
        sim.crash("nobody")
    with pytest.raises(InvalidInput):
        sim.add_node("a", lambda env: PingPong())


@pytest.mark.parametrize("bad", [{"drop_rate": 1.5}, {"latency_s": -1}, {"duplicate_rate": "x"}])
def test_fault_plan_validates(bad) -> None:
    with pytest.raises(InvalidInput):
        FaultPlan(**bad)


def test_outputs_are_sent_from_the_node() -> None:
    class Forwarder:
        def receive(self, message: Incoming, now: float):
            return [Outgoing("c", message.payload + b"0")]

        def next_timer(self):
            return None

        def on_timer(self, now: float):
            return []

    sim = Simulation(2, keep_events=True)
    sink = PingPong()
    sim.add_node("c", lambda env: sink)
    sim.add_node("fwd", lambda env: Forwarder())
    sim.inject("fwd", b"ping:1", source="x")
    sim.run_until_idle()
    assert sink.received[0][:2] == ("fwd", b"ping:10")
