"""The witness side of Aura Consensus, as a sans-IO state machine.

A witness holds a FROST key share and a view of the current prestate. For each
instance ``(consensus id, prestate hash)`` it votes for at most one rid — the
vote is handed to the driver as :class:`~aura_protocol.consensus.events.VoteRecorded`
to persist before anything that carries it is sent — and only ever signs
packages for that rid.

Fast path: an ``Execute`` whose package names this witness and holds one of
the nonce commitments it handed to that initiator is answered with a signed
share at once (one round trip); every answer piggybacks a fresh commitment
for the initiator's next round.

Fallback (after ``fallback_timeout_s`` without a decision, or when gossip
about the instance arrives): the witness *offers* one fresh nonce commitment
for every t-subset of witnesses that contains it, and gossips its signed
offer. The lowest member of a subset leads it: once it holds same-rid offers
from every member it fixes the package and signs; the other members sign a
package only after its leader has, and only with their current offer for
that subset. Each offered nonce is used at most once, a member's offers only
change when it restarts, and a leader re-offers (for its own subset only)
when a member's offer changed under its package — so the packages converge
and whoever holds all t shares of one package aggregates and broadcasts the
:class:`~aura_protocol.consensus.commit_fact.CommitFact`.

Signed statements that name two rids for one instance become an
:class:`~aura_protocol.consensus.equivocation.EquivocationProof`; the witness
that signed them is excluded from every package from then on.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable, Iterable

from aura_core.crypto import (
    InvalidSignatureShares,
    RandomSource,
    SigningCommitments,
    SigningNonces,
    commit,
)
from aura_core.effects import Incoming, Outgoing
from aura_core.errors import AuraError, InvalidEncoding, InvalidInput, ProtocolViolation
from aura_protocol.consensus.aggregation import assemble_commit, sign_decision
from aura_protocol.consensus.binding import ConsensusId, binding_rid, check_operation_bytes
from aura_protocol.consensus.commit_fact import CommitFact
from aura_protocol.consensus.config import TIMER_SLACK_S, ConsensusConfig
from aura_protocol.consensus.equivocation import EquivocationProof
from aura_protocol.consensus.events import (
    ConsensusEvent,
    Decided,
    EquivocationDetected,
    FallbackStarted,
    MessageRejected,
    VoteRecord,
    VoteRecorded,
)
from aura_protocol.consensus.messages import (
    MAX_GOSSIP_OPERATIONS,
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
from aura_protocol.consensus.nonce_pool import NoncePool
from aura_protocol.consensus.peer_sampling import sample_peers
from aura_protocol.consensus.votes import NonceOffer, SignedVote, VoteStatement
from aura_protocol.consensus.witness_set import WitnessCredentials, WitnessSet

__all__ = ["OperationCheck", "Witness"]

OperationCheck = Callable[[bytes], None]
"""Raises an :class:`~aura_core.errors.AuraError` if this witness must not vote for an operation."""

InstanceKey = tuple[ConsensusId, bytes]
PackageKey = tuple[bytes, tuple[SigningCommitments, ...]]

_MAX_GOSSIP_BACKOFF = 8
_MAX_ROUND = 1 << 20
_MAX_REPLIES = 16
_MAX_INTERESTED = 8


class _Package:
    """Shares collected for one signing package (one rid, one exact commitment list)."""

    __slots__ = ("commitments", "participants", "rid", "shares")

    def __init__(self, rid: bytes, commitments: tuple[SigningCommitments, ...]) -> None:
        self.rid = rid
        self.commitments = commitments
        self.participants = tuple(c.identifier for c in commitments)
        self.shares: dict[int, SignedVote] = {}

    def commitment_of(self, identifier: int) -> SigningCommitments | None:
        for c in self.commitments:
            if c.identifier == identifier:
                return c
        return None

    @property
    def complete(self) -> bool:
        return len(self.shares) == len(self.participants)


class _Instance:
    """Everything one witness knows about one undecided instance."""

    def __init__(self, key: InstanceKey, gossip_interval: float) -> None:
        self.key = key
        self.operations: dict[bytes, bytes] = {}
        self.interested: set[str] = set()
        self.first_statement: dict[int, SignedVote] = {}
        self.offers: dict[int, SignedVote] = {}
        self.packages: dict[PackageKey, _Package] = {}
        self.seen: set[bytes] = set()
        self.proofs: dict[int, EquivocationProof] = {}
        self.in_fallback = False
        self.fallback_at: float | None = None
        self.gossip_at: float | None = None
        self.gossip_interval = gossip_interval
        self.learned = False
        # this witness's own state
        self.my_rid: bytes | None = None
        self.my_round = 0
        self.my_offer: SignedVote | None = None
        self.my_nonces: dict[tuple[int, ...], SigningNonces] = {}
        self.reoffer: set[tuple[int, ...]] = set()
        self.replies: dict[tuple[str, tuple[SigningCommitments, ...]], Outgoing] = {}
        self.fresh: list[SignedVote] = []

    @property
    def consensus_id(self) -> ConsensusId:
        return self.key[0]

    @property
    def prestate_hash(self) -> bytes:
        return self.key[1]


class Witness:
    """One witness: ``receive`` / ``next_timer`` / ``on_timer`` plus :meth:`take_events`."""

    def __init__(
        self,
        *,
        address: str,
        credentials: WitnessCredentials,
        witnesses: WitnessSet,
        prestate_hash: bytes,
        rng: RandomSource,
        config: ConsensusConfig | None = None,
        votes: Iterable[VoteRecord] = (),
        decided: Iterable[CommitFact] = (),
        operation_check: OperationCheck | None = None,
        nonce_pool: NoncePool | None = None,
    ) -> None:
        if not isinstance(credentials, WitnessCredentials):
            raise InvalidInput("credentials must be WitnessCredentials")
        if not isinstance(witnesses, WitnessSet):
            raise InvalidInput("witnesses must be a WitnessSet")
        self._config = config if config is not None else ConsensusConfig()
        self._rng = rng
        self._credentials = credentials
        self._witnesses = witnesses
        self._check_membership(address, credentials, witnesses)
        self._address = address
        self._prestate_hash = self._checked_prestate(prestate_hash)
        self._operation_check = operation_check
        self._pool = (
            nonce_pool if nonce_pool is not None else NoncePool(credentials.key_package, rng)
        )
        self._instances: dict[InstanceKey, _Instance] = {}
        self._decided: OrderedDict[InstanceKey, CommitFact] = OrderedDict()
        self._votes: dict[InstanceKey, VoteRecord] = {}
        self._equivocators: dict[int, EquivocationProof] = {}
        self._excluded: set[int] = set()
        self._events: list[ConsensusEvent] = []
        for record in votes:
            if not isinstance(record, VoteRecord):
                raise InvalidInput("votes must be VoteRecord values")
            self._votes[record.instance] = record
        for fact in decided:
            self._remember_decision(fact)
        for key in self._votes:
            if key not in self._decided and key[1] == self._prestate_hash:
                # An open vote survived a restart: resume the instance through the
                # fallback at the first timer call, so the witness learns the outcome.
                inst = self._instance(key, 0.0)
                if inst is not None:
                    inst.fallback_at = 0.0

    # ------------------------------------------------------------------ configuration

    @staticmethod
    def _check_membership(
        address: str, credentials: WitnessCredentials, witnesses: WitnessSet
    ) -> None:
        member = witnesses.member(credentials.identifier)
        if member is None:
            raise InvalidInput(f"witness {credentials.identifier} is not in the witness set")
        if member.address != address:
            raise InvalidInput(f"witness {credentials.identifier} is listed at {member.address!r}")
        if member.vote_key != credentials.vote_key:
            raise InvalidInput("the credentials' vote key is not the one the witness set lists")
        if credentials.key_package.verifying_key != witnesses.public_key_package.verifying_key:
            raise InvalidInput("the key package belongs to a different group key")

    @staticmethod
    def _checked_prestate(prestate_hash: object) -> bytes:
        if type(prestate_hash) is not bytes or len(prestate_hash) != 32:
            raise InvalidInput("prestate_hash must be 32 bytes")
        return prestate_hash

    @property
    def identifier(self) -> int:
        return self._credentials.identifier

    @property
    def address(self) -> str:
        return self._address

    @property
    def witnesses(self) -> WitnessSet:
        return self._witnesses

    @property
    def prestate_hash(self) -> bytes:
        return self._prestate_hash

    def set_prestate(self, prestate_hash: bytes) -> None:
        """The local state moved on: vote only for proposals on ``prestate_hash`` from now on."""
        self._prestate_hash = self._checked_prestate(prestate_hash)

    def change_epoch(self, credentials: WitnessCredentials, witnesses: WitnessSet) -> None:
        """New key shares (refresh, reshare, membership change): drop every nonce and open instance."""
        self._check_membership(self._address, credentials, witnesses)
        if witnesses.epoch <= self._witnesses.epoch:
            raise InvalidInput(
                f"epoch must grow: {witnesses.epoch} does not follow {self._witnesses.epoch}"
            )
        self._credentials = credentials
        self._witnesses = witnesses
        self._pool.rekey(credentials.key_package)
        self._instances.clear()
        self._equivocators.clear()
        self._excluded.clear()

    def vote_for(self, consensus_id: ConsensusId, prestate_hash: bytes) -> VoteRecord | None:
        return self._votes.get((consensus_id, prestate_hash))

    def decision(self, consensus_id: ConsensusId, prestate_hash: bytes) -> CommitFact | None:
        return self._decided.get((consensus_id, prestate_hash))

    def take_events(self) -> list[ConsensusEvent]:
        """Events since the last call (persist ``VoteRecorded`` before sending, see module doc)."""
        events, self._events = self._events, []
        return events

    # ------------------------------------------------------------------ sans-IO surface

    def receive(self, message: Incoming, now: float) -> list[Outgoing]:
        """Handle one message; hostile input is dropped with a :class:`MessageRejected` event."""
        source = message.source
        try:
            decoded = decode_message(message.payload)
        except InvalidEncoding as exc:
            self._reject(source, exc.message)
            return []
        try:
            return self._dispatch(source, decoded, now)
        except AuraError as exc:
            self._reject(source, exc.message)
            return []

    def next_timer(self) -> float | None:
        deadline: float | None = None
        for inst in self._instances.values():
            for at in (inst.fallback_at, inst.gossip_at):
                if at is not None and (deadline is None or at < deadline):
                    deadline = at
        return deadline

    def on_timer(self, now: float) -> list[Outgoing]:
        out: list[Outgoing] = []
        for inst in list(self._instances.values()):
            if inst.key not in self._instances:
                continue
            if inst.fallback_at is not None and now + TIMER_SLACK_S >= inst.fallback_at:
                out += self._enter_fallback(inst, now, "timeout")
            if (
                inst.key in self._instances
                and inst.gossip_at is not None
                and now + TIMER_SLACK_S >= inst.gossip_at
            ):
                out += self._advance(inst, now)
                if inst.key in self._instances:
                    out += self._periodic_gossip(inst, now)
        return out

    # ------------------------------------------------------------------ dispatch

    def _dispatch(self, source: str, message: ConsensusMessage, now: float) -> list[Outgoing]:
        if isinstance(message, Execute):
            return self._on_execute(source, message, now)
        if isinstance(message, Gossip):
            return self._on_gossip(source, message, now)
        if isinstance(message, CommitNotice):
            return self._on_commit_notice(source, message, now)
        if isinstance(message, CommitRequest):
            return self._on_commit_request(source, message)
        raise ProtocolViolation(f"a witness does not accept {type(message).__name__} messages")

    def _on_commit_request(self, source: str, message: CommitRequest) -> list[Outgoing]:
        if message.epoch != self._witnesses.epoch:
            raise ProtocolViolation(
                f"commit request for epoch {message.epoch}; this witness is at {self._witnesses.epoch}"
            )
        commitments = self._pool.issue(source, message.count)
        offer = CommitOffer(self._witnesses.epoch, self.identifier, commitments)
        return [self._send(source, offer)]

    def _on_execute(self, source: str, message: Execute, now: float) -> list[Outgoing]:
        key = (message.consensus_id, message.prestate_hash)
        decided = self._decided.get(key)
        if decided is not None:
            return [self._send(source, CommitNotice(decided))]
        if message.epoch != self._witnesses.epoch:
            return [self._refuse(source, key, "epoch")]
        if message.prestate_hash != self._prestate_hash:
            return [self._refuse(source, key, "prestate")]
        self._check_package(message.package)
        rid = binding_rid(message.prestate_hash, message.operation)
        inst = self._instance(key, now)
        if inst is None:
            return [self._refuse(source, key, "busy")]
        self._note_interest(inst, source)
        if inst.my_rid is None:
            try:
                self._check_operation(message.operation)
            except AuraError:
                return [self._refuse(source, key, "operation")]
            self._lock(inst, rid, message.operation)
        elif inst.my_rid != rid:
            return [
                self._send(
                    source,
                    Refusal(key[0], key[1], self.identifier, "locked", self._plain_vote(inst)),
                )
            ]
        self._learn_operation(inst, rid, message.operation)
        if inst.fallback_at is None and not inst.in_fallback:
            inst.fallback_at = now + self._config.fallback_timeout_s
        answered = inst.replies.get((source, message.package))
        if answered is not None:
            return [answered]  # a duplicate Execute gets the same answer, not a new signature
        signed = self._fast_path_statement(inst, source, message)
        self._accept_own(inst, signed)
        reply = ExecuteReply(signed, self._pool.issue(source, 1))
        out = [self._send(source, reply)]
        if len(inst.replies) < _MAX_REPLIES:
            inst.replies[(source, message.package)] = out[0]
        if inst.in_fallback:
            out += self._advance(inst, now)
        return out

    def _on_gossip(self, source: str, message: Gossip, now: float) -> list[Outgoing]:
        key = (message.consensus_id, message.prestate_hash)
        decided = self._decided.get(key)
        if decided is not None:
            return [self._send(source, CommitNotice(decided))]
        if message.epoch != self._witnesses.epoch:
            raise ProtocolViolation(
                f"gossip for epoch {message.epoch}; this witness is at {self._witnesses.epoch}"
            )
        if message.prestate_hash != self._prestate_hash:
            raise ProtocolViolation("gossip about a prestate this witness does not hold")
        inst = self._instance(key, now)
        if inst is None:
            raise ProtocolViolation("too many undecided instances; gossip refused")
        if self._witnesses.member_at(source) is None:
            self._note_interest(inst, source)
        for operation in message.operations:
            self._learn_operation(inst, binding_rid(key[1], operation), operation)
        for proof in message.proofs:
            self._accept_proof(inst, proof, source)
        for vote in message.votes:
            try:
                self._accept_statement(inst, vote)
            except AuraError as exc:
                self._reject(source, exc.message)
        out: list[Outgoing] = []
        if not inst.in_fallback:
            out += self._enter_fallback(inst, now, "gossip")
        else:
            out += self._advance(inst, now)
        return out

    def _on_commit_notice(self, source: str, message: CommitNotice, now: float) -> list[Outgoing]:
        fact = message.fact
        fact.verify(self._witnesses)
        known = self._decided.get(fact.instance)
        if known is not None:
            if known.decision != fact.decision:
                raise ProtocolViolation("commit notice contradicts the decision this witness holds")
            return []
        return self._decide(fact, aggregated_here=False, now=now)

    # ------------------------------------------------------------------ instance state

    def _instance(self, key: InstanceKey, now: float) -> _Instance | None:
        inst = self._instances.get(key)
        if inst is not None:
            return inst
        if len(self._instances) >= self._config.max_instances:
            return None
        inst = _Instance(key, self._config.gossip_interval_s)
        record = self._votes.get(key)
        if record is not None:
            inst.my_rid = record.rid
            inst.my_round = record.round
            inst.operations[record.rid] = record.operation
        self._instances[key] = inst
        return inst

    @staticmethod
    def _note_interest(inst: _Instance, source: str) -> None:
        """Remember a proposer to send the decision to (a few, not whoever asks)."""
        if len(inst.interested) < _MAX_INTERESTED:
            inst.interested.add(source)

    def _learn_operation(self, inst: _Instance, rid: bytes, operation: bytes) -> None:
        if rid in inst.operations or len(inst.operations) >= MAX_GOSSIP_OPERATIONS:
            return
        inst.operations[rid] = operation
        inst.learned = True

    def _check_operation(self, operation: bytes) -> None:
        check_operation_bytes(operation)
        if self._operation_check is not None:
            self._operation_check(operation)

    def _check_package(self, package: tuple[SigningCommitments, ...]) -> None:
        if len(package) != self._witnesses.threshold:
            raise ProtocolViolation(
                f"signing package names {len(package)} signers; the threshold is {self._witnesses.threshold}"
            )
        for c in package:
            if self._witnesses.member(c.identifier) is None:
                raise ProtocolViolation(f"signing package names unknown witness {c.identifier}")

    def _lock(self, inst: _Instance, rid: bytes, operation: bytes) -> None:
        """Vote for ``rid``: the one rid this witness will ever sign for this instance."""
        inst.my_rid = rid
        self._persist(inst, operation)

    def _persist(self, inst: _Instance, operation: bytes | None = None) -> None:
        assert inst.my_rid is not None
        if operation is None:
            operation = inst.operations[inst.my_rid]
        record = VoteRecord(inst.key[0], inst.key[1], inst.my_rid, operation, inst.my_round)
        self._votes[inst.key] = record
        self._events.append(VoteRecorded(record))

    def _statement(self, inst: _Instance, kind: str, **extra: object) -> VoteStatement:
        assert inst.my_rid is not None
        return VoteStatement(
            kind,
            inst.key[0],
            inst.key[1],
            inst.my_rid,
            self.identifier,
            self._witnesses.epoch,
            **extra,  # type: ignore[arg-type]
        )

    def _plain_vote(self, inst: _Instance) -> SignedVote:
        return self._statement(inst, "vote").sign(self._credentials)

    def _fast_path_statement(self, inst: _Instance, source: str, message: Execute) -> SignedVote:
        mine = next((c for c in message.package if c.identifier == self.identifier), None)
        nonces = None if mine is None else self._pool.take(source, mine)
        if nonces is None:
            return self._plain_vote(inst)
        assert inst.my_rid is not None
        share = sign_decision(
            self._witnesses,
            self._credentials.key_package,
            nonces,
            inst.key[0],
            inst.key[1],
            inst.my_rid,
            message.package,
        )
        return self._statement(inst, "share", package=message.package, share=share).sign(
            self._credentials
        )

    # ------------------------------------------------------------------ statements

    def _accept_own(self, inst: _Instance, signed: SignedVote) -> None:
        inst.seen.add(signed.signature)
        self._file(inst, signed)
        inst.fresh.append(signed)
        inst.learned = True

    def _accept_statement(self, inst: _Instance, signed: SignedVote) -> None:
        """Verify a peer's statement and file it; two rids from one witness make a proof."""
        if signed.signature in inst.seen:
            return
        st = signed.statement
        if st.witness == self.identifier:
            return  # only this witness makes its own statements; anything else is a replay
        if st.instance != inst.key:
            raise ProtocolViolation("gossiped statement is about another instance")
        if st.epoch != self._witnesses.epoch:
            raise ProtocolViolation(f"statement of witness {st.witness} is for another epoch")
        member = self._witnesses.member(st.witness)
        if member is None:
            raise ProtocolViolation(f"statement by unknown witness {st.witness}")
        if st.witness in self._excluded:
            return
        if st.kind == "share":
            self._check_package(st.package)
        signed.verify(member.vote_key)
        inst.seen.add(signed.signature)
        first = inst.first_statement.get(st.witness)
        if first is not None and first.statement.rid != st.rid:
            self._convict(inst, EquivocationProof.from_pair(first, signed, member.vote_key))
            return
        if len(inst.seen) > 4 * MAX_GOSSIP_VOTES:
            raise ProtocolViolation("too many statements for one instance")
        self._file(inst, signed)
        inst.learned = True

    def _file(self, inst: _Instance, signed: SignedVote) -> None:
        st = signed.statement
        inst.first_statement.setdefault(st.witness, signed)
        if st.kind == "offer":
            current = inst.offers.get(st.witness)
            if current is None or current.statement.round < st.round:
                inst.offers[st.witness] = signed
        elif st.kind == "share":
            key = (st.rid, st.package)
            package = inst.packages.get(key)
            if package is None:
                package = _Package(st.rid, st.package)
                inst.packages[key] = package
            package.shares.setdefault(st.witness, signed)

    def _accept_proof(self, inst: _Instance, proof: EquivocationProof, source: str) -> None:
        if proof.witness in self._equivocators:
            return
        try:
            if proof.instance != inst.key:
                raise ProtocolViolation("equivocation proof is about another instance")
            proof.verify(self._witnesses)
        except AuraError as exc:
            self._reject(source, exc.message)
            return
        self._convict(inst, proof)

    def _convict(self, inst: _Instance, proof: EquivocationProof) -> None:
        """Exclude an equivocating witness from every package, here and in later instances."""
        culprit = proof.witness
        self._equivocators[culprit] = proof
        inst.proofs[culprit] = proof
        inst.learned = True
        self._events.append(EquivocationDetected(proof))
        self._exclude(culprit)

    def _exclude(self, culprit: int) -> None:
        self._excluded.add(culprit)
        for inst in self._instances.values():
            self._drop_culprit(inst, culprit)

    @staticmethod
    def _drop_culprit(inst: _Instance, culprit: int) -> None:
        inst.offers.pop(culprit, None)
        for key in [k for k, p in inst.packages.items() if culprit in p.participants]:
            del inst.packages[key]

    # ------------------------------------------------------------------ fallback

    def _enter_fallback(self, inst: _Instance, now: float, reason: str) -> list[Outgoing]:
        inst.in_fallback = True
        inst.fallback_at = None
        inst.gossip_at = now + inst.gossip_interval
        self._events.append(FallbackStarted(inst.key[0], inst.key[1], reason))
        return self._advance(inst, now)

    def _advance(self, inst: _Instance, now: float) -> list[Outgoing]:
        """Vote, offer, lead and sign whatever the instance now allows; aggregate if complete."""
        created = False
        if inst.in_fallback:
            if inst.my_rid is None:
                self._vote_from_gossip(inst)
            if inst.my_rid is not None:
                for _ in range(4):  # offers enable leading, leading enables following
                    self._retire(inst)
                    progressed = False
                    if (inst.my_offer is None or inst.reoffer) and inst.my_round < _MAX_ROUND:
                        self._make_offers(inst)
                        progressed = True
                    progressed |= self._lead(inst)
                    progressed |= self._follow(inst)
                    if not progressed:
                        break
                    created = True
        out = self._try_aggregate(inst, now)
        if inst.key not in self._instances:
            return out
        if created:
            out += self._push_gossip(inst)
        return out

    def _vote_from_gossip(self, inst: _Instance) -> None:
        for rid, operation in inst.operations.items():
            try:
                self._check_operation(operation)
            except AuraError:
                continue
            self._lock(inst, rid, operation)
            return

    def _my_subsets(self, inst: _Instance) -> list[tuple[int, ...]]:
        me = self.identifier
        others = [i for i in self._witnesses.identifiers if i != me]
        return [
            tuple(sorted((me, *rest)))
            for rest in itertools.combinations(others, self._witnesses.threshold - 1)
        ]

    def _make_offers(self, inst: _Instance) -> None:
        """A new offer round: fresh nonces for new or re-offered subsets, the rest kept."""
        previous = inst.my_offer.statement if inst.my_offer is not None else None
        offers = []
        for subset in self._my_subsets(inst):
            kept = previous.offer_for(subset) if previous is not None else None
            if kept is not None and subset not in inst.reoffer:
                offers.append(NonceOffer(subset, kept))
                continue
            nonces, commitments = commit(self._credentials.key_package, self._rng)
            inst.my_nonces[subset] = nonces
            offers.append(NonceOffer(subset, commitments))
        inst.reoffer.clear()
        inst.my_round += 1
        self._persist(inst)
        signed = self._statement(inst, "offer", round=inst.my_round, offers=tuple(offers)).sign(
            self._credentials
        )
        inst.my_offer = signed
        self._accept_own(inst, signed)

    def _current_offer(
        self, inst: _Instance, witness: int, subset: tuple[int, ...]
    ) -> SigningCommitments | None:
        signed = inst.my_offer if witness == self.identifier else inst.offers.get(witness)
        if signed is None or signed.statement.rid != inst.my_rid:
            return None
        return signed.statement.offer_for(subset)

    def _package_is_dead(self, inst: _Instance, package: _Package) -> bool:
        """A member without a share has since replaced the offer the package uses.

        That member can no longer sign it (its nonce is gone with the old
        offer), so the package can never complete.
        """
        for c in package.commitments:
            if c.identifier in package.shares:
                continue
            signed = (
                inst.my_offer if c.identifier == self.identifier else inst.offers.get(c.identifier)
            )
            if signed is None:
                continue
            if signed.statement.offer_for(package.participants) != c:
                return True
        return False

    def _led_packages(self, inst: _Instance, subset: tuple[int, ...]) -> list[_Package]:
        """The fallback packages of ``subset`` for our rid that its leader has signed."""
        return [
            p
            for p in inst.packages.values()
            if p.participants == subset and p.rid == inst.my_rid and subset[0] in p.shares
        ]

    def _retire(self, inst: _Instance) -> None:
        """Re-offer for every subset whose current offer sits in a package that cannot complete.

        Leaders never reuse an offer that appeared in a dead package (it may
        already be spent), so its owner must replace it for the subset to
        make progress.
        """
        if inst.my_offer is None:
            return
        for subset in self._my_subsets(inst):
            mine = inst.my_offer.statement.offer_for(subset)
            for package in self._led_packages(inst, subset):
                if package.commitment_of(self.identifier) == mine and self._package_is_dead(
                    inst, package
                ):
                    inst.reoffer.add(subset)
                    break

    def _lead(self, inst: _Instance) -> bool:
        """Fix and sign one package per own offer for each subset this witness leads.

        Built only from every member's current same-rid offer, none of which
        appeared in a dead package of the subset; signing spends our nonce,
        so the next package of the subset needs a new offer of ours.
        """
        me = self.identifier
        signed_any = False
        for subset in self._my_subsets(inst):
            if subset[0] != me or subset not in inst.my_nonces:
                continue
            if any(i in self._excluded for i in subset):
                continue
            retired = {
                c
                for p in self._led_packages(inst, subset)
                if self._package_is_dead(inst, p)
                for c in p.commitments
            }
            commitments = []
            for member in subset:
                offer = self._current_offer(inst, member, subset)
                if offer is None or offer in retired:
                    break
                commitments.append(offer)
            else:
                nonces = inst.my_nonces.pop(subset)
                self._sign_package(inst, nonces, tuple(commitments))
                signed_any = True
        return signed_any

    def _follow(self, inst: _Instance) -> bool:
        """Sign the live packages our subset leaders fixed around our current offer."""
        me = self.identifier
        signed_any = False
        for package in list(inst.packages.values()):
            if package.rid != inst.my_rid or me in package.shares:
                continue
            subset = package.participants
            if me not in subset or subset[0] == me or subset[0] not in package.shares:
                continue
            if subset not in inst.my_nonces or any(i in self._excluded for i in subset):
                continue
            mine = package.commitment_of(me)
            if mine is None or self._current_offer(inst, me, subset) != mine:
                continue
            if self._package_is_dead(inst, package):
                continue
            self._sign_package(inst, inst.my_nonces.pop(subset), package.commitments)
            signed_any = True
        return signed_any

    def _sign_package(
        self, inst: _Instance, nonces: SigningNonces, commitments: tuple[SigningCommitments, ...]
    ) -> None:
        assert inst.my_rid is not None
        share = sign_decision(
            self._witnesses,
            self._credentials.key_package,
            nonces,
            inst.key[0],
            inst.key[1],
            inst.my_rid,
            commitments,
        )
        signed = self._statement(inst, "share", package=commitments, share=share).sign(
            self._credentials
        )
        self._accept_own(inst, signed)

    def _try_aggregate(self, inst: _Instance, now: float) -> list[Outgoing]:
        for key, package in list(inst.packages.items()):
            if not package.complete or package.rid not in inst.operations:
                continue
            if any(i in self._excluded for i in package.participants):
                continue
            shares = {w: s.statement.share for w, s in package.shares.items()}
            try:
                fact = assemble_commit(
                    self._witnesses,
                    inst.key[0],
                    inst.key[1],
                    inst.operations[package.rid],
                    package.commitments,
                    shares,  # type: ignore[arg-type]
                    now=now,
                    fast_path=False,
                )
            except InvalidSignatureShares as exc:
                inst.packages.pop(key, None)
                for culprit in exc.culprits:
                    member = self._witnesses.member(culprit)
                    source = member.address if member is not None else str(culprit)
                    self._reject(
                        source, f"invalid signature share from witness {culprit}; excluded"
                    )
                    self._exclude(culprit)
                continue
            return self._decide(fact, aggregated_here=True, now=now)
        return []

    # ------------------------------------------------------------------ decisions

    def _remember_decision(self, fact: CommitFact) -> None:
        self._decided[fact.instance] = fact
        self._decided.move_to_end(fact.instance)
        while len(self._decided) > self._config.max_decided:
            self._decided.popitem(last=False)

    def _decide(self, fact: CommitFact, *, aggregated_here: bool, now: float) -> list[Outgoing]:
        inst = self._instances.pop(fact.instance, None)
        self._remember_decision(fact)
        self._events.append(Decided(fact, aggregated_here))
        if not aggregated_here:
            return []
        notice = CommitNotice(fact)
        targets = {m.address for m in self._witnesses.members if m.address != self._address}
        if inst is not None:
            targets |= inst.interested
        payload = encode_message(notice)
        return [Outgoing(address, payload) for address in sorted(targets)]

    # ------------------------------------------------------------------ gossip

    def _gossip_message(self, inst: _Instance) -> Gossip:
        votes: dict[bytes, SignedVote] = {}

        def add(signed: SignedVote | None) -> None:
            if signed is not None and len(votes) < MAX_GOSSIP_VOTES:
                votes.setdefault(signed.signature, signed)

        if inst.my_offer is not None:
            add(inst.my_offer)
        for signed in inst.first_statement.values():
            add(signed)
        for witness, signed in inst.offers.items():
            if witness not in self._excluded:
                add(signed)
        for package in inst.packages.values():
            if package.rid not in inst.operations:
                continue
            if not self._package_is_dead(inst, package):
                for signed in package.shares.values():
                    add(signed)
            else:
                # A dead package's leader share is what tells its members to re-offer.
                add(package.shares.get(package.participants[0]))
        operations = list(inst.operations.values())
        if inst.my_rid is not None:
            mine = inst.operations[inst.my_rid]
            operations = [mine, *(op for op in operations if op != mine)]
        return Gossip(
            inst.key[0],
            inst.key[1],
            self._witnesses.epoch,
            tuple(operations[:MAX_GOSSIP_OPERATIONS]),
            tuple(votes.values()),
            tuple(inst.proofs.values()),
        )

    def _peers(self) -> list[str]:
        return [m.address for m in self._witnesses.members if m.address != self._address]

    def _push_gossip(self, inst: _Instance) -> list[Outgoing]:
        """Our new statements go to every other witness at once (the rest: periodic gossip)."""
        fresh, inst.fresh = inst.fresh, []
        assert inst.my_rid is not None
        gossip = Gossip(
            inst.key[0],
            inst.key[1],
            self._witnesses.epoch,
            (inst.operations[inst.my_rid],),
            tuple(fresh[:MAX_GOSSIP_VOTES]),
            tuple(inst.proofs.values()),
        )
        payload = encode_message(gossip)
        return [Outgoing(peer, payload) for peer in self._peers()]

    def _periodic_gossip(self, inst: _Instance, now: float) -> list[Outgoing]:
        """Anti-entropy for the instance: everything we know to ``fanout`` random peers."""
        if inst.learned:
            inst.gossip_interval = self._config.gossip_interval_s
        else:
            inst.gossip_interval = min(
                inst.gossip_interval * 2, self._config.gossip_interval_s * _MAX_GOSSIP_BACKOFF
            )
        inst.learned = False
        inst.fresh.clear()  # everything goes out below anyway
        inst.gossip_at = now + inst.gossip_interval
        payload = encode_message(self._gossip_message(inst))
        targets = sample_peers(self._rng, self._peers(), self._config.fanout)
        return [Outgoing(peer, payload) for peer in targets]

    # ------------------------------------------------------------------ replies

    def _send(self, destination: str, message: ConsensusMessage) -> Outgoing:
        return Outgoing(destination, encode_message(message))

    def _refuse(self, source: str, key: InstanceKey, reason: str) -> Outgoing:
        return self._send(source, Refusal(key[0], key[1], self.identifier, reason))

    def _reject(self, source: str, reason: str) -> None:
        self._events.append(MessageRejected(source, reason))
