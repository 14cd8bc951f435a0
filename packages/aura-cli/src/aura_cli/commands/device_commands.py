"""``aura device list|add|join|remove``: the devices (and guardians) of this account.

Adding a device takes both sides: on a device of the account, ``add DEVICE``
says that device may enroll; on the new device, ``join AUTHORITY --via
DEVICE`` asks to. The enrollment is a custody change decided by consensus
among the account's devices, followed by a reshare of the same group key.
``remove`` runs the same kind of change; afterwards the removed device's
share no longer combines with the others'.
"""

from __future__ import annotations

from typing import Any

from aura_agent import Agent
from aura_cli.agent_activity import settle
from aura_cli.agent_session import ask, require_operation, running_agent
from aura_cli.commands.account_commands import account_summary
from aura_cli.console_output import CommandResult, fields_table, rows_table
from aura_cli.invocation import Invocation
from aura_core.errors import NotFound
from aura_core.identifiers import AuthorityId, DeviceId

__all__ = ["add_command", "join_command", "list_command", "remove_command"]

_QUIET_S = 0.5


async def list_command(invocation: Invocation) -> CommandResult:
    async with running_agent(invocation) as agent:
        summary = account_summary(agent)
        custody = agent.query("devices.status") if "devices" in agent.features else {}
    identifiers = {route: int(i) for i, route in custody.get("devices", ())}
    this = summary["device"]
    rows = [
        (d, "device", identifiers.get(d, ""), "this device" if d == this else "")
        for d in summary["devices"]
    ]
    rows += [(g, "guardian", "", "") for g in summary["guardians"]]
    view = rows_table(
        f"{summary['authority']} — {summary['threshold']}-of-{len(summary['devices'])}",
        ("id", "role", "identifier", ""),
        rows,
        empty="no account yet",
    )
    members = [{"identifier": i, "device": route} for route, i in identifiers.items()]
    return CommandResult({**summary, "members": members}, view)


async def _settled(agent: Agent, invocation: Invocation) -> dict[str, Any]:
    figures, settled = await settle(agent, quiet_s=_QUIET_S, timeout_s=invocation.timeout_s)
    return {"settled": settled, "queued": figures.outbox_pending}


async def add_command(invocation: Invocation) -> CommandResult:
    device = DeviceId.parse(invocation.args.device)
    async with running_agent(invocation) as agent:
        require_operation(agent, "devices.add")
        await agent.run("devices.add", device=str(device))
        progress = await _settled(agent, invocation)
    data = {"device": str(device), **progress}
    view = fields_table(
        f"{device} may now join this account",
        {"next": f"on that device: aura device join {agent.authority} --via {agent.device}"},
    )
    return CommandResult(data, view)


async def join_command(invocation: Invocation) -> CommandResult:
    authority = AuthorityId.parse(invocation.args.authority)
    sponsor = DeviceId.parse(invocation.args.via)
    async with running_agent(invocation, create=True) as agent:
        require_operation(agent, "devices.join")
        with invocation.output.progress(f"joining {authority} (consensus among its devices)"):
            await agent.run("devices.join", authority=authority, sponsor=str(sponsor))
            progress = await _settled(agent, invocation)
        summary = account_summary(agent)
    joined = summary["authority"] == str(authority)
    data = {**summary, "joined": joined, **progress}
    headline = "joined the account" if joined else "asked to join; not enrolled yet"
    return CommandResult(
        data, fields_table(headline, {"authority": authority, "device": summary["device"]})
    )


def _identifier_of(agent: Agent, device: DeviceId) -> int:
    status = ask(agent, "devices.status")
    for identifier, route in status.get("devices", ()):
        if route == str(device):
            return int(identifier)
    raise NotFound(f"{device} is not a device of this account ('aura device list' shows them)")


async def remove_command(invocation: Invocation) -> CommandResult:
    device = DeviceId.parse(invocation.args.device)
    async with running_agent(invocation) as agent:
        require_operation(agent, "devices.remove")
        identifier = _identifier_of(agent, device)
        with invocation.output.progress(f"removing {device} (consensus among devices)"):
            change = await agent.run("devices.remove", identifier=identifier)
            progress = await _settled(agent, invocation)
        summary = account_summary(agent)
    data = {"removed": str(device), "change": bytes(change).hex(), **progress, **summary}
    view = rows_table(
        f"removal of {device} proposed", ("devices now",), ((d,) for d in summary["devices"])
    )
    return CommandResult(data, view)
