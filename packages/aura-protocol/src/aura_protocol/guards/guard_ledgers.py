"""Durable rows of the guard chain's ledgers, kept beside the facts they summarise.

The flow ledger row of (context, peer) and the leakage row of (context,
observer class) are ``[epoch, spent]`` in canonical DAG-CBOR. They are views:
the flow row is rewritten in the same transaction as the ``flow.charge`` fact
it summarises, and :func:`rebuild_flow_rows` recomputes every row of an
authority from its journal's flow facts (after facts from the authority's
other devices were merged, or to check the view). Facts live in journals
named after their namespace (``authority-<uuid>``, ``context-<uuid>``).
"""

from __future__ import annotations

from aura_core import dag_cbor
from aura_core.canonical_fields import U64_MAX
from aura_core.effects import StorageTransaction
from aura_core.errors import AuraError, StorageError
from aura_core.identifiers import AuthorityId, ContextId, Epoch
from aura_journal.fact_registry import FactRegistry
from aura_journal.facts import Fact
from aura_journal.flow_budget import FLOW_BUDGET, FlowCharge, FlowEpochAdvance, FlowLedger
from aura_journal.namespace import JournalNamespace
from aura_protocol.guards.leakage_budget import ObserverClass

__all__ = [
    "FLOW_TABLE",
    "LEAKAGE_TABLE",
    "journal_name",
    "read_flow_row",
    "read_leakage_row",
    "rebuild_flow_rows",
    "write_flow_row",
    "write_leakage_row",
]

FLOW_TABLE = "guard_flow"
LEAKAGE_TABLE = "guard_leakage"
_FLOW_TYPES = frozenset({FlowCharge.TYPE_ID, FlowEpochAdvance.TYPE_ID})


def journal_name(namespace: JournalNamespace) -> str:
    """The storage journal of a namespace: its printed id."""
    return str(namespace)


def _decode_row(raw: bytes, what: str) -> tuple[int, Epoch]:
    try:
        value = dag_cbor.decode(raw, allow_floats=False)
    except AuraError:
        value = None
    if (
        type(value) is not list
        or len(value) != 2
        or not all(type(v) is int and 0 <= v <= U64_MAX for v in value)
    ):
        raise StorageError(f"the stored {what} row is corrupted")
    return value[1], Epoch(value[0])


def _encode_row(epoch: Epoch, spent: int) -> bytes:
    return dag_cbor.encode([epoch.value, spent])


def read_flow_row(
    txn: StorageTransaction, context: ContextId, peer: AuthorityId
) -> tuple[int, Epoch]:
    """``(spent, epoch)`` of the sender's budget toward ``peer`` in ``context``."""
    raw = txn.get(FLOW_TABLE, context.raw + peer.raw)
    return (0, Epoch(0)) if raw is None else _decode_row(raw, "flow ledger")


def write_flow_row(
    txn: StorageTransaction, context: ContextId, peer: AuthorityId, epoch: Epoch, spent: int
) -> None:
    txn.put(FLOW_TABLE, context.raw + peer.raw, _encode_row(epoch, spent))


def read_leakage_row(
    txn: StorageTransaction, context: ContextId, observer: ObserverClass
) -> tuple[int, Epoch]:
    raw = txn.get(LEAKAGE_TABLE, context.raw + observer.value.encode())
    return (0, Epoch(0)) if raw is None else _decode_row(raw, "leakage ledger")


def write_leakage_row(
    txn: StorageTransaction, context: ContextId, observer: ObserverClass, epoch: Epoch, spent: int
) -> None:
    txn.put(LEAKAGE_TABLE, context.raw + observer.value.encode(), _encode_row(epoch, spent))


def rebuild_flow_rows(
    txn: StorageTransaction, authority: AuthorityId, registry: FactRegistry
) -> FlowLedger:
    """Recompute every flow row of ``authority`` from its journal; returns the ledger."""
    ledger = FLOW_BUDGET.initial()
    name = journal_name(JournalNamespace.authority(authority))
    for stored in txn.scan_facts(name):
        fact = Fact.decode(stored.body)
        if fact.type_id in _FLOW_TYPES:
            FLOW_BUDGET.apply(ledger, fact, registry.body(fact))
    for context, peer, epoch, spent in ledger.items():
        write_flow_row(txn, context, peer, Epoch(epoch), spent)
    return ledger
