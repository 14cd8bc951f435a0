"""Fourth guard: account for what each observer class learns from the send."""

from __future__ import annotations

from aura_core.errors import LeakageBudgetExceeded
from aura_protocol.guards.guard_commands import GuardCommand, RecordLeakage
from aura_protocol.guards.send_request import GuardSnapshot, SendRequest

__all__ = ["LeakageTrackingGuard"]


class LeakageTrackingGuard:
    """Charges each observer class the request leaks to; an undefined budget denies."""

    name = "leakage"

    def check(self, request: SendRequest, snapshot: GuardSnapshot) -> tuple[GuardCommand, ...]:
        commands: list[GuardCommand] = []
        for observer, amount in request.leakage:
            budget = snapshot.leakage.get(observer)
            if budget is None:
                raise LeakageBudgetExceeded(
                    f"no leakage budget is defined for observer class '{observer.value}' "
                    f"in {request.context} (an undefined budget denies)"
                )
            after = budget.charge(amount)
            commands.append(
                RecordLeakage(request.context, observer, after.epoch, amount, after.spent)
            )
        return tuple(commands)
