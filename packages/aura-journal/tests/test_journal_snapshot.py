"""Snapshots and garbage collection: equivalence, tombstones, verification, conflicts."""

from __future__ import annotations

import hashlib

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from aura_core.dag_cbor import encode
from aura_core.errors import InvalidEncoding, InvalidInput, NotFound
from aura_core.identifiers import AuthorityId, ContextId, DeviceId
from aura_core.time_domains import PhysicalTime
from aura_journal import (
    ANY,
    AddLeaf,
    AttestedOp,
    BranchSpec,
    Fact,
    FactMetadata,
    FactType,
    FlowCharge,
    FlowEpochAdvance,
    Journal,
    JournalNamespace,
    LeafId,
    LeafNode,
    LeafRole,
    MissingDependency,
    SnapshotBody,
    SnapshotConflict,
    SnapshotMismatch,
    TreeGenesis,
    default_registry,
    make_snapshot,
    order_time_from_entropy,
)

NAMESPACE = JournalNamespace.authority(AuthorityId(b"\x01" * 16))
CONTEXT = ContextId(b"\x03" * 16)
PEERS = [AuthorityId(bytes([0x10 + i]) * 16) for i in range(3)]
DEVICE = DeviceId(b"\x04" * 16)
DEVICE_KEY = SigningKey(b"\x05" * 32)
GROUP_KEY = SigningKey(b"\x06" * 32)


@attrs.frozen
class Delta:
    TYPE_ID = "test.delta"
    amount: int

    def to_canonical(self) -> dict[str, int]:
        return {"amount": self.amount}

    @classmethod
    def from_canonical(cls, value: object) -> Delta:
        if type(value) is not dict or set(value) != {"amount"} or type(value["amount"]) is not int:
            raise InvalidEncoding("delta must be {'amount': int}")
        return cls(value["amount"])


class FlooredCounter:
    """Order-sensitive (``x -> max(0, x + amount)`` in OrderTime order), as a monoid."""

    name = "floored_counter"
    fact_types = frozenset({Delta.TYPE_ID})

    def identity(self):
        return (None, 0)

    def lift(self, fact, body):
        return (0, body.amount)

    def combine(self, first, then):
        lows = [
            x for x in (then[0], None if first[0] is None else first[0] + then[1]) if x is not None
        ]
        return (max(lows) if lows else None, first[1] + then[1])

    def finish(self, summary):
        return max(summary[0] if summary[0] is not None else 0, summary[1])

    def encode_state(self, summary):
        return [summary[0], summary[1]]

    def decode_state(self, value):
        return (value[0], value[1])


class DeltaCount:
    """A reducer without a snapshot codec: its facts must survive garbage collection."""

    name = "delta_count"
    fact_types = frozenset({Delta.TYPE_ID})

    def initial(self):
        return [0]

    def apply(self, state, fact, body):
        state[0] += 1
        return state


def registry(with_count: bool = False):
    reg = default_registry().register(FactType.for_body(Delta, attestations=frozenset({"none"})))
    reg.register_reducer(FlooredCounter())
    if with_count:
        reg.register_reducer(DeltaCount())
    return reg


def meta(label: object) -> FactMetadata:
    order = order_time_from_entropy(hashlib.sha256(repr(label).encode()).digest())
    return FactMetadata(order, PhysicalTime(1_700_000_000_000))


def charge(label: object, peer: int = 0, epoch: int = 1, cost: int = 1) -> Fact:
    body = FlowCharge(CONTEXT, PEERS[peer % 3], epoch, cost)
    return Fact.create(body, meta(("charge", label))).signed_by_device(
        NAMESPACE, DEVICE, DEVICE_KEY
    )


def delta(label: object, amount: int) -> Fact:
    return Fact.create(Delta(amount), meta(("delta", label)))


def leaf(i: int) -> LeafNode:
    key = SigningKey(hashlib.sha256(b"leaf%d" % i).digest()).verify_key
    return LeafNode(
        LeafId(i), DeviceId(hashlib.sha256(b"dev%d" % i).digest()[:16]), LeafRole.DEVICE, bytes(key)
    )


GENESIS = Fact.create(
    TreeGenesis.of([BranchSpec(None, ANY, bytes(GROUP_KEY.verify_key))], [(leaf(1), 0)]),
    meta("genesis"),
).signed_by_single_key(NAMESPACE, GROUP_KEY)


