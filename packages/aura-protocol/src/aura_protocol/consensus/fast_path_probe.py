"""Measure fast-path latency in round trips, in the deterministic simulator.

One initiator proposes a series of operations, one at a time, to a fault-free
witness group over links with a fixed one-way latency. The time from
proposal to the initiator's decision, divided by one round trip, is the
figure the protocol promises: 1 in steady state (nonce commitments are
already cached), 2 on first contact and right after an epoch change (a
commitment round comes first). Used by the tests and the benchmarks.
"""

from __future__ import annotations

from collections.abc import Collection

import attrs

from aura_core.errors import InvalidInput
from aura_effects.simulated import FaultPlan, NodeEnvironment, SeededRandom, Simulation
from aura_protocol.consensus.binding import ConsensusId, encode_operation
from aura_protocol.consensus.config import ConsensusConfig
from aura_protocol.consensus.events import ConsensusEvent, Decided
from aura_protocol.consensus.sim_nodes import InitiatorNode, PlannedProposal, WitnessNode
from aura_protocol.consensus.witness_set import witness_group_from_dealer

__all__ = ["FastPathRun", "measure_round_trips"]

_GAP_S = 1.0


@attrs.frozen
class FastPathRun:
    """Per proposal: round trips to decision, and whether the fast path decided it."""

    round_trips: tuple[float, ...]
    fast_path: tuple[bool, ...]
    messages: int


def measure_round_trips(
    *,
    size: int = 3,
    threshold: int = 2,
    proposals: int = 5,
    latency_s: float = 0.01,
    epoch_changes_before: Collection[int] = (),
    seed: int = 0,
) -> FastPathRun:
    """Run ``proposals`` sequential instances; key epochs change before the listed indices."""
    if proposals < 1:
        raise InvalidInput("measure at least one proposal")
    rng = SeededRandom(seed).fork("probe-keys")
    creds, witnesses = witness_group_from_dealer(size, threshold, rng)
    config = ConsensusConfig()
    sim = Simulation(seed, faults=FaultPlan(latency_s=latency_s))
    start = sim.scheduler.now_us / 1_000_000
    decided: list[tuple[float, Decided]] = []

    def observe(node: str, event: ConsensusEvent, now: float) -> None:
        if node == "initiator" and isinstance(event, Decided):
            decided.append((sim.scheduler.now_us / 1_000_000, event))

    prestate = SeededRandom(seed).fork("probe-prestate").random_bytes(32)
    for cred in creds:

        def witness(env: NodeEnvironment, cred: object = cred) -> WitnessNode:
            return WitnessNode(
                env,
                credentials=cred,  # type: ignore[arg-type]
                witnesses=witnesses,
                prestate_hash=prestate,
                config=config,
                observer=observe,
            )

        sim.add_node(f"w{cred.identifier}", witness)
    times = [start + _GAP_S * (i + 1) for i in range(proposals)]
    plan = tuple(
        PlannedProposal(
            at,
            ConsensusId.for_slot(b"probe", prestate, i.to_bytes(4, "big")),
            prestate,
            encode_operation({"probe": i}),
        )
        for i, at in enumerate(times)
    )
    sim.add_node(
        "initiator",
        lambda env: InitiatorNode(
            env, witnesses=witnesses, config=config, plan=plan, observer=observe
        ),
    )

    def change_epoch(epoch: int) -> None:
        nonlocal creds, witnesses
        creds, witnesses = witness_group_from_dealer(size, threshold, rng, epoch=epoch)
        for cred in creds:
            node = sim.protocol(f"w{cred.identifier}")
            node.witness.change_epoch(cred, witnesses)  # type: ignore[attr-defined]
        sim.protocol("initiator").initiator.change_epoch(witnesses)  # type: ignore[attr-defined]

    for epoch, index in enumerate(sorted(epoch_changes_before), start=1):
        if not 0 <= index < proposals:
            raise InvalidInput(f"epoch change before proposal {index} is out of range")
        at_us = round((times[index] - _GAP_S / 2) * 1_000_000)
        sim.scheduler.call_at(at_us, change_epoch, epoch)
    sim.run(for_s=_GAP_S * (proposals + 2))
    if len(decided) != proposals:
        raise InvalidInput(f"only {len(decided)} of {proposals} probe proposals decided")
    rtt = 2 * latency_s
    return FastPathRun(
        round_trips=tuple(
            round((when - at) / rtt, 3) for (when, _), at in zip(decided, times, strict=True)
        ),
        fast_path=tuple(event.fact.fast_path for _, event in decided),
        messages=sim.network.delivered,
    )
