"""The deterministic multi-agent simulator: scenarios, determinism, replay, the fault menu."""

from __future__ import annotations

from pathlib import Path

import pytest

from aura_agent.simulator import load_scenario, parse_scenario, replay_command, run_scenario
from aura_agent.simulator.__main__ import main
from aura_core.errors import InvalidInput

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"

SMALL = """
name = "small"
duration_s = 20.0
[network]
latency_ms = 5
jitter_ms = 20
drop = 0.1
duplicate = 0.1
[[agent]]
name = "alice"
[[agent]]
name = "bob"
[[replica]]
of = "alice"
by = ["bob"]
[[step]]
at = 1.0
do = "run"
agent = "alice"
operation = "profile.set_nickname"
args = { nickname = "Al" }
[[expect]]
kind = "query"
agent = "bob"
query = "profile.nickname"
args = { authority = "@alice" }
equals = "Al"
"""


def test_same_seed_same_trace_hash_other_seed_other_hash():
    first = run_scenario(SMALL, 7)
    again = run_scenario(SMALL, 7)
    other = run_scenario(SMALL, 8)
    assert first.passed and again.passed and other.passed
    assert first.trace_hash == again.trace_hash
    assert first.events == again.events
    assert first.trace_hash != other.trace_hash


def test_a_failing_run_reports_the_command_that_replays_it(tmp_path, capsys):
    path = tmp_path / "wrong.toml"
    path.write_text(SMALL.replace('equals = "Al"', 'equals = "Bob"'), encoding="utf-8")
    result = run_scenario(path, 3)
    assert not result.passed
    assert result.replay_command == replay_command(str(path), 3)
    assert "--seed 3" in result.replay_command and str(path) in result.replay_command
    assert result.replay_command in result.report()
    assert "got 'Al', wanted 'Bob'" in result.report()
    # The replay command reproduces the same run.
    assert main(["run", str(path), "--seed", "3"]) == 1
    printed = capsys.readouterr().out
    assert result.trace_hash in printed and "FAIL" in printed
    good = tmp_path / "good.toml"
    good.write_text(SMALL, encoding="utf-8")
    assert main(["run", str(good), "--seeds", "0:2"]) == 0


@pytest.mark.parametrize(
    "scenario",
    [
        "profile-partition",
        "replica-crash-corruption",
        "consensus-byzantine",
        "contacts-chat-partition",
    ],
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shipped_scenarios_hold(scenario, seed):
    result = run_scenario(SCENARIOS / f"{scenario}.toml", seed)
    assert result.passed, result.report()
    assert not result.errors, result.report()


def test_every_fault_of_the_menu_is_exercised_by_a_shipped_scenario():
    network: set[str] = set()
    actions: set[str] = set()
    byzantine = False
    for path in SCENARIOS.glob("*.toml"):
        scenario = load_scenario(path)
        if scenario.network.drop:
            network.add("drop")
        if scenario.network.duplicate:
            network.add("duplicate")
        if scenario.network.jitter_s or scenario.network.delay:
            network.add("reorder")
        for step in scenario.steps:
            actions.add(step.do if step.do != "corrupt" else f"corrupt:{step.fields['target']}")
        byzantine |= any(group.byzantine for group in scenario.witness_groups)
    assert network == {"drop", "duplicate", "reorder"}
    assert {
        "partition",
        "heal",
        "crash",
        "restart",
        "skew",
        "corrupt:fact",
        "corrupt:lost_writes",
    } <= actions
    assert byzantine


def test_byzantine_witness_never_breaks_agreement_and_is_caught():
    results = [run_scenario(SCENARIOS / "consensus-competing.toml", seed) for seed in range(8)]
    agreement = [r.outcomes[0] for r in results]
    assert all(outcome.passed for outcome in agreement), [r.report() for r in results]
    caught = sum(r.outcomes[1].passed for r in results)
    assert caught >= 6, f"equivocation caught in only {caught} of 8 runs"


def test_contacts_and_chat_in_the_simulator_are_deterministic():
    path = SCENARIOS / "contacts-chat-partition.toml"
    first, again = run_scenario(path, 11), run_scenario(path, 11)
    assert first.passed, first.report()
    assert (first.trace_hash, first.events) == (again.trace_hash, again.events)


def test_corruption_is_detected_on_load_and_healed():
    result = run_scenario(SCENARIOS / "replica-crash-corruption.toml", 5)
    assert result.passed, result.report()
    corrupt = next(o for o in result.outcomes if "corrupt_records" in o.label)
    assert corrupt.passed


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        (('do = "run"', 'do = "explode"'), "unknown action"),
        (('agent = "bob"\nquery', 'agent = "zed"\nquery'), "unknown agent"),
        (("duration_s = 20.0", "duration_s = -1"), "duration_s"),
        (("drop = 0.1", "drop = 0.95"), "drop"),
        (("[[replica]]", "[[replica]]\nextra = 1"), "unknown field"),
        (
            (
                'equals = "Al"',
                'equals = "Al"\n[[step]]\nat = 2.0\ndo = "partition"\ngroups = [["alice"]]',
            ),
            "two sides",
        ),
    ],
)
def test_scenario_errors_name_what_is_wrong(mutation, message):
    old, new = mutation
    assert old in SMALL
    with pytest.raises(InvalidInput, match=message):
        parse_scenario(SMALL.replace(old, new, 1))


def test_scenario_needs_expectations_and_valid_toml():
    with pytest.raises(InvalidInput, match="expect"):
        parse_scenario(SMALL[: SMALL.index("[[expect]]")])
    with pytest.raises(InvalidInput, match="TOML"):
        parse_scenario("name = ")
    with pytest.raises(InvalidInput, match="seed"):
        run_scenario(SMALL, -1)
