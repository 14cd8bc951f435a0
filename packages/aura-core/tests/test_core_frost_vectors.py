"""Replay the RFC 9591 and Zcash Foundation FROST(Ed25519, SHA-512) vectors byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import nacl.signing
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from aura_core.crypto import (
    KeyPackage,
    PublicKeyPackage,
    SecretShare,
    SigningPackage,
    aggregate,
    commit,
    key_package_from_secret_share,
    prepare_signing,
    sign,
    verify_signature,
    verify_signature_share,
)
from aura_core.crypto.ed25519_group import Element, deserialize_element, deserialize_scalar
from aura_core.crypto.frost import (
    binding_factor_inputs,
    compute_binding_factors,
    encode_group_commitment_list,
)
from aura_core.crypto.shamir import secret_share_combine, secret_share_shard
from aura_core.crypto.vss import derive_group_info, vss_commit, vss_verify
from aura_core.errors import InvalidEncoding

VECTORS = Path(__file__).parent / "vectors" / "frost"
SIGNING_VECTORS = [
    "rfc9591-frost-ed25519-sha512.json",
    "zf-vectors.json",
    "zf-vectors-big-identifier.json",
]


class ScriptedRandom:
    """Hands out the vector's randomness in order and insists it is all used."""

    def __init__(self, *chunks: bytes) -> None:
        self._chunks = list(chunks)

    def random_bytes(self, n: int) -> bytes:
        chunk = self._chunks.pop(0)
        assert len(chunk) == n
        return chunk

    @property
    def exhausted(self) -> bool:
        return not self._chunks


def _load(name: str) -> dict:
    return json.loads((VECTORS / name).read_text())


def _scalar(hex_value: str) -> int:
    return deserialize_scalar(bytes.fromhex(hex_value))


def _hex(value: int) -> str:
    return value.to_bytes(32, "little").hex()


class Replay:
    """Runs one signing vector through the public API, keeping every intermediate."""

    def __init__(self, name: str) -> None:
        self.vector = _load(name)
        config = self.vector["config"]
        inputs = self.vector["inputs"]
        self.max = int(config["MAX_PARTICIPANTS"])
        self.min = int(config["MIN_PARTICIPANTS"])
        self.secret = _scalar(inputs["group_secret_key"])
        self.coefficients = [_scalar(c) for c in inputs["share_polynomial_coefficients"]]
        self.group_key_hex = inputs.get("group_public_key") or inputs["verifying_key_key"]
        self.message = bytes.fromhex(inputs["message"])
        self.shares, full = secret_share_shard(self.secret, self.coefficients, self.max)
        self.commitment = vss_commit(full)
        group_key, verifying_shares = derive_group_info(self.max, self.min, self.commitment)
        self.public = PublicKeyPackage(verifying_shares, group_key, self.min)
        self.keys: dict[int, KeyPackage] = {
            i: key_package_from_secret_share(SecretShare(i, s, self.commitment))
            for i, s in self.shares
        }


@pytest.fixture(scope="module", params=SIGNING_VECTORS)
def replay(request: pytest.FixtureRequest) -> Replay:
    return Replay(request.param)


def test_dealer_shares_and_group_key(replay: Replay) -> None:
    expected = replay.vector["inputs"]["participant_shares"]
    assert [(i, _hex(s)) for i, s in replay.shares] == [
        (e["identifier"], e["participant_share"]) for e in expected
    ]
    assert replay.public.verifying_key.hex() == replay.group_key_hex
    assert replay.commitment.public_key.hex() == replay.group_key_hex
    for identifier, share in replay.shares:
        assert vss_verify((identifier, share), replay.commitment)
    subset = replay.shares[: replay.min]
    assert secret_share_combine(subset, replay.min) == replay.secret


def test_round_one_nonces_and_commitments(replay: Replay) -> None:
    for output in replay.vector["round_one_outputs"]["outputs"]:
        rng = ScriptedRandom(
            bytes.fromhex(output["hiding_nonce_randomness"]),
            bytes.fromhex(output["binding_nonce_randomness"]),
        )
        nonces, commitments = commit(replay.keys[output["identifier"]], rng)
        assert rng.exhausted
        assert _hex(nonces.hiding) == output["hiding_nonce"]
        assert _hex(nonces.binding) == output["binding_nonce"]
        assert commitments.hiding.hex() == output["hiding_nonce_commitment"]
        assert commitments.binding.hex() == output["binding_nonce_commitment"]


