"""The guard chain: what an allowed send commits, and that every refusal writes nothing."""

from __future__ import annotations

import importlib.util
import sys
from contextlib import contextmanager
from pathlib import Path

import anyio
import pytest

from aura_core.errors import (
    AuthorizationDenied,
    InsufficientBudget,
    InvalidInput,
    JournalCommitFailed,
    LeakageBudgetExceeded,
    StorageError,
)
from aura_core.identifiers import ContextId, Epoch
from aura_effects import SqliteStorage
from aura_journal.facts import Fact
from aura_journal.flow_budget import FlowCharge
from aura_journal.mpst import Annotations
from aura_journal.namespace import JournalNamespace
from aura_protocol.guards import (
    DEFAULT_FLOW_COST,
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


def _world(**kwargs):
    world = W.GuardWorld(["alice", "bob", "carol"], **kwargs)
    world.context(CTX, ["alice", "bob"])
    return world


def _request(world, **overrides) -> SendRequest:
    fields = {
        "context": CTX,
        "peer": world["bob"].authority,
        "address": "mem://bob",
        "payload": b"hello",
        "capability": W.SEND,
        "cost": 5,
    }
    fields.update(overrides)
    return SendRequest(**fields)


def test_an_allowed_send_commits_charge_receipt_facts_and_outbox_row_together() -> None:
    world = _world()
    alice, bob = world["alice"], world["bob"]
    note = W.note_fact(CTX, "agenda")
    committed = alice.sender.commit(_request(world, facts=(note,), fact_types=("test.note",)))
    with alice.storage.transaction(readonly=True) as txn:
        assert read_flow_row(txn, CTX, bob.authority) == (5, Epoch(0))
        charges = txn.scan_facts(journal_name(JournalNamespace.authority(alice.authority)))
        context_facts = txn.scan_facts(journal_name(JournalNamespace.context(CTX)))
        (entry,) = txn.pending_outbox()
    (charge,) = [Fact.decode(s.body) for s in charges]
    charge.verify_attestation(JournalNamespace.authority(alice.authority))
    assert world["alice"].stack.registry.body(charge) == FlowCharge(CTX, bob.authority, 0, 5)
    ids = {s.fact_id for s in context_facts}
    assert ids == {note.cid.raw, receipt_fact(committed.receipt).cid.raw}
    envelope = Envelope.decode(entry.payload)
    assert envelope == committed.envelope
    assert entry.destination == "mem://bob"
    assert envelope.receipts == (committed.receipt,)
    committed.receipt.verify_signature(world.rosters[CTX].member(alice.authority).signing_key)
    assert (committed.receipt.cost, committed.receipt.epoch) == (5, Epoch(0))


def test_the_transport_sees_only_committed_envelopes_and_the_receiver_records_them_once() -> None:
    world = _world()
    alice, bob = world["alice"], world["bob"]
    note = W.note_fact(CTX, "minutes")

    def committed_before_send(address: str, envelope: bytes) -> None:
        receipt = Envelope.decode(envelope).last_receipt
        with alice.storage.transaction(readonly=True) as txn:
            stored = txn.scan_facts(journal_name(JournalNamespace.context(CTX)))
            assert receipt_fact(receipt).cid.raw in {s.fact_id for s in stored}
            assert envelope in [e.payload for e in txn.pending_outbox()]

    transport = W.RecordingTransport(committed_before_send)
    alice.sender.commit(_request(world, facts=(note,), fact_types=("test.note",)))
    assert anyio.run(alice.sender.flush, transport) == 1
    assert alice.sender.pending() == []
    ((address, data),) = transport.sent
    assert address == "mem://bob"
    first = bob.receiver.accept(data, context=CTX)
    again = bob.receiver.accept(data, context=CTX)
    assert (first.duplicate, again.duplicate) == (False, True)
    assert first.payload == b"hello" and first.facts == (note,)
    assert note in world.context_facts("bob", CTX)
    assert len(world.context_facts("bob", CTX)) == 2  # the note and the receipt, once each


def _setup_failure(world, case: str) -> SendRequest:
    if case == "no_token":
        world.context(CTX, ["alice", "bob"], grants={"alice": ()})
        return _request(world)
    if case == "capability_not_granted":
        return _request(world, capability=W.ROTATE)
    if case == "no_token_even_without_capability":
        world.context(CTX, ["alice", "bob"], grants={"alice": ()})
        return _request(world, capability=None)
    if case == "budget_exhausted":
        world["alice"].sender.commit(_request(world, cost=98))
        return _request(world, cost=3)
    if case == "zero_limit":
        world.limits = FlowLimits({W.SEND: 0})
        for name in ("alice", "bob"):
            world.restart(name, world[name].storage)
        return _request(world, cost=0)
    if case == "capability_without_budget":
        world.limits = FlowLimits({W.SEND: 100})  # rotate carries no flow budget
        world.restart("alice", world["alice"].storage)
        world.context(CTX, ["alice", "bob"], grants={"alice": (W.ROTATE,)})
        return _request(world, capability=W.ROTATE)
    if case == "annotated_fact_missing":
        return _request(world, fact_types=("test.note",))
    if case == "unannotated_fact":
        return _request(world, facts=(W.note_fact(CTX, "x"),), fact_types=())
    if case == "fact_of_another_context":
        return _request(world, facts=(W.note_fact(OTHER, "x"),), fact_types=("test.note",))
    if case == "leak_without_budget":
        return _request(world, leakage=((ObserverClass.NEIGHBOR, 1),))
    if case == "leak_over_budget":
        world.context(CTX, ["alice", "bob"], leakage=LeakagePolicy({ObserverClass.EXTERNAL: 2}))
        world["alice"].sender.commit(_request(world, leakage=((ObserverClass.EXTERNAL, 2),)))
        return _request(world, leakage=((ObserverClass.EXTERNAL, 1),))
    if case == "peer_outside_context":
        return _request(world, peer=world["carol"].authority, address="mem://carol")
    if case == "sender_outside_context":
        return _request(world, context=OTHER)
    raise AssertionError(case)


FAILURES = {
    "no_token": AuthorizationDenied,
    "capability_not_granted": AuthorizationDenied,
    "no_token_even_without_capability": AuthorizationDenied,
    "budget_exhausted": InsufficientBudget,
    "zero_limit": AuthorizationDenied,
    "capability_without_budget": AuthorizationDenied,
    "annotated_fact_missing": JournalCommitFailed,
    "unannotated_fact": JournalCommitFailed,
    "fact_of_another_context": JournalCommitFailed,
    "leak_without_budget": LeakageBudgetExceeded,
    "leak_over_budget": LeakageBudgetExceeded,
    "peer_outside_context": AuthorizationDenied,
    "sender_outside_context": AuthorizationDenied,
}


@pytest.mark.parametrize("case", sorted(FAILURES))
def test_every_refusal_charges_nothing_writes_nothing_and_sends_nothing(case: str) -> None:
    world = _world()
    request = _setup_failure(world, case)
    alice = world["alice"]
    anyio.run(alice.sender.flush, W.RecordingTransport())  # what came before is gone
    before = world.dump("alice")
    with pytest.raises(FAILURES[case]) as caught:
        alice.sender.commit(request)
    assert world.dump("alice") == before
    transport = W.RecordingTransport()
    assert anyio.run(alice.sender.flush, transport) == 0 and transport.sent == []
    assert "secret" not in str(caught.value).lower()


class _FailingOutbox:
    """Storage whose outbox write fails, as a full disk would."""

    def __init__(self, inner) -> None:
        self.inner = inner

    @contextmanager
    def transaction(self, *, readonly: bool = False):
        with self.inner.transaction(readonly=readonly) as txn:
            yield _FailingTxn(txn)

    def close(self) -> None:
        self.inner.close()


class _FailingTxn:
    def __init__(self, txn) -> None:
        self._txn = txn

    def __getattr__(self, name):
        return getattr(self._txn, name)

    def enqueue_outbox(self, destination: str, payload: bytes) -> int:
        raise StorageError("disk full")


def test_a_storage_failure_while_committing_is_journal_commit_failed_and_rolls_back() -> None:
    world = _world()
    storage = world["alice"].storage
    world.restart("alice", _FailingOutbox(storage))
    before = world.dump("alice")
    with pytest.raises(JournalCommitFailed, match="disk full"):
        world["alice"].sender.commit(
            _request(world, facts=(W.note_fact(CTX, "n"),), fact_types=None)
        )
    assert world.dump("alice") == before


def test_a_new_epoch_resets_what_was_spent_and_binds_receipts_to_it() -> None:
    world = _world()
    alice = world["alice"]
    alice.sender.commit(_request(world, cost=100))
    with pytest.raises(InsufficientBudget):
        alice.sender.commit(_request(world, cost=1))
    world.context(CTX, ["alice", "bob"], epoch=Epoch(1))
    committed = world["alice"].sender.commit(_request(world, cost=60))
    assert committed.receipt.epoch == Epoch(1)
    with alice.storage.transaction(readonly=True) as txn:
        assert read_flow_row(txn, CTX, world["bob"].authority) == (60, Epoch(1))


def test_a_ledger_ahead_of_this_nodes_epoch_refuses_until_it_catches_up() -> None:
    world = _world()
    world.context(CTX, ["alice", "bob"], epoch=Epoch(2))
    world["alice"].sender.commit(_request(world))
    world.context(CTX, ["alice", "bob"], epoch=Epoch(1))  # a stale view of the context
    with pytest.raises(InsufficientBudget, match="ahead"):
        world["alice"].sender.commit(_request(world))


def test_a_zero_cost_send_still_needs_a_budget_and_gets_a_receipt() -> None:
    world = _world()
    committed = world["alice"].sender.commit(_request(world, cost=0))
    assert committed.receipt.cost == 0
    with world["alice"].storage.transaction(readonly=True) as txn:
        assert read_flow_row(txn, CTX, world["bob"].authority) == (0, Epoch(0))


def test_annotations_fill_the_request() -> None:
    world = _world()
    annotations = Annotations(
        guard_capability=W.SEND, flow_cost=None, journal_facts=("test.note",), leak=("neighbor",)
    )
    request = SendRequest.from_annotations(
        context=CTX,
        peer=world["bob"].authority,
        address="mem://bob",
        payload=b"",
        annotations=annotations,
        facts=(W.note_fact(CTX, "a"),),
    )
    assert request.cost == DEFAULT_FLOW_COST
    assert request.capability == W.SEND
    assert request.fact_types == ("test.note",)
    assert request.leakage == ((ObserverClass.NEIGHBOR, 1),)
    with pytest.raises(InvalidInput, match="observer class"):
        ObserverClass.parse("everyone")


def test_leakage_is_charged_per_observer_class_within_the_policy_epoch() -> None:
    world = _world()
    world.context(
        CTX, ["alice", "bob"], leakage=LeakagePolicy({ObserverClass.NEIGHBOR: 3}, Epoch(0))
    )
    alice = world["alice"]
    for _ in range(3):
        alice.sender.commit(_request(world, cost=1, leakage=((ObserverClass.NEIGHBOR, 1),)))
    with pytest.raises(LeakageBudgetExceeded, match="neighbor"):
        alice.sender.commit(_request(world, cost=1, leakage=((ObserverClass.NEIGHBOR, 1),)))
    world.context(
        CTX, ["alice", "bob"], leakage=LeakagePolicy({ObserverClass.NEIGHBOR: 3}, Epoch(1))
    )
    world["alice"].sender.commit(_request(world, cost=1, leakage=((ObserverClass.NEIGHBOR, 1),)))


def test_the_flow_rows_equal_a_rebuild_from_the_charge_facts() -> None:
    world = _world()
    alice = world["alice"]
    world.context(CTX, ["alice", "bob", "carol"])
    for peer, cost in (("bob", 3), ("carol", 4), ("bob", 5)):
        alice.sender.commit(
            _request(world, peer=world[peer].authority, address=f"mem://{peer}", cost=cost)
        )
    with alice.storage.transaction() as txn:
        rows = tuple(txn.scan("guard_flow"))
        ledger = rebuild_flow_rows(txn, alice.authority, alice.stack.registry)
        assert tuple(txn.scan("guard_flow")) == rows
    assert ledger.spent(CTX, world["bob"].authority) == 8
    assert ledger.spent(CTX, world["carol"].authority) == 4


class _Crash(BaseException):
    """The process dies (not an error any code would catch)."""


def test_a_crash_between_commit_and_send_loses_nothing_and_delivers_once(tmp_path: Path) -> None:
    path = tmp_path / "alice.db"
    storage = SqliteStorage(path, secrets_key=bytes(32))
    world = W.GuardWorld(["alice", "bob"], storages={"alice": storage})
    world.context(CTX, ["alice", "bob"])
    note = W.note_fact(CTX, "survives")
    world["alice"].sender.commit(_request(world, facts=(note,), fact_types=("test.note",)))
    storage.close()  # crash: committed, never handed to the transport

    storage = SqliteStorage(path, secrets_key=bytes(32))
    alice = world.restart("alice", storage)
    first_attempt = W.RecordingTransport()

    def die_after_send(address: str, envelope: bytes) -> None:
        first_attempt.sent.append((address, envelope))
        raise _Crash

    with pytest.raises(_Crash):
        anyio.run(alice.sender.flush, W.RecordingTransport(die_after_send))
    storage.close()  # crash again: sent, but the outbox row was never acknowledged

    storage = SqliteStorage(path, secrets_key=bytes(32))
    alice = world.restart("alice", storage)
    second_attempt = W.RecordingTransport()
    assert anyio.run(alice.sender.flush, second_attempt) == 1
    assert alice.sender.pending() == []
    bob = world["bob"]
    deliveries = [
        bob.receiver.accept(data, context=CTX)
        for _, data in first_attempt.sent + second_attempt.sent
    ]
    assert [d.duplicate for d in deliveries] == [False, True]
    assert [f for f in world.context_facts("bob", CTX) if f.type_id == "test.note"] == [note]
    storage.close()


def test_the_public_api_is_exported() -> None:
    import aura_protocol
    from aura_protocol import channel, choreo, guards

    for module in (guards, channel, choreo):
        assert module.__all__ == sorted(module.__all__, key=lambda n: (not n.isupper(), n))
        for name in module.__all__:
            assert getattr(module, name) is not None, name
    assert {"guards", "channel", "choreo"} <= set(aura_protocol.__all__)
