"""Flow budgets: the merge lattice, charging and denial, epochs, and the ledger from facts."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from aura_core.errors import AuthorizationDenied, InsufficientBudget, InvalidInput
from aura_core.identifiers import AuthorityId, ContextId, DeviceId, Epoch
from aura_core.semilattice import check_join_laws
from aura_core.time_domains import PhysicalTime
from aura_journal import (
    Fact,
    FactMetadata,
    FlowBudget,
    FlowCharge,
    FlowEpochAdvance,
    FlowLedger,
    Journal,
    JournalNamespace,
    default_registry,
    order_time_from_entropy,
    reduce_facts,
)

AUTHORITY = JournalNamespace.authority(AuthorityId(b"\x01" * 16))
CONTEXT = ContextId(b"\x03" * 16)
PEER = AuthorityId(b"\x06" * 16)
DEVICES = [(DeviceId(bytes([0x40 + i]) * 16), SigningKey(bytes([0x50 + i]) * 32)) for i in range(2)]

budgets = st.builds(
    FlowBudget,
    st.one_of(st.none(), st.integers(0, 1000)),
    st.integers(0, 1000),
    st.integers(0, 5).map(Epoch),
)


@settings(max_examples=200, deadline=None)
@given(budgets, budgets, budgets)
def test_flow_budget_merge_is_a_semilattice(a, b, c):
    check_join_laws(a, b, c)


@settings(max_examples=200, deadline=None)
@given(budgets, budgets)
def test_merge_takes_min_limit_and_the_later_spending(a, b):
    joined = a.join(b)
    limits = [x.limit for x in (a, b)]
    assert joined.limit == (None if None in limits else min(limits))
    assert joined.epoch == max(a.epoch, b.epoch)
    same_epoch = [x.spent for x in (a, b) if x.epoch == joined.epoch]
    assert joined.spent == max(same_epoch)  # an older epoch's spending does not carry over


def test_charging_and_denial():
    budget = FlowBudget(10, 0, Epoch(1))
    budget = budget.charge(4).charge(6)
    assert budget.spent == 10 and budget.headroom == 0
    with pytest.raises(InsufficientBudget) as info:
        budget.charge(1)
    assert info.value.kind.value == "transient"
    for limit in (None, 0):
        with pytest.raises(AuthorizationDenied, match="missing or zero limit"):
            FlowBudget(limit).charge(1)
        assert not FlowBudget(limit).can_charge(1)
    with pytest.raises(InvalidInput):
        budget.charge(0)
    with pytest.raises(InvalidInput):
        FlowBudget(-1)
    fresh = budget.at_epoch(Epoch(2))
    assert fresh.spent == 0 and fresh.epoch == Epoch(2) and fresh.can_charge(10)
    assert budget.at_epoch(Epoch(1)) is budget


def meta(label: object) -> FactMetadata:
    order = order_time_from_entropy(hashlib.sha256(repr(label).encode()).digest())
    return FactMetadata(order, PhysicalTime(1_700_000_000_000))


def signed(body, label, device: int = 0) -> Fact:
    device_id, key = DEVICES[device]
    return Fact.create(body, meta(label)).signed_by_device(AUTHORITY, device_id, key)


def test_ledger_sums_charges_per_epoch_and_resets_on_a_new_epoch():
    journal = Journal(AUTHORITY, default_registry())
    for i, cost in enumerate([3, 4, 5]):
        journal.add(signed(FlowCharge(CONTEXT, PEER, 1, cost), ("charge", i), device=i % 2))
    ledger = journal.state("flow_budget")
    assert ledger.spent(CONTEXT, PEER) == 12  # concurrent charges by two devices all count
    assert ledger.budget(CONTEXT, PEER, 20) == FlowBudget(20, 12, Epoch(1))
    journal.add(signed(FlowEpochAdvance(CONTEXT, PEER, 2), "epoch2"))
    assert journal.state("flow_budget").budget(CONTEXT, PEER, 20) == FlowBudget(20, 0, Epoch(2))
    journal.add(signed(FlowCharge(CONTEXT, PEER, 1, 9), "late old-epoch charge"))
    journal.add(signed(FlowCharge(CONTEXT, PEER, 2, 2), "new charge"))
    budget = journal.state("flow_budget").budget(CONTEXT, PEER, 20)
    assert budget == FlowBudget(20, 2, Epoch(2))
    assert journal.state("flow_budget").budget(CONTEXT, PEER, None).can_charge(1) is False
    unknown = journal.state("flow_budget").budget(ContextId(b"\x09" * 16), PEER, 5)
    assert unknown == FlowBudget(5, 0, Epoch(0))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.booleans(), st.integers(0, 3), st.integers(1, 9)), min_size=1, max_size=12
    ),
    st.randoms(),
)
def test_ledger_is_order_independent_and_matches_a_model(events, rnd):
    registry = default_registry()
    facts = []
    for index, (is_epoch, epoch, cost) in enumerate(events):
        body = (
            FlowEpochAdvance(CONTEXT, PEER, epoch)
            if is_epoch
            else FlowCharge(CONTEXT, PEER, epoch, cost)
        )
        facts.append(signed(body, ("event", index)))
    top = max(epoch for _, epoch, _ in events)
    model_spent = sum(cost for is_epoch, epoch, cost in events if not is_epoch and epoch == top)
    shuffled = list(facts)
    rnd.shuffle(shuffled)
    reducer = registry.reducer("flow_budget")
    ledger = reduce_facts(reducer, [(f, registry.body(f)) for f in shuffled])
    assert ledger.epoch(CONTEXT, PEER) == Epoch(top)
    assert ledger.spent(CONTEXT, PEER) == model_spent
    again = reducer.decode_state(reducer.encode_state(ledger))
    assert again == ledger and isinstance(again, FlowLedger)


def test_flow_fact_values_check_their_fields():
    with pytest.raises(InvalidInput):
        FlowCharge(CONTEXT, PEER, 1, 0)
    with pytest.raises(InvalidInput):
        FlowCharge(CONTEXT, PEER, -1, 1)
    with pytest.raises(InvalidInput):
        FlowEpochAdvance(PEER, PEER, 1)  # type: ignore[arg-type]
