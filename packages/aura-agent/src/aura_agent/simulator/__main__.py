"""``python -m aura_agent.simulator run SCENARIO --seed N [--seeds A:B]``: run and report.

Exit status 0 when every expectation held for every seed, 1 otherwise; a
failing seed prints the command that replays it.
"""

from __future__ import annotations

import argparse
import sys

from aura_agent.simulator.scenario_runner import run_scenario
from aura_core.errors import AuraError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aura_agent.simulator")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a scenario file")
    run.add_argument("scenario", help="path to a scenario .toml file")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--seeds", help="a range A:B of seeds instead of one")
    args = parser.parse_args(argv)
    if args.seeds:
        first, _, last = args.seeds.partition(":")
        seeds = range(int(first), int(last))
    else:
        seeds = range(args.seed, args.seed + 1)
    failed = 0
    for seed in seeds:
        try:
            result = run_scenario(args.scenario, seed)
        except AuraError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(result.report())
        failed += not result.passed
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
