"""Running one device's agent for the length of a command.

Every ``aura`` command that touches a device opens its directory exclusively,
unlocks it (:func:`~aura_cli.host_secret_source.unlock`), runs the agent for
as long as the command needs, and before leaving gives the agent a bounded
moment to hand queued envelopes to the relay. Envelopes it could not hand
over stay in the durable outbox and leave with the next command or the
``sync daemon``; the command says so instead of pretending they were sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio

from aura_agent import Agent, HostSecret
from aura_cli.command_failure import UnsupportedOperation
from aura_cli.device_home import CliSettings, DeviceHome
from aura_cli.host_secret_source import unlock
from aura_cli.invocation import Invocation
from aura_core.errors import NotFound

__all__ = ["ask", "drain_outbox", "require_feature", "require_operation", "running_agent"]

_POLL_S = 0.05
_NO_QUERY = "no feature answers the query"


@asynccontextmanager
async def running_agent(
    invocation: Invocation,
    *,
    home: DeviceHome | None = None,
    create: bool = False,
    secret: HostSecret | None = None,
    listen: str | None = None,
) -> AsyncIterator[Agent]:
    """The device's agent, running, with this process holding the directory's lock.

    The directory is checked before the secret is asked for, so a mistyped
    ``--data-dir`` is reported as such rather than as a missing passphrase.
    Relays come from ``--relay``/``AURA_RELAY`` or the directory's settings;
    ``listen`` (``tcp://HOST:0``) lets contacts reach the agent directly while it runs.
    """
    home = invocation.home if home is None else home
    if invocation.agent is not None and home == invocation.home:
        yield invocation.agent  # a daemon's agent: already unlocked and running
        return
    if not create:
        home.require_initialized()
    relays = invocation.relay_override()
    if secret is None:
        secret = invocation.secret()
    with home.exclusive():
        if create and relays and not home.settings_path.exists():
            home.save_settings(CliSettings(relays))  # a new device remembers its relays
        config = home.agent_config(relays=relays, listen_address=listen)
        key = unlock(config, secret)
        async with Agent(config, key) as agent:
            yield agent


def require_operation(agent: Agent, operation: str) -> None:
    """``UnsupportedOperation`` naming the feature when no loaded feature runs ``operation``."""
    if operation not in agent.operations:
        feature = operation.partition(".")[0]
        raise UnsupportedOperation(
            f"this agent has no {operation!r} operation (feature {feature!r} is not loaded; "
            f"loaded: {', '.join(agent.features) or 'none'})"
        )


def require_feature(agent: Agent, name: str) -> None:
    """``UnsupportedOperation`` when the feature answering ``name`` (``chat.history``) is not loaded."""
    feature = name.partition(".")[0]
    if feature not in agent.features:
        raise UnsupportedOperation(
            f"this agent cannot answer {name!r}: feature {feature!r} is not loaded "
            f"(loaded: {', '.join(agent.features) or 'none'})"
        )


def ask(agent: Agent, name: str, /, **args: object) -> Any:
    """Run the read-only query ``name``; ``UnsupportedOperation`` when nothing answers it."""
    require_feature(agent, name)
    try:
        return agent.query(name, **args)
    except NotFound as exc:
        if exc.message.startswith(_NO_QUERY):
            raise UnsupportedOperation(f"this agent answers no {name!r} query") from None
        raise


async def drain_outbox(agent: Agent, timeout_s: float) -> int:
    """Wait up to ``timeout_s`` for queued envelopes to leave; returns how many are still queued."""
    with anyio.move_on_after(timeout_s):
        while agent.status().outbox_pending:
            await anyio.sleep(_POLL_S)
    return agent.status().outbox_pending
