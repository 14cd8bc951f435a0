"""Running a scenario: many agents in one process, every random choice from one seed.

:func:`run_scenario` builds a :class:`~aura_effects.simulated.Simulation`
(virtual time, seeded randomness, in-memory storage, a faulty network), one
:class:`SimAgent` per scenario agent, sets up the replicas and witness
groups the scenario names, schedules its steps and faults, runs it for its
duration and then checks every expectation. The same scenario and seed give
the same trace hash; a failing run carries the command that replays it.

Witness groups get trusted-dealer FROST keys drawn from the seed (the
devices feature runs a DKG in a live account; the simulator only needs a
group that is the same on every replay). A group's decisions go to a
context journal its members share and sync, so agreement can be checked on
what the agents actually hold.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from aura_agent.builtin_features import BUILTIN_FEATURES
from aura_agent.feature import Feature
from aura_agent.simulator.scenario import Expectation, Scenario, Step, load_scenario, parse_scenario
from aura_agent.simulator.sim_agent import (
    CONTROL_SOURCE,
    GroupSeat,
    SimAgent,
    control_message,
    settings_for_simulation,
)
from aura_agent.simulator.sim_relay import SimRelay
from aura_core.errors import AuraError, InvalidInput, NotFound
from aura_core.hashing import tagged_hash
from aura_core.identifiers import ContextId
from aura_effects.simulated import FaultPlan, Simulation, seconds_to_us
from aura_features.rendezvous import RelayHint
from aura_journal import JournalNamespace
from aura_protocol.consensus import (
    COMMIT_FACT_TYPE,
    EQUIVOCATION_FACT_TYPE,
    WitnessInfo,
    WitnessSet,
    witness_group_from_dealer,
)

__all__ = ["Outcome", "ScenarioResult", "replay_command", "run_scenario"]

_PRESTATE_DOMAIN = "AURA_SIM_GROUP_PRESTATE_V1"


@attrs.frozen
class Outcome:
    """One expectation and whether it held."""

    label: str
    passed: bool
    detail: str


@attrs.frozen
class ScenarioResult:
    """What a run produced."""

    scenario: str
    seed: int
    outcomes: tuple[Outcome, ...]
    trace_hash: str
    replay_command: str
    events: int
    errors: tuple[str, ...]
    """Errors raised by steps (a workflow refusing its arguments, say); not failures by themselves."""

    @property
    def passed(self) -> bool:
        return all(outcome.passed for outcome in self.outcomes)

    def report(self) -> str:
        """A human-readable summary; ends with the replay command when a check failed."""
        lines = [f"scenario {self.scenario} seed {self.seed}: {'PASS' if self.passed else 'FAIL'}"]
        for outcome in self.outcomes:
            lines.append(
                f"  [{'ok' if outcome.passed else 'FAILED'}] {outcome.label}: {outcome.detail}"
            )
        for error in self.errors:
            lines.append(f"  step error: {error}")
        lines.append(f"  trace {self.trace_hash} ({self.events} events)")
        if not self.passed:
            lines.append(f"  replay: {self.replay_command}")
        return "\n".join(lines)


def replay_command(source: str | None, seed: int) -> str:
    """The command that reruns this scenario with this seed."""
    target = shlex.quote(source) if source is not None else "<scenario given as text>"
    return f"uv run python -m aura_agent.simulator run {target} --seed {seed}"


class _World:
    """One run's simulation, agents and bookkeeping."""

    def __init__(self, scenario: Scenario, seed: int, features: Sequence[Feature]) -> None:
        self.scenario = scenario
        network = scenario.network
        self.sim = Simulation(
            seed,
            faults=FaultPlan(
                latency_s=network.latency_s,
                jitter_s=network.jitter_s,
                drop_rate=network.drop,
                duplicate_rate=network.duplicate,
                delay_rate=network.delay,
                delay_s=network.delay_s,
            ),
        )
        self.features = list(features)
        self.errors: list[str] = []
        self.saved: dict[str, Any] = {}
        relay_rng = self.sim.random.fork("relays")
        hints = tuple(
            RelayHint(f"mem://{relay.name}", relay_rng.random_bytes(32))
            for relay in scenario.relays
        )
        self.settings = attrs.evolve(settings_for_simulation(), relays=hints)
        self.seats: dict[str, list[GroupSeat]] = {agent.name: [] for agent in scenario.agents}
        self.group_scope: dict[str, JournalNamespace] = {}
        self.group_prestate: dict[str, bytes] = {}
        self.group_members: dict[str, tuple[str, ...]] = {}
        self._setup_groups()

    def _setup_groups(self) -> None:
        for spec in self.scenario.witness_groups:
            rng = self.sim.random.fork(f"witness-group:{spec.name}")
            credentials, dealt = witness_group_from_dealer(len(spec.members), spec.threshold, rng)
            members = [
                WitnessInfo(c.identifier, name, c.vote_key)
                for c, name in zip(credentials, spec.members, strict=True)
            ]
            witnesses = WitnessSet(members, dealt.public_key_package, 0)
            scope = JournalNamespace.context(
                ContextId.derive("sim-witness-group", spec.name.encode())
            )
            prestate = tagged_hash(_PRESTATE_DOMAIN, spec.name.encode())
            self.group_scope[spec.name] = scope
            self.group_prestate[spec.name] = prestate
            self.group_members[spec.name] = spec.members
            by_name = dict(zip(spec.members, credentials, strict=True))
            for name in {*spec.members, *spec.initiators}:
                self.seats[name].append(
                    GroupSeat(
                        spec.name,
                        witnesses,
                        scope,
                        prestate,
                        by_name.get(name),
                        name in spec.initiators,
                        name in spec.byzantine,
                    )
                )

    def build(self) -> None:
        for relay in self.scenario.relays:
            self.sim.add_node(relay.name, SimRelay)
        for spec in self.scenario.agents:
            seats = tuple(self.seats[spec.name])

            def factory(
                env: Any, spec: Any = spec, seats: tuple[GroupSeat, ...] = seats
            ) -> SimAgent:
                return SimAgent(
                    env,
                    features=self.features,
                    create_account=spec.account,
                    seats=seats,
                    settings=self.settings,
                    errors=self.errors,
                    saved=self.saved,
                )

            self.sim.add_node(spec.name, factory)
        for replica in self.scenario.replicas:
            namespace = JournalNamespace.authority(self._authority(replica.of))
            everyone = (replica.of, *replica.by)
            for name in everyone:
                routes = [other for other in everyone if other != name]
                self.sim.inject(
                    name,
                    control_message("peers", ns=namespace.to_bytes(), routes=routes),
                    source=CONTROL_SOURCE,
                )
        for group, members in self.group_members.items():
            namespace = self.group_scope[group]
            for name in members:
                routes = [other for other in members if other != name]
                self.sim.inject(
                    name,
                    control_message("peers", ns=namespace.to_bytes(), routes=routes),
                    source=CONTROL_SOURCE,
                )

    def agent(self, name: str) -> SimAgent:
        protocol = self.sim.protocol(name)
        assert isinstance(protocol, SimAgent)
        return protocol

    def _authority(self, name: str):
        authority = self.agent(name).authority
        if authority is None:
            raise NotFound(f"agent {name!r} has no account")
        return authority

    def resolve(self, value: Any) -> Any:
        """Replace ``"@name"`` by that agent's authority (printed) and ``"$name"`` by a saved
        step result, anywhere in a value."""
        if isinstance(value, str) and value.startswith("@") and value[1:] in self.seats:
            return str(self._authority(value[1:]))
        if isinstance(value, str) and value.startswith("$"):
            if value[1:] not in self.saved:
                raise NotFound(f"no step saved a result named {value[1:]!r} (yet)")
            return self.saved[value[1:]]
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        return value

    # ------------------------------------------------------------------ steps

    def schedule(self, step: Step) -> None:
        start = self.sim.scheduler.now_us
        self.sim.scheduler.call_at(start + seconds_to_us(step.at), self._perform, step)

    def _perform(self, step: Step) -> None:
        sim, fields = self.sim, step.fields
        try:
            if step.do == "run":
                payload = control_message(
                    "run",
                    operation=fields["operation"],
                    args=self.resolve(fields["args"]),
                    save=fields["save"],
                )
                sim.inject(fields["agent"], payload, source=CONTROL_SOURCE)
            elif step.do == "propose":
                payload = control_message(
                    "propose",
                    group=fields["group"],
                    slot=fields["slot"],
                    prestate=self.group_prestate[fields["group"]],
                    operation=self.resolve(fields["operation"]),
                )
                sim.inject(fields["agent"], payload, source=CONTROL_SOURCE)
            elif step.do == "sync":
                sim.inject(fields["agent"], control_message("sync"), source=CONTROL_SOURCE)
            elif step.do == "partition":
                sides = fields["groups"]
                for index, side in enumerate(sides):
                    for other in sides[index + 1 :]:
                        sim.partition(side, other)
            elif step.do == "heal":
                sim.heal()
            elif step.do == "crash":
                sim.crash(fields["agent"])
            elif step.do == "restart":
                sim.restart(fields["agent"])
            elif step.do == "skew":
                sim.set_clock_skew(fields["agent"], fields["seconds"])
            elif step.do == "corrupt":
                self._corrupt(fields["agent"], fields["target"], fields["count"])
        except AuraError as exc:
            self.errors.append(f"step {step.do} at {step.at}s: {type(exc).__name__}: {exc}")

    def _corrupt(self, name: str, target: str, count: int) -> None:
        storage = self.sim.environment(name).storage
        if target == "lost_writes":
            storage.lose_last_commits(count)
            return
        rng = self.sim.random.fork(f"corrupt:{name}:{self.sim.scheduler.now_us}")
        stored = []
        with storage.transaction(readonly=True) as txn:
            for key, _ in txn.scan("agent_journals"):
                journal = str(JournalNamespace.from_bytes(key))
                stored.extend(txn.scan_facts(journal))
        if not stored:
            raise NotFound(f"agent {name!r} has no stored fact to corrupt")
        for _ in range(count):
            victim = stored[rng.below(len(stored))]
            storage.corrupt_fact(victim.journal, victim.fact_id, rng.below(len(victim.body)))

    # ------------------------------------------------------------------ expectations

    def check(self, expectation: Expectation) -> Outcome:
        label = expectation.label or self._describe(expectation)
        try:
            passed, detail = self._evaluate(expectation)
        except AuraError as exc:
            passed, detail = False, f"{type(exc).__name__}: {exc}"
        return Outcome(label, passed, detail)

    @staticmethod
    def _describe(expectation: Expectation) -> str:
        fields = expectation.fields
        if expectation.kind == "query":
            return f"{fields['agent']}: {fields['query']}"
        if expectation.kind == "converged":
            return f"{'/'.join(fields['agents'])} hold the same journal of {fields['of']}"
        if expectation.kind in ("decided", "agreement", "equivocation_detected"):
            return f"group {fields['group']}: {expectation.kind.replace('_', ' ')}"
        if expectation.kind == "status":
            return f"{fields['agent']}: {fields['field']}"
        if expectation.kind == "chat":
            return f"{fields['agent']} reads from {fields['with']}"
        if expectation.kind == "contacts":
            return f"{fields['agent']} reaches its contacts"
        return f"{fields['agent']} holds {fields['type']} facts of {fields['of']}"

    def _evaluate(self, expectation: Expectation) -> tuple[bool, str]:
        kind, fields = expectation.kind, expectation.fields
        if kind == "query":
            value = self.agent(fields["agent"]).node.query(
                fields["query"], self.resolve(fields["args"])
            )
            if "equals" in fields:
                wanted = self.resolve(fields["equals"])
                return value == wanted, f"got {value!r:.120}, wanted {wanted!r:.120}"
            wanted_items = self.resolve(fields["contains"])
            missing = [item for item in wanted_items if item not in (value or ())]
            return (
                not missing,
                f"missing {missing!r:.120}" if missing else f"all {len(wanted_items)} present",
            )
        if kind == "converged":
            namespace = JournalNamespace.authority(self._authority(fields["of"]))
            holders = (fields["of"], *fields["agents"])
            sets = {}
            for name in holders:
                book = self.agent(name).node.book
                sets[name] = book.journal(namespace).cids() if namespace in book else frozenset()
            reference = sets[fields["of"]]
            differing = [name for name, cids in sets.items() if cids != reference]
            sizes = ", ".join(f"{name}={len(cids)}" for name, cids in sets.items())
            return not differing, f"facts {sizes}" + (f"; differ: {differing}" if differing else "")
        if kind in ("decided", "agreement", "equivocation_detected"):
            return self._consensus_check(kind, fields)
        if kind == "chat":
            lines = self.agent(fields["agent"]).node.query(
                "chat.history", {"with": str(self._authority(fields["with"]))}
            )
            texts = [line.text for line in lines]
            missing = [text for text in fields["texts"] if text not in texts]
            return not missing, f"holds {texts!r:.160}" + (
                f"; missing {missing!r:.80}" if missing else ""
            )
        if kind == "contacts":
            contacts = self.agent(fields["agent"]).node.query("contacts.list", {})
            reachable = sum(1 for contact in contacts if contact.reachable)
            return reachable >= fields[
                "reachable"
            ], f"{reachable} reachable of {len(contacts)} contacts"
        if kind == "status":
            value = self.figure(fields["agent"], fields["field"])
            return value >= fields[
                "at_least"
            ], f"{fields['field']} = {value}, wanted at least {fields['at_least']}"
        namespace = JournalNamespace.authority(self._authority(fields["of"]))
        book = self.agent(fields["agent"]).node.book
        count = (
            len(book.journal(namespace).facts_of_type(fields["type"])) if namespace in book else 0
        )
        return count >= fields["at_least"], f"{count} held, wanted at least {fields['at_least']}"

    def figure(self, name: str, field: str) -> int:
        agent = self.agent(name)
        node = agent.node
        figures = {
            "facts": node.book.fact_count(),
            "corrupt_records": node.book.corrupt_records,
            "anti_entropy_sessions": agent.metrics.anti_entropy_sessions,
            "frames_refused": agent.metrics.frames_refused,
            "consensus_decided": node.consensus.decided,
        }
        return figures[field]

    def _consensus_check(self, kind: str, fields: Any) -> tuple[bool, str]:
        group = fields["group"]
        scope = self.group_scope[group]
        spec = next(g for g in self.scenario.witness_groups if g.name == group)
        honest = [name for name in spec.members if name not in spec.byzantine]
        decisions: dict[tuple[bytes, bytes], set[bytes]] = {}
        holders = 0
        proofs = 0
        for name in honest:
            try:
                book = self.agent(name).node.book
            except NotFound:
                continue
            if scope not in book:
                continue
            journal = book.journal(scope)
            commits = journal.facts_of_type(COMMIT_FACT_TYPE)
            proofs += len(journal.facts_of_type(EQUIVOCATION_FACT_TYPE))
            if commits:
                holders += 1
            for fact in commits:
                body = journal.registry.body(fact)
                decisions.setdefault((body.consensus_id.raw, body.prestate_hash), set()).add(
                    body.operation_hash
                )
        if kind == "equivocation_detected":
            return proofs > 0, f"{proofs} equivocation proof fact(s) held by honest witnesses"
        split = [key for key, ops in decisions.items() if len(ops) > 1]
        if split:
            return False, f"AGREEMENT VIOLATED: {len(split)} instance(s) decided two operations"
        if kind == "agreement":
            return True, f"{len(decisions)} instance(s) decided, none with two operations"
        enough = len(decisions) >= fields["at_least"] and holders == len(honest)
        return enough, (
            f"{len(decisions)} instance(s) decided, held by {holders}/{len(honest)} honest witnesses"
        )


