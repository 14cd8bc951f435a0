"""The initiator side of Aura Consensus, as a sans-IO state machine.

The initiator proposes an operation on a prestate and coordinates the fast
path. It keeps, per witness, nonce commitments that witness handed it in
earlier replies; with commitments from ``t`` witnesses in hand it sends
``Execute`` carrying a complete signing package, and ``t`` shares come back in
one round trip. Without them (first contact, or after an epoch change drops
them) it first asks for commitments: two round trips.

If the fast path cannot finish — a chosen witness is silent past
``fallback_timeout_s``, refuses (other prestate, already locked on another
operation) or answers without a share — the initiator hands everything it
gathered to the witnesses as ``Gossip`` and they finish among themselves;
it re-sends that gossip with backoff until some witness tells it the
decision. The initiator never needs to be trusted for safety: it holds no
key share, and witnesses check every proposal against their own prestate.
"""

from __future__ import annotations

from collections.abc import Iterable

from aura_core.crypto import InvalidSignatureShares, SigningCommitments
from aura_core.effects import Incoming, Outgoing
from aura_core.errors import AuraError, InvalidEncoding, InvalidInput, ProtocolViolation
from aura_protocol.consensus.aggregation import assemble_commit
from aura_protocol.consensus.binding import ConsensusId, binding_rid, check_operation_bytes
from aura_protocol.consensus.commit_fact import CommitFact
from aura_protocol.consensus.config import TIMER_SLACK_S, ConsensusConfig
from aura_protocol.consensus.events import (
    ConsensusEvent,
    Decided,
    FallbackStarted,
    MessageRejected,
    ProposalAbandoned,
)
from aura_protocol.consensus.messages import (
    MAX_GOSSIP_VOTES,
    CommitNotice,
    CommitOffer,
    CommitRequest,
    ConsensusMessage,
    Execute,
    ExecuteReply,
    Gossip,
    Refusal,
    decode_message,
    encode_message,
)
from aura_protocol.consensus.votes import SignedVote
from aura_protocol.consensus.witness_set import WitnessSet

__all__ = ["Initiator", "ProposalPhase"]

ProposalPhase = str
"""``"committing"`` (waiting for nonce commitments), ``"executing"``, ``"fallback"``, ``"decided"``."""

InstanceKey = tuple[ConsensusId, bytes]

_MAX_CACHED = 8
"""Nonce commitments kept per witness (a few rounds ahead; more is wasted memory)."""


class _Proposal:
    def __init__(
        self, key: InstanceKey, operation: bytes, rid: bytes, now: float, round_trips: int
    ) -> None:
        self.key = key
        self.operation = operation
        self.rid = rid
        self.started_at = now
        self.phase: ProposalPhase = "committing"
        self.deadline: float | None = None
        self.package: tuple[SigningCommitments, ...] = ()
        self.shares: dict[int, SignedVote] = {}
        self.statements: dict[bytes, SignedVote] = {}
        self.retry_at: float | None = None
        self.retry_interval = 0.0
        self.fact: CommitFact | None = None
        self.round_trips = round_trips


