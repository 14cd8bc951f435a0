"""``aura init`` and ``aura status``: creating a device and its account, and looking at it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from rich.console import Group

from aura_agent import Agent
from aura_agent.app import AccountView
from aura_cli.agent_session import require_operation, running_agent
from aura_cli.command_failure import UsageError
from aura_cli.console_output import CommandResult, fields_table, rows_table
from aura_cli.device_home import CliSettings, DeviceHome
from aura_cli.invocation import Invocation
from aura_cli.relay_hints import format_hint
from aura_core.errors import InvalidInput

__all__ = ["account_summary", "init_command", "status_command"]


def _device_dirs(home: DeviceHome, count: int, given: list[str]) -> list[DeviceHome]:
    if given and len(given) != count - 1:
        raise UsageError(f"-n {count} needs {count - 1} --device-dir values, got {len(given)}")
    others = [Path(d).expanduser() for d in given] or [
        home.path.with_name(f"{home.path.name}-{i}") for i in range(2, count + 1)
    ]
    homes = [home, *(DeviceHome(p) for p in others)]
    if len({h.path.resolve() for h in homes}) != len(homes):
        raise UsageError("every device needs its own directory")
    return homes


def account_summary(agent: Agent) -> dict[str, Any]:
    view: AccountView = agent.latest("account", AccountView(agent.authority))
    return {
        "device": str(agent.device),
        "authority": None if view.authority is None else str(view.authority),
        "threshold": view.threshold,
        "devices": [str(d) for d in view.devices],
        "guardians": [str(g) for g in view.guardians],
        "epoch": view.epoch,
    }


async def init_command(invocation: Invocation) -> CommandResult:
    args = invocation.args
    count: int = args.devices
    threshold: int = args.threshold if args.threshold is not None else count // 2 + 1
    if threshold > count:
        raise UsageError(f"threshold {threshold} is more than the {count} devices")
    if threshold == 1 and count > 1:
        raise UsageError("a 1-of-n account would let any one device act alone; use -t 2 or more")
    homes = _device_dirs(invocation.home, count, args.device_dir)
    for home in homes:
        if home.initialized:
            raise UsageError(f"{home.path} already holds a device; choose another --data-dir")
    relays = invocation.relay_override() or ()
    if count > 1:
        return await _init_spread(invocation, homes, threshold, relays)
    secret = invocation.secret(confirm=True)
    home = homes[0]
    home.save_settings(CliSettings(relays))
    with invocation.output.progress("creating device and account"):
        async with running_agent(invocation, home=home, secret=secret, create=True) as agent:
            await agent.create_account()  # a custody share: devices and guardians can follow
            if args.nickname:
                require_operation(agent, "profile.set_nickname")
                try:
                    await agent.run("profile.set_nickname", nickname=args.nickname)
                except InvalidInput as exc:
                    raise UsageError(f"--nickname: {exc.message}") from None
            summary = account_summary(agent)
    data = {
        **summary,
        "data_dir": str(home.path),
        "relays": [format_hint(h) for h in relays],
        "nickname": args.nickname,
    }
    view = fields_table(
        f"created a {summary['threshold']}-of-{len(summary['devices'])} account",
        {
            "authority": summary["authority"],
            "device": summary["device"],
            "data dir": home.path,
            "nickname": args.nickname,
            "relays": ", ".join(data["relays"]) or "none (use 'aura relay use HINT')",
        },
    )
    return CommandResult(data, view)


async def _init_spread(
    invocation: Invocation, homes: list[DeviceHome], threshold: int, relays: tuple[Any, ...]
) -> CommandResult:
    from aura_cli.device_ceremony import create_spread_account

    secret = invocation.secret(confirm=True)
    fresh = [home for home in homes if not home.path.exists()]
    try:
        account, devices = await create_spread_account(
            homes,
            threshold,
            secret,
            relays=relays,
            output=invocation.output,
            timeout_s=invocation.timeout_s,
            nickname=invocation.args.nickname,
        )
    except BaseException:
        for home in fresh:  # made by this command a moment ago: leave nothing half-made
            shutil.rmtree(home.path, ignore_errors=True)
        raise
    nickname = invocation.args.nickname
    data = {**account, "data_dirs": [d["data_dir"] for d in devices], "nickname": nickname}
    data["relays"] = [format_hint(h) for h in relays]
    view = Group(
        fields_table(
            f"created a {account['threshold']}-of-{len(account['devices'])} account",
            {"authority": account["authority"], "nickname": nickname},
        ),
        rows_table(
            "devices",
            ("data dir", "device", "share"),
            ((d["data_dir"], d["device"], d["identifier"]) for d in devices),
        ),
    )
    return CommandResult(data, view)


async def status_command(invocation: Invocation) -> CommandResult:
    home = invocation.home
    async with running_agent(invocation) as agent:
        summary = account_summary(agent)
        status = agent.status()
        nickname = agent.latest("profile.nickname") if "profile" in agent.features else None
        operations = dict(agent.operations)
    relays = [
        {
            "address": r.address,
            "reachable": r.reachable,
            "successes": r.successes,
            "failures": r.failures,
        }
        for r in status.relays
    ]
    data = {
        **summary,
        "data_dir": str(home.path),
        "nickname": nickname,
        "features": list(status.features),
        "operations": operations,
        "journals": status.journals,
        "facts": status.facts,
        "contexts": status.contexts,
        "outbox_pending": status.outbox_pending,
        "consensus_decided": status.consensus_decided,
        "corrupt_records": status.corrupt_records,
        "relays": relays,
    }
    overview = fields_table(
        "device status",
        {
            "data dir": home.path,
            "device": summary["device"],
            "authority": summary["authority"] or "none yet ('aura init')",
            "account": f"{summary['threshold']}-of-{len(summary['devices'])}, "
            f"{len(summary['guardians'])} guardian(s), epoch {summary['epoch']}",
            "nickname": nickname,
            "features": ", ".join(status.features),
            "journals": f"{status.journals} ({status.contexts} contexts, {status.facts} facts)",
            "outbox": f"{status.outbox_pending} envelope(s) waiting to be sent",
        },
    )
    relay_table = rows_table(
        "relays",
        ("address", "reachable", "ok", "failed"),
        ((r["address"], r["reachable"], r["successes"], r["failures"]) for r in relays),
        empty="no relay configured",
    )
    return CommandResult(data, Group(overview, relay_table))