def _run_signing(replay: Replay) -> tuple[SigningPackage, dict, list]:
    outputs = replay.vector["round_one_outputs"]["outputs"]
    nonces = {}
    commitments = []
    for output in outputs:
        rng = ScriptedRandom(
            bytes.fromhex(output["hiding_nonce_randomness"]),
            bytes.fromhex(output["binding_nonce_randomness"]),
        )
        n, c = commit(replay.keys[output["identifier"]], rng)
        nonces[output["identifier"]] = n
        commitments.append(c)
    package = SigningPackage(tuple(commitments), replay.message)
    context = prepare_signing(package, replay.public.verifying_key)
    shares = [sign(context, nonces[i], replay.keys[i]) for i in package.identifiers]
    return package, nonces, shares


def test_binding_factors(replay: Replay) -> None:
    package, _, _ = _run_signing(replay)
    outputs = replay.vector["round_one_outputs"]["outputs"]
    assert [o["identifier"] for o in outputs] == list(replay.vector["inputs"]["participant_list"])
    inputs = binding_factor_inputs(
        replay.public.verifying_key, package.commitments, package.message
    )
    factors = compute_binding_factors(
        replay.public.verifying_key, package.commitments, package.message
    )
    for output, rho_input, (identifier, factor) in zip(outputs, inputs, factors, strict=True):
        assert identifier == output["identifier"]
        assert rho_input.hex() == output["binding_factor_input"]
        assert _hex(factor) == output["binding_factor"]
    # The encoded commitment list is what H5 hashes: id || D || E per signer.
    encoded = encode_group_commitment_list(package.commitments)
    assert len(encoded) == 96 * len(outputs)


def test_signature_shares_and_signature(replay: Replay) -> None:
    package, _, shares = _run_signing(replay)
    expected = replay.vector["round_two_outputs"]["outputs"]
    assert [(s.identifier, _hex(s.share)) for s in shares] == [
        (e["identifier"], e["sig_share"]) for e in expected
    ]
    for share in shares:
        assert verify_signature_share(package, share, replay.public)
    signature = aggregate(package, shares, replay.public)
    assert signature.hex() == replay.vector["final_output"]["sig"]


def test_signature_verifies_with_independent_verifiers(replay: Replay) -> None:
    signature = bytes.fromhex(replay.vector["final_output"]["sig"])
    key = bytes.fromhex(replay.group_key_hex)
    nacl.signing.VerifyKey(key).verify(replay.message, signature)
    Ed25519PublicKey.from_public_bytes(key).verify(signature, replay.message)
    assert verify_signature(key, replay.message, signature)
    assert not verify_signature(key, replay.message + b"!", signature)


def test_big_identifiers_are_wider_than_one_byte() -> None:
    replay = Replay("zf-vectors-big-identifier.json")
    signers = replay.vector["inputs"]["participant_list"]
    assert signers == [129, 256, 257]
    package, _, shares = _run_signing(replay)
    assert package.identifiers == (129, 256, 257)
    assert aggregate(package, shares, replay.public).hex() == replay.vector["final_output"]["sig"]


def test_zf_invalid_element_is_rejected() -> None:
    bad = bytes.fromhex(_load("zf-elements.json")["elements"]["invalid_element"])
    with pytest.raises(InvalidEncoding, match="element"):
        deserialize_element(bad)
    with pytest.raises(InvalidEncoding):
        Element(bad)


def test_zf_serialization_samples_parse() -> None:
    samples = _load("zf-samples.json")
    assert deserialize_scalar(bytes.fromhex(samples["identifier"])) == 42
    deserialize_element(bytes.fromhex(samples["element1"]))
    deserialize_element(bytes.fromhex(samples["element2"]))
    scalar = deserialize_scalar(bytes.fromhex(samples["scalar1"]))
    proof = bytes.fromhex(samples["proof_of_knowledge"])
    assert proof[:32].hex() == samples["element1"]
    assert deserialize_scalar(proof[32:]) == scalar