def run_scenario(
    scenario: str | Path | Scenario,
    seed: int,
    *,
    features: Sequence[Feature] | None = None,
) -> ScenarioResult:
    """Run ``scenario`` (a path, TOML text or a parsed :class:`Scenario`) with ``seed``.

    ``features`` defaults to the agent's built-in features. The result holds
    every expectation's outcome, the trace hash and the replay command.
    """
    if type(seed) is not int or not 0 <= seed < 2**63:
        raise InvalidInput(f"seed must be a non-negative int, got {seed!r:.40}")
    if isinstance(scenario, Scenario):
        parsed = scenario
    elif isinstance(scenario, Path) or (
        isinstance(scenario, str) and "\n" not in scenario and scenario.endswith(".toml")
    ):
        parsed = load_scenario(scenario)
    elif isinstance(scenario, str):
        parsed = parse_scenario(scenario)
    else:
        raise InvalidInput(
            f"a scenario is a path, TOML text or a Scenario, not {type(scenario).__name__}"
        )
    chosen = list(features) if features is not None else [factory() for factory in BUILTIN_FEATURES]
    world = _World(parsed, seed, chosen)
    world.build()
    for step in parsed.steps:
        world.schedule(step)
    events = world.sim.run(for_s=parsed.duration_s)
    outcomes = tuple(world.check(expectation) for expectation in parsed.expectations)
    return ScenarioResult(
        scenario=parsed.name,
        seed=seed,
        outcomes=outcomes,
        trace_hash=world.sim.trace_hash(),
        replay_command=replay_command(parsed.source, seed),
        events=events,
        errors=tuple(world.errors),
    )
