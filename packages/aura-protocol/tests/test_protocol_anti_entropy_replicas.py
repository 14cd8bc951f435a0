"""Anti-entropy between replicas: the sans-IO node in a faulty simulation, and real journals."""

from __future__ import annotations

import hashlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from aura_core.content_id import content_id_of_bytes
from aura_core.dag_cbor import encode
from aura_core.effects import Incoming
from aura_core.errors import InvalidEncoding, InvalidInput
from aura_core.identifiers import AuthorityId, ContextId, DeviceId
from aura_core.time_domains import PhysicalTime
from aura_effects.simulated import FaultPlan, Simulation
from aura_journal import (
    ANY,
    AddLeaf,
    AttestedOp,
    BranchSpec,
    Fact,
    FactMetadata,
    FlowCharge,
    Journal,
    JournalNamespace,
    LeafId,
    LeafNode,
    LeafRole,
    TreeGenesis,
    default_registry,
    order_time_from_entropy,
)
from aura_protocol.anti_entropy import (
    AntiEntropyConfig,
    AntiEntropyNode,
    JournalFactStore,
    MappingFactStore,
    ReconciliationConfig,
    ReconciliationSession,
    SyncStatus,
    decode_sync_message,
    encode_sync_message,
)

# --------------------------------------------------------------------------- simulation

NAMES = [f"replica-{i}" for i in range(5)]
CONFIG = AntiEntropyConfig(
    interval_s=1.0,
    session_timeout_s=3.0,
    reconciliation=ReconciliationConfig(branching=4, id_list_threshold=4),
)


def run_cluster(seed: int, *, rounds: int = 20, crashes: bool = True):
    """Replicas write, partition, heal and crash for a while, then run healed and quiet.

    Stores live outside the protocol objects, as a replica's disk would, so a
    crash loses the node's sessions but not its facts.
    """
    script = random.Random(seed)
    stores = {name: MappingFactStore() for name in NAMES}
    faults = FaultPlan(
        latency_s=0.01, jitter_s=0.05, drop_rate=0.05, duplicate_rate=0.05, delay_rate=0.05
    )
    sim = Simulation(seed, faults=faults)

    def factory(name):
        def build(env):
            peers = [other for other in NAMES if other != name]
            return AntiEntropyNode(
                stores[name], peers, session_seed=env.random.random_bytes(16), config=CONFIG
            )

        return build

    for name in NAMES:
        sim.add_node(name, factory(name))
    written = set()
    crashed: set[str] = set()
    for step in range(rounds):
        for _ in range(script.randrange(10)):
            name = script.choice(NAMES)
            written.add(stores[name].put(encode({"step": step, "by": name, "n": script.random()})))
        action = script.random()
        if action < 0.3:
            side = script.sample(NAMES, script.randrange(1, len(NAMES)))
            sim.partition(side, [n for n in NAMES if n not in side])
        elif action < 0.5:
            sim.heal()
        elif crashes and action < 0.65:
            name = script.choice(NAMES)
            if name in crashed:
                sim.restart(name)
                crashed.discard(name)
            else:
                sim.crash(name)
                crashed.add(name)
        sim.run(for_s=script.uniform(0.5, 3.0))
    sim.heal()
    for name in sorted(crashed):
        sim.restart(name)
    sim.run(for_s=40.0)
    return sim, stores, written


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_replicas_converge_after_partitions_crashes_and_lossy_links(seed):
    sim, stores, written = run_cluster(seed)
    for name in NAMES:
        assert set(stores[name].facts) == written, f"{name} did not converge (seed {seed})"
    digests = {stores[name].id_index().digest() for name in NAMES}
    assert len(digests) == 1
    assert any(
        outcome.outcome.received for name in NAMES for outcome in sim.protocol(name).outcomes
    )


def test_the_same_seed_gives_the_same_trace():
    first, _, _ = run_cluster(1234, rounds=6)
    second, _, _ = run_cluster(1234, rounds=6)
    third, _, _ = run_cluster(1235, rounds=6)
    assert first.trace_hash() == second.trace_hash() != third.trace_hash()


