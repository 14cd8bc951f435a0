"""``aura chat create|send|history|list|edit|delete``.

A conversation is named by the contact it is with (nickname or authority id,
as ``aura contact list`` shows) or, for channels, by the channel's name or
id. Sending returns once the agent has sealed the message, charged the flow
budget and committed it (category A: it shows at once) and has handed the
envelope to the relay, or says how many envelopes are still queued.
"""

from __future__ import annotations

import sys
from typing import Any

from aura_agent import Agent
from aura_cli.agent_activity import settle
from aura_cli.agent_session import ask, require_operation, running_agent
from aura_cli.command_failure import UsageError
from aura_cli.console_output import CommandResult, fields_table, rows_table
from aura_cli.contact_names import contacts_of_agent, resolve_contact
from aura_cli.invocation import Invocation
from aura_core.errors import InvalidInput

__all__ = [
    "conversation_rows",
    "create_command",
    "delete_command",
    "edit_command",
    "history_command",
    "list_command",
    "send_command",
]

_QUIET_S = 0.5


def _text(value: str) -> str:
    text = sys.stdin.read() if value == "-" else value
    if not text.strip():
        raise UsageError("the message is empty")
    return text.rstrip("\n")


def conversation_rows(conversations: Any) -> list[dict[str, Any]]:
    return [
        {
            "contact": str(c.contact),
            "context": str(c.context),
            "channel": str(c.channel),
            "messages": len(c.lines),
            "last": None if not c.lines else c.lines[-1].text,
        }
        for c in conversations
    ]


async def _queued_after(agent: Agent, invocation: Invocation) -> int:
    figures, _settled = await settle(agent, quiet_s=_QUIET_S, timeout_s=invocation.timeout_s)
    return figures.outbox_pending


async def send_command(invocation: Invocation) -> CommandResult:
    text = _text(invocation.args.text)
    async with running_agent(invocation) as agent:
        require_operation(agent, "chat.send_message")
        peer = resolve_contact(agent, invocation.args.channel)
        try:
            action = await agent.run("chat.send_message", to=peer, text=text)
        except InvalidInput as exc:
            raise UsageError(exc.message) from None
        with invocation.output.progress("handing the message to the relay"):
            queued = await _queued_after(agent, invocation)
    data = {"to": str(peer), "action": str(action), "queued": queued}
    if queued:
        headline = f"message committed; {queued} envelope(s) still queued for the relay"
    elif action == "sent":
        headline = "message sent"
    else:
        headline = "message queued until the conversation's keys reach both sides"
    return CommandResult(data, fields_table(headline, {"to": peer}))


async def history_command(invocation: Invocation) -> CommandResult:
    limit: int = invocation.args.limit
    async with running_agent(invocation) as agent:
        require_operation(agent, "chat.send_message")
        peer = resolve_contact(agent, invocation.args.channel)
        lines = tuple(ask(agent, "chat.history", **{"with": peer}))[-limit:]
        names = {str(c.authority): c.nickname for c in contacts_of_agent(agent) if c.nickname}
    rows = [
        {
            "author": str(line.author),
            "name": names.get(str(line.author), line.author_name),
            "text": line.text,
            "mine": line.mine,
        }
        for line in lines
    ]
    view = rows_table(
        f"conversation with {invocation.args.channel}",
        ("from", "message"),
        (
            (
                "me" if r["mine"] else r["name"],
                "(not readable yet)" if r["text"] is None else r["text"],
            )
            for r in rows
        ),
        empty="no messages yet",
    )
    return CommandResult({"with": str(peer), "messages": rows}, view)


async def list_command(invocation: Invocation) -> CommandResult:
    async with running_agent(invocation) as agent:
        require_operation(agent, "chat.send_message")
        rows = conversation_rows(agent.latest("chat", ()))
        names = {str(c.authority): c.nickname for c in ask(agent, "contacts.list") if c.nickname}
    view = rows_table(
        "conversations",
        ("with", "messages", "last message"),
        ((names.get(r["contact"], r["contact"]), r["messages"], r["last"] or "") for r in rows),
        empty="no conversations yet",
    )
    return CommandResult({"conversations": rows}, view)


async def _message_operation(
    invocation: Invocation, operation: str, title: str, **arguments: Any
) -> CommandResult:
    async with running_agent(invocation) as agent:
        require_operation(agent, operation)
        try:
            outcome = await agent.run(operation, **arguments)
        except InvalidInput as exc:
            raise UsageError(exc.message) from None
        queued = await _queued_after(agent, invocation)
    data = {"result": None if outcome is None else str(outcome), "queued": queued}
    return CommandResult(data, fields_table(title, {"result": outcome}))


async def create_command(invocation: Invocation) -> CommandResult:
    args = invocation.args
    async with running_agent(invocation) as agent:
        require_operation(agent, "chat.create_channel")
        members = tuple(resolve_contact(agent, name) for name in args.members)
        try:
            channel = await agent.run(
                "chat.create_channel", name=args.name, members=members, topic=args.topic
            )
        except InvalidInput as exc:
            raise UsageError(exc.message) from None
        queued = await _queued_after(agent, invocation)
    data = {"channel": str(channel), "name": args.name, "members": [str(m) for m in members]}
    data["queued"] = queued
    view = fields_table(
        f"channel {args.name} created", {"channel": channel, "members": ", ".join(args.members)}
    )
    return CommandResult(data, view)


async def edit_command(invocation: Invocation) -> CommandResult:
    args = invocation.args
    return await _message_operation(
        invocation,
        "chat.edit_message",
        "message edited",
        message=args.message,
        text=_text(args.text),
    )


async def delete_command(invocation: Invocation) -> CommandResult:
    return await _message_operation(
        invocation, "chat.delete_message", "message deleted", message=invocation.args.message
    )
