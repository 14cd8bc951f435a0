"""The guard chain: Capability -> FlowBudget -> JournalCoupling -> Leakage -> transport.

:meth:`GuardChain.evaluate` is pure: a request and a snapshot in, a
:class:`GuardDecision` out. Each guard runs only if the ones before it
passed; the first refusal ends the evaluation and the decision carries no
commands at all, so a refused send charges nothing, writes nothing and emits
nothing. An allowed decision ends with the command that hands the envelope to
the transport (through the outbox).
"""

from __future__ import annotations

from aura_core.errors import (
    AuthorizationDenied,
    InsufficientBudget,
    JournalCommitFailed,
    LeakageBudgetExceeded,
)
from aura_protocol.guards.capability_guard import CapabilityGuard
from aura_protocol.guards.flow_budget_guard import FlowBudgetGuard
from aura_protocol.guards.guard_commands import EnqueueEnvelope, GuardCommand, GuardDecision
from aura_protocol.guards.journal_coupling_guard import JournalCouplingGuard
from aura_protocol.guards.leakage_guard import LeakageTrackingGuard
from aura_protocol.guards.send_request import GuardSnapshot, SendRequest

__all__ = ["GUARD_DENIALS", "GuardChain"]

GUARD_DENIALS = (
    AuthorizationDenied,
    InsufficientBudget,
    JournalCommitFailed,
    LeakageBudgetExceeded,
)
"""The errors a guard refuses with."""


class GuardChain:
    """The four guards in their fixed order."""

    def __init__(
        self,
        capability: CapabilityGuard,
        flow_budget: FlowBudgetGuard,
        journal_coupling: JournalCouplingGuard,
        leakage: LeakageTrackingGuard | None = None,
    ) -> None:
        self.guards = (
            capability,
            flow_budget,
            journal_coupling,
            leakage if leakage is not None else LeakageTrackingGuard(),
        )

    def evaluate(self, request: SendRequest, snapshot: GuardSnapshot) -> GuardDecision:
        commands: list[GuardCommand] = []
        for guard in self.guards:
            try:
                commands.extend(guard.check(request, snapshot))
            except GUARD_DENIALS as exc:
                return GuardDecision((), exc, guard.name)
        commands.append(
            EnqueueEnvelope(
                request.address,
                request.context,
                request.origin if request.origin is not None else snapshot.sender,
                request.destination if request.destination is not None else request.peer,
                request.payload,
                request.facts,
                request.prior_receipts,
            )
        )
        return GuardDecision(tuple(commands))
