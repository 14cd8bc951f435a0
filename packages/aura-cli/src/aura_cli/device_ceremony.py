"""``aura init -n N -t T``: one account spread over N device directories, set up side by side.

The devices' agents run together in this process and reach each other
through an in-process router (every frame still crosses the agent's codec
and the custody protocol's checks). Device 1 creates the account; every
other device asks to join it and device 1 agrees, which runs the devices
feature's enrollment: a change decided by consensus among the devices
already in, then a reshare of the *same* group key to the new set; finally
the threshold is raised to T the same way. Each step waits, bounded, for the
protocol's own outcome; nothing is assumed.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AsyncExitStack
from typing import Any

import anyio

from aura_agent import Agent, Feature, HostSecret, MemoryRouter
from aura_cli.agent_session import require_operation
from aura_cli.console_output import Output
from aura_cli.device_home import CliSettings, DeviceHome
from aura_cli.host_secret_source import unlock
from aura_core.errors import ConsensusError, ValidationError
from aura_features.rendezvous import RelayHint

__all__ = ["CEREMONY_OPERATIONS", "create_spread_account"]

CEREMONY_OPERATIONS = (
    "devices.create_account",
    "devices.join",
    "devices.add",
    "devices.set_threshold",
)
_POLL_S = 0.02


async def _until(check: Any, what: str, timeout_s: float) -> None:
    with anyio.move_on_after(timeout_s):
        while not check():
            await anyio.sleep(_POLL_S)
        return
    raise ConsensusError(f"{what} did not finish within {timeout_s:.0f} s")


async def _change_settles(agent: Agent, change: bytes, what: str, timeout_s: float) -> None:
    wanted = bytes(change).hex()

    def outcome() -> str | None:
        for change_hash, result in agent.query("devices.outcomes"):
            if change_hash == wanted:
                return str(result)
        return None

    await _until(lambda: outcome() is not None, what, timeout_s)
    if outcome() != "completed":
        raise ValidationError(f"{what} failed: {outcome()}")


async def create_spread_account(
    homes: Sequence[DeviceHome],
    threshold: int,
    secret: HostSecret,
    *,
    relays: tuple[RelayHint, ...],
    output: Output,
    timeout_s: float,
    nickname: str | None = None,
    features: Sequence[Feature] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Create the devices and their t-of-n account: (the account, each device's summary).

    ``features`` replaces the discovered feature set (hosts and tests that choose them).
    """
    router = MemoryRouter()
    async with AsyncExitStack() as stack:
        agents: list[Agent] = []
        for home in homes:
            stack.enter_context(home.exclusive())
            home.save_settings(CliSettings(relays))
            config = home.agent_config(relays=relays)
            agent = Agent(config, unlock(config, secret), features=features, transport=router)
            agents.append(await stack.enter_async_context(agent))
        for agent in agents:
            for operation in CEREMONY_OPERATIONS:
                require_operation(agent, operation)
        first = agents[0]
        steps = len(agents) + 1
        with output.progress("creating the account", total=steps) as step:
            record = await first.run("devices.create_account")
            step.advance()
            for number, joining in enumerate(agents[1:], start=2):
                await first.run("devices.add", device=joining.node.route)
                await joining.run(
                    "devices.join", authority=record.authority, sponsor=first.node.route
                )
                await _until(
                    lambda a=joining: a.account is not None,
                    f"enrolling device {number}",
                    timeout_s,
                )
                step.advance(description=f"device {number} of {len(agents)} enrolled")
            if first.query("devices.status").get("threshold") != threshold:
                change = await first.run("devices.set_threshold", threshold=threshold)
                await _change_settles(
                    first, change, f"changing the threshold to {threshold}", timeout_s
                )
            # Every device applies the completed change on its own; wait until all have.
            await _until(
                lambda: all(
                    a.query("devices.status").get("threshold") == threshold for a in agents
                ),
                f"every device taking the threshold {threshold}",
                timeout_s,
            )
            step.advance()
        if nickname:
            await first.run("profile.set_nickname", nickname=nickname)
        from aura_cli.commands.account_commands import account_summary

        account = account_summary(first)
        summaries = []
        for home, agent in zip(homes, agents, strict=True):
            status = agent.query("devices.status")
            summaries.append(
                {
                    "data_dir": str(home.path),
                    "device": str(agent.device),
                    "identifier": status.get("identifier"),
                    "threshold": status.get("threshold"),
                }
            )
        return account, summaries
