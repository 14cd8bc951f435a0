"""``aura sync once`` (one bounded exchange) and ``aura sync daemon`` (until stopped).

``once`` starts an anti-entropy round with every peer of every journal,
lets the agent fetch its mailboxes and answer, and returns when the agent has
been quiet for a moment (or at ``--timeout``), reporting what it learned.
``daemon`` keeps the agent running, printing a line whenever its journals
grow, until SIGINT or SIGTERM; it is how a device stays reachable for
consensus and recovery. While it runs, other ``aura`` commands for the same
directory are sent to it over its control socket and run on its agent
(:mod:`aura_cli.daemon_link`).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import anyio

from aura_cli.agent_activity import ActivityFigures, settle
from aura_cli.agent_session import running_agent
from aura_cli.console_output import CommandResult, fields_table
from aura_cli.daemon_link import serve_control_socket
from aura_cli.exit_codes import ExitCode
from aura_cli.invocation import Invocation

__all__ = ["daemon_command", "once_command"]

_QUIET_S = 1.0
_REPORT_EVERY_S = 0.25


async def once_command(invocation: Invocation) -> CommandResult:
    async with running_agent(invocation) as agent:
        before = ActivityFigures.of(agent)
        with invocation.output.progress("syncing with peers"):
            agent.sync_now()
            after, settled = await settle(agent, quiet_s=_QUIET_S, timeout_s=invocation.timeout_s)
        relays = agent.status().relays
    data = {
        "settled": settled,
        "new_facts": after.facts - before.facts,
        "facts": after.facts,
        "frames_received": after.frames_received - before.frames_received,
        "outbox_pending": after.outbox_pending,
        "relays_reachable": sum(r.reachable for r in relays),
    }
    view = fields_table(
        "sync finished" if settled else "sync stopped at the timeout",
        {
            "new facts": data["new_facts"],
            "facts held": after.facts,
            "frames received": data["frames_received"],
            "still queued": f"{after.outbox_pending} envelope(s)",
        },
    )
    return CommandResult(data, view, ExitCode.OK if settled else ExitCode.TRANSIENT)


async def daemon_command(invocation: Invocation) -> CommandResult:
    from aura_cli.main import run_in_daemon

    output = invocation.output
    ready_file = invocation.option("ready_file")
    home = invocation.home
    listen = invocation.option("listen")
    async with (
        running_agent(
            invocation, listen=listen, create=bool(invocation.option("new_device"))
        ) as agent,
        anyio.create_task_group() as tg,
    ):
        device = str(agent.device)

        async def run_forwarded(argv: list[str], json_mode: bool) -> tuple[int, str, str]:
            return await run_in_daemon(
                argv, json_mode, agent=agent, home=home, environ=invocation.environ
            )

        try:
            await tg.start(serve_control_socket, home.control_socket, run_forwarded)
            control = str(home.control_socket)
        except OSError as exc:  # e.g. a directory path too long for a Unix socket
            control = None
            output.note(f"no control socket ({exc.strerror}); other aura commands must wait")
        if ready_file:
            path = Path(ready_file)
            temporary = path.with_suffix(".tmp")
            temporary.write_text(device + "\n", encoding="utf-8")
            temporary.replace(path)
        output.event(
            "running",
            f"sync daemon for {device} (pid {os.getpid()}); other aura commands for this "
            "directory now run here",
            device=device,
            control_socket=control,
        )
        agent.sync_now()
        last = ActivityFigures.of(agent)

        async def report() -> None:
            nonlocal last
            while True:
                await anyio.sleep(_REPORT_EVERY_S)
                now_figures = ActivityFigures.of(agent)
                if now_figures.facts != last.facts:
                    output.event(
                        "facts",
                        f"journals grew to {now_figures.facts} facts "
                        f"(+{now_figures.facts - last.facts})",
                        facts=now_figures.facts,
                    )
                last = now_figures

        tg.start_soon(report)
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                output.event("stopping", f"stopping ({signal.Signals(signum).name})")
                break
        tg.cancel_scope.cancel()
        final = ActivityFigures.of(agent)
    return CommandResult(
        {"device": device, "facts": final.facts, "outbox_pending": final.outbox_pending},
        fields_table(
            "sync daemon stopped", {"facts held": final.facts, "queued": final.outbox_pending}
        ),
    )