def test_node_survives_garbage_and_records_why():
    store = MappingFactStore()
    node = AntiEntropyNode(store, ["peer"], session_seed=b"\x01" * 16)
    for payload in (b"", b"\xff\xff", encode({"t": "ranges"}), b"\x00" * 100):
        assert node.receive(Incoming("peer", payload), 1.0) == []
    assert len(node.errors) == 4
    assert all(isinstance(error, InvalidEncoding) for _, error in node.errors)
    assert node.active_sessions == 0


def test_node_ticks_opens_one_session_per_peer_and_abandons_stalled_ones():
    a = AntiEntropyNode(MappingFactStore(), ["b"], session_seed=b"\x02" * 16, first_sync_at=5.0)
    assert a.next_timer() == 5.0
    assert a.on_timer(4.9) == []
    opening = a.on_timer(5.0)
    assert len(opening) == 1 and opening[0].destination == "b"
    assert a.sync_now("b", 5.5) == []  # one outgoing session per peer at a time
    assert a.active_sessions == 1 and a.next_timer() == 10.0  # next tick (interval 5 s)
    assert a.on_timer(10.0) == []  # the tick finds the session still running
    assert a.next_timer() == 15.0  # its timeout (10 s after it opened)
    assert len(a.on_timer(15.0)) == 1  # stalled session dropped, the tick opens a fresh one
    assert a.active_sessions == 1
    with pytest.raises(InvalidInput):
        a.sync_now("stranger", 16.0)
    with pytest.raises(InvalidInput):
        AntiEntropyNode(MappingFactStore(), ["a", "a"], session_seed=b"\x03" * 16)
    with pytest.raises(InvalidInput):
        AntiEntropyNode(MappingFactStore(), ["a"], session_seed=b"short")


def test_an_empty_node_answers_openings_and_keeps_nothing_open():
    node = AntiEntropyNode(MappingFactStore(), ["a"], session_seed=b"\x03" * 16)
    for counter in range(4):
        session = ReconciliationSession(MappingFactStore(), bytes([counter]) * 16, initiator=True)
        replies = node.receive(Incoming("a", encode_sync_message(session.start()[0])), 1.0)
        assert [type(decode_sync_message(r.payload)).__name__ for r in replies] == ["EndMessage"]
    assert node.active_sessions == 0
    assert [o.outcome.status for o in node.outcomes] == [SyncStatus.EQUAL] * 4


def test_open_sessions_per_peer_are_capped():
    store = MappingFactStore({content_id_of_bytes(encode(1)): encode(1)})
    node = AntiEntropyNode(
        store, ["a"], session_seed=b"\x04" * 16, config=AntiEntropyConfig(max_sessions_per_peer=2)
    )
    for counter in range(4):
        other = ReconciliationSession(MappingFactStore(), bytes([counter]) * 16, initiator=True)
        node.receive(Incoming("a", encode_sync_message(other.start()[0])), 1.0)
    # Each opening differs from this node's set, so each session stays open awaiting a turn.
    assert node.active_sessions == 2
    assert "too many open sessions" in node.errors[-1][1].message


# --------------------------------------------------------------------------- journals

NAMESPACE = JournalNamespace.authority(AuthorityId(b"\x01" * 16))
GROUP_KEY = SigningKey(b"\x21" * 32)
DEVICE = DeviceId(b"\x04" * 16)
DEVICE_KEY = SigningKey(b"\x05" * 32)


def meta(label: object) -> FactMetadata:
    order = order_time_from_entropy(hashlib.sha256(repr(label).encode()).digest())
    return FactMetadata(order, PhysicalTime(1_700_000_000_000))


def leaf(number: int) -> LeafNode:
    key = SigningKey(hashlib.sha256(b"leaf%d" % number).digest()).verify_key
    device = DeviceId(hashlib.sha256(b"device%d" % number).digest()[:16])
    return LeafNode(LeafId(number), device, LeafRole.DEVICE, bytes(key))


