"""``aura sim run SCENARIO --seed N``: the deterministic simulator, from the command line.

The same scenario and seed give the same trace hash; a failing seed prints
the command that replays it. Exit 0 when every expectation held for every
seed, 1 when one did not (2 for a malformed scenario file).
"""

from __future__ import annotations

from pathlib import Path

import anyio
from rich.console import Group
from rich.text import Text

from aura_agent.simulator import ScenarioResult, run_scenario
from aura_cli.command_failure import UsageError
from aura_cli.console_output import CommandResult, rows_table
from aura_cli.exit_codes import ExitCode
from aura_cli.invocation import Invocation

__all__ = ["run_command"]


def _seeds(seed: int, spec: str | None) -> range:
    if spec is None:
        return range(seed, seed + 1)
    first, colon, last = spec.partition(":")
    if not colon or not first.strip().isdigit() or not last.strip().isdigit():
        raise UsageError(f"--seeds must be A:B (whole numbers), got {spec!r}")
    seeds = range(int(first), int(last))
    if not seeds:
        raise UsageError(f"--seeds {spec} is empty (B must be greater than A)")
    return seeds


def _result_json(result: ScenarioResult) -> dict[str, object]:
    return {
        "seed": result.seed,
        "passed": result.passed,
        "trace_hash": result.trace_hash,
        "events": result.events,
        "outcomes": [
            {"label": o.label, "passed": o.passed, "detail": o.detail} for o in result.outcomes
        ],
        "errors": list(result.errors),
        "replay": None if result.passed else result.replay_command,
    }


async def run_command(invocation: Invocation) -> CommandResult:
    args = invocation.args
    path = Path(args.scenario)
    if not path.is_file():
        raise UsageError(f"no scenario file at {path}")
    seeds = _seeds(args.seed, args.seeds)
    results: list[ScenarioResult] = []
    with invocation.output.progress(f"simulating {path.name}", total=len(seeds)) as step:
        for seed in seeds:
            # CPU-bound and synchronous: run it in a worker thread so Ctrl-C stays responsive.
            result = await anyio.to_thread.run_sync(run_scenario, str(path), seed)
            results.append(result)
            step.advance()
    failed = [r for r in results if not r.passed]
    data = {
        "scenario": results[0].scenario,
        "seeds": len(results),
        "failed": len(failed),
        "results": [_result_json(r) for r in results],
    }
    if len(results) == 1:
        only = results[0]
        table = rows_table(
            f"{only.scenario} seed {only.seed}: {'PASS' if only.passed else 'FAIL'}",
            ("check", "result", "detail"),
            ((o.label, "ok" if o.passed else "FAILED", o.detail) for o in only.outcomes),
        )
        lines = [table, Text(f"trace {only.trace_hash} ({only.events} events)")]
        lines += [Text(f"step error: {e}", style="yellow") for e in only.errors]
    else:
        table = rows_table(
            f"{results[0].scenario}: {len(results) - len(failed)}/{len(results)} seeds passed",
            ("seed", "result", "trace", "events"),
            (
                (r.seed, "PASS" if r.passed else "FAIL", r.trace_hash[:16], r.events)
                for r in results
            ),
        )
        lines = [table]
    lines += [Text(f"replay: {r.replay_command}", style="red") for r in failed]
    return CommandResult(data, Group(*lines), ExitCode.FAILED if failed else ExitCode.OK)
