"""Simulator nodes: the consensus cores driven by ``aura_effects.simulated``.

A node wraps one sans-IO core, plays the driver's part — persist every
:class:`~aura_protocol.consensus.events.VoteRecorded` to the node's storage
*before* the messages of the same call leave, keep decisions durable — and
reports every event to an observer, which is how the campaign checks safety.
A crash forgets the core; the storage survives, so the restarted node comes
back with its votes and decisions, but without its in-memory nonces.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs

from aura_core.effects import Incoming, Outgoing
from aura_effects.simulated import NodeEnvironment
from aura_protocol.consensus.binding import ConsensusId
from aura_protocol.consensus.commit_fact import CommitFact
from aura_protocol.consensus.config import TIMER_SLACK_S, ConsensusConfig
from aura_protocol.consensus.events import ConsensusEvent, Decided, VoteRecord, VoteRecorded
from aura_protocol.consensus.initiator import Initiator
from aura_protocol.consensus.witness import OperationCheck, Witness
from aura_protocol.consensus.witness_set import WitnessCredentials, WitnessSet

__all__ = [
    "DECISIONS_TABLE",
    "VOTES_TABLE",
    "EventObserver",
    "InitiatorNode",
    "PlannedProposal",
    "WitnessNode",
    "stored_decisions",
    "stored_votes",
]

VOTES_TABLE = "consensus_votes"
DECISIONS_TABLE = "consensus_decisions"

EventObserver = Callable[[str, ConsensusEvent, float], None]
"""Called with (node name, event, node time) for every event a core reports."""


def stored_votes(env: NodeEnvironment) -> list[VoteRecord]:
    with env.storage.transaction(readonly=True) as tx:
        return [VoteRecord.decode(value) for _key, value in tx.scan(VOTES_TABLE)]


def stored_decisions(env: NodeEnvironment) -> list[CommitFact]:
    with env.storage.transaction(readonly=True) as tx:
        return [CommitFact.decode(value) for _key, value in tx.scan(DECISIONS_TABLE)]


def _persist(env: NodeEnvironment, events: Sequence[ConsensusEvent]) -> None:
    writes = []
    for event in events:
        if isinstance(event, VoteRecorded):
            writes.append((VOTES_TABLE, event.record.storage_key, event.record.encode()))
        elif isinstance(event, Decided):
            fact = event.fact
            writes.append(
                (DECISIONS_TABLE, fact.consensus_id.raw + fact.prestate_hash, fact.encode())
            )
    if writes:
        with env.storage.transaction() as tx:
            for table, key, value in writes:
                tx.put(table, key, value)


class WitnessNode:
    """A :class:`Witness` whose votes and decisions live in the node's simulated storage."""

    def __init__(
        self,
        env: NodeEnvironment,
        *,
        credentials: WitnessCredentials,
        witnesses: WitnessSet,
        prestate_hash: bytes,
        config: ConsensusConfig,
        observer: EventObserver,
        operation_check: OperationCheck | None = None,
    ) -> None:
        self._env = env
        self._observer = observer
        self.witness = Witness(
            address=env.name,
            credentials=credentials,
            witnesses=witnesses,
            prestate_hash=prestate_hash,
            rng=env.random,
            config=config,
            votes=stored_votes(env),
            decided=stored_decisions(env),
            operation_check=operation_check,
        )

    def _drain(self, now: float, outputs: list[Outgoing]) -> list[Outgoing]:
        events = self.witness.take_events()
        _persist(self._env, events)  # durable before any of ``outputs`` is sent
        for event in events:
            self._observer(self._env.name, event, now)
        return outputs

    def receive(self, message: Incoming, now: float) -> list[Outgoing]:
        return self._drain(now, self.witness.receive(message, now))

    def next_timer(self) -> float | None:
        return self.witness.next_timer()

    def on_timer(self, now: float) -> list[Outgoing]:
        return self._drain(now, self.witness.on_timer(now))


@attrs.frozen
class PlannedProposal:
    """An operation the initiator node proposes at ``at`` (node clock, seconds)."""

    at: float
    consensus_id: ConsensusId
    prestate_hash: bytes
    operation: bytes


class InitiatorNode:
    """An :class:`Initiator` that proposes its planned operations when their time comes.

    A restarted initiator has forgotten everything and proposes again every
    planned operation it has no stored decision for (as a client retrying
    after a crash would).
    """

    def __init__(
        self,
        env: NodeEnvironment,
        *,
        witnesses: WitnessSet,
        config: ConsensusConfig,
        plan: Sequence[PlannedProposal],
        observer: EventObserver,
    ) -> None:
        self._env = env
        self._observer = observer
        self.initiator = Initiator(address=env.name, witnesses=witnesses, config=config)
        done = {f.instance for f in stored_decisions(env)}
        self._pending = sorted(
            (p for p in plan if (p.consensus_id, p.prestate_hash) not in done),
            key=lambda p: p.at,
        )

    def _drain(self, now: float, outputs: list[Outgoing]) -> list[Outgoing]:
        events = self.initiator.take_events()
        _persist(self._env, events)
        for event in events:
            self._observer(self._env.name, event, now)
        return outputs

    def receive(self, message: Incoming, now: float) -> list[Outgoing]:
        return self._drain(now, self.initiator.receive(message, now))

    def next_timer(self) -> float | None:
        core = self.initiator.next_timer()
        planned = self._pending[0].at if self._pending else None
        if core is None:
            return planned
        return core if planned is None else min(core, planned)

    def on_timer(self, now: float) -> list[Outgoing]:
        out: list[Outgoing] = []
        while self._pending and self._pending[0].at <= now + TIMER_SLACK_S:
            plan = self._pending.pop(0)
            out += self.initiator.propose(
                plan.consensus_id, plan.prestate_hash, plan.operation, now
            )
        out += self.initiator.on_timer(now)
        return self._drain(now, out)
