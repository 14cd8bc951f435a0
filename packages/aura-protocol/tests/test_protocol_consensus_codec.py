"""Canonical encodings: round trips, strict decoding, hostile bytes."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aura_core import dag_cbor
from aura_core.crypto import aggregate, commit, sign
from aura_core.errors import CryptoError, InvalidEncoding, InvalidInput
from aura_core.time_domains import PhysicalTime
from aura_effects.simulated import SeededRandom
from aura_protocol.consensus import (
    CommitFact,
    CommitNotice,
    CommitOffer,
    CommitRequest,
    ConsensusId,
    EquivocationProof,
    Execute,
    ExecuteReply,
    Gossip,
    NonceOffer,
    Refusal,
    SignedVote,
    VoteRecord,
    VoteStatement,
    WitnessInfo,
    WitnessSet,
    binding_rid,
    decode_message,
    encode_message,
    encode_operation,
    operation_hash,
    signing_package,
    witness_group_from_dealer,
)

RNG = SeededRandom(b"codec")
CREDS, WITNESSES = witness_group_from_dealer(3, 2, RNG)
CID = ConsensusId(b"\x07" * 32)
PRESTATE = b"\x08" * 32
OP_A = encode_operation({"op": "a"})
OP_B = encode_operation({"op": "b"})
RID_A = binding_rid(PRESTATE, OP_A)
RID_B = binding_rid(PRESTATE, OP_B)


def _commit_fact(operation: bytes = OP_A) -> CommitFact:
    signers = CREDS[:2]
    pairs = [commit(c.key_package, RNG) for c in signers]
    rid = binding_rid(PRESTATE, operation)
    package = signing_package(WITNESSES, CID, PRESTATE, rid, [p[1] for p in pairs])
    shares = [sign(package, n, c.key_package) for (n, _), c in zip(pairs, signers, strict=True)]
    signature = aggregate(package, shares, WITNESSES.public_key_package)
    return CommitFact(
        CID,
        PRESTATE,
        operation_hash(operation),
        operation,
        signature,
        WITNESSES.group_public_key,
        (1, 2),
        2,
        PhysicalTime(1_700_000_000_000),
        True,
    )


def _vote(kind: str = "vote", rid: bytes = RID_A, witness: int = 1) -> SignedVote:
    cred = CREDS[witness - 1]
    extra: dict = {}
    if kind == "share":
        extra = {"package": (commit(cred.key_package, RNG)[1],), "share": 12345}
    elif kind == "offer":
        extra = {
            "round": 3,
            "offers": (
                NonceOffer((1, 2), commit(cred.key_package, RNG)[1]),
                NonceOffer((1, 3), commit(cred.key_package, RNG)[1]),
            ),
        }
    statement = VoteStatement(kind, CID, PRESTATE, rid, witness, 0, **extra)
    return statement.sign(cred)


FACT = _commit_fact()
PROOF = EquivocationProof.from_pair(_vote(rid=RID_A), _vote(rid=RID_B), CREDS[0].vote_key)
MESSAGES = [
    CommitRequest(0, 2),
    CommitOffer(0, 1, (commit(CREDS[0].key_package, RNG)[1],)),
    Execute(CID, PRESTATE, 0, OP_A, tuple(commit(c.key_package, RNG)[1] for c in CREDS[:2])),
    ExecuteReply(_vote("share"), (commit(CREDS[0].key_package, RNG)[1],)),
    ExecuteReply(_vote("vote")),
    Refusal(CID, PRESTATE, 2, "prestate"),
    Refusal(CID, PRESTATE, 1, "locked", _vote()),
    Gossip(CID, PRESTATE, 0, (OP_A, OP_B), (_vote("offer"), _vote("share"), _vote()), (PROOF,)),
    CommitNotice(FACT),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_messages_round_trip_canonically(message) -> None:
    data = encode_message(message)
    decoded = decode_message(data)
    assert decoded == message
    assert encode_message(decoded) == data


def test_commit_fact_round_trips_and_verifies() -> None:
    data = FACT.encode()
    assert CommitFact.decode(data) == FACT
    FACT.verify(WITNESSES)
    assert FACT.rid == RID_A
    assert FACT.decision == (CID, PRESTATE, operation_hash(OP_A))


def test_commit_fact_verification_catches_every_tampering() -> None:
    tampered = [
        attrs.evolve(FACT, operation_bytes=OP_B),
        attrs.evolve(FACT, operation_bytes=OP_B, operation_hash=operation_hash(OP_B)),
        attrs.evolve(FACT, prestate_hash=b"\x09" * 32),
        attrs.evolve(FACT, consensus_id=ConsensusId(b"\x09" * 32)),
        attrs.evolve(FACT, participants=(1, 3)),
        attrs.evolve(FACT, threshold_signature=FACT.threshold_signature[:-1] + b"\x00"),
    ]
    for fact in tampered:
        assert not fact.is_valid()
        with pytest.raises(CryptoError):
            fact.verify()
    _other_creds, other_group = witness_group_from_dealer(3, 2, SeededRandom(b"other"))
    with pytest.raises(CryptoError, match="different group key"):
        FACT.verify(other_group)


def test_equivocation_proof_round_trips_and_verifies() -> None:
    assert EquivocationProof.decode(PROOF.encode()) == PROOF
    PROOF.verify(WITNESSES)
    assert PROOF.witness == 1
    with pytest.raises(CryptoError):
        PROOF.verify(_with_replaced_key(WITNESSES))
    with pytest.raises(InvalidInput, match="different rids"):
        EquivocationProof.from_pair(_vote(), _vote(kind="share"), CREDS[0].vote_key)
    with pytest.raises(InvalidInput, match="same witness"):
        EquivocationProof.from_pair(_vote(), _vote(rid=RID_B, witness=2), CREDS[0].vote_key)
    forged = EquivocationProof.from_pair(_vote(), _vote(rid=RID_B), CREDS[1].vote_key)
    assert not forged.is_valid()


def _with_replaced_key(witnesses):
    """The same set but with witness 1's vote key replaced (so the proof key no longer matches)."""
    members = [
        WitnessInfo(m.identifier, m.address, b"\x11" * 32 if m.identifier == 1 else m.vote_key)
        for m in witnesses.members
    ]
    return WitnessSet(members, witnesses.public_key_package)


