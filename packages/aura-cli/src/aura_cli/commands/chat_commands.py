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
from aura_cli.contact_names import resolve_contact
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
            message = await agent.run("chat.send_message", to=peer, text=text)
        except InvalidInput as exc:
            raise UsageError(exc.message) from None
        with invocation.output.progress("handing the message to the relay"):
            queued = await _queued_after(agent, invocation)
    data = {"message": str(message), "to": str(peer), "queued": queued}
    sent = "sent" if queued == 0 else f"committed; {queued} envelope(s) still queued"
    view = fields_table(f"message {sent}", {"to": peer, "message id": message})
    return CommandResult(data, view)


async def history_command(invocation: Invocation) -> CommandResult:
    limit: int = invocation.args.limit
    async with running_agent(invocation) as agent:
        require_operation(agent, "chat.send_message")
        peer = resolve_contact(agent, invocation.args.channel)
        lines = tuple(ask(agent, "chat.history", **{"with": peer}))[-limit:]
    rows = [{"author": author, "text": text} for author, text in lines]
    view = rows_table(
        f"conversation with {invocation.args.channel}",
        ("from", "message"),
        ((r["author"], "(not readable yet)" if r["text"] is None else r["text"]) for r in rows),
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


async def _channel_operation(
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
    return await _channel_operation(
        invocation,
        "chat.create_channel",
        f"channel {args.name} created",
        name=args.name,
        members=tuple(args.members),
        topic=args.topic,
    )


async def edit_command(invocation: Invocation) -> CommandResult:
    args = invocation.args
    return await _channel_operation(
        invocation,
        "chat.edit_message",
        "message edited",
        channel=args.channel,
        message=args.message,
        text=_text(args.text),
    )


async def delete_command(invocation: Invocation) -> CommandResult:
    args = invocation.args
    return await _channel_operation(
        invocation,
        "chat.delete_message",
        "message deleted",
        channel=args.channel,
        message=args.message,
    )
