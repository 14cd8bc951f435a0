"""``aura invite create|accept|decline|list`` and ``aura contact list``.

An invitation is a signed ``aura:v1:`` code handed over out of band (chat,
mail, QR). Accepting it creates the relational context both sides share and
leaves the acceptance in the inviter's mailbox on a relay; the inviter's
agent admits it on its next sync. A tampered or truncated code is refused
with the reason and exit code 2; nothing is written.
"""

from __future__ import annotations

import sys

from aura_agent import Agent
from aura_cli.agent_activity import settle
from aura_cli.agent_session import ask, require_operation, running_agent
from aura_cli.command_failure import UsageError
from aura_cli.console_output import CommandResult, fields_table, rows_table
from aura_cli.contact_names import contact_rows, contacts_of_agent
from aura_cli.invocation import Invocation

__all__ = [
    "accept_command",
    "contacts_command",
    "create_command",
    "decline_command",
    "list_command",
]

_QUIET_S = 0.5


def own_nickname(agent: Agent) -> str | None:
    """The profile nickname, which is how this account introduces itself by default."""
    return agent.latest("profile.nickname") if "profile" in agent.features else None


async def _finish(agent: Agent, invocation: Invocation) -> int:
    """Let the agent hand what it queued to the relay; returns what is still queued."""
    figures, _settled = await settle(agent, quiet_s=_QUIET_S, timeout_s=invocation.timeout_s)
    return figures.outbox_pending


async def create_command(invocation: Invocation) -> CommandResult:
    operation = "contacts.invite"
    nickname = invocation.args.nickname
    arguments: dict[str, object] = {"nickname": nickname}
    expires = invocation.option("expires_in")
    if expires is not None:
        if expires <= 0:
            raise UsageError("--expires-in must be a positive number of seconds")
        arguments["valid_for_s"] = int(expires)
    async with running_agent(invocation) as agent:
        require_operation(agent, operation)
        if nickname is None:
            arguments["nickname"] = own_nickname(agent)
        code = await agent.run(operation, **arguments)
        queued = await _finish(agent, invocation)
    data = {"code": str(code), "queued": queued}
    view = fields_table("invitation (give this code to the invitee)", {"code": str(code)})
    return CommandResult(data, view)


def _code(text: str) -> str:
    code = sys.stdin.readline() if text == "-" else text
    code = code.strip()
    if not code:
        raise UsageError("the invitation code is empty")
    return code


async def accept_command(invocation: Invocation) -> CommandResult:
    code = _code(invocation.args.code)
    async with running_agent(invocation) as agent:
        require_operation(agent, "contacts.accept")
        with invocation.output.progress("accepting the invitation"):
            nickname = invocation.args.nickname or own_nickname(agent)
            outcome = await agent.run("contacts.accept", code=code, nickname=nickname)
            queued = await _finish(agent, invocation)
    data = {"accepted": True, "context": str(outcome), "queued": queued}
    view = fields_table(
        "invitation accepted",
        {
            "shared context": outcome,
            "next": "the inviter's agent admits it on its next sync; then you can chat",
        },
    )
    return CommandResult(data, view)


async def decline_command(invocation: Invocation) -> CommandResult:
    code = _code(invocation.args.code)
    async with running_agent(invocation) as agent:
        require_operation(agent, "contacts.decline")
        await agent.run("contacts.decline", code=code)
        queued = await _finish(agent, invocation)
    return CommandResult(
        {"declined": True, "queued": queued}, fields_table("invitation declined", {})
    )


async def list_command(invocation: Invocation) -> CommandResult:
    async with running_agent(invocation) as agent:
        invitations = tuple(ask(agent, "contacts.invitations"))
    rows = [
        {
            "id": str(i.invitation),
            "kind": str(i.kind),
            "direction": "sent" if i.sent else "received",
            "status": str(i.status),
            "peer": None if i.peer is None else str(i.peer),
        }
        for i in invitations
    ]
    view = rows_table(
        "invitations",
        ("id", "kind", "direction", "status", "peer"),
        ((r["id"], r["kind"], r["direction"], r["status"], r["peer"]) for r in rows),
    )
    return CommandResult({"invitations": rows}, view)


async def contacts_command(invocation: Invocation) -> CommandResult:
    async with running_agent(invocation) as agent:
        require_operation(agent, "contacts.invite")
        rows = contact_rows(contacts_of_agent(agent))
    view = rows_table(
        "contacts",
        ("nickname", "authority", "reachable", "invited by"),
        (
            (
                r["nickname"] or "-",
                r["authority"],
                "yes" if r["reachable"] else "not yet",
                "me" if r["invited_by_me"] else "them",
            )
            for r in rows
        ),
        empty="no contacts yet: 'aura invite create' or 'aura invite accept CODE'",
    )
    return CommandResult({"contacts": rows}, view)
