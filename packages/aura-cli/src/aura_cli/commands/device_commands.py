"""``aura device list|add|remove``: the devices (and guardians) of this account."""

from __future__ import annotations

from aura_cli.agent_session import drain_outbox, require_operation, running_agent
from aura_cli.commands.account_commands import account_summary
from aura_cli.console_output import CommandResult, rows_table
from aura_cli.invocation import Invocation
from aura_core.identifiers import DeviceId

__all__ = ["add_command", "list_command", "remove_command"]


async def list_command(invocation: Invocation) -> CommandResult:
    async with running_agent(invocation) as agent:
        summary = account_summary(agent)
    this = summary["device"]
    rows = [(d, "device", "this device" if d == this else "") for d in summary["devices"]]
    rows += [(g, "guardian", "") for g in summary["guardians"]]
    view = rows_table(
        f"{summary['authority']} — {summary['threshold']}-of-{len(summary['devices'])}",
        ("id", "role", ""),
        rows,
        empty="no account yet",
    )
    return CommandResult(summary, view)


async def add_command(invocation: Invocation) -> CommandResult:
    from aura_cli.commands.invite_commands import create_invitation

    return await create_invitation(invocation, kind="device", nickname=invocation.args.nickname)


async def remove_command(invocation: Invocation) -> CommandResult:
    device = DeviceId.parse(invocation.args.device)
    async with running_agent(invocation) as agent:
        require_operation(agent, "devices.remove")
        with invocation.output.progress(f"removing {device} (consensus among devices)"):
            outcome = await agent.run(
                "devices.remove", device=device, timeout_s=invocation.timeout_s
            )
            queued = await drain_outbox(agent, invocation.timeout_s)
        summary = account_summary(agent)
    data = {"removed": str(device), "outcome": outcome, "queued": queued, **summary}
    view = rows_table(
        f"removed {device}",
        ("remaining devices",),
        ((d,) for d in summary["devices"]),
    )
    return CommandResult(data, view)
