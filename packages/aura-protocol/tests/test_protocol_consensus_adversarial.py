"""Hostile and faulty inputs: forged or invalid shares, wrong rid or prestate, replays, garbage.

The harness below wires the sans-IO cores together in memory (a FIFO
network with a fixed delay and the cores' own timers), so each test can
tamper with exactly the message it is about.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aura_core.crypto import SigningCommitments, commit
from aura_core.effects import Incoming, Outgoing
from aura_core.errors import CryptoError
from aura_effects.simulated import SeededRandom
from aura_protocol.consensus import (
    CommitNotice,
    ConsensusId,
    Decided,
    EquivocationDetected,
    Execute,
    ExecuteReply,
    FallbackStarted,
    Gossip,
    Initiator,
    MessageRejected,
    Refusal,
    VoteRecorded,
    VoteStatement,
    Witness,
    binding_rid,
    decode_message,
    encode_message,
    encode_operation,
    operation_hash,
    witness_group_from_dealer,
)

PRESTATE = b"\x42" * 32
OTHER_PRESTATE = b"\x43" * 32
OP_A = encode_operation({"op": "A"})
OP_B = encode_operation({"op": "B"})
CID = ConsensusId.for_slot(b"test", PRESTATE, b"slot")
LATENCY = 0.01

Tamper = Callable[[str, Outgoing], list[Outgoing]]
"""Given (source, message in flight) return what the network delivers instead."""


class Cluster:
    """Witnesses and initiators exchanging messages in memory, in deterministic order."""

    def __init__(self, size: int = 3, threshold: int = 2, *, seed: int = 1) -> None:
        self.rng = SeededRandom(seed)
        self.creds, self.witnesses = witness_group_from_dealer(size, threshold, self.rng)
        self.nodes: dict[str, Witness | Initiator] = {}
        for cred in self.creds:
            self.add_witness(cred)
        self.initiator = Initiator(address="init", witnesses=self.witnesses)
        self.nodes["init"] = self.initiator
        self.queue: list[tuple[float, int, str, Outgoing]] = []
        self.seq = 0
        self.now = 1000.0
        self.events: list[tuple[str, object]] = []
        self.tamper: Tamper | None = None
        self.down: set[str] = set()

    def add_witness(self, cred, **kwargs) -> Witness:  # type: ignore[no-untyped-def]
        name = f"w{cred.identifier}"
        witness = Witness(
            address=name,
            credentials=cred,
            witnesses=self.witnesses,
            prestate_hash=kwargs.pop("prestate_hash", PRESTATE),
            rng=self.rng.fork(name + str(len(self.nodes))),
            **kwargs,
        )
        self.nodes[name] = witness
        return witness

    def witness(self, i: int) -> Witness:
        node = self.nodes[f"w{i}"]
        assert isinstance(node, Witness)
        return node

    def send(self, source: str, outputs: list[Outgoing]) -> None:
        for out in outputs:
            copies = [out] if self.tamper is None else self.tamper(source, out)
            for copy in copies:
                self.seq += 1
                heapq.heappush(self.queue, (self.now + LATENCY, self.seq, source, copy))

    def _collect(self) -> None:
        for name, node in self.nodes.items():
            for event in node.take_events():
                self.events.append((name, event))

    def deliver(self, destination: str, source: str, payload: bytes) -> list[Outgoing]:
        node = self.nodes[destination]
        out = node.receive(Incoming(source, payload), self.now)
        self._collect()
        return out

    def run(self, until: float) -> None:
        while True:
            timers = [
                (t, name)
                for name, node in self.nodes.items()
                if name not in self.down and (t := node.next_timer()) is not None
            ]
            next_timer = min(timers) if timers else None
            next_message = self.queue[0][0] if self.queue else None
            candidates = [t for t in (next_timer and next_timer[0], next_message) if t is not None]
            if not candidates or min(candidates) > until:
                break
            if next_message is not None and (next_timer is None or next_message <= next_timer[0]):
                at, _, source, out = heapq.heappop(self.queue)
                self.now = max(self.now, at)
                if out.destination in self.down or out.destination not in self.nodes:
                    continue
                self.send(out.destination, self.deliver(out.destination, source, out.payload))
            else:
                assert next_timer is not None
                at, name = next_timer
                self.now = max(self.now, at)
                self.send(name, self.nodes[name].on_timer(self.now))
                self._collect()
        self.now = max(self.now, until)

    def propose(self, operation: bytes = OP_A, cid: ConsensusId = CID) -> None:
        self.send("init", self.initiator.propose(cid, PRESTATE, operation, self.now))

    def of(self, kind: type) -> list[tuple[str, object]]:
        return [(n, e) for n, e in self.events if isinstance(e, kind)]

    def decisions(self) -> set[bytes]:
        return {e.fact.operation_hash for _, e in self.of(Decided)}  # type: ignore[attr-defined]


def _warm(cluster: Cluster) -> None:
    """One decided instance so the initiator holds commitments (next round is 1 RTT)."""
    cluster.propose(encode_operation({"warm": 1}), ConsensusId(b"\x99" * 32))
    cluster.run(cluster.now + 1)
    cluster.events.clear()


def test_fault_free_cluster_decides_on_the_fast_path() -> None:
    cluster = Cluster()
    cluster.propose()
    cluster.run(cluster.now + 5)
    decided = cluster.of(Decided)
    assert {name for name, _ in decided} == {"init", "w1", "w2", "w3"}
    fact = decided[0][1].fact  # type: ignore[attr-defined]
    assert fact.fast_path and fact.rid == binding_rid(PRESTATE, OP_A)
    fact.verify(cluster.witnesses)
    assert not cluster.of(MessageRejected) and not cluster.of(FallbackStarted)


def test_forged_reply_signature_is_rejected_and_safety_kept() -> None:
    cluster = Cluster()
    _warm(cluster)

    def forge(source: str, out: Outgoing) -> list[Outgoing]:
        message = decode_message(out.payload)
        if isinstance(message, ExecuteReply) and message.vote.statement.kind == "share":
            # Same statement with another share value, and the real sender's old
            # signature; then the same statement signed by the wrong witness.
            st = message.vote.statement
            altered = attrs.evolve(message.vote, statement=attrs.evolve(st, share=st.share ^ 1))
            wrong_key = attrs.evolve(message.vote, signature=cluster.creds[2].sign_vote(b"forged"))
            forged = [ExecuteReply(altered), ExecuteReply(wrong_key)]
            return [Outgoing(out.destination, encode_message(f)) for f in forged] + [out]
        return [out]

    cluster.tamper = forge
    cluster.propose()
    cluster.run(cluster.now + 10)
    rejected = [e.reason for _, e in cluster.of(MessageRejected)]  # type: ignore[attr-defined]
    assert sum("not signed by its vote key" in r for r in rejected) == 4
    assert cluster.decisions() == {operation_hash(OP_A)}
    assert all(e.fact.fast_path for _, e in cluster.of(Decided))  # type: ignore[attr-defined]


def test_invalid_share_from_a_signer_is_named_excluded_and_the_fallback_decides() -> None:
    cluster = Cluster(4, 3)
    _warm(cluster)
    liar = cluster.creds[0]

    def corrupt(source: str, out: Outgoing) -> list[Outgoing]:
        message = decode_message(out.payload)
        if (
            source == "w1"
            and isinstance(message, ExecuteReply)
            and message.vote.statement.kind == "share"
        ):
            st = message.vote.statement
            bad = attrs.evolve(st, share=(st.share + 1) % (2**252))
            reply = ExecuteReply(bad.sign(liar), message.next_commitments)
            return [Outgoing(out.destination, encode_message(reply))]
        return [out]

    cluster.tamper = corrupt
    cluster.propose()
    cluster.run(cluster.now + 30)
    fallbacks = [e.reason for n, e in cluster.of(FallbackStarted) if n == "init"]  # type: ignore[attr-defined]
    assert fallbacks and "invalid share" in fallbacks[0] and "[1]" in fallbacks[0]
    facts = [e.fact for _, e in cluster.of(Decided)]  # type: ignore[attr-defined]
    assert facts and all(not f.fast_path for f in facts)
    assert cluster.decisions() == {operation_hash(OP_A)}
    assert all(f.is_valid(cluster.witnesses) for f in facts)


def test_wrong_prestate_is_refused_without_a_vote() -> None:
    cluster = Cluster()
    w1 = cluster.witness(1)
    package = (_commitment(cluster, 0), _commitment(cluster, 1))
    execute = Execute(CID, OTHER_PRESTATE, 0, OP_A, package)
    out = cluster.deliver("w1", "init", encode_message(execute))
    refusal = decode_message(out[0].payload)
    assert isinstance(refusal, Refusal) and refusal.reason == "prestate"
    assert w1.vote_for(CID, OTHER_PRESTATE) is None
    assert not cluster.of(VoteRecorded)


def test_a_locked_witness_refuses_another_operation_and_shows_its_vote() -> None:
    cluster = Cluster()
    _warm(cluster)
    cluster.propose(OP_A)
    cluster.run(cluster.now + 0.015)  # Execute A reached the witnesses, nothing more
    package = (_commitment(cluster, 0), _commitment(cluster, 1))
    out = cluster.deliver("w2", "rival", encode_message(Execute(CID, PRESTATE, 0, OP_B, package)))
    refusal = decode_message(out[0].payload)
    assert isinstance(refusal, Refusal) and refusal.reason == "locked"
    assert refusal.locked_vote is not None
    refusal.locked_vote.verify(cluster.witnesses.member(2).vote_key)
    assert refusal.locked_vote.statement.rid == binding_rid(PRESTATE, OP_A)
    cluster.run(cluster.now + 5)
    assert cluster.decisions() == {operation_hash(OP_A)}


def _commitment(cluster: Cluster, index: int) -> SigningCommitments:
    return commit(cluster.creds[index].key_package, cluster.rng)[1]


def test_duplicated_messages_change_nothing_and_never_reuse_a_nonce() -> None:
    cluster = Cluster()
    _warm(cluster)
    cluster.tamper = lambda source, out: [out, out]
    cluster.propose()
    cluster.run(cluster.now + 10)
    assert cluster.decisions() == {operation_hash(OP_A)}
    # One vote per witness, and a single signature: the duplicated Execute found
    # the witness's nonce already spent and got a plain vote, not a second share.
    votes = {(n, e.record.rid) for n, e in cluster.of(VoteRecorded)}  # type: ignore[attr-defined]
    assert votes == {(f"w{i}", binding_rid(PRESTATE, OP_A)) for i in (1, 2, 3)}
    facts = {e.fact for _, e in cluster.of(Decided)}  # type: ignore[attr-defined]
    assert len(facts) == 1 and next(iter(facts)).fast_path


def test_a_spent_nonce_never_signs_a_second_package() -> None:
    cluster = Cluster(seed=5)
    _warm(cluster)
    executes: list[Outgoing] = []
    replies: list[Outgoing] = []

    def capture(source: str, out: Outgoing) -> list[Outgoing]:
        message = decode_message(out.payload)
        if isinstance(message, Execute):
            executes.append(out)
        elif source == "w1" and isinstance(message, ExecuteReply):
            replies.append(out)
        return [out]

    cluster.tamper = capture
    cluster.propose()
    cluster.run(cluster.now + 0.012)  # the Execute is delivered, the replies are in flight
    to_w1 = next(o for o in executes if o.destination == "w1")
    original = decode_message(to_w1.payload)
    assert isinstance(original, Execute) and original.package[0].identifier == 1
    # A replay gets the very same answer back: no new signature is made.
    assert cluster.deliver("w1", "init", to_w1.payload)[0].payload == replies[0].payload
    # The same nonce commitment of w1 in another package (w3 instead of w2): the
    # nonce is spent, so w1 answers with a plain vote and signs nothing.
    other = attrs.evolve(original, package=(original.package[0], _commitment(cluster, 2)))
    answer = decode_message(cluster.deliver("w1", "init", encode_message(other))[0].payload)
    assert isinstance(answer, ExecuteReply) and answer.vote.statement.kind == "vote"


def test_share_for_another_rid_is_not_counted() -> None:
    cluster = Cluster()
    _warm(cluster)
    wrong = binding_rid(PRESTATE, OP_B)

    def swap(source: str, out: Outgoing) -> list[Outgoing]:
        message = decode_message(out.payload)
        if source == "w1" and isinstance(message, ExecuteReply):
            st = attrs.evolve(message.vote.statement, rid=wrong)
            return [
                Outgoing(out.destination, encode_message(ExecuteReply(st.sign(cluster.creds[0]))))
            ]
        return [out]

    cluster.tamper = swap
    cluster.propose()
    cluster.run(cluster.now + 30)
    reasons = [e.reason for n, e in cluster.of(FallbackStarted) if n == "init"]  # type: ignore[attr-defined]
    assert reasons and "locked on another operation" in reasons[0]
    # w1 was made to look like it signed B; the honest quorum still decides A only.
    assert cluster.decisions() == {operation_hash(OP_A)}


def test_equivocation_is_proven_and_the_culprit_excluded() -> None:
    cluster = Cluster(4, 3)
    w2 = cluster.witness(2)
    liar = cluster.creds[0]
    votes = []
    for op in (OP_A, OP_B):
        st = VoteStatement("vote", CID, PRESTATE, binding_rid(PRESTATE, op), 1, 0)
        votes.append(st.sign(liar))
    gossip = Gossip(CID, PRESTATE, 0, (OP_A, OP_B), tuple(votes))
    cluster.deliver("w2", "w3", encode_message(gossip))
    proofs = [e.proof for n, e in cluster.of(EquivocationDetected) if n == "w2"]  # type: ignore[attr-defined]
    assert len(proofs) == 1 and proofs[0].witness == 1
    proofs[0].verify(cluster.witnesses)
    # w2 now gossips the proof; a witness receiving it excludes witness 1 too.
    out = w2.on_timer(cluster.now + 10)
    relayed = [decode_message(o.payload) for o in out]
    assert any(isinstance(m, Gossip) and m.proofs for m in relayed)
    w4 = cluster.witness(4)
    gossip_with_proof = next(m for m in relayed if isinstance(m, Gossip) and m.proofs)
    w4.receive(Incoming("w2", encode_message(gossip_with_proof)), cluster.now)
    assert [e.proof.witness for e in w4.take_events() if isinstance(e, EquivocationDetected)] == [1]


def test_forged_commit_notice_is_rejected() -> None:
    cluster = Cluster()
    cluster.propose()
    cluster.run(cluster.now + 5)
    fact = cluster.of(Decided)[0][1].fact  # type: ignore[attr-defined]
    forged = attrs.evolve(fact, consensus_id=ConsensusId(b"\x01" * 32))
    fresh = Cluster(seed=9)
    out = fresh.deliver("w1", "evil", encode_message(CommitNotice(forged)))
    assert out == [] and fresh.witness(1).decision(forged.consensus_id, PRESTATE) is None
    reasons = [e.reason for _, e in fresh.of(MessageRejected)]  # type: ignore[attr-defined]
    assert any("group key" in r or "does not verify" in r for r in reasons)
    with pytest.raises(CryptoError):
        forged.verify(cluster.witnesses)


def test_durable_vote_survives_a_restart() -> None:
    cluster = Cluster()
    _warm(cluster)
    cluster.propose(OP_A)
    cluster.run(cluster.now + 0.015)
    records = [e.record for n, e in cluster.of(VoteRecorded) if n == "w3"]  # type: ignore[attr-defined]
    assert records
    restarted = Witness(
        address="w3",
        credentials=cluster.creds[2],
        witnesses=cluster.witnesses,
        prestate_hash=PRESTATE,
        rng=SeededRandom(77),
        votes=records,
    )
    package = (_commitment(cluster, 1), _commitment(cluster, 2))
    out = restarted.receive(
        Incoming("rival", encode_message(Execute(CID, PRESTATE, 0, OP_B, package))), cluster.now
    )
    refusal = decode_message(out[0].payload)
    assert isinstance(refusal, Refusal) and refusal.reason == "locked"
    # ... and it resumes the open instance on its first timer, to learn the outcome.
    assert restarted.next_timer() is not None


def test_epoch_mismatch_is_refused() -> None:
    cluster = Cluster()
    package = (_commitment(cluster, 0), _commitment(cluster, 1))
    out = cluster.deliver("w1", "init", encode_message(Execute(CID, PRESTATE, 5, OP_A, package)))
    assert decode_message(out[0].payload) == Refusal(CID, PRESTATE, 1, "epoch")


_VALID = Cluster(seed=3)
_VALID.propose()
_VALID.run(_VALID.now + 5)
_SAMPLES: list[bytes] = []


def _sample_traffic() -> list[bytes]:
    if not _SAMPLES:
        cluster = Cluster(seed=4)
        cluster.tamper = lambda source, out: (_SAMPLES.append(out.payload), [out])[1]
        cluster.propose()
        cluster.run(cluster.now + 5)
    return _SAMPLES


@settings(max_examples=120, deadline=None)
@given(st.data())
def test_hostile_bytes_never_crash_a_core(data) -> None:
    samples = _sample_traffic()
    if data.draw(st.booleans()):
        payload = data.draw(st.binary(max_size=200))
    else:
        original = data.draw(st.sampled_from(samples))
        position = data.draw(st.integers(0, len(original) - 1))
        payload = (
            original[:position]
            + bytes([original[position] ^ data.draw(st.integers(1, 255))])
            + original[position + 1 :]
        )
    target = data.draw(st.sampled_from(["w1", "w2", "init"]))
    node = _VALID.nodes[target]
    out = node.receive(Incoming("fuzzer", payload), _VALID.now)
    assert isinstance(out, list)
    for event in node.take_events():
        if isinstance(event, Decided):
            event.fact.verify(_VALID.witnesses)