def test_signed_vote_detects_forgery() -> None:
    vote = _vote()
    vote.verify(CREDS[0].vote_key)
    with pytest.raises(CryptoError):
        vote.verify(CREDS[1].vote_key)
    moved = SignedVote(attrs.evolve(vote.statement, rid=RID_B), vote.signature)
    assert not moved.is_valid(CREDS[0].vote_key)
    with pytest.raises(InvalidInput):
        VoteStatement("share", CID, PRESTATE, RID_A, 1, 0)  # a share needs a package
    with pytest.raises(InvalidInput):
        vote.statement.sign(CREDS[1])


def test_vote_record_round_trip() -> None:
    record = VoteRecord(CID, PRESTATE, RID_A, OP_A, 4)
    assert VoteRecord.decode(record.encode()) == record
    with pytest.raises(InvalidEncoding):
        VoteRecord.decode(record.encode()[:-1])


def _value(message) -> dict:
    return dag_cbor.decode(encode_message(message))


@pytest.mark.parametrize(
    "mutate",
    [
        lambda v: v.update(v=2),
        lambda v: v.update(t="nope"),
        lambda v: v.update(extra=1),
        lambda v: v.pop("cid"),
        lambda v: v.update(cid=b"\x01" * 31),
        lambda v: v.update(epoch=-1),
        lambda v: v.update(op=b"\x18\x01"),
        lambda v: v.update(package=[]),
        lambda v: v.update(package=[[1, b"\x00" * 32, b"\x00" * 32]]),
        lambda v: v.update(package=list(reversed(v["package"]))),
    ],
)
def test_execute_decoding_is_strict(mutate) -> None:
    value = _value(MESSAGES[2])
    mutate(value)
    with pytest.raises(InvalidEncoding):
        decode_message(dag_cbor.encode(value))


def test_non_canonical_and_oversize_input_is_refused() -> None:
    data = encode_message(MESSAGES[0])
    with pytest.raises(InvalidEncoding):
        decode_message(data + b"\x00")
    with pytest.raises(InvalidEncoding):
        decode_message(b"\xa0")
    with pytest.raises(InvalidEncoding):
        decode_message(b"\x00" * (2 << 20))
    with pytest.raises(InvalidEncoding):
        decode_message("text")  # type: ignore[arg-type]


@settings(max_examples=150)
@given(st.binary(max_size=300))
@example(b"\xa3aa\x01av\x01at\x66gossip")
def test_random_bytes_only_raise_invalid_encoding(data: bytes) -> None:
    try:
        decode_message(data)
    except InvalidEncoding:
        pass


@settings(max_examples=200)
@given(st.sampled_from(range(len(MESSAGES))), st.data())
def test_mutated_messages_decode_or_raise_invalid_encoding(index: int, data) -> None:
    original = encode_message(MESSAGES[index])
    position = data.draw(st.integers(0, len(original) - 1))
    flip = data.draw(st.integers(1, 255))
    mutated = original[:position] + bytes([original[position] ^ flip]) + original[position + 1 :]
    try:
        decoded = decode_message(mutated)
    except InvalidEncoding:
        return
    assert encode_message(decoded) == mutated  # anything accepted is canonical
