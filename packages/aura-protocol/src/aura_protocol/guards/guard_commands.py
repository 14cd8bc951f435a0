"""The commands a guard-chain decision consists of.

Guards never write: each returns commands, and the interpreter
(:class:`~aura_protocol.guards.GuardedSender`) applies all of a decision's
commands in one storage transaction, so a send is either fully committed
(charge, receipt, facts, leakage, outbox row) or not at all.
"""

from __future__ import annotations

import attrs

from aura_core.errors import AuraError
from aura_core.identifiers import AuthorityId, ContextId, Epoch
from aura_journal.facts import Fact
from aura_journal.namespace import JournalNamespace
from aura_protocol.guards.leakage_budget import ObserverClass
from aura_protocol.guards.receipt import Receipt

__all__ = [
    "ChargeFlowBudget",
    "CommitFacts",
    "EnqueueEnvelope",
    "GuardCommand",
    "GuardDecision",
    "IssueReceipt",
    "RecordLeakage",
]


@attrs.frozen
class ChargeFlowBudget:
    """Record a ``flow.charge`` fact and move the (context, peer) ledger to ``spent``."""

    context: ContextId
    peer: AuthorityId
    epoch: Epoch
    cost: int
    spent: int


@attrs.frozen
class IssueReceipt:
    """Sign ``receipt`` with the sender's context key and record it in the context journal."""

    receipt: Receipt


@attrs.frozen
class CommitFacts:
    """Append already-validated facts to a journal."""

    namespace: JournalNamespace
    facts: tuple[Fact, ...]


@attrs.frozen
class RecordLeakage:
    """Move the (context, observer class) leakage ledger to ``spent`` in ``epoch``."""

    context: ContextId
    observer: ObserverClass
    epoch: Epoch
    amount: int
    spent: int


@attrs.frozen
class EnqueueEnvelope:
    """Put the envelope (payload, coupled facts, receipt chain) in the outbox for ``address``."""

    address: str
    context: ContextId
    origin: AuthorityId
    destination: AuthorityId
    payload: bytes
    facts: tuple[Fact, ...]
    prior_receipts: tuple[Receipt, ...]


GuardCommand = ChargeFlowBudget | IssueReceipt | CommitFacts | RecordLeakage | EnqueueEnvelope


@attrs.frozen
class GuardDecision:
    """Either the commands to apply, or the refusal (and the guard that refused)."""

    commands: tuple[GuardCommand, ...] = ()
    denial: AuraError | None = attrs.field(default=None, eq=False)
    denied_by: str | None = None

    @property
    def allowed(self) -> bool:
        return self.denial is None
