"""Choreographies: parse a global protocol and project every role.

The workload is ``packages/aura-journal/tests/choreo/guardian_recovery.choreo``:
4 roles, 30 messages, a loop and two choices, with annotations.
``parse_project_ms`` is parse + well-formedness check (which projects every
role) + ``project_all``, i.e. what loading a protocol costs.
"""

from __future__ import annotations

from pathlib import Path

from aura_journal.mpst import format_protocol, parse_choreography, project_all
from benchmarks._timing import median_ms

GOALS = {
    "parse_project_ms": "median ms to parse + check + project all 4 roles (30 messages); goal <= 5",
    "parse_only_ms": "median ms to parse without checks (no goal)",
    "project_all_ms": "median ms to project all roles of a parsed protocol (no goal)",
    "format_ms": "median ms to pretty-print the protocol (no goal)",
}

_EXAMPLE = (
    Path(__file__).resolve().parents[2]
    / "packages"
    / "aura-journal"
    / "tests"
    / "choreo"
    / "guardian_recovery.choreo"
)


def run(quick: bool) -> dict[str, float | int | str]:
    source = _EXAMPLE.read_text(encoding="utf-8")
    protocol = parse_choreography(source)
    number = 5 if quick else 50
    return {
        "parse_project_ms": median_ms(
            lambda: project_all(parse_choreography(source)), number=number
        ),
        "parse_only_ms": median_ms(lambda: parse_choreography(source, check=False), number=number),
        "project_all_ms": median_ms(lambda: project_all(protocol), number=number),
        "format_ms": median_ms(lambda: format_protocol(protocol), number=number),
    }
