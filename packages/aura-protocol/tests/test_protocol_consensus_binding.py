"""Prestate hash, rid, decision message and witness-set rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aura_core.errors import InvalidEncoding, InvalidInput
from aura_core.hashing import tagged_hash
from aura_core.identifiers import AuthorityId
from aura_effects.simulated import SeededRandom
from aura_protocol.consensus import (
    MAX_OPERATION_BYTES,
    ConsensusId,
    Prestate,
    WitnessInfo,
    WitnessSet,
    binding_rid,
    check_operation_bytes,
    decision_message,
    encode_operation,
    operation_hash,
    witness_group_from_dealer,
)

ids = st.binary(min_size=16, max_size=16).map(AuthorityId)
hashes = st.binary(min_size=32, max_size=32)


def test_prestate_hash_is_the_documented_construction() -> None:
    a, b = AuthorityId(b"\x02" * 16), AuthorityId(b"\x01" * 16)
    ca, cb, ctx = b"\xaa" * 32, b"\xbb" * 32, b"\xcc" * 32
    expected = tagged_hash("AURA_PRESTATE_V1", (2).to_bytes(8, "big"), b.raw, cb, a.raw, ca, ctx)
    assert Prestate(((a, ca), (b, cb)), ctx).hash == expected


@settings(max_examples=50)
@given(st.lists(st.tuples(ids, hashes), min_size=1, max_size=6, unique_by=lambda e: e[0]), hashes)
def test_prestate_hash_ignores_listing_order(entries, context) -> None:
    assert (
        Prestate(tuple(entries), context).hash == Prestate(tuple(reversed(entries)), context).hash
    )


@settings(max_examples=50)
@given(st.tuples(ids, hashes), hashes, hashes)
def test_prestate_hash_changes_with_any_commitment(entry, other_commitment, context) -> None:
    authority, commitment = entry
    base = Prestate(((authority, commitment),), context).hash
    if other_commitment != commitment:
        assert Prestate(((authority, other_commitment),), context).hash != base
    if other_commitment != context:
        assert Prestate(((authority, commitment),), other_commitment).hash != base


def test_prestate_rejects_duplicates_and_bad_commitments() -> None:
    a = AuthorityId(b"\x01" * 16)
    with pytest.raises(InvalidInput, match="twice"):
        Prestate(((a, b"\x00" * 32), (a, b"\x01" * 32)), b"\x00" * 32)
    with pytest.raises(InvalidInput, match="32 bytes"):
        Prestate(((a, b"\x00" * 31),), b"\x00" * 32)
    with pytest.raises(InvalidInput):
        Prestate((), b"short")


def test_rid_is_the_documented_construction() -> None:
    prestate, op = b"\x01" * 32, encode_operation({"op": "x"})
    assert binding_rid(prestate, op) == tagged_hash("AURA_OP_BINDING", prestate, op)
    assert operation_hash(op) == tagged_hash("AURA_CONSENSUS_OPERATION_V1", op)


@settings(max_examples=50)
@given(hashes, hashes, st.integers(0, 1000), st.integers(0, 1000))
def test_rid_binds_prestate_and_operation(p1, p2, x, y) -> None:
    o1, o2 = encode_operation({"x": x}), encode_operation({"x": y})
    assert (binding_rid(p1, o1) == binding_rid(p2, o2)) == (p1 == p2 and x == y)


def test_decision_message_binds_every_field() -> None:
    cid = ConsensusId(b"\x01" * 32)
    base = (cid, b"\x02" * 32, b"\x03" * 32, b"\x04" * 32, 2, (1, 2))
    message = decision_message(*base)
    variants = [
        (ConsensusId(b"\x09" * 32), *base[1:]),
        (cid, b"\x09" * 32, *base[2:]),
        (*base[:2], b"\x09" * 32, *base[3:]),
        (*base[:3], b"\x09" * 32, *base[4:]),
        (*base[:4], 3, base[5]),
        (*base[:5], (1, 3)),
    ]
    for variant in variants:
        assert decision_message(*variant) != message
    assert len(message) == 32


def test_consensus_id_for_slot_separates_inputs() -> None:
    a = ConsensusId.for_slot(b"scope", b"\x01" * 32, b"slot")
    assert a == ConsensusId.for_slot(b"scope", b"\x01" * 32, b"slot")
    assert a != ConsensusId.for_slot(b"scope", b"\x01" * 32, b"slot2")
    assert a != ConsensusId.for_slot(b"scop", b"\x01" * 32, b"eslot")
    assert str(a).startswith("consensus:")
    with pytest.raises(InvalidInput):
        ConsensusId.for_slot(b"", b"\x01" * 32, b"slot")


def test_operations_must_be_canonical_and_bounded() -> None:
    assert check_operation_bytes(encode_operation([1, 2])) == b"\x82\x01\x02"
    with pytest.raises(InvalidEncoding):
        check_operation_bytes(b"\x18\x01")  # non-shortest integer head
    with pytest.raises(InvalidEncoding):
        check_operation_bytes(b"")
    with pytest.raises(InvalidEncoding):
        check_operation_bytes(b"\x41")  # truncated
    with pytest.raises(InvalidInput):
        encode_operation(b"x" * MAX_OPERATION_BYTES)


def test_witness_set_requires_a_majority_quorum() -> None:
    rng = SeededRandom(1)
    creds, ws = witness_group_from_dealer(3, 2, rng)
    assert (ws.threshold, ws.size, ws.tolerated_faults) == (2, 3, 0)
    _, ws4 = witness_group_from_dealer(4, 3, rng)
    assert ws4.tolerated_faults == 1
    assert creds[0].vote_key == ws.member(1).vote_key


def test_witness_set_refuses_non_quorum_and_mismatched_members() -> None:
    rng = SeededRandom(3)
    with pytest.raises(InvalidInput, match="not a quorum"):
        witness_group_from_dealer(4, 2, rng)
    _creds, ws = witness_group_from_dealer(3, 2, rng)
    members = list(ws.members)
    with pytest.raises(InvalidInput, match="distinct"):
        WitnessSet(
            [members[0], members[1], WitnessInfo(3, "w1", members[2].vote_key)],
            ws.public_key_package,
        )
    with pytest.raises(InvalidInput, match="exactly the public key package"):
        WitnessSet(members[:2], ws.public_key_package)
    with pytest.raises(InvalidInput):
        WitnessInfo(0, "w0", b"\x00" * 32)
