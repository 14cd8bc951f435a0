"""Journals: set-union merge laws, namespaces, ingestion, queries, conflict resolution."""

from __future__ import annotations

import hashlib
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from aura_core.errors import AuraError, InvalidEncoding, InvalidInput, NamespaceMismatch
from aura_core.identifiers import AuthorityId, ContextId, DeviceId
from aura_core.semilattice import check_join_laws
from aura_core.time_domains import OrderTime, PhysicalTime
from aura_journal import (
    ConflictResolver,
    Fact,
    FactMetadata,
    FactType,
    FlowCharge,
    FlowEpochAdvance,
    Journal,
    JournalNamespace,
    default_registry,
    order_time_from_entropy,
)
from aura_journal.authorization import Capability, CapabilityFrontier

AUTHORITY = JournalNamespace.authority(AuthorityId(b"\x01" * 16))
CONTEXT_ID = ContextId(b"\x03" * 16)
DEVICE = DeviceId(b"\x04" * 16)
DEVICE_KEY = SigningKey(b"\x05" * 32)
PEERS = [AuthorityId(bytes([0x10 + i]) * 16) for i in range(3)]
REGISTRY = default_registry()


def meta(label: object) -> FactMetadata:
    order = order_time_from_entropy(hashlib.sha256(repr(label).encode()).digest())
    return FactMetadata(order, PhysicalTime(1_700_000_000_000))


def charge(label: object, peer: int = 0, epoch: int = 1, cost: int = 1) -> Fact:
    body = FlowCharge(CONTEXT_ID, PEERS[peer], epoch, cost)
    return Fact.create(body, meta(label)).signed_by_device(AUTHORITY, DEVICE, DEVICE_KEY)


POOL = [charge(i, peer=i % 3, epoch=1 + i % 2, cost=1 + i % 4) for i in range(12)]
GRANTS = [(CONTEXT_ID, Capability.parse(name)) for name in ("chat:send", "chat:read", "sync:pull")]


def journal_of(facts, tombstones=(), frontier=None) -> Journal:
    journal = Journal(AUTHORITY, REGISTRY, frontier=frontier)
    journal.load_trusted(facts, [fact.cid for fact in tombstones])
    return journal


subsets = st.lists(st.sampled_from(POOL), max_size=len(POOL), unique=True)
frontiers = st.one_of(
    st.none(), st.sets(st.sampled_from(GRANTS)).map(CapabilityFrontier.from_grants)
)
journals = st.builds(journal_of, subsets, st.lists(st.sampled_from(POOL), max_size=3), frontiers)


@settings(max_examples=60, deadline=None)
@given(journals, journals, journals)
def test_join_is_a_semilattice(a, b, c):
    check_join_laws(a, b, c)


@settings(max_examples=40, deadline=None)
@given(journals, journals)
def test_join_is_an_upper_bound_and_views_agree(a, b):
    joined = a.join(b)
    for part in (a, b):
        assert (
            part.cids() - {cid for cid in part.cids() if joined.is_tombstoned(cid)} <= joined.cids()
        )
        assert part.tombstones <= joined.tombstones
    merged = a.copy()
    merged.view("flow_budget")  # a live view must follow the merge incrementally
    merged.merge(b)
    assert merged == joined
    assert merged.state("flow_budget") == joined.recompute("flow_budget")


def test_duplicates_collapse_by_content_id():
    journal = journal_of(POOL[:3])
    assert not journal.add(POOL[0])
    assert journal.merge(journal_of(POOL[:3])) == 0
    assert journal.ingest(POOL[1].encode()) == POOL[1]
    assert len(journal) == 3
    report = journal.ingest_many([POOL[0].encode(), POOL[5].encode(), POOL[5]])
    assert report.duplicates == 2 and report.accepted == (POOL[5].cid,)


def test_merging_two_namespaces_is_an_error():
    other = Journal(JournalNamespace.context(CONTEXT_ID), REGISTRY)
    journal = journal_of(POOL[:2])
    with pytest.raises(NamespaceMismatch):
        journal.merge(other)
    with pytest.raises(NamespaceMismatch):
        journal.join(other)
    assert len(journal) == 2
    with pytest.raises(InvalidInput):
        journal.merge(POOL)  # type: ignore[arg-type]


def test_merge_is_union_without_revalidation():
    """Already-validated journals merge by set union; no signature is checked again."""
    left, right = journal_of(POOL[:8]), journal_of(POOL[6:])
    assert left.merge(right) == 4
    assert left.cids() == {fact.cid for fact in POOL}