def tree_op(journal: Journal, number: int) -> Fact:
    head = journal.state("commitment_tree").head
    fact = AttestedOp.propose(AddLeaf(leaf(number), 0), head, meta(("op", number)))
    return fact.signed_by_single_key(NAMESPACE, GROUP_KEY)


def sign(fact: Fact) -> Fact:
    return fact.signed_by_device(NAMESPACE, DEVICE, DEVICE_KEY)


def snapshot_of(journal: Journal, label: object = "snapshot") -> Fact:
    return sign(make_snapshot(journal, meta(label)))


def states(journal: Journal) -> tuple:
    return (
        journal.state("flow_budget").items(),
        journal.state("floored_counter"),
        journal.state("commitment_tree").head,
    )


def fresh_states(journal: Journal) -> tuple:
    return (
        journal.recompute("flow_budget").items(),
        journal.recompute("floored_counter"),
        journal.recompute("commitment_tree").head,
    )


events = st.lists(
    st.tuples(st.sampled_from(["charge", "epoch", "delta", "tree"]), st.integers(-6, 6)),
    min_size=1,
    max_size=14,
)


@settings(max_examples=40, deadline=None)
@given(before=events, after=events)
def test_snapshot_plus_later_facts_equals_all_facts(before, after):
    journal = Journal(NAMESPACE, registry())
    journal.add(GENESIS)
    leaf_number = [10]

    def play(items, tag):
        for index, (kind, value) in enumerate(items):
            label = (tag, index)
            if kind == "charge":
                journal.add(charge(label, peer=value, cost=1 + abs(value)))
            elif kind == "epoch":
                journal.add(
                    sign(
                        Fact.create(
                            FlowEpochAdvance(CONTEXT, PEERS[value % 3], 1 + abs(value) % 3),
                            meta(label),
                        )
                    )
                )
            elif kind == "delta":
                journal.add(delta(label, value))
            else:
                leaf_number[0] += 1
                journal.add(tree_op(journal, leaf_number[0]))

    play(before, "before")
    everything = journal.copy()
    snapshot = snapshot_of(journal)
    assert journal.add(snapshot)
    collected = journal.collect_garbage(snapshot.cid)
    assert collected == len(everything)  # every fact is read only by snapshotted reducers
    assert len(journal) == 1 and len(journal.tombstones) == collected
    play(after, "after")
    for fact in journal:
        everything.add(fact)
    everything_with_snapshot = everything.copy()
    # the reductions agree: incremental after GC, recomputed after GC, and over all facts
    assert states(journal) == fresh_states(journal) == fresh_states(everything_with_snapshot)
    # commutative reducers also agree with a journal that never saw the snapshot
    without = everything.copy()
    assert journal.state("flow_budget") == _without_snapshot(without).recompute("flow_budget")
    assert (
        journal.state("commitment_tree").head
        == _without_snapshot(without).recompute("commitment_tree").head
    )


def _without_snapshot(journal: Journal) -> Journal:
    plain = Journal(journal.namespace, journal.registry)
    plain.load_trusted([fact for fact in journal if fact.type_id != "journal.snapshot"])
    return plain


def test_collected_facts_stay_collected():
    journal = Journal(NAMESPACE, registry())
    facts = [charge(i, cost=i + 1) for i in range(5)]
    for fact in facts:
        journal.add(fact)
    snapshot = snapshot_of(journal)
    journal.add(snapshot)
    assert len(journal.query("flow.charge")) == 5
    journal.collect_garbage(snapshot.cid)
    assert journal.query("flow.charge") == []
    assert all(journal.is_tombstoned(fact.cid) for fact in facts)
    assert not journal.add(facts[0])  # a re-sent collected fact is recognised, not re-added
    report = journal.ingest_many([fact.encode() for fact in facts])
    assert report.duplicates == 5 and len(journal) == 1
    # a replica that still holds the facts drops them when it learns the tombstones
    replica = Journal(NAMESPACE, registry())
    for fact in facts:
        replica.add(fact)
    replica.view("flow_budget")
    replica.merge(journal)
    assert replica == journal
    assert (
        replica.state("flow_budget")
        == journal.state("flow_budget")
        == replica.recompute("flow_budget")
    )


