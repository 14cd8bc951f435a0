"""``aura recovery guardians|start|approve|status|dispute``: friends restore a lost account.

Guardians are contacts who hold shares of a second sharing of the account
key. On a new device, ``start`` asks them to restore the account; each
guardian runs ``approve``; once the guardian threshold approved and the
dispute window passed without a ``dispute`` from a kept device, the new
device holds a share of the *same* group key: same authority, same contacts.
"""

from __future__ import annotations

from typing import Any

from aura_cli.agent_activity import settle
from aura_cli.agent_session import ask, require_operation, running_agent
from aura_cli.commands.account_commands import account_summary
from aura_cli.console_output import CommandResult, fields_table, rows_table
from aura_cli.contact_names import resolve_contact
from aura_cli.invocation import Invocation
from aura_core.identifiers import AuthorityId

__all__ = [
    "approve_command",
    "dispute_command",
    "guardians_command",
    "start_command",
    "status_command",
]

_QUIET_S = 0.5


async def _run(
    invocation: Invocation, operation: str, title: str, *, create: bool = False, **arguments: Any
) -> CommandResult:
    async with running_agent(invocation, create=create) as agent:
        require_operation(agent, operation)
        with invocation.output.progress(title):
            outcome = await agent.run(operation, **arguments)
            figures, settled = await settle(agent, quiet_s=_QUIET_S, timeout_s=invocation.timeout_s)
        summary = account_summary(agent)
    data = {"result": None if outcome is None else str(outcome), "settled": settled, **summary}
    return CommandResult(
        data, fields_table(title, {"result": outcome, "queued": figures.outbox_pending})
    )


async def guardians_command(invocation: Invocation) -> CommandResult:
    args = invocation.args
    if args.guardians is None:
        async with running_agent(invocation) as agent:
            summary = account_summary(agent)
        view = rows_table(
            "guardians", ("guardian",), ((g,) for g in summary["guardians"]), empty="no guardians"
        )
        return CommandResult({"guardians": summary["guardians"]}, view)
    async with running_agent(invocation) as agent:
        require_operation(agent, "recovery.guardian_change")
        guardians = tuple(resolve_contact(agent, name) for name in args.guardians)
        threshold = args.threshold if args.threshold is not None else len(guardians) // 2 + 1
        with invocation.output.progress("seating guardians (consensus among devices)"):
            outcome = await agent.run(
                "recovery.guardian_change", guardians=guardians, threshold=threshold
            )
            _figures, settled = await settle(
                agent, quiet_s=_QUIET_S, timeout_s=invocation.timeout_s
            )
        summary = account_summary(agent)
    data = {
        "result": None if outcome is None else str(outcome),
        "guardians": [str(g) for g in guardians],
        "threshold": threshold,
        "settled": settled,
    }
    view = fields_table(
        f"{threshold}-of-{len(guardians)} guardians requested",
        {"guardians": ", ".join(args.guardians), "account": summary["authority"]},
    )
    return CommandResult(data, view)


async def start_command(invocation: Invocation) -> CommandResult:
    authority = AuthorityId.parse(invocation.args.authority)
    return await _run(
        invocation,
        "recovery.recover",
        f"recovery of {authority} requested",
        create=True,
        authority=authority,
        guardians=tuple(invocation.args.guardians),
    )


async def approve_command(invocation: Invocation) -> CommandResult:
    return await _run(
        invocation,
        "recovery.guardian_answer",
        "recovery approved",
        request=invocation.args.request,
        approve=True,
    )


async def dispute_command(invocation: Invocation) -> CommandResult:
    return await _run(
        invocation, "recovery.dispute", "recovery disputed", request=invocation.args.request
    )


async def status_command(invocation: Invocation) -> CommandResult:
    async with running_agent(invocation) as agent:
        recoveries = tuple(ask(agent, "recovery.status"))
    rows = [
        {
            "request": str(r.request),
            "account": str(r.account),
            "role": str(r.role),
            "approvals": r.approvals,
            "needed": r.needed,
            "state": str(r.state),
        }
        for r in recoveries
    ]
    view = rows_table(
        "recoveries",
        ("request", "account", "role", "approvals", "state"),
        (
            (r["request"], r["account"], r["role"], f"{r['approvals']}/{r['needed']}", r["state"])
            for r in rows
        ),
        empty="no recovery in progress",
    )
    return CommandResult({"recoveries": rows}, view)
