"""``aura recovery ...``: friends hold shares of a second sharing of the key and restore it.

The account side: ``guardians --set NAME ... --threshold T`` invites each
guardian (an invitation signed by the account key: with ``t`` of its devices
when the account is ``t``-of-``n``) and seats the set once every one of them
accepted. The guardian side: ``accept`` (or ``decline``) an invitation, later
``approve`` (or ``deny``) a recovery request. On a new device, ``start``
asks the guardians; once the guardian threshold approved and the dispute
window passed without a ``dispute`` from a device of the account, the new
device holds a share of the *same* group key: same authority, same contacts.

Everything travels through the relay, so each side's agent must be running
(``aura sync daemon``) for the other side's step to arrive; the commands
only start or answer a step and return.
"""

from __future__ import annotations

from typing import Any

from aura_agent import Agent
from aura_cli.agent_activity import settle
from aura_cli.agent_session import ask, require_operation, running_agent
from aura_cli.command_failure import UnsupportedOperation, UsageError
from aura_cli.console_output import CommandResult, fields_table, rows_table
from aura_cli.contact_names import resolve_contact
from aura_cli.invocation import Invocation
from aura_core.errors import InvalidInput, NotFound
from aura_core.identifiers import AuthorityId

__all__ = [
    "accept_command",
    "approve_command",
    "decline_command",
    "deny_command",
    "dispute_command",
    "guardians_command",
    "start_command",
    "status_command",
]

_QUIET_S = 0.5


def _guardian_authority(agent: Agent, name: str) -> AuthorityId:
    """An authority id as given, else the contact with that nickname."""
    try:
        return (
            AuthorityId.parse(name)
            if name.startswith("authority-")
            else resolve_contact(agent, name)
        )
    except InvalidInput:
        raise UsageError(f"{name!r} is neither an authority id nor a contact's nickname") from None


async def _run(
    invocation: Invocation, operation: str, title: str, *, create: bool = False, **arguments: Any
) -> tuple[Any, dict[str, Any]]:
    async with running_agent(invocation, create=create) as agent:
        require_operation(agent, operation)
        with invocation.output.progress(title):
            outcome = await agent.run(operation, **arguments)
            figures, settled = await settle(agent, quiet_s=_QUIET_S, timeout_s=invocation.timeout_s)
        return outcome, {"settled": settled, "queued": figures.outbox_pending}


# --------------------------------------------------------------------------- account side


async def guardians_command(invocation: Invocation) -> CommandResult:
    args = invocation.args
    if args.guardians is None:
        async with running_agent(invocation) as agent:
            status = ask(agent, "recovery.status")
        seated = list(status.get("guardians", ()))
        accepted = [g for g in status.get("accepted", ()) if g not in seated]
        rows = [(g, "seated") for g in seated] + [(g, "accepted, not seated") for g in accepted]
        data = {
            "guardians": seated,
            "threshold": status.get("guardian_threshold"),
            "accepted": list(status.get("accepted", ())),
            "planned": list(status.get("planned", ())),
            "plan_error": status.get("plan_error"),
        }
        title = "guardians" if not seated else f"guardians ({data['threshold']} to recover)"
        return CommandResult(data, rows_table(title, ("guardian", "state"), rows, empty="none"))
    async with running_agent(invocation) as agent:
        require_operation(agent, "recovery.set_guardians")
        guardians = list(dict.fromkeys(_guardian_authority(agent, n) for n in args.guardians))
        threshold = args.threshold if args.threshold is not None else len(guardians) // 2 + 1
        if threshold > len(guardians):
            raise UsageError(f"--threshold {threshold} is more than the {len(guardians)} guardians")
        with invocation.output.progress("inviting guardians (signed by the account key)"):
            outcome = await agent.run(
                "recovery.set_guardians",
                guardians=[str(g) for g in guardians],
                threshold=threshold,
                dispute_window_s=int(args.dispute_window),
            )
            figures, settled = await settle(agent, quiet_s=_QUIET_S, timeout_s=invocation.timeout_s)
    data = {
        "guardians": [str(g) for g in guardians],
        "threshold": threshold,
        "dispute_window_s": int(args.dispute_window),
        "invited": dict(outcome["invited"]),
        "proposed": bool(outcome["proposed"]),
        "settled": settled,
        "queued": figures.outbox_pending,
    }
    view = fields_table(
        f"{threshold}-of-{len(guardians)} guardians: invited",
        {
            "guardians": ", ".join(args.guardians),
            "next": "each guardian runs 'aura recovery accept'; they are seated once all accepted",
        },
    )
    return CommandResult(data, view)


async def dispute_command(invocation: Invocation) -> CommandResult:
    request = invocation.args.request
    _outcome, progress = await _run(
        invocation, "recovery.dispute", "disputing the recovery", recovery=request
    )
    data = {"request": request, **progress}
    return CommandResult(data, fields_table("recovery disputed", {"request": request}))


# --------------------------------------------------------------------------- guardian side