def test_gc_keeps_facts_a_reducer_without_a_snapshot_codec_still_needs():
    journal = Journal(NAMESPACE, registry(with_count=True))
    deltas = [delta(i, i) for i in range(4)]
    charges = [charge(i) for i in range(3)]
    for fact in deltas + charges:
        journal.add(fact)
    snapshot = snapshot_of(journal)
    journal.add(snapshot)
    assert journal.collect_garbage(snapshot.cid) == 3  # only the flow charges
    assert all(fact in journal for fact in deltas)
    assert journal.state("delta_count") == [4]
    assert journal.state("floored_counter") == journal.recompute("floored_counter")
    later = delta("later", -100)
    journal.add(later)
    assert journal.state("floored_counter") == journal.recompute("floored_counter") == 0
    assert journal.state("delta_count") == [5]


def test_forged_snapshot_state_is_refused():
    journal = Journal(NAMESPACE, registry())
    for i in range(3):
        journal.add(charge(i, cost=2))
    honest = make_snapshot(journal, meta("forged")).cached_body
    stored = dict(honest.reductions)
    stored["flow_budget"] = encode([[CONTEXT.raw, PEERS[0].raw, 1, 0]])  # pretend nothing was spent
    forged_body = SnapshotBody.build([journal.get(c.cid).cid for c in journal], stored)
    forged = sign(Fact.create(forged_body, meta("forged")))
    before = journal.copy()
    with pytest.raises(SnapshotMismatch, match="flow_budget"):
        journal.add(forged)
    assert journal == before


def test_snapshot_covering_unknown_facts_waits():
    source = Journal(NAMESPACE, registry())
    for i in range(3):
        source.add(charge(i))
    snapshot = snapshot_of(source)
    partial = Journal(NAMESPACE, registry())
    partial.add(charge(0))
    with pytest.raises(MissingDependency) as info:
        partial.add(snapshot)
    assert info.value.kind.value == "transient"
    report = partial.ingest_many([snapshot.encode(), charge(1).encode(), charge(2).encode()])
    assert report.rejected == () and snapshot in partial  # retried once the facts arrived


def test_gc_refuses_a_snapshot_that_is_not_the_head():
    journal = Journal(NAMESPACE, registry())
    journal.add(charge(0))
    first = snapshot_of(journal, "first")
    journal.add(first)
    journal.add(charge(1))
    second = snapshot_of(journal, "second")
    journal.add(second)
    with pytest.raises(SnapshotConflict, match="does not cover"):
        journal.collect_garbage(first.cid)
    assert journal.collect_garbage(second.cid) == 3  # charge 0, charge 1 and the first snapshot
    assert first.cid in journal.tombstones
    with pytest.raises(NotFound):
        journal.collect_garbage(first.cid)
    journal.add(charge(2))
    third = snapshot_of(journal, "third")
    journal.add(third)
    assert journal.collect_garbage(third.cid) == 2
    assert (
        journal.state("flow_budget").spent(CONTEXT, PEERS[0])
        == 3
        == journal.recompute("flow_budget").spent(CONTEXT, PEERS[0])
    )


def test_concurrent_snapshots_keep_every_fact_counted():
    journal = Journal(NAMESPACE, registry())
    journal.add(charge(0, cost=5))
    base = snapshot_of(journal, "base")
    journal.add(base)
    left, right = journal.copy(), journal.copy()
    left.add(charge("l", cost=1))
    right.add(charge("r", cost=2))
    left_snapshot, right_snapshot = snapshot_of(left, "left"), snapshot_of(right, "right")
    left.add(left_snapshot)
    right.add(right_snapshot)
    merged = left.join(right)
    assert merged.state("flow_budget").spent(CONTEXT, PEERS[0]) == 8
    assert merged.state("flow_budget") == merged.recompute("flow_budget")
    with pytest.raises(SnapshotConflict):
        merged.collect_garbage(left_snapshot.cid)


def test_snapshot_body_is_strict():
    journal = Journal(NAMESPACE, registry())
    journal.add(charge(0))
    good = make_snapshot(journal, meta("strict")).cached_body.to_canonical()
    bad_values = [
        {**good, "state_hash": b"\x00" * 32},
        {**good, "covered": []},
        {**good, "covered": good["covered"] * 2},
        {**good, "reductions": list(reversed(good["reductions"]))},
        {**good, "extra": 1},
        {**good, "covered": [b"not a cid"]},
    ]
    for value in bad_values:
        with pytest.raises(InvalidEncoding):
            SnapshotBody.from_canonical(value)
    with pytest.raises(InvalidInput):
        make_snapshot(Journal(NAMESPACE, registry()), meta("empty"))
    with pytest.raises(InvalidInput):
        make_snapshot(journal, meta("no codec"), reducers=["nope"])