class Initiator:
    """Proposes operations and drives the fast path; see the module docstring."""

    def __init__(
        self,
        *,
        address: str,
        witnesses: WitnessSet,
        config: ConsensusConfig | None = None,
    ) -> None:
        if type(address) is not str or not address:
            raise InvalidInput("initiator address must be a non-empty str")
        if not isinstance(witnesses, WitnessSet):
            raise InvalidInput("witnesses must be a WitnessSet")
        self._address = address
        self._witnesses = witnesses
        self._config = config if config is not None else ConsensusConfig()
        self._cache: dict[int, list[SigningCommitments]] = {}
        self._suspects: set[int] = set()
        self._proposals: dict[InstanceKey, _Proposal] = {}
        self._events: list[ConsensusEvent] = []

    # ------------------------------------------------------------------ public API

    @property
    def address(self) -> str:
        return self._address

    @property
    def witnesses(self) -> WitnessSet:
        return self._witnesses

    def cached_commitments(self, witness: int) -> int:
        """How many fast-path rounds this initiator could start with ``witness`` right now."""
        return len(self._cache.get(witness, ()))

    def change_epoch(self, witnesses: WitnessSet) -> None:
        """New witness keys: every cached commitment belongs to the old shares and is dropped."""
        if not isinstance(witnesses, WitnessSet):
            raise InvalidInput("witnesses must be a WitnessSet")
        if witnesses.epoch <= self._witnesses.epoch:
            raise InvalidInput(
                f"epoch must grow: {witnesses.epoch} does not follow {self._witnesses.epoch}"
            )
        self._witnesses = witnesses
        self._cache.clear()
        self._suspects.clear()

    def propose(
        self, consensus_id: ConsensusId, prestate_hash: bytes, operation: bytes, now: float
    ) -> list[Outgoing]:
        """Start deciding ``operation`` (canonical DAG-CBOR bytes) on ``prestate_hash``."""
        if not isinstance(consensus_id, ConsensusId):
            raise InvalidInput("consensus_id must be a ConsensusId")
        if type(prestate_hash) is not bytes or len(prestate_hash) != 32:
            raise InvalidInput("prestate_hash must be 32 bytes")
        try:
            check_operation_bytes(operation)
        except InvalidEncoding as exc:
            raise InvalidInput(f"operation: {exc.message}") from None
        key = (consensus_id, prestate_hash)
        if key in self._proposals:
            raise InvalidInput(f"{consensus_id} on this prestate is already proposed")
        proposal = _Proposal(key, operation, binding_rid(prestate_hash, operation), now, 0)
        self._proposals[key] = proposal
        if self._ready_signers() is not None:
            return self._execute(proposal, now)
        proposal.round_trips = 1
        proposal.deadline = now + self._config.fallback_timeout_s
        request = encode_message(CommitRequest(self._witnesses.epoch, 1))
        return [
            Outgoing(m.address, request)
            for m in self._witnesses.members
            if not self._cache.get(m.identifier)
        ]

    def phase(self, consensus_id: ConsensusId, prestate_hash: bytes) -> ProposalPhase | None:
        proposal = self._proposals.get((consensus_id, prestate_hash))
        return None if proposal is None else proposal.phase

    def decision(self, consensus_id: ConsensusId, prestate_hash: bytes) -> CommitFact | None:
        proposal = self._proposals.get((consensus_id, prestate_hash))
        return None if proposal is None else proposal.fact

    def round_trips(self, consensus_id: ConsensusId, prestate_hash: bytes) -> int | None:
        """Message round trips the fast path used (1 steady state, 2 with a commitment round)."""
        proposal = self._proposals.get((consensus_id, prestate_hash))
        return None if proposal is None else proposal.round_trips

    def forget(self, consensus_id: ConsensusId, prestate_hash: bytes) -> None:
        """Drop a finished (or abandoned) proposal's state."""
        self._proposals.pop((consensus_id, prestate_hash), None)

    def take_events(self) -> list[ConsensusEvent]:
        events, self._events = self._events, []
        return events

    # ------------------------------------------------------------------ sans-IO surface

    def receive(self, message: Incoming, now: float) -> list[Outgoing]:
        source = message.source
        try:
            decoded = decode_message(message.payload)
        except InvalidEncoding as exc:
            self._events.append(MessageRejected(source, exc.message))
            return []
        try:
            return self._dispatch(source, decoded, now)
        except AuraError as exc:
            self._events.append(MessageRejected(source, exc.message))
            return []

    def next_timer(self) -> float | None:
        deadline: float | None = None
        for proposal in self._proposals.values():
            for at in (proposal.deadline, proposal.retry_at):
                if at is not None and (deadline is None or at < deadline):
                    deadline = at
        return deadline

    def on_timer(self, now: float) -> list[Outgoing]:
        out: list[Outgoing] = []
        abandon = self._config.abandon_after_s
        for proposal in list(self._proposals.values()):
            if proposal.phase == "decided":
                continue
            if abandon is not None and now - proposal.started_at >= abandon:
                proposal.phase = "decided"
                proposal.deadline = proposal.retry_at = None
                self._events.append(ProposalAbandoned(*proposal.key))
                continue
            if proposal.deadline is not None and now + TIMER_SLACK_S >= proposal.deadline:
                out += self._fall_back(proposal, now, "timeout")
            elif proposal.retry_at is not None and now + TIMER_SLACK_S >= proposal.retry_at:
                proposal.retry_interval = min(
                    proposal.retry_interval * 2, self._config.max_retry_interval_s
                )
                proposal.retry_at = now + proposal.retry_interval
                out += self._gossip_to_all(proposal)
        return out

    # ------------------------------------------------------------------ handlers

    def _dispatch(self, source: str, message: ConsensusMessage, now: float) -> list[Outgoing]:
        if isinstance(message, ExecuteReply):
            return self._on_reply(source, message, now)
        if isinstance(message, CommitOffer):
            return self._on_offer(source, message, now)
        if isinstance(message, Refusal):
            return self._on_refusal(source, message, now)
        if isinstance(message, CommitNotice):
            return self._on_notice(message)
        raise ProtocolViolation(f"an initiator does not accept {type(message).__name__} messages")

    def _sender(self, source: str, witness: int) -> None:
        member = self._witnesses.member_at(source)
        if member is None or member.identifier != witness:
            raise ProtocolViolation(f"{source!r} is not the address of witness {witness}")

    def _cache_commitments(self, witness: int, commitments: Iterable[SigningCommitments]) -> None:
        cached = self._cache.setdefault(witness, [])
        cached.extend(commitments)
        del cached[:-_MAX_CACHED]

    def _on_offer(self, source: str, message: CommitOffer, now: float) -> list[Outgoing]:
        self._sender(source, message.witness)
        if message.epoch != self._witnesses.epoch:
            raise ProtocolViolation(f"commit offer for epoch {message.epoch}")
        self._cache_commitments(message.witness, message.commitments)
        out: list[Outgoing] = []
        for proposal in self._proposals.values():
            if proposal.phase == "committing" and self._ready_signers() is not None:
                out += self._execute(proposal, now)
        return out

    def _on_reply(self, source: str, message: ExecuteReply, now: float) -> list[Outgoing]:
        statement = message.vote.statement
        self._sender(source, statement.witness)
        member = self._witnesses.member(statement.witness)
        assert member is not None
        if statement.epoch != self._witnesses.epoch:
            raise ProtocolViolation(f"reply for epoch {statement.epoch}")
        message.vote.verify(member.vote_key)
        self._cache_commitments(statement.witness, message.next_commitments)
        proposal = self._proposals.get(statement.instance)
        if proposal is None or proposal.phase == "decided":
            return []
        if len(proposal.statements) < MAX_GOSSIP_VOTES:
            proposal.statements.setdefault(message.vote.signature, message.vote)
        if proposal.phase != "executing" or statement.witness not in _ids(proposal.package):
            return []
        if statement.witness in proposal.shares:
            return []  # a late or duplicated answer from a witness whose share is in
        if statement.rid != proposal.rid:
            return self._fall_back(
                proposal, now, f"witness {statement.witness} is locked on another operation"
            )
        if statement.kind != "share" or statement.package != proposal.package:
            return self._fall_back(
                proposal, now, f"witness {statement.witness} had no nonce for the package"
            )
        proposal.shares[statement.witness] = message.vote
        if len(proposal.shares) < len(proposal.package):
            return []
        return self._aggregate(proposal, now)

    def _on_refusal(self, source: str, message: Refusal, now: float) -> list[Outgoing]:
        self._sender(source, message.witness)
        member = self._witnesses.member(message.witness)
        assert member is not None
        proposal = self._proposals.get((message.consensus_id, message.prestate_hash))
        if proposal is None or proposal.phase == "decided":
            return []
        if message.locked_vote is not None:
            message.locked_vote.verify(member.vote_key)
            if message.locked_vote.statement.instance != proposal.key:
                raise ProtocolViolation("a locked refusal carries a vote for another instance")
            proposal.statements.setdefault(message.locked_vote.signature, message.locked_vote)
        if proposal.phase == "executing" and message.witness in _ids(proposal.package):
            return self._fall_back(
                proposal, now, f"witness {message.witness} refused: {message.reason}"
            )
        return []

    def _on_notice(self, message: CommitNotice) -> list[Outgoing]:
        fact = message.fact
        fact.verify(self._witnesses)
        proposal = self._proposals.get(fact.instance)
        if proposal is None or proposal.phase == "decided":
            return []
        self._finish(proposal, fact, aggregated_here=False)
        return []

    # ------------------------------------------------------------------ steps

    def _ready_signers(self) -> list[int] | None:
        ready = [
            w for w in self._witnesses.identifiers if self._cache.get(w) and w not in self._suspects
        ]
        t = self._witnesses.threshold
        return ready[:t] if len(ready) >= t else None

    def _execute(self, proposal: _Proposal, now: float) -> list[Outgoing]:
        chosen = self._ready_signers()
        assert chosen is not None
        package = tuple(self._cache[w].pop(0) for w in chosen)
        proposal.package = package
        proposal.phase = "executing"
        proposal.round_trips += 1
        proposal.deadline = now + self._config.fallback_timeout_s
        cid, prestate = proposal.key
        payload = encode_message(
            Execute(cid, prestate, self._witnesses.epoch, proposal.operation, package)
        )
        return [Outgoing(m.address, payload) for m in self._witnesses.members]

    def _aggregate(self, proposal: _Proposal, now: float) -> list[Outgoing]:
        cid, prestate = proposal.key
        shares = {w: s.statement.share for w, s in proposal.shares.items()}
        try:
            fact = assemble_commit(
                self._witnesses,
                cid,
                prestate,
                proposal.operation,
                proposal.package,
                shares,  # type: ignore[arg-type]
                now=now,
                fast_path=True,
            )
        except InvalidSignatureShares as exc:
            self._suspects.update(exc.culprits)
            for culprit in exc.culprits:
                proposal.statements = {
                    sig: v
                    for sig, v in proposal.statements.items()
                    if v.statement.witness != culprit
                }
            return self._fall_back(proposal, now, f"invalid share(s) from {list(exc.culprits)}")
        self._finish(proposal, fact, aggregated_here=True)
        payload = encode_message(CommitNotice(fact))
        return [Outgoing(m.address, payload) for m in self._witnesses.members]

    def _finish(self, proposal: _Proposal, fact: CommitFact, *, aggregated_here: bool) -> None:
        proposal.phase = "decided"
        proposal.fact = fact
        proposal.deadline = None
        proposal.retry_at = None
        self._events.append(Decided(fact, aggregated_here))

    def _fall_back(self, proposal: _Proposal, now: float, reason: str) -> list[Outgoing]:
        if proposal.phase == "fallback":
            return []
        proposal.phase = "fallback"
        proposal.deadline = None
        proposal.retry_interval = self._config.retry_interval_s
        proposal.retry_at = now + proposal.retry_interval
        self._events.append(FallbackStarted(proposal.key[0], proposal.key[1], reason))
        return self._gossip_to_all(proposal)

    def _gossip_to_all(self, proposal: _Proposal) -> list[Outgoing]:
        cid, prestate = proposal.key
        gossip = Gossip(
            cid,
            prestate,
            self._witnesses.epoch,
            (proposal.operation,),
            tuple(proposal.statements.values()),
        )
        payload = encode_message(gossip)
        return [Outgoing(m.address, payload) for m in self._witnesses.members]


def _ids(package: tuple[SigningCommitments, ...]) -> tuple[int, ...]:
    return tuple(c.identifier for c in package)
