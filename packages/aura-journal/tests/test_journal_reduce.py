"""Reduction: order independence, incremental views equal full recomputes."""

from __future__ import annotations

import hashlib
import random

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from aura_core.errors import InvalidEncoding, InvalidInput
from aura_core.identifiers import AuthorityId, ContextId, DeviceId
from aura_core.time_domains import PhysicalTime
from aura_journal import (
    Fact,
    FactMetadata,
    FactType,
    FlowCharge,
    FlowEpochAdvance,
    FoldView,
    Journal,
    JournalNamespace,
    OrderedView,
    default_registry,
    make_view,
    order_time_from_entropy,
    reduce_facts,
)

AUTHORITY = JournalNamespace.authority(AuthorityId(b"\x01" * 16))
CONTEXTS = [ContextId(bytes([0x20 + i]) * 16) for i in range(2)]
PEERS = [AuthorityId(bytes([0x10 + i]) * 16) for i in range(2)]
DEVICE = DeviceId(b"\x04" * 16)
DEVICE_KEY = SigningKey(b"\x05" * 32)


def meta(label: object) -> FactMetadata:
    order = order_time_from_entropy(hashlib.sha256(repr(label).encode()).digest())
    return FactMetadata(order, PhysicalTime(1_700_000_000_000))


@attrs.frozen
class Delta:
    """A signed change to a counter that never drops below zero (order matters)."""

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
    """Order-sensitive: ``x -> max(0, x + amount)`` applied in OrderTime order.

    As a monoid: the map ``x -> max(low, x + shift)`` is closed under
    composition, so a summary is the pair ``(low, shift)``.
    """

    name = "floored_counter"
    fact_types = frozenset({Delta.TYPE_ID})

    def identity(self) -> tuple[int | None, int]:
        return (None, 0)

    def lift(self, fact: Fact, body: Delta) -> tuple[int | None, int]:
        return (0, body.amount)

    def combine(self, first, then):
        low1, shift1 = first
        low2, shift2 = then
        lows = [x for x in (low2, None if low1 is None else low1 + shift2) if x is not None]
        return (max(lows) if lows else None, shift1 + shift2)

    def finish(self, summary) -> int:
        low, shift = summary
        return max(low if low is not None else 0, 0 + shift)

    def encode_state(self, summary) -> list:
        return [summary[0], summary[1]]

    def decode_state(self, value) -> tuple[int | None, int]:
        return (value[0], value[1])


class Transcript:
    """Order-sensitive: the content ids in OrderTime order."""

    name = "transcript"
    fact_types = frozenset({Delta.TYPE_ID})

    def identity(self) -> tuple:
        return ()

    def lift(self, fact, body) -> tuple:
        return (fact.cid,)

    def combine(self, left, right):
        return left + right

    def finish(self, summary):
        return summary


def naive_floored(facts: list[Fact]) -> int:
    value = 0
    for fact in sorted(facts, key=lambda f: f.sort_key):
        value = max(0, value + fact.cached_body.amount)
    return value


def registry():
    reg = default_registry().register(FactType.for_body(Delta, attestations=frozenset({"none"})))
    return reg.register_reducer(FlooredCounter()).register_reducer(Transcript())


def delta(label: object, amount: int) -> Fact:
    return Fact.create(Delta(amount), meta(("delta", label)))