def tree_chain(length: int) -> list[Fact]:
    """A genesis and ``length`` operations, each naming the previous state as its parent."""
    genesis = Fact.create(
        TreeGenesis.of([BranchSpec(None, ANY, bytes(GROUP_KEY.verify_key))], [(leaf(1), 0)]),
        meta("genesis"),
    ).signed_by_single_key(NAMESPACE, GROUP_KEY)
    state = genesis.cached_body.state
    chain = [genesis]
    for number in range(100, 100 + length):
        op = AddLeaf(leaf(number), 0)
        chain.append(
            AttestedOp.propose(op, state, meta(("op", number))).signed_by_single_key(
                NAMESPACE, GROUP_KEY
            )
        )
        state = state.apply(op)
    return chain


def charge(number: int) -> Fact:
    body = FlowCharge(ContextId(b"\x03" * 16), AuthorityId(bytes([0x10 + number % 3]) * 16), 1, 1)
    return Fact.create(body, meta(("charge", number))).signed_by_device(
        NAMESPACE, DEVICE, DEVICE_KEY
    )


def journal_with(facts, tombstones=()) -> Journal:
    journal = Journal(NAMESPACE, default_registry())
    journal.load_trusted(facts, [fact.cid for fact in tombstones])
    return journal


def shuttle(a_store, b_store, config, rng):
    initiator = ReconciliationSession(a_store, b"\x07" * 16, initiator=True, config=config)
    responder = ReconciliationSession(b_store, b"\x07" * 16, initiator=False, config=config)
    queue = [(responder, m) for m in initiator.start()]
    while queue:
        target, message = queue.pop(rng.randrange(len(queue)))
        other = initiator if target is responder else responder
        replies = target.receive(decode_sync_message(encode_sync_message(message)))
        queue.extend((other, reply) for reply in replies)
    return initiator.outcome, responder.outcome


def test_journals_converge_with_dependencies_arriving_in_any_order():
    chain = tree_chain(12)
    charges = [charge(n) for n in range(10)]
    a = journal_with(chain + charges[:6])
    b = journal_with(charges[4:])
    config = ReconciliationConfig(branching=2, id_list_threshold=2, fact_chunk_bytes=1)
    out_a, out_b = shuttle(JournalFactStore(a), JournalFactStore(b), config, random.Random(3))
    assert a == b and len(a) == len(chain) + len(charges)
    assert out_a.status is out_b.status is SyncStatus.DIVERGED
    assert out_b.accepted == len(chain) + 4 and out_b.rejected == ()
    assert a.state("commitment_tree").head == b.state("commitment_tree").head


def test_journal_refuses_a_forged_fact_and_reports_it():
    good = charge(1)
    forged = charge(2).with_attestation(good.attestation)  # another fact's signature
    a = journal_with([good, forged])
    b = journal_with([])
    _, out_b = shuttle(
        JournalFactStore(a), JournalFactStore(b), ReconciliationConfig(), random.Random(1)
    )
    assert good in b and forged not in b
    assert [cid for cid, _ in out_b.rejected] == [forged.cid]
    assert out_b.received == 2 and out_b.accepted == 1


def test_journal_store_sees_later_additions_and_keeps_tombstones_as_held_ids():
    collected = charge(7)
    journal = journal_with([charge(1)], tombstones=[collected])
    store = JournalFactStore(journal)
    index = store.id_index()
    assert len(index) == 2 and collected.cid.raw in index
    assert store.fetch(collected.cid.raw) is None  # the id is kept, the bytes are gone
    journal.add(charge(8))
    assert charge(8).cid.raw in store.id_index()
    orphan_parent = tree_chain(2)
    report = store.accept(
        [
            type("T", (), {"cid": f.cid, "data": f.encode()})()  # duck-typed transfer records
            for f in orphan_parent[2:]
        ]
    )
    assert report.deferred == (orphan_parent[2].cid,) and store.deferred == 1
    with pytest.raises(InvalidInput):
        JournalFactStore({})