def _only_waiting(agent: Agent, key: str, given: str | None, what: str) -> str:
    """The id given, or the only one waiting (several: the user must choose)."""
    waiting = [entry[0] for entry in ask(agent, "recovery.status").get(key, ())]
    if given is not None:
        return given
    if len(waiting) == 1:
        return waiting[0]
    if not waiting:
        raise NotFound(f"no {what} is waiting ('aura recovery status' lists them)")
    raise UsageError(f"{len(waiting)} {what}s are waiting; name one: {', '.join(waiting)}")


async def _answer(
    invocation: Invocation, operation: str, key: str, field: str, what: str, title: str
) -> CommandResult:
    async with running_agent(invocation) as agent:
        require_operation(agent, operation)
        chosen = _only_waiting(agent, key, invocation.args.id, what)
        with invocation.output.progress(title):
            await agent.run(operation, **{field: chosen})
            figures, settled = await settle(agent, quiet_s=_QUIET_S, timeout_s=invocation.timeout_s)
    data = {field: chosen, "settled": settled, "queued": figures.outbox_pending}
    return CommandResult(data, fields_table(title, {what: chosen}))


async def accept_command(invocation: Invocation) -> CommandResult:
    return await _answer(
        invocation,
        "recovery.accept",
        "invitations",
        "invitation",
        "invitation",
        "guardian invitation accepted",
    )


async def decline_command(invocation: Invocation) -> CommandResult:
    return await _answer(
        invocation,
        "recovery.decline",
        "invitations",
        "invitation",
        "invitation",
        "guardian invitation declined",
    )


async def approve_command(invocation: Invocation) -> CommandResult:
    return await _answer(
        invocation, "recovery.approve", "requests", "recovery", "request", "recovery approved"
    )


async def deny_command(invocation: Invocation) -> CommandResult:
    return await _answer(
        invocation, "recovery.deny", "requests", "recovery", "request", "recovery denied"
    )


# --------------------------------------------------------------------------- new device


async def start_command(invocation: Invocation) -> CommandResult:
    args = invocation.args
    authority = AuthorityId.parse(args.authority)
    guardians = [str(AuthorityId.parse(g)) for g in args.guardians]
    if not guardians:
        raise UsageError("name the guardians to ask with --guardian AUTHORITY (repeatable)")
    arguments: dict[str, Any] = {
        "authority": str(authority),
        "guardians": guardians,
        "kept": sorted(set(args.keep)),
    }
    if args.threshold is not None:
        arguments["threshold"] = args.threshold
    if args.group_key is not None:
        arguments["group_key"] = args.group_key
    recovery, progress = await _run(
        invocation,
        "recovery.start",
        f"asking {len(guardians)} guardian(s) to restore {authority}",
        create=True,
        **arguments,
    )
    data = {"result": recovery, "recovery": recovery, "authority": str(authority), **progress}
    view = fields_table(
        "recovery requested",
        {
            "request": recovery,
            "next": "each guardian runs 'aura recovery approve'; keep this device's daemon running",
        },
    )
    return CommandResult(data, view)


# --------------------------------------------------------------------------- everyone


def _rows(status: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for request, account, device in status.get("requests", ()):
        rows.append(
            {"request": request, "account": account, "role": "guardian", "state": "waiting"}
            | {"device": device}
        )
    recovering = status.get("recovering")
    if recovering:
        rows.append(
            {
                "request": recovering["recovery"],
                "account": status.get("authority"),
                "role": "new device",
                "state": recovering["outcome"] or f"{recovering['approvals']} approval(s)",
                "device": None,
            }
        )
    for request in status.get("watched", ()):
        rows.append(
            {
                "request": request,
                "account": status.get("authority"),
                "role": "device of the account",
                "state": "approved by a guardian (dispute it if you did not ask)",
                "device": None,
            }
        )
    return rows


def _backup(agent: Agent) -> dict[str, Any] | None:
    """The sealed contacts copy: how many guardians hold it, what a recovery restored."""
    try:
        vault = ask(agent, "vault.status")
    except UnsupportedOperation:
        return None
    return {
        "guardians_holding": len(vault.get("acknowledged", {})),
        "restored_contacts": len(vault["restored"]),
        "truncated": vault["truncated"],
    }


async def status_command(invocation: Invocation) -> CommandResult:
    async with running_agent(invocation) as agent:
        status = dict(ask(agent, "recovery.status"))
        status["authority"] = None if agent.authority is None else str(agent.authority)
        backup = _backup(agent)
    rows = _rows(status)
    data = {
        "recoveries": rows,
        "invitations": [{"invitation": i, "account": a} for i, a in status.get("invitations", ())],
        "guardians": list(status.get("guardians", ())),
        "wards": list(status.get("wards", ())),
        "recovering": status.get("recovering"),
        "backup": backup,
    }
    view = rows_table(
        "recoveries and guardian invitations",
        ("id", "account", "role", "state"),
        [(r["request"], r["account"], r["role"], r["state"]) for r in rows]
        + [
            (i, a, "invited as guardian", "accept or decline")
            for i, a in status.get("invitations", ())
        ],
        empty="nothing in progress",
    )
    return CommandResult(data, view)
