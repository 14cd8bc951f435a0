"""Benchmark driver: ``python tools/bench.py AREA [--json]``.

Each area lives in ``tools/benchmarks/<area>.py`` and defines
``run(quick: bool) -> dict[str, float | int | str]`` plus ``GOALS``, a mapping
from result key to a human-readable goal (for the table ``make bench`` writes).
``all`` runs every area.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import platform
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _areas() -> list[str]:
    import benchmarks

    return sorted(
        m.name for m in pkgutil.iter_modules(benchmarks.__path__) if not m.name.startswith("_")
    )


def _markdown(results: dict[str, dict], goals: dict[str, dict]) -> str:
    machine = f"{os.cpu_count()} CPU(s), Python {platform.python_version()}, {platform.machine()}"
    lines = ["# Benchmarks", "", "Written by `make bench` (`tools/bench.py all`).", ""]
    lines += [f"Measured on {machine}; figures move with the machine's load.", ""]
    for area, res in results.items():
        lines += [f"## {area}", "", "| figure | result | goal |", "|---|---|---|"]
        for key, value in res.items():
            lines.append(f"| `{key}` | {value} | {goals[area].get(key, '')} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    areas = _areas()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("area", choices=[*areas, "all"])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (smoke run)")
    parser.add_argument("--markdown", metavar="FILE", help="also write a markdown table")
    args = parser.parse_args(argv)
    chosen = areas if args.area == "all" else [args.area]
    results: dict[str, dict] = {}
    goals: dict[str, dict] = {}
    failed: list[str] = []
    for area in chosen:
        module = importlib.import_module(f"benchmarks.{area}")
        goals[area] = getattr(module, "GOALS", {})
        try:
            results[area] = module.run(quick=args.quick)
        except Exception as exc:  # one broken area must not lose the others' figures
            if len(chosen) == 1:
                raise
            failed.append(area)
            results[area] = {"error": f"{type(exc).__name__}: {exc}"}
            print(f"[{area}] failed: {type(exc).__name__}: {exc}", file=sys.stderr)
    if args.json:
        out = results[chosen[0]] if len(chosen) == 1 else results
        print(json.dumps(out, indent=2, sort_keys=False))
    else:
        for area, res in results.items():
            print(f"[{area}]")
            for key, value in res.items():
                goal = goals[area].get(key, "")
                print(f"  {key:32} {value!s:>14}  {goal}")
    if args.markdown:
        Path(args.markdown).write_text(_markdown(results, goals) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