def test_rejected_fact_leaves_the_journal_unchanged():
    journal = journal_of(POOL[:4])
    journal.view("flow_budget")
    before = journal.copy()
    state_before = journal.state("flow_budget").items()
    bad = POOL[5].with_attestation(POOL[6].attestation)  # signature of another fact
    with pytest.raises(AuraError):
        journal.add(bad)
    assert journal == before
    assert journal.state("flow_budget").items() == state_before


def test_ingest_many_reports_each_refusal():
    good = [POOL[0].encode(), POOL[1].encode()]
    report = journal_of([]).ingest_many([good[0], b"\x00garbage", good[1], good[0][:-2]])
    assert report.accepted == (POOL[0].cid, POOL[1].cid)
    assert [position for position, _ in report.rejected] == [1, 3]
    assert all(isinstance(error, InvalidEncoding) for _, error in report.rejected)


def test_query_returns_facts_in_order_time_order():
    journal = journal_of(POOL)
    facts = journal.query("flow.charge")
    assert [f.sort_key for f in facts] == sorted(f.sort_key for f in POOL)
    middle = facts[4].order
    tail = journal.query("flow.charge", start=middle)
    assert tail == facts[4:]
    assert journal.query("flow.charge", end=middle) == facts[:4]
    assert journal.query("flow.charge", start=middle, limit=2) == facts[4:6]
    assert journal.query("flow.charge", reverse=True, limit=1) == [facts[-1]]
    late = charge("late")
    journal.add(late)
    assert late in journal.query("flow.charge")
    assert journal.query("flow.charge") == sorted(
        journal.query("flow.charge"), key=lambda f: f.sort_key
    )
    assert journal.query("nothing.here") == []
    assert journal.query("flow.charge", start=OrderTime(b"\xff" * 32)) == []


def test_frontier_only_narrows():
    wide = CapabilityFrontier.from_grants(GRANTS)
    narrow = CapabilityFrontier.from_grants(GRANTS[:1])
    journal = journal_of([], frontier=wide)
    journal.restrict(narrow)
    assert journal.frontier == narrow
    journal.restrict(wide)
    assert journal.frontier == narrow  # meet never widens
    unrestricted = journal_of(POOL[:1])
    assert unrestricted.frontier is None
    assert unrestricted.join(journal).frontier == narrow


def test_conflicting_facts_resolve_to_one_winner_in_any_order():
    """Type-specific merge rule: one budget-epoch announcement per (context, peer) slot."""
    facts = [
        Fact.create(
            FlowEpochAdvance(CONTEXT_ID, PEERS[i % 2], 5 + i), meta(("epoch", i))
        ).signed_by_device(AUTHORITY, DEVICE, DEVICE_KEY)
        for i in range(4)
    ]
    highest_epoch = ConflictResolver(
        "epoch_announcement",
        {"flow.epoch"},
        key=lambda fact, body: body.peer,
        rank=lambda fact, body: body.epoch,
    )
    latest = ConflictResolver(
        "latest_announcement", {"flow.epoch"}, key=lambda fact, body: body.peer
    )
    registry = default_registry().register_reducer(highest_epoch).register_reducer(latest)
    results = set()
    for order in itertools.permutations(facts):
        journal = Journal(AUTHORITY, registry)
        for fact in order:
            journal.add(fact)
        winners = journal.state("epoch_announcement")
        assert winners.body(PEERS[0]).epoch == 7 and winners.body(PEERS[1]).epoch == 8
        newest = journal.state("latest_announcement")
        results.add(tuple(newest.winner(peer).cid for peer in PEERS[:2]))
    assert len(results) == 1
    expected = max((f for f in facts if f.cached_body.peer == PEERS[0]), key=lambda f: f.sort_key)
    assert results.pop()[0] == expected.cid


def test_merge_from_a_journal_with_unknown_types_changes_nothing():
    extended = default_registry().register(FactType("test.blob", lambda value: value))
    richer = Journal(AUTHORITY, extended)
    richer.load_trusted([*POOL[:3], Fact("test.blob", b"\x01", POOL[0].attestation, meta("blob"))])
    plain = journal_of(POOL[3:5])
    before = plain.copy()
    with pytest.raises(AuraError):
        plain.merge(richer)
    assert plain == before


def test_loading_the_same_fact_twice_counts_once():
    journal = Journal(AUTHORITY, REGISTRY)
    journal.view("flow_budget")
    assert journal.load_trusted([POOL[0], POOL[0], POOL[1]]) == 2
    assert journal.load_trusted([POOL[1]]) == 0
    assert journal.state("flow_budget") == journal.recompute("flow_budget")
    assert len(journal.query("flow.charge")) == 2
