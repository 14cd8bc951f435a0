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
    RelaySpec,
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
from aura_agent.simulator.sim_relay import (
    MAX_HELD_PER_MAILBOX,
    SimRelay,
    relay_ack,
    relay_deposit,
    relay_fetch,
)

__all__ = [
    "CONTROL_SOURCE",
    "MAX_HELD_PER_MAILBOX",
    "AgentSpec",
    "Expectation",
    "GroupSeat",
    "NetworkSpec",
    "Outcome",
    "RelaySpec",
    "ReplicaSpec",
    "Scenario",
    "ScenarioResult",
    "SimAgent",
    "SimRelay",
    "Step",
    "WitnessGroupSpec",
    "control_message",
    "load_scenario",
    "parse_scenario",
    "relay_ack",
    "relay_deposit",
    "relay_fetch",
    "replay_command",
    "run_scenario",
]
