"""Consensus inside an agent: the witness and initiator cores of each group it is in.

Core messages travel wrapped in :class:`~aura_agent.agent_frame.ConsensusFrame`
(the group id tells a receiver which of its groups a message is for).

A group is a witness set (an account's devices, a guardian set) with a
journal namespace its decisions belong to. The service routes consensus
frames to the right core by message type, persists every vote before the
messages of the same step leave (the safety rule of ``docs/consensus.md``),
keeps decisions durable, and turns each decision and equivocation proof into
a fact of the group's journal, from where anti-entropy spreads it to every
replica. Cores are sans-IO; so is this service.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs

from aura_agent.agent_frame import ConsensusFrame, encode_frame
from aura_core.crypto import RandomSource
from aura_core.effects import Incoming, Outgoing, StorageEffects
from aura_core.errors import AuraError, InvalidInput
from aura_core.hashing import tagged_hash
from aura_core.time_domains import PhysicalTime, TimeStamp
from aura_journal import FactMetadata, JournalNamespace, order_time_from_entropy
from aura_protocol.consensus import (
    CommitFact,
    CommitNotice,
    CommitOffer,
    CommitRequest,
    ConsensusConfig,
    ConsensusEvent,
    ConsensusId,
    Decided,
    EquivocationDetected,
    Execute,
    ExecuteReply,
    Gossip,
    Initiator,
    OperationCheck,
    ProposalAbandoned,
    Refusal,
    VoteRecord,
    VoteRecorded,
    Witness,
    WitnessCredentials,
    WitnessSet,
    decode_message,
    fact_for_commit,
    fact_for_proof,
)
from aura_protocol.consensus.byzantine_witness import EquivocatingWitness

__all__ = ["DECISIONS_TABLE", "VOTES_TABLE", "ConsensusGroup", "ConsensusService", "group_id_of"]

VOTES_TABLE = "agent_consensus_votes"
DECISIONS_TABLE = "agent_consensus_decisions"
_GROUP_DOMAIN = "AURA_AGENT_WITNESS_GROUP_V1"
_FACT_ORDER_DOMAIN = "AURA_AGENT_CONSENSUS_FACT_ORDER_V1"

FactSink = Callable[[JournalNamespace, list], None]


def group_id_of(witnesses: WitnessSet) -> bytes:
    """A witness group's id: a hash of its group key and epoch."""
    return tagged_hash(
        _GROUP_DOMAIN, witnesses.group_public_key, witnesses.epoch.to_bytes(8, "big")
    )


@attrs.define
class ConsensusGroup:
    """One witness group this agent takes part in."""

    group_id: bytes
    witnesses: WitnessSet
    scope: JournalNamespace
    witness: Witness | EquivocatingWitness | None = None
    initiator: Initiator | None = None
    open: dict[tuple[bytes, bytes], float] = attrs.field(factory=dict)
    """Instances proposed here and not decided: (cid, prestate) -> when proposed."""


def _derived_metadata(encoded: bytes, timestamp: PhysicalTime | TimeStamp) -> FactMetadata:
    """Metadata derived from the decision itself, so every replica that learns the same
    decision writes the same fact (one content id) instead of one copy each."""
    return FactMetadata(
        order_time_from_entropy(tagged_hash(_FACT_ORDER_DOMAIN, encoded)), timestamp
    )


def _prefix(group_id: bytes) -> bytes:
    return group_id[:16]


