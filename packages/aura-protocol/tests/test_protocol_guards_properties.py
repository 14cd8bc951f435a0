"""Stateful property: no transport send without a committed charge, refusals write nothing.

A random mix of sends (allowed and refused for every reason), outbox
flushes, crash-restarts and epoch changes runs against the guard chain. The
transport checks, at the moment it is handed an envelope, that the receipt,
the charge and the outbox row are already committed; the receiver records
every envelope it is given; the invariants compare ledgers with a rebuild
from facts and bound spending by the limit.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from aura_core.errors import ValidationError
from aura_core.identifiers import ContextId, Epoch
from aura_journal.facts import Fact
from aura_journal.flow_budget import FlowCharge
from aura_journal.namespace import JournalNamespace
from aura_protocol.guards import (
    GUARD_DENIALS,
    Envelope,
    FlowLimits,
    LeakagePolicy,
    ObserverClass,
    SendRequest,
    journal_name,
    read_flow_row,
    rebuild_flow_rows,
    receipt_fact,
)


def _load_world():
    name = "aura_protocol_test_guard_world"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("protocol_guard_world.py")
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


W = _load_world()
CTX = ContextId(bytes(range(16)))
OTHER = ContextId(bytes(range(1, 17)))
LIMIT = 40


class GuardChainMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.world = W.GuardWorld(["alice", "bob", "carol"], limits=FlowLimits({W.SEND: LIMIT}))
        self.epoch = 0
        self._join()
        self.observed: list[bytes] = []
        self.delivered_receipts: set[bytes] = set()
        self.committed_receipts: set[bytes] = set()
        self.expired_receipts: set[bytes] = set()
        self.counter = 0

    def _join(self) -> None:
        self.world.context(
            CTX,
            ["alice", "bob"],
            epoch=Epoch(self.epoch),
            leakage=LeakagePolicy({ObserverClass.NEIGHBOR: 5}, Epoch(self.epoch)),
        )

    @property
    def alice(self):
        return self.world["alice"]

    def _committed_before_send(self, address: str, data: bytes) -> None:
        envelope = Envelope.decode(data)
        receipt = envelope.last_receipt
        with self.alice.storage.transaction(readonly=True) as txn:
            context_ids = {
                s.fact_id for s in txn.scan_facts(journal_name(JournalNamespace.context(CTX)))
            }
            pending = [e.payload for e in txn.pending_outbox()]
            charges = [
                self.alice.stack.registry.body(Fact.decode(s.body))
                for s in txn.scan_facts(
                    journal_name(JournalNamespace.authority(self.alice.authority))
                )
            ]
        assert receipt_fact(receipt).cid.raw in context_ids, "sent before the receipt committed"
        assert data in pending, "sent without a committed outbox row"
        if receipt.cost:
            assert any(type(c) is FlowCharge and c.epoch == receipt.epoch.value for c in charges), (
                "sent before its charge committed"
            )
        for raw in envelope.facts:
            assert Fact.decode(raw).cid.raw in context_ids, "sent before its facts committed"
        self.observed.append(data)

    @rule(
        cost=st.integers(0, 25),
        capability=st.sampled_from(["send", "rotate", None]),
        leak=st.integers(0, 3),
        undefined_leak=st.booleans(),
        fact=st.sampled_from(["none", "valid", "foreign", "missing"]),
        peer_outside=st.booleans(),
    )
    def send(self, cost, capability, leak, undefined_leak, fact, peer_outside) -> None:
        self.counter += 1
        facts, fact_types = (), None
        if fact == "valid":
            facts, fact_types = (
                (W.note_fact(CTX, f"n{self.counter}", self.counter),),
                ("test.note",),
            )
        elif fact == "foreign":
            facts = (W.note_fact(OTHER, f"n{self.counter}", self.counter),)
        elif fact == "missing":
            fact_types = ("test.note",)
        leakage = ()
        if leak:
            observer = ObserverClass.EXTERNAL if undefined_leak else ObserverClass.NEIGHBOR
            leakage = ((observer, leak),)
        request = SendRequest(
            context=CTX,
            peer=self.world["carol" if peer_outside else "bob"].authority,
            address="mem://bob",
            payload=b"m%d" % self.counter,
            capability={"send": W.SEND, "rotate": W.ROTATE, None: None}[capability],
            cost=cost,
            facts=facts,
            fact_types=fact_types,
            leakage=leakage,
        )
        before = self.world.dump("alice")
        try:
            committed = self.alice.sender.commit(request)
        except GUARD_DENIALS:
            assert self.world.dump("alice") == before, "a refused send changed storage"
            return
        assert fact in ("none", "valid") and capability != "rotate" and not peer_outside
        self.committed_receipts.add(receipt_fact(committed.receipt).cid.raw)

    @rule(crash_after=st.integers(0, 3))
    def flush(self, crash_after) -> None:
        handed = 0

        def deliver(address: str, data: bytes) -> None:
            nonlocal handed
            if handed == crash_after:
                raise _Crash
            handed += 1
            self._committed_before_send(address, data)
            receipt = Envelope.decode(data).last_receipt
            if receipt.epoch < Epoch(self.epoch):  # committed before the epoch moved on
                with pytest.raises(ValidationError, match="stale"):
                    self.world["bob"].receiver.accept(data, context=CTX)
                self.expired_receipts.add(receipt_fact(receipt).cid.raw)
                return
            delivery = self.world["bob"].receiver.accept(data, context=CTX)
            key = receipt_fact(delivery.envelope.last_receipt).cid.raw
            assert delivery.duplicate == (key in self.delivered_receipts)
            self.delivered_receipts.add(key)

        try:
            self.alice.sender.drain(deliver)
        except _Crash:
            self.world.restart("alice", self.alice.storage)

    @rule()
    def crash_and_restart(self) -> None:
        self.world.restart("alice", self.alice.storage)

    @rule()
    def new_epoch(self) -> None:
        self.epoch += 1
        self._join()

    @invariant()
    def ledgers_match_the_facts_and_stay_within_the_limit(self) -> None:
        bob = self.world["bob"].authority
        with self.alice.storage.transaction() as txn:
            rows = tuple(txn.scan("guard_flow"))
            ledger = rebuild_flow_rows(txn, self.alice.authority, self.alice.stack.registry)
            assert tuple(txn.scan("guard_flow")) == rows
            spent, _epoch = read_flow_row(txn, CTX, bob)
        assert spent <= LIMIT and ledger.spent(CTX, bob) == spent

    @invariant()
    def everything_delivered_was_committed(self) -> None:
        assert self.delivered_receipts <= self.committed_receipts

    def teardown(self) -> None:
        # After a final flush every committed send has reached the receiver exactly once
        # (or was refused there as stale, when the context's epoch moved on meanwhile).
        self.flush(crash_after=10_000)
        assert self.delivered_receipts | self.expired_receipts == self.committed_receipts


class _Crash(BaseException):
    pass


GuardChainMachine.TestCase.settings = settings(
    max_examples=15, stateful_step_count=15, deadline=None
)
test_guard_chain_state_machine = GuardChainMachine.TestCase
