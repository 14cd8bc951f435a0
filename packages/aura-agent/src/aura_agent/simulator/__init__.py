"""aura_agent.simulator — many agents in one process, deterministic, from TOML scenarios.

``run_scenario(path_or_text, seed) -> ScenarioResult``: the same scenario and
seed give the same trace hash; a failing result carries the command that
replays it (``python -m aura_agent.simulator run SCENARIO --seed N``). The
fault menu: message drop, duplication and reordering (``[network]``),
partitions, crash and restart, clock skew, storage corruption and lost
writes, and Byzantine (equivocating) witnesses. See ``docs/simulator.md``.
"""

from aura_agent.simulator.scenario import (
    AgentSpec,
    Expectation,
    NetworkSpec,
    ReplicaSpec,
    Scenario,
    Step,
    WitnessGroupSpec,
    load_scenario,
    parse_scenario,
)
from aura_agent.simulator.scenario_runner import (
    Outcome,
    ScenarioResult,
    replay_command,
    run_scenario,
)
from aura_agent.simulator.sim_agent import CONTROL_SOURCE, GroupSeat, SimAgent, control_message

__all__ = [
    "CONTROL_SOURCE",
    "AgentSpec",
    "Expectation",
    "GroupSeat",
    "NetworkSpec",
    "Outcome",
    "ReplicaSpec",
    "Scenario",
    "ScenarioResult",
    "SimAgent",
    "Step",
    "WitnessGroupSpec",
    "control_message",
    "load_scenario",
    "parse_scenario",
    "replay_command",
    "run_scenario",
]
