"""Second guard: charge the flow budget of (context, peer) and issue the hop's receipt."""

from __future__ import annotations

from aura_core.errors import AuthorizationDenied, InsufficientBudget, InvalidInput
from aura_core.identifiers import Hash32
from aura_journal.flow_budget import FlowBudget
from aura_protocol.guards.flow_limits import FlowLimits
from aura_protocol.guards.guard_commands import ChargeFlowBudget, GuardCommand, IssueReceipt
from aura_protocol.guards.receipt import Receipt
from aura_protocol.guards.send_request import GuardSnapshot, SendRequest

__all__ = ["FlowBudgetGuard"]


class FlowBudgetGuard:
    """Derives the limit from the sender's capabilities, charges the cost, issues a receipt.

    A missing or zero limit denies (``AuthorizationDenied``); too little
    headroom is ``InsufficientBudget`` (transient: wait for the next epoch).
    A send costing 0 charges nothing but still needs a budget and a receipt.
    """

    name = "flow_budget"

    def __init__(self, limits: FlowLimits) -> None:
        if not isinstance(limits, FlowLimits):
            raise InvalidInput("FlowBudgetGuard needs FlowLimits")
        self.limits = limits

    def check(self, request: SendRequest, snapshot: GuardSnapshot) -> tuple[GuardCommand, ...]:
        if snapshot.flow_epoch > snapshot.epoch:
            raise InsufficientBudget(
                f"the flow ledger of {request.context} is already at {snapshot.flow_epoch}, "
                f"ahead of this node's {snapshot.epoch}; refresh the context state"
            )
        limit = self.limits.limit_for(snapshot.token, request.context)
        budget = FlowBudget(limit, snapshot.flow_spent, snapshot.flow_epoch).at_epoch(
            snapshot.epoch
        )
        commands: list[GuardCommand] = []
        if request.cost == 0:
            if not budget.limit:
                raise AuthorizationDenied(
                    f"no flow budget for {request.context}: the sender's capabilities give no "
                    "limit (a missing or zero limit denies)"
                )
        else:
            after = budget.charge(request.cost)
            commands.append(
                ChargeFlowBudget(
                    request.context, request.peer, after.epoch, request.cost, after.spent
                )
            )
        prev = request.prior_receipts[-1].link_hash if request.prior_receipts else Hash32.zero()
        receipt = Receipt(
            request.context,
            snapshot.sender,
            request.peer,
            budget.epoch,
            request.cost,
            snapshot.nonce,
            prev,
        )
        commands.append(IssueReceipt(receipt))
        return tuple(commands)
