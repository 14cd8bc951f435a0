"""Commit facts and equivocation proofs as journal facts."""

from __future__ import annotations

import attrs
import pytest

from aura_core.crypto import commit
from aura_core.errors import CryptoError, InvalidInput
from aura_core.identifiers import AuthorityId
from aura_core.time_domains import PhysicalTime
from aura_effects.simulated import SeededRandom
from aura_journal import (
    Fact,
    FactMetadata,
    Journal,
    JournalNamespace,
    default_registry,
    order_time_from_entropy,
)
from aura_protocol.consensus import (
    COMMIT_FACT_TYPE,
    EQUIVOCATION_FACT_TYPE,
    CommitFact,
    ConflictingDecision,
    ConsensusId,
    EquivocationProof,
    VoteStatement,
    assemble_commit,
    binding_rid,
    consensus_fact_types,
    encode_operation,
    fact_for_commit,
    fact_for_proof,
    sign_decision,
    witness_group_from_dealer,
)

RNG = SeededRandom(b"journal")
CREDS, WITNESSES = witness_group_from_dealer(3, 2, RNG)
CID = ConsensusId(b"\x05" * 32)
PRESTATE = b"\x06" * 32


def _commit(operation: bytes) -> CommitFact:
    rid = binding_rid(PRESTATE, operation)
    pairs = [(c, *commit(c.key_package, RNG)) for c in CREDS[:2]]
    package = tuple(p[2] for p in pairs)
    shares = {
        c.identifier: sign_decision(WITNESSES, c.key_package, nonces, CID, PRESTATE, rid, package)
        for c, nonces, _ in pairs
    }
    return assemble_commit(
        WITNESSES, CID, PRESTATE, operation, package, shares, now=1_700_000_000.0, fast_path=True
    )


def _metadata(tag: bytes) -> FactMetadata:
    return FactMetadata(order_time_from_entropy(tag * 16), PhysicalTime(1_700_000_000_000))


def _journal() -> Journal:
    registry = default_registry().copy()
    for fact_type in consensus_fact_types():
        registry.register(fact_type)
    return Journal(JournalNamespace.authority(AuthorityId(b"\x01" * 16)), registry)


def test_commit_fact_is_journaled_and_round_trips() -> None:
    journal = _journal()
    commit = _commit(encode_operation({"op": "a"}))
    fact = fact_for_commit(commit, _metadata(b"a"))
    assert fact.type_id == COMMIT_FACT_TYPE
    assert journal.add(fact)
    received = _journal().ingest(fact.encode())
    assert _journal().registry.body(received) == commit


def test_forged_commit_fact_is_refused_by_the_journal() -> None:
    commit = _commit(encode_operation({"op": "a"}))
    forged = attrs.evolve(commit, prestate_hash=b"\x07" * 32)
    with pytest.raises(CryptoError):
        fact_for_commit(forged, _metadata(b"b"))
    fact = Fact.create(forged, _metadata(b"b"))  # bypass the helper's check
    with pytest.raises(CryptoError):
        _journal().add(fact)


def test_a_journal_keeps_one_decision_per_instance() -> None:
    journal = _journal()
    first = _commit(encode_operation({"op": "a"}))
    again = _commit(encode_operation({"op": "a"}))  # same decision, other signers' nonces
    rival = _commit(encode_operation({"op": "b"}))
    assert journal.add(fact_for_commit(first, _metadata(b"c")))
    assert journal.add(fact_for_commit(again, _metadata(b"d")))
    with pytest.raises(ConflictingDecision):
        journal.add(fact_for_commit(rival, _metadata(b"e")))


def test_equivocation_proof_is_journaled_and_checked() -> None:
    cred = CREDS[0]
    votes = [
        VoteStatement("vote", CID, PRESTATE, binding_rid(PRESTATE, encode_operation(x)), 1, 0).sign(
            cred
        )
        for x in ("a", "b")
    ]
    proof = EquivocationProof.from_pair(*votes, cred.vote_key)
    fact = fact_for_proof(proof, _metadata(b"f"))
    assert fact.type_id == EQUIVOCATION_FACT_TYPE
    journal = _journal()
    assert journal.add(fact)
    wrong_key = EquivocationProof.from_pair(*votes, CREDS[1].vote_key)
    with pytest.raises(CryptoError):
        journal.add(Fact.create(wrong_key, _metadata(b"g")))
    with pytest.raises(InvalidInput):
        fact_for_proof("not a proof", _metadata(b"h"))  # type: ignore[arg-type]