def flow_fact(index: int) -> Fact:
    if index % 5 == 4:
        body = FlowEpochAdvance(CONTEXTS[index % 2], PEERS[index // 2 % 2], 1 + index % 3)
    else:
        body = FlowCharge(CONTEXTS[index % 2], PEERS[index // 2 % 2], 1 + index % 3, 1 + index % 4)
    return Fact.create(body, meta(("flow", index))).signed_by_device(AUTHORITY, DEVICE, DEVICE_KEY)


FLOW_POOL = [flow_fact(i) for i in range(20)]
DELTA_POOL = [
    delta(i, amount) for i, amount in enumerate([3, -5, 2, -1, 7, -9, 4, 1, -2, 6, -3, 5])
]


def entries(facts, reg):
    return [(fact, reg.body(fact)) for fact in facts]


@settings(max_examples=50, deadline=None)
@given(st.permutations(FLOW_POOL))
def test_flow_reduction_is_order_independent(order):
    reg = registry()
    reducer = reg.reducer("flow_budget")
    assert reduce_facts(reducer, entries(order, reg)) == reduce_facts(
        reducer, entries(FLOW_POOL, reg)
    )


@settings(max_examples=50, deadline=None)
@given(st.permutations(DELTA_POOL))
def test_ordered_reduction_is_order_independent_and_follows_order_time(order):
    reg = registry()
    reducer = reg.reducer("floored_counter")
    value = reduce_facts(reducer, entries(order, reg))
    assert value == naive_floored(DELTA_POOL)
    transcript = reduce_facts(reg.reducer("transcript"), entries(order, reg))
    assert list(transcript) == [f.cid for f in sorted(DELTA_POOL, key=lambda f: f.sort_key)]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(range(len(FLOW_POOL) + len(DELTA_POOL))), unique=True))
def test_incremental_views_equal_full_recompute_after_every_insert(indices):
    reg = registry()
    journal = Journal(AUTHORITY, reg)
    for name in ("flow_budget", "floored_counter", "transcript", "commitment_tree"):
        journal.view(name)  # live from the start: every insert updates them
    pool = FLOW_POOL + DELTA_POOL
    for index in indices:
        journal.add(pool[index])
        for name in ("flow_budget", "floored_counter", "transcript"):
            assert journal.state(name) == journal.recompute(name)
        assert journal.view("flow_budget").fact_count == sum(
            1 for i in indices[: indices.index(index) + 1] if i < len(FLOW_POOL)
        )


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(min_value=-20, max_value=20), min_size=1, max_size=120), st.randoms())
def test_ordered_view_with_tiny_chunks_matches_naive_fold(amounts, rnd):
    """Chunk splits and the segment tree keep the exact order-dependent result."""
    reg = registry()
    facts = [delta(("tiny", i, amount), amount) for i, amount in enumerate(amounts)]
    view = OrderedView(FlooredCounter(), chunk_size=2)
    inserted = []
    shuffled = list(facts)
    rnd.shuffle(shuffled)
    for fact in shuffled:
        view.add(fact, reg.body(fact))
        inserted.append(fact)
        assert view.state == naive_floored(inserted)
    assert view.fact_count == len(facts)


def test_ordered_view_at_scale_against_bulk_build():
    reg = registry()
    rnd = random.Random(7)
    facts = [delta(("scale", i), rnd.randint(-10, 10)) for i in range(700)]
    view = make_view(reg.reducer("floored_counter"))
    assert isinstance(view, OrderedView)
    for fact in facts:
        view.add(fact, reg.body(fact))
    assert view.state == reduce_facts(reg.reducer("floored_counter"), entries(facts, reg))
    assert view.state == naive_floored(facts)


def test_views_start_from_a_base_state():
    reg = registry()
    base = FlooredCounter().lift(DELTA_POOL[0], Delta(10))
    view = OrderedView(FlooredCounter(), base)
    view.add(DELTA_POOL[1], reg.body(DELTA_POOL[1]))
    assert view.state == max(0, 10 + reg.body(DELTA_POOL[1]).amount)
    fold = FoldView(reg.reducer("flow_budget"))
    assert fold.fact_count == 0 and len(fold.state) == 0


def test_make_view_refuses_non_reducers():
    with pytest.raises(InvalidInput):
        make_view(object())  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        OrderedView(Transcript(), chunk_size=1)


def test_journal_views_are_cached_and_named():
    journal = Journal(AUTHORITY, registry())
    view = journal.view("flow_budget")
    assert journal.view(journal.registry.reducer("flow_budget")) is view
    with pytest.raises(InvalidInput):
        journal.view("no_such_reducer")


def test_a_reducer_registered_later_follows_new_facts():
    reg = default_registry().register(FactType.for_body(Delta, attestations=frozenset({"none"})))
    journal = Journal(AUTHORITY, reg)
    journal.add(DELTA_POOL[0])
    journal.state("flow_budget")  # routing for existing types is cached by now
    reg.register_reducer(Transcript())
    assert journal.state("transcript") == (DELTA_POOL[0].cid,)
    journal.add(DELTA_POOL[1])
    assert journal.state("transcript") == journal.recompute("transcript")
    assert len(journal.state("transcript")) == 2
