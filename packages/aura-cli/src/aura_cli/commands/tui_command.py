"""``aura tui``: the chat screen over this device's running agent.

The agent runs in the same event loop as the screen, so relays are polled,
messages arrive and signals fire while the screen is up; quitting the screen
stops the agent cleanly.
"""

from __future__ import annotations

import sys

from aura_cli.agent_session import running_agent
from aura_cli.command_failure import UsageError
from aura_cli.console_output import CommandResult
from aura_cli.invocation import Invocation

__all__ = ["tui_command"]


async def tui_command(invocation: Invocation) -> CommandResult:
    if invocation.output.json_mode:
        raise UsageError("the TUI is interactive; --json does not apply to it")
    if not sys.stdout.isatty():
        raise UsageError("the TUI needs a terminal (standard output is not one)")
    from aura_cli.tui import AgentChatSource, ChatScreenApp

    async with running_agent(invocation) as agent:
        await ChatScreenApp(AgentChatSource(agent)).run_async()
    return CommandResult({"closed": True})