from hypothesis.stateful import RuleBasedStateMachine, invariant, rule  # noqa: E402


class Replicas(RuleBasedStateMachine):
    """Two replicas add facts, merge each way, snapshot and collect; views never drift."""

    def __init__(self) -> None:
        super().__init__()
        self.replicas = [Journal(NAMESPACE, registry()), Journal(NAMESPACE, registry())]
        for journal in self.replicas:
            journal.view("flow_budget")
            journal.view("floored_counter")
        self.counter = 0
        self.collected = 0
        self.everything: dict[bytes, Fact] = {}

    def _label(self) -> int:
        self.counter += 1
        return self.counter

    @rule(side=st.integers(0, 1), peer=st.integers(0, 2), cost=st.integers(1, 5))
    def add_charge(self, side, peer, cost):
        fact = charge(("machine", self._label()), peer=peer, cost=cost)
        self.replicas[side].add(fact)
        self.everything[fact.cid.raw] = fact

    @rule(side=st.integers(0, 1), amount=st.integers(-5, 5))
    def add_delta(self, side, amount):
        fact = delta(("machine", self._label()), amount)
        self.replicas[side].add(fact)
        self.everything[fact.cid.raw] = fact

    @rule(into=st.integers(0, 1))
    def merge(self, into):
        self.replicas[into].merge(self.replicas[1 - into])

    @rule(side=st.integers(0, 1))
    def snapshot(self, side):
        journal = self.replicas[side]
        if len(journal) == 0:
            return
        snapshot = snapshot_of(journal, ("machine-snapshot", self._label()))
        journal.add(snapshot)
        self.everything[snapshot.cid.raw] = snapshot

    @rule(side=st.integers(0, 1))
    def agree_on_a_snapshot_and_collect(self, side):
        """One replica proposes a snapshot, the other learns it, both collect."""
        journal, other = self.replicas[side], self.replicas[1 - side]
        if len(journal) == 0:
            return
        snapshot = snapshot_of(journal, ("agreed", self._label()))
        journal.add(snapshot)
        self.everything[snapshot.cid.raw] = snapshot
        other.merge(journal)
        for replica in (journal, other):
            try:
                self.collected += replica.collect_garbage(snapshot.cid)
            except SnapshotConflict:
                pass  # the other replica holds a concurrent snapshot covering more

    @rule(side=st.integers(0, 1), data=st.data())
    def collect_an_agreed_snapshot(self, side, data):
        """Collection follows agreement: only a snapshot both replicas hold is used."""
        journal, other = self.replicas[side], self.replicas[1 - side]
        agreed = sorted(raw for raw in journal.snapshot_bodies() if raw in other.snapshot_bodies())
        if not agreed:
            return
        chosen = data.draw(st.sampled_from(agreed))
        try:
            self.collected += journal.collect_garbage(self.everything[chosen].cid)
        except SnapshotConflict:
            pass  # not the head here: another live snapshot covers facts it does not

    @invariant()
    def views_match_recomputation(self):
        for journal in self.replicas:
            assert journal.state("flow_budget") == journal.recompute("flow_budget")
            assert journal.state("floored_counter") == journal.recompute("floored_counter")

    @invariant()
    def flow_totals_are_never_lost(self):
        for journal in self.replicas:
            known = {
                raw
                for raw in self.everything
                if journal.get(self.everything[raw].cid) is not None
                or journal.is_tombstoned(self.everything[raw].cid)
            }
            spent = sum(
                self.everything[raw].cached_body.cost
                for raw in known
                if self.everything[raw].type_id == "flow.charge"
            )
            ledger = journal.state("flow_budget")
            assert sum(entry[3] for entry in ledger.items()) == spent

    def teardown(self) -> None:
        left, right = self.replicas
        left.merge(right)
        right.merge(left)
        assert left == right
        assert left.state("flow_budget") == right.state("flow_budget")
        assert left.state("floored_counter") == right.state("floored_counter")


Replicas.TestCase.settings = settings(max_examples=40, stateful_step_count=20, deadline=None)
test_replicas_converge_through_snapshots_and_collection = Replicas.TestCase
