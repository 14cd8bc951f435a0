"""Seeded fault campaign for Aura Consensus in the deterministic simulator.

Each seed draws a scenario — witness set size and threshold, message loss,
duplication and reordering, a partition, witness crashes (with or without
restart), an initiator crash, a witness with a stale prestate, a competing
initiator, a Byzantine witness that signs everything and forges a rival
operation — runs it in :class:`aura_effects.simulated.Simulation`, heals
every fault, lets it settle, and checks:

* **agreement**: every commit fact anyone produced or accepted verifies and
  all of them carry one decision per (consensus id, prestate);
* **liveness**: if ``t`` honest witnesses voted for one operation (or there
  was one proposer and it is up at the end), a decision exists and every
  honest witness that voted, and every running initiator, holds it (a
  witness that never heard of the instance learns the commit fact through
  journal anti-entropy, not through consensus).

Run ``python -m aura_protocol.consensus.campaign --seed N`` to replay one
seed (same seed, same trace hash), ``--seeds A:B`` for a range. A failing
seed prints the command that replays it.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence

import attrs

from aura_core.effects import Incoming, Outgoing
from aura_core.errors import CryptoError
from aura_core.hashing import tagged_hash
from aura_core.identifiers import AuthorityId
from aura_effects.simulated import FaultPlan, NodeEnvironment, Scheduler, SeededRandom, Simulation
from aura_protocol.consensus.binding import ConsensusId, encode_operation
from aura_protocol.consensus.byzantine_witness import EquivocatingWitness
from aura_protocol.consensus.commit_fact import CommitFact
from aura_protocol.consensus.config import ConsensusConfig
from aura_protocol.consensus.events import (
    ConsensusEvent,
    Decided,
    EquivocationDetected,
    FallbackStarted,
)
from aura_protocol.consensus.prestate import Prestate
from aura_protocol.consensus.sim_nodes import (
    InitiatorNode,
    PlannedProposal,
    WitnessNode,
    stored_decisions,
    stored_votes,
)
from aura_protocol.consensus.witness_set import (
    WitnessCredentials,
    WitnessSet,
    witness_group_from_dealer,
)

__all__ = [
    "SHAPES",
    "Crash",
    "RunResult",
    "Scenario",
    "draw_scenario",
    "main",
    "replay_command",
    "run_campaign",
    "run_scenario",
]

SHAPES: tuple[tuple[int, int], ...] = ((3, 2), (4, 3), (5, 3), (5, 4))
"""(n, t) witness set shapes the campaign draws from."""

_CONFIG = ConsensusConfig(fallback_timeout_s=0.5, gossip_interval_s=0.25, fanout=3)


def replay_command(seed: int) -> str:
    return f"uv run python -m aura_protocol.consensus.campaign --seed {seed}"


@attrs.frozen
class Crash:
    """``node`` crashes at ``at`` and restarts at ``restart_at`` (None: stays down)."""

    node: str
    at: float
    restart_at: float | None


@attrs.frozen
class Scenario:
    """Everything one seed decides about a run (times are seconds after the start)."""

    seed: int
    n: int
    t: int
    latency_s: float
    jitter_s: float
    drop_rate: float
    duplicate_rate: float
    delay_rate: float
    partition: tuple[float, tuple[str, ...], tuple[str, ...]] | None
    crashes: tuple[Crash, ...]
    skews: tuple[tuple[str, float], ...]
    byzantine: int | None
    stale: int | None
    competing: bool
    propose_at: float
    rival_at: float
    heal_at: float
    settle_s: float

    @property
    def witness_names(self) -> tuple[str, ...]:
        return tuple(f"w{i}" for i in range(1, self.n + 1))

    @property
    def initiators(self) -> tuple[str, ...]:
        return ("init-a", "init-b") if self.competing else ("init-a",)

    def describe(self) -> str:
        parts = [
            f"{self.t}-of-{self.n}",
            f"drop={self.drop_rate:.2f} dup={self.duplicate_rate:.2f} delay={self.delay_rate:.2f}",
        ]
        if self.partition is not None:
            parts.append(f"partition@{self.partition[0]:.1f}s")
        for crash in self.crashes:
            back = "never" if crash.restart_at is None else f"{crash.restart_at:.1f}s"
            parts.append(f"crash {crash.node}@{crash.at:.1f}s->{back}")
        if self.byzantine is not None:
            parts.append(f"byzantine w{self.byzantine}")
        if self.stale is not None:
            parts.append(f"stale w{self.stale}")
        if self.competing:
            parts.append("competing initiator")
        return ", ".join(parts)


def _pick(rng: SeededRandom, options: Sequence[object]) -> object:
    return options[rng.below(len(options))]


def draw_scenario(seed: int) -> Scenario:
    """The scenario of ``seed``: a pure function of the seed."""
    rng = SeededRandom(seed).fork("scenario")
    n, t = SHAPES[rng.below(len(SHAPES))]
    names = [f"w{i}" for i in range(1, n + 1)]
    byzantine = 1 + rng.below(n) if (2 * t - n >= 2 and rng.chance(0.35)) else None
    competing = rng.chance(0.25)
    initiators = ["init-a", "init-b"] if competing else ["init-a"]
    honest = [i for i in range(1, n + 1) if i != byzantine]
    stale = None
    if len(honest) - 1 >= t and rng.chance(0.15):
        stale = honest[rng.below(len(honest))]
    heal_at = 3.0 + rng.uniform() * 7.0
    # Faulty-but-counted witnesses must leave t honest ones alive at the end.
    spare = len(honest) - (1 if stale is not None else 0) - t
    crashes: list[Crash] = []
    candidates = [name for i, name in enumerate(names, 1) if i != byzantine]
    for _ in range(rng.below(3)):
        name = str(_pick(rng, candidates))
        if any(c.node == name for c in crashes):
            continue
        at = rng.uniform() * heal_at * 0.8
        forever = spare > 0 and rng.chance(0.3)
        if forever:
            spare -= 1
        restart = None if forever else at + rng.uniform() * (heal_at - at)
        crashes.append(Crash(name, at, restart))
    if rng.chance(0.25):
        at = rng.uniform() * heal_at * 0.5
        restart = None if rng.chance(0.3) else at + rng.uniform() * (heal_at - at)
        crashes.append(Crash("init-a", at, restart))
    partition = None
    if rng.chance(0.4):
        everyone = names + initiators
        side_a = tuple(x for x in everyone if rng.chance(0.5))
        side_b = tuple(x for x in everyone if x not in side_a)
        if side_a and side_b:
            partition = (rng.uniform() * 2.0, side_a, side_b)
    skews = tuple(
        (name, (rng.uniform() - 0.5) * 2.0) for name in names + initiators if rng.chance(0.2)
    )
    return Scenario(
        seed=seed,
        n=n,
        t=t,
        latency_s=0.002 + rng.uniform() * 0.02,
        jitter_s=rng.uniform() * 0.02,
        drop_rate=float(_pick(rng, (0.0, 0.0, 0.05, 0.15, 0.3))),  # type: ignore[arg-type]
        duplicate_rate=float(_pick(rng, (0.0, 0.05, 0.2))),  # type: ignore[arg-type]
        delay_rate=float(_pick(rng, (0.0, 0.05, 0.15))),  # type: ignore[arg-type]
        partition=partition,
        crashes=tuple(crashes),
        skews=skews,
        byzantine=byzantine,
        stale=stale,
        competing=competing,
        propose_at=0.1 + rng.uniform() * 0.5,
        rival_at=0.1 + rng.uniform() * 0.5,
        heal_at=heal_at,
        settle_s=60.0,
    )


@attrs.frozen
class RunResult:
    """What one run did and whether it kept the invariants."""

    seed: int
    description: str
    decided: bool
    fast_path: bool | None
    decision_latency_s: float | None
    liveness_required: bool
    equivocations_detected: int
    fallbacks: int
    messages: int
    trace_hash: str
    failures: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.failures


class _Recorder:
    """Collects every consensus event of the run, from every node."""

    def __init__(self, scheduler: Scheduler) -> None:
        self._scheduler = scheduler
        self.facts: list[tuple[str, CommitFact, float]] = []
        self.proofs: list[str] = []
        self.fallbacks = 0

    def __call__(self, node: str, event: ConsensusEvent, now: float) -> None:
        if isinstance(event, Decided):
            # Global virtual time, not the node's (possibly skewed) clock.
            self.facts.append((node, event.fact, self._scheduler.now_us / 1_000_000))
        elif isinstance(event, EquivocationDetected):
            self.proofs.append(node)
        elif isinstance(event, FallbackStarted):
            self.fallbacks += 1


def _credentials(scenario: Scenario) -> tuple[tuple[WitnessCredentials, ...], WitnessSet]:
    return witness_group_from_dealer(
        scenario.n, scenario.t, SeededRandom(scenario.seed).fork("keys")
    )


def _prestate(seed: int, label: bytes) -> bytes:
    """A prestate hash per seed; ``label`` tells the current state from a stale one."""
    rng = SeededRandom(seed).fork("prestate")
    authority = AuthorityId(rng.random_bytes(16))
    commitment = rng.random_bytes(32)
    context = tagged_hash("AURA_CAMPAIGN_CONTEXT_V1", label)
    return Prestate(((authority, commitment),), context).hash


def run_scenario(scenario: Scenario, *, keep_events: bool = False) -> RunResult:
    """Run one scenario to the end and check agreement and liveness."""
    faults = FaultPlan(
        latency_s=scenario.latency_s,
        jitter_s=scenario.jitter_s,
        drop_rate=scenario.drop_rate,
        duplicate_rate=scenario.duplicate_rate,
        delay_rate=scenario.delay_rate,
        delay_s=0.5,
    )
    sim = Simulation(scenario.seed, faults=faults, keep_events=keep_events)
    start = sim.scheduler.now_us / 1_000_000
    recorder = _Recorder(sim.scheduler)
    creds, witnesses = _credentials(scenario)
    prestate = _prestate(scenario.seed, b"current")
    stale_prestate = _prestate(scenario.seed, b"stale")
    cid = ConsensusId.for_slot(b"campaign-authority", prestate, b"tree-op")
    op_a = encode_operation({"op": "rotate-device", "seed": scenario.seed})
    op_b = encode_operation({"op": "add-guardian", "seed": scenario.seed})

    for cred in creds:
        name = f"w{cred.identifier}"
        own_prestate = stale_prestate if cred.identifier == scenario.stale else prestate
        if cred.identifier == scenario.byzantine:

            def byzantine(env: NodeEnvironment, cred: WitnessCredentials = cred) -> _ByzantineNode:
                return _ByzantineNode(env, cred, witnesses, prestate, recorder)

            sim.add_node(name, byzantine)
            continue

        def honest(
            env: NodeEnvironment, cred: WitnessCredentials = cred, own: bytes = own_prestate
        ) -> WitnessNode:
            return WitnessNode(
                env,
                credentials=cred,
                witnesses=witnesses,
                prestate_hash=own,
                config=_CONFIG,
                observer=recorder,
            )

        sim.add_node(name, honest)

    plans = {"init-a": (scenario.propose_at, op_a), "init-b": (scenario.rival_at, op_b)}
    for name in scenario.initiators:
        at, operation = plans[name]
        plan = (PlannedProposal(start + at, cid, prestate, operation),)

        def initiator(
            env: NodeEnvironment, plan: tuple[PlannedProposal, ...] = plan
        ) -> InitiatorNode:
            return InitiatorNode(
                env, witnesses=witnesses, config=_CONFIG, plan=plan, observer=recorder
            )

        sim.add_node(name, initiator)

    for name, skew in scenario.skews:
        sim.set_clock_skew(name, skew)
    scheduler = sim.scheduler

    def at(seconds: float, action: object, *args: object) -> None:
        scheduler.call_at(round((start + seconds) * 1_000_000), action, *args)  # type: ignore[arg-type]

    if scenario.partition is not None:
        when, side_a, side_b = scenario.partition
        at(when, sim.partition, side_a, side_b)
    for crash in scenario.crashes:
        at(crash.at, sim.crash, crash.node)
        if crash.restart_at is not None:
            at(crash.restart_at, sim.restart, crash.node)
    at(scenario.heal_at, sim.heal)
    sim.run(for_s=scenario.heal_at + scenario.settle_s)
    return _judge(scenario, sim, recorder, cid, prestate, witnesses, start)


def _judge(
    scenario: Scenario,
    sim: Simulation,
    recorder: _Recorder,
    cid: ConsensusId,
    prestate: bytes,
    witnesses: WitnessSet,
    start: float,
) -> RunResult:
    failures: list[str] = []
    decisions: dict[tuple[ConsensusId, bytes], set[bytes]] = {}
    for node, fact, _when in recorder.facts:
        try:
            fact.verify(witnesses)
        except CryptoError as exc:
            failures.append(f"{node} holds a commit fact that does not verify: {exc.message}")
        decisions.setdefault(fact.instance, set()).add(fact.operation_hash)
    for instance, operations in decisions.items():
        if len(operations) > 1:
            failures.append(
                f"AGREEMENT VIOLATED: {len(operations)} different operations committed for {instance[0]}"
            )
    down_forever = {c.node for c in scenario.crashes if c.restart_at is None}
    honest = [
        f"w{i}"
        for i in range(1, scenario.n + 1)
        if i not in (scenario.byzantine, scenario.stale) and f"w{i}" not in down_forever
    ]
    votes: Counter[bytes] = Counter()
    voters = []
    for name in honest:
        for record in stored_votes(sim.environment(name)):
            if record.instance == (cid, prestate):
                votes[record.rid] += 1
                voters.append(name)
    quorum_voted = any(count >= scenario.t for count in votes.values())
    initiators_up = [n for n in scenario.initiators if n not in down_forever]
    single_proposer = not scenario.competing and scenario.byzantine is None
    required = quorum_voted or (single_proposer and bool(initiators_up))
    decided_ops = decisions.get((cid, prestate), set())
    if required:
        if not decided_ops:
            failures.append(
                "LIVENESS: no decision (honest votes per operation: "
                f"{sorted(votes.values(), reverse=True)})"
            )
        # Participants must learn the decision; a witness that never heard of
        # the instance gets the commit fact through journal anti-entropy.
        for name in [*voters, *initiators_up]:
            held = {f.decision for f in stored_decisions(sim.environment(name))}
            if not any(d[:2] == (cid, prestate) for d in held):
                failures.append(f"LIVENESS: {name} never learned the decision")
    first = min((when for _n, _f, when in recorder.facts), default=None)
    fast = None
    if recorder.facts:
        produced = [f for _n, f, _w in recorder.facts]
        fast = any(f.fast_path for f in produced)
    proposed = start + min(scenario.propose_at, scenario.rival_at if scenario.competing else 99.0)
    return RunResult(
        seed=scenario.seed,
        description=scenario.describe(),
        decided=bool(decided_ops),
        fast_path=fast,
        decision_latency_s=None if first is None else max(0.0, first - proposed),
        liveness_required=required,
        equivocations_detected=len(recorder.proofs),
        fallbacks=recorder.fallbacks,
        messages=sim.network.delivered + sim.network.dropped,
        trace_hash=sim.trace_hash(),
        failures=tuple(failures),
    )


class _ByzantineNode:
    """Simulator node around :class:`EquivocatingWitness` (keeps nothing durable: it lies anyway)."""

    def __init__(
        self,
        env: NodeEnvironment,
        credentials: WitnessCredentials,
        witnesses: WitnessSet,
        prestate: bytes,
        observer: _Recorder,
    ) -> None:
        self._env = env
        self._observer = observer
        self.core = EquivocatingWitness(
            address=env.name,
            credentials=credentials,
            witnesses=witnesses,
            prestate_hash=prestate,
            rng=env.random,
            config=_CONFIG,
        )

    def _drain(self, now: float, out: list[Outgoing]) -> list[Outgoing]:
        for event in self.core.take_events():
            self._observer(self._env.name, event, now)
        return out

    def receive(self, message: Incoming, now: float) -> list[Outgoing]:
        return self._drain(now, self.core.receive(message, now))

    def next_timer(self) -> float | None:
        return self.core.next_timer()

    def on_timer(self, now: float) -> list[Outgoing]:
        return self._drain(now, self.core.on_timer(now))


def run_campaign(seeds: Iterable[int]) -> list[RunResult]:
    return [run_scenario(draw_scenario(seed)) for seed in seeds]


def _parse_range(text: str) -> range:
    low, _, high = text.partition(":")
    return range(int(low), int(high))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Aura Consensus fault campaign (deterministic).")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--seed", type=int, help="replay one seed and describe it")
    group.add_argument(
        "--seeds", type=_parse_range, default=range(0, 200), help="A:B (default 0:200)"
    )
    args = parser.parse_args(argv)
    seeds = [args.seed] if args.seed is not None else list(args.seeds)
    began = time.perf_counter()
    results = []
    for seed in seeds:
        result = run_scenario(draw_scenario(seed))
        results.append(result)
        if args.seed is not None or not result.ok:
            status = "ok" if result.ok else "FAILED"
            print(f"seed {seed}: {status} — {result.description}")
            print(
                f"  decided={result.decided} fast_path={result.fast_path} "
                f"latency={result.decision_latency_s} fallbacks={result.fallbacks} "
                f"equivocations_detected={result.equivocations_detected} messages={result.messages}"
            )
            print(f"  trace {result.trace_hash}")
            for failure in result.failures:
                print(f"  {failure}")
            if not result.ok:
                print(f"  replay: {replay_command(seed)}")
    elapsed = time.perf_counter() - began
    failed = [r for r in results if not r.ok]
    decided = sum(r.decided for r in results)
    fast = sum(bool(r.fast_path) for r in results)
    print(
        f"{len(results)} runs in {elapsed:.1f} s: {decided} decided ({fast} with a fast-path commit), "
        f"{sum(r.liveness_required for r in results)} required to decide, "
        f"{sum(r.equivocations_detected > 0 for r in results)} with equivocation detected, "
        f"{len(failed)} failed"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