class ConsensusService:
    """The consensus groups of one agent."""

    def __init__(
        self,
        *,
        route: str,
        storage: StorageEffects,
        rng: RandomSource,
        metadata: Callable[[], FactMetadata],
        add_facts: FactSink,
        config: ConsensusConfig | None = None,
    ) -> None:
        self._route = route
        self._storage = storage
        self._rng = rng
        self._metadata = metadata
        self._add_facts = add_facts
        self._config = config if config is not None else ConsensusConfig()
        self._groups: dict[bytes, ConsensusGroup] = {}
        self.decided = 0
        self.equivocations = 0
        self.abandoned = 0
        self.rejected = 0

    @property
    def groups(self) -> tuple[ConsensusGroup, ...]:
        return tuple(self._groups.values())

    def group(self, group_id: bytes) -> ConsensusGroup:
        try:
            return self._groups[group_id]
        except KeyError:
            raise InvalidInput("this agent is in no witness group with that id") from None

    # ------------------------------------------------------------------ membership

    def join(
        self,
        witnesses: WitnessSet,
        scope: JournalNamespace,
        *,
        credentials: WitnessCredentials | None = None,
        prestate_hash: bytes,
        initiator: bool = False,
        operation_check: OperationCheck | None = None,
        byzantine: bool = False,
    ) -> bytes:
        """Take part in a group: as a witness (with ``credentials``), an initiator, or both.

        ``byzantine`` plays an equivocating witness (simulation only).
        """
        group_id = group_id_of(witnesses)
        if group_id in self._groups:
            raise InvalidInput("already in this witness group")
        group = ConsensusGroup(group_id, witnesses, scope)
        if credentials is not None:
            votes, decided = self._stored(group_id)
            if byzantine:
                group.witness = EquivocatingWitness(
                    address=self._route,
                    credentials=credentials,
                    witnesses=witnesses,
                    prestate_hash=prestate_hash,
                    rng=self._rng,
                    config=self._config,
                )
            else:
                group.witness = Witness(
                    address=self._route,
                    credentials=credentials,
                    witnesses=witnesses,
                    prestate_hash=prestate_hash,
                    rng=self._rng,
                    config=self._config,
                    votes=votes,
                    decided=decided,
                    operation_check=operation_check,
                )
        if initiator:
            group.initiator = Initiator(
                address=self._route, witnesses=witnesses, config=self._config
            )
        if group.witness is None and group.initiator is None:
            raise InvalidInput("join a witness group as a witness, an initiator or both")
        self._groups[group_id] = group
        return group_id

    def _stored(self, group_id: bytes) -> tuple[list[VoteRecord], list[CommitFact]]:
        prefix = _prefix(group_id)
        with self._storage.transaction(readonly=True) as txn:
            votes = [VoteRecord.decode(v) for _k, v in txn.scan(VOTES_TABLE, prefix)]
            decided = [CommitFact.decode(v) for _k, v in txn.scan(DECISIONS_TABLE, prefix)]
        return votes, decided

    def decisions(self, group_id: bytes) -> list[CommitFact]:
        return self._stored(group_id)[1]

    # ------------------------------------------------------------------ proposing

    def propose(
        self, group_id: bytes, slot: bytes, prestate_hash: bytes, operation: bytes, now: float
    ) -> tuple[ConsensusId, list[Outgoing]]:
        group = self.group(group_id)
        if group.initiator is None:
            raise InvalidInput("this agent is not an initiator of that witness group")
        consensus_id = ConsensusId.for_slot(group.scope.to_bytes(), prestate_hash, slot)
        out = group.initiator.propose(consensus_id, prestate_hash, operation, now)
        group.open[(consensus_id.raw, prestate_hash)] = now
        return consensus_id, self._drain(group, out, now)

    @property
    def backlog(self) -> int:
        """Undecided instances: proposed here and still open, or voted on here and not decided."""
        count = 0
        for group in self._groups.values():
            votes, decided = self._stored(group.group_id)
            done = {fact.instance for fact in decided}
            voted = {vote.instance for vote in votes} - done
            mine = {(ConsensusId(cid), prestate) for cid, prestate in group.open} - done
            count += len(voted | mine)
        return count

    # ------------------------------------------------------------------ SansIOProtocol parts

    def receive(self, group_id: bytes, message: Incoming, now: float) -> list[Outgoing]:
        group = self._groups.get(group_id)
        if group is None:
            self.rejected += 1
            return []
        try:
            decoded = decode_message(message.payload)
        except AuraError:
            self.rejected += 1
            return []
        out: list[Outgoing] = []
        to_witness = isinstance(decoded, CommitRequest | Execute | Gossip | CommitNotice)
        to_initiator = isinstance(decoded, CommitOffer | ExecuteReply | Refusal | CommitNotice)
        if to_witness and group.witness is not None:
            out += group.witness.receive(message, now)
        if to_initiator and group.initiator is not None:
            out += group.initiator.receive(message, now)
        if not (to_witness and group.witness) and not (to_initiator and group.initiator):
            self.rejected += 1
        return self._drain(group, out, now)

    def next_timer(self) -> float | None:
        deadlines = []
        for group in self._groups.values():
            for core in (group.witness, group.initiator):
                if core is not None:
                    deadline = core.next_timer()
                    if deadline is not None:
                        deadlines.append(deadline)
        return min(deadlines) if deadlines else None

    def on_timer(self, now: float) -> list[Outgoing]:
        out: list[Outgoing] = []
        for group in self._groups.values():
            produced: list[Outgoing] = []
            for core in (group.witness, group.initiator):
                if core is not None:
                    deadline = core.next_timer()
                    if deadline is not None and deadline <= now + 1e-6:
                        produced += core.on_timer(now)
            out += self._drain(group, produced, now)
        return out

    # ------------------------------------------------------------------ events

    def _drain(
        self, group: ConsensusGroup, outputs: Sequence[Outgoing], now: float
    ) -> list[Outgoing]:
        events: list[ConsensusEvent] = []
        for core in (group.witness, group.initiator):
            if core is not None:
                events += core.take_events()
        self._persist(group, events)  # durable before any of ``outputs`` leaves
        facts = []
        for event in events:
            if isinstance(event, Decided):
                commit = event.fact
                group.open.pop((commit.consensus_id.raw, commit.prestate_hash), None)
                facts.append(
                    fact_for_commit(commit, _derived_metadata(commit.encode(), commit.timestamp))
                )
            elif isinstance(event, EquivocationDetected):
                self.equivocations += 1
                proof = event.proof
                facts.append(
                    fact_for_proof(
                        proof, _derived_metadata(proof.encode(), self._metadata().timestamp)
                    )
                )
            elif isinstance(event, ProposalAbandoned):
                self.abandoned += 1
                group.open.pop((event.consensus_id.raw, event.prestate_hash), None)
        if facts:
            self._add_facts(group.scope, facts)
        return [
            Outgoing(out.destination, encode_frame(ConsensusFrame(group.group_id, out.payload)))
            for out in outputs
        ]

    def _persist(self, group: ConsensusGroup, events: Sequence[ConsensusEvent]) -> None:
        prefix = _prefix(group.group_id)
        writes = []
        for event in events:
            if isinstance(event, VoteRecorded):
                writes.append(
                    (VOTES_TABLE, prefix + event.record.storage_key, event.record.encode())
                )
            elif isinstance(event, Decided):
                fact = event.fact
                key = prefix + fact.consensus_id.raw + fact.prestate_hash
                writes.append((DECISIONS_TABLE, key, fact.encode()))
        if not writes:
            return
        with self._storage.transaction() as txn:
            for table, key, value in writes:
                if table == DECISIONS_TABLE and txn.get(table, key) is None:
                    self.decided += 1
                txn.put(table, key, value)
