"""Pedersen DKG with proofs of knowledge: ZF vector, properties, and every abort path."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import attrs
import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aura_core.crypto import (
    DkgRound1Package,
    DkgRound2Package,
    KeyGenerationAborted,
    ProofOfKnowledge,
    SigningPackage,
    aggregate,
    commit,
    dkg_finalize,
    dkg_round1,
    dkg_round2,
    prepare_signing,
    sign,
    sign_single,
)
from aura_core.crypto.dkg import verify_proof_of_knowledge
from aura_core.crypto.ed25519_group import ORDER, deserialize_scalar
from aura_core.crypto.frost_ciphersuite import h_dkg
from aura_core.crypto.vss import complaint_is_justified
from aura_core.errors import InvalidInput

VECTORS = Path(__file__).parent / "vectors" / "frost"


class SeededRandom:
    """Deterministic random bytes from a seed (SHAKE-256 in counter mode)."""

    def __init__(self, seed: int | bytes) -> None:
        self._seed = seed if isinstance(seed, bytes) else seed.to_bytes(16, "little")
        self._counter = 0

    def random_bytes(self, n: int) -> bytes:
        self._counter += 1
        return hashlib.shake_256(self._seed + self._counter.to_bytes(8, "little")).digest(n)


class ScriptedRandom:
    def __init__(self, *chunks: bytes) -> None:
        self._chunks = list(chunks)

    def random_bytes(self, n: int) -> bytes:
        chunk = self._chunks.pop(0)
        assert len(chunk) == n
        return chunk


def _wide(value: int) -> bytes:
    """64 random bytes that reduce to exactly ``value`` (how random scalars are drawn)."""
    return value.to_bytes(64, "little")


def run_dkg(identifiers: list[int], min_signers: int, seed: int):
    """All participants, honest, in memory. Returns {id: (KeyPackage, PublicKeyPackage)}."""
    n = len(identifiers)
    rng = SeededRandom(seed)
    round1 = {i: dkg_round1(i, n, min_signers, rng) for i in identifiers}
    round2 = {}
    for i in identifiers:
        others = [round1[j][1] for j in identifiers if j != i]
        round2[i] = dkg_round2(round1[i][0], others)
    results = {}
    for i in identifiers:
        inbox = [p for j in identifiers if j != i for p in round2[j][1] if p.recipient == i]
        results[i] = dkg_finalize(round2[i][0], inbox)
    return results


def _sign_with(keys, public, signers, message, seed):
    rng = SeededRandom(seed)
    round1 = {i: commit(keys[i], rng) for i in signers}
    package = SigningPackage.from_unsorted([c for _, c in round1.values()], message)
    context = prepare_signing(package, public.verifying_key)
    shares = [sign(context, round1[i][0], keys[i]) for i in signers]
    return aggregate(context, shares, public)


# --- Zcash Foundation DKG vector ---------------------------------------------------


def test_zf_dkg_vector_reproduced() -> None:
    vector = json.loads((VECTORS / "zf-vectors_dkg.json").read_text())
    inputs = vector["inputs"]
    ids = [1, 2, 3]
    n = vector["config"]["MAX_PARTICIPANTS"]
    t = vector["config"]["MIN_PARTICIPANTS"]
    round1 = {}
    for i in ids:
        p = inputs[str(i)]
        a0 = deserialize_scalar(bytes.fromhex(p["signing_key"]))
        a1 = deserialize_scalar(bytes.fromhex(p["coefficient"]))
        proof = bytes.fromhex(p["proof_of_knowledge"])
        c0 = bytes.fromhex(p["vss_commitments"][0])
        # The vector gives the proof but not its nonce k; recover k = mu - c·a0.
        challenge = h_dkg(i.to_bytes(32, "little") + c0 + proof[:32])
        nonce = (deserialize_scalar(proof[32:]) - challenge * a0) % ORDER
        secret, package = dkg_round1(i, n, t, ScriptedRandom(_wide(a0), _wide(a1), _wide(nonce)))
        assert [e.hex() for e in package.commitment.coefficients] == p["vss_commitments"]
        assert package.proof_of_knowledge.to_bytes().hex() == p["proof_of_knowledge"]
        round1[i] = (secret, package)
    round2 = {i: dkg_round2(round1[i][0], [round1[j][1] for j in ids if j != i]) for i in ids}
    for i in ids:
        for share in round2[i][1]:
            expected = inputs[str(share.recipient)]["signing_shares"][str(i)]
            assert share.signing_share.to_bytes(32, "little").hex() == expected
    for i in ids:
        inbox = [p for j in ids if j != i for p in round2[j][1] if p.recipient == i]
        key, public = dkg_finalize(round2[i][0], inbox)
        assert key.signing_share.to_bytes(32, "little").hex() == inputs[str(i)]["signing_share"]
        assert key.verifying_share.hex() == inputs[str(i)]["verifying_share"]
        assert public.verifying_key.hex() == inputs["verifying_key"]
        assert public.verifying_share(i).hex() == inputs[str(i)]["verifying_share"]


# --- Properties ----------------------------------------------------------------------


@settings(max_examples=6, deadline=None)
@given(
    n=st.integers(min_value=2, max_value=5),
    data=st.data(),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_dkg_keys_sign_with_any_threshold_subset(n: int, data: st.DataObject, seed: int) -> None:
    t = data.draw(st.integers(min_value=2, max_value=n), label="t")
    ids = data.draw(
        st.lists(st.integers(1, 2**40), min_size=n, max_size=n, unique=True), label="ids"
    )
    results = run_dkg(ids, t, seed)
    publics = {public for _, public in results.values()}
    assert len(publics) == 1, "every participant derives the same public key package"
    public = publics.pop()
    keys = {i: key for i, (key, _) in results.items()}
    signers = data.draw(st.lists(st.sampled_from(ids), min_size=t, max_size=t, unique=True))
    signature = _sign_with(keys, public, signers, b"dkg", seed)
    nacl.signing.VerifyKey(bytes(public.verifying_key)).verify(b"dkg", signature)


def test_dkg_one_of_one_is_a_plain_key() -> None:
    (key, public) = run_dkg([7], 1, 3)[7]
    assert key.is_single_signer and public.max_signers == 1
    signature = sign_single(key, b"solo")
    nacl.signing.VerifyKey(bytes(public.verifying_key)).verify(b"solo", signature)


def test_dkg_refuses_one_of_n() -> None:
    with pytest.raises(InvalidInput, match="1-of-3"):
        dkg_round1(1, 3, 1, SeededRandom(1))


# --- Abort paths -----------------------------------------------------------------------


def _three_party_round1(seed: int = 11):
    rng = SeededRandom(seed)
    return {i: dkg_round1(i, 3, 2, rng) for i in (1, 2, 3)}


def test_bad_share_yields_complaint_naming_the_sender() -> None:
    round1 = _three_party_round1()
    round2 = {
        i: dkg_round2(round1[i][0], [round1[j][1] for j in (1, 2, 3) if j != i]) for i in (1, 2, 3)
    }
    inbox = [p for j in (2, 3) for p in round2[j][1] if p.recipient == 1]
    tampered = [
        attrs.evolve(p, signing_share=(p.signing_share + 1) % ORDER) if p.sender == 3 else p
        for p in inbox
    ]
    with pytest.raises(KeyGenerationAborted, match="participant\\(s\\) 3") as caught:
        dkg_finalize(round2[1][0], tampered)
    assert caught.value.culprits == (3,)
    [complaint] = caught.value.complaints
    assert (complaint.accuser, complaint.accused) == (1, 3)
    # Anyone can check the complaint against the accused's broadcast commitment.
    assert complaint_is_justified(complaint, round1[3][1].commitment)
    honest = next(p for p in inbox if p.sender == 3)
    assert not complaint_is_justified(
        attrs.evolve(complaint, share=honest.signing_share), round1[3][1].commitment
    )


def test_bad_proof_of_knowledge_names_the_sender() -> None:
    round1 = _three_party_round1()
    forged = attrs.evolve(
        round1[2][1],
        proof_of_knowledge=ProofOfKnowledge(
            round1[2][1].proof_of_knowledge.commitment,
            (round1[2][1].proof_of_knowledge.response + 1) % ORDER,
        ),
    )
    with pytest.raises(KeyGenerationAborted, match="proof of knowledge") as caught:
        dkg_round2(round1[1][0], [forged, round1[3][1]])
    assert caught.value.culprits == (2,)


def test_rogue_commitment_without_proof_is_rejected() -> None:
    # Participant 3 copies 2's proof onto a commitment it chose: the proof is
    # bound to the sender identifier and to C_0, so it fails.
    round1 = _three_party_round1()
    stolen = DkgRound1Package(3, round1[2][1].commitment, round1[2][1].proof_of_knowledge)
    with pytest.raises(KeyGenerationAborted) as caught:
        dkg_round2(round1[1][0], [round1[2][1], stolen])
    assert caught.value.culprits == (3,)


def test_wrong_commitment_length_names_the_sender() -> None:
    round1 = _three_party_round1()
    _, long_package = dkg_round1(3, 3, 3, SeededRandom(5))
    with pytest.raises(KeyGenerationAborted, match="coefficients") as caught:
        dkg_round2(round1[1][0], [round1[2][1], long_package])
    assert caught.value.culprits == (3,)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda pk: pk[:1], "expected round-one packages from 2"),
        (lambda pk: [*pk, pk[0]], "duplicate round-one package"),
        (lambda pk: [*pk[:1], "junk"], "expected DkgRound1Package"),
    ],
)
def test_round2_rejects_malformed_package_sets(mutate, message: str) -> None:
    round1 = _three_party_round1()
    with pytest.raises(InvalidInput, match=message):
        dkg_round2(round1[1][0], mutate([round1[2][1], round1[3][1]]))


def test_round2_rejects_own_package() -> None:
    round1 = _three_party_round1()
    with pytest.raises(InvalidInput, match="own"):
        dkg_round2(round1[1][0], [round1[1][1], round1[2][1]])


def test_conflicting_round1_packages_from_one_sender_are_blamed() -> None:
    round1 = _three_party_round1()
    _, other = dkg_round1(2, 3, 2, SeededRandom(99))
    with pytest.raises(KeyGenerationAborted) as caught:
        dkg_round2(round1[1][0], [round1[2][1], other])
    assert caught.value.culprits == (2,)


def test_finalize_rejects_misaddressed_missing_and_extra_shares() -> None:
    round1 = _three_party_round1()
    round2 = {
        i: dkg_round2(round1[i][0], [round1[j][1] for j in (1, 2, 3) if j != i]) for i in (1, 2, 3)
    }
    inbox = [p for j in (2, 3) for p in round2[j][1] if p.recipient == 1]
    with pytest.raises(InvalidInput, match="missing share package"):
        dkg_finalize(round2[1][0], inbox[:1])
    with pytest.raises(InvalidInput, match="addressed to participant 3"):
        dkg_finalize(round2[1][0], [*inbox[:1], DkgRound2Package(3, 3, 5)])
    with pytest.raises(InvalidInput, match="duplicate share package"):
        dkg_finalize(round2[1][0], [*inbox, inbox[0]])
    with pytest.raises(InvalidInput, match="unexpected participant 9"):
        dkg_finalize(round2[1][0], [*inbox, DkgRound2Package(9, 1, 5)])


def test_secret_state_never_shows_secrets() -> None:
    round1 = _three_party_round1()
    secret, _ = round1[1]
    assert "<secret>" in repr(secret)
    for coefficient in secret.coefficients:
        assert str(coefficient) not in repr(secret)
    state, packages = dkg_round2(secret, [round1[2][1], round1[3][1]])
    assert str(state.own_share) not in repr(state)
    assert all(str(p.signing_share) not in repr(p) for p in packages)


def test_proof_of_knowledge_is_bound_to_identifier_and_key() -> None:
    round1 = _three_party_round1()
    package = round1[1][1]
    key = package.commitment.public_key
    assert verify_proof_of_knowledge(1, key, package.proof_of_knowledge)
    assert not verify_proof_of_knowledge(2, key, package.proof_of_knowledge)
    assert not verify_proof_of_knowledge(
        1, round1[2][1].commitment.public_key, package.proof_of_knowledge
    )
