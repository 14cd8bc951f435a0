"""Canonical bytes of FROST values and messages; strict decoding of hostile bytes."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aura_core import dag_cbor
from aura_core.crypto import (
    DkgRound1Package,
    DkgRound2Package,
    KeyPackage,
    PublicKeyPackage,
    RefreshCommitment,
    RefreshShare,
    RepairDelta,
    RepairSigma,
    ReshareCommitment,
    ReshareShare,
    SecretShare,
    SignatureShare,
    SigningCommitments,
    SigningPackage,
    commit,
    dkg_round1,
    dkg_round2,
    from_bytes,
    key_package_from_secret_share,
    refresh_round1,
    repair_share_step_1,
    repair_share_step_2,
    reshare_round1,
    sign,
    to_bytes,
    trusted_dealer_keygen,
)
from aura_core.crypto.ed25519_group import IDENTITY_ENCODING, ORDER
from aura_core.crypto.serialization import TYPE_NAMES
from aura_core.errors import InvalidEncoding, InvalidInput

ORDER_8 = bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")


class SeededRandom:
    def __init__(self, seed: int) -> None:
        self._seed = seed.to_bytes(16, "little")
        self._counter = 0

    def random_bytes(self, n: int) -> bytes:
        self._counter += 1
        return hashlib.shake_256(self._seed + self._counter.to_bytes(8, "little")).digest(n)


def sample_values(seed: int) -> list[object]:
    """One of every serializable value, from real protocol runs."""
    rng = SeededRandom(seed)
    shares, public = trusted_dealer_keygen(3, 2, rng)
    keys = {s.identifier: key_package_from_secret_share(s) for s in shares}
    (n1, c1), (_n2, c2) = commit(keys[1], rng), commit(keys[2], rng)
    package = SigningPackage((c1, c2), b"serialize me")
    share = sign(package, n1, keys[1])
    d1 = dkg_round1(1, 2, 2, rng)
    d2 = dkg_round1(2, 2, 2, rng)
    _, round2 = dkg_round2(d1[0], [d2[1]])
    _, refresh_commitment, refresh_shares = refresh_round1(keys[1], public, [1, 2], rng)
    reshare_commitment, reshare_shares = reshare_round1(keys[1], public, [1, 3], [4, 5], 2, rng)
    deltas = {h: repair_share_step_1([1, 3], keys[h], 2, rng) for h in (1, 3)}
    sigma = repair_share_step_2(
        1, [1, 3], [d for h in (1, 3) for d in deltas[h] if d.recipient == 1]
    )
    return [
        keys[1],
        public,
        shares[0],
        c1,
        package,
        share,
        d1[1],
        round2[0],
        refresh_commitment,
        refresh_shares[0],
        reshare_commitment,
        reshare_shares[0],
        deltas[1][0],
        sigma,
    ]


SAMPLES = sample_values(1)


def test_every_serializable_type_is_sampled() -> None:
    assert {type(v) for v in SAMPLES} == set(TYPE_NAMES)


@pytest.mark.parametrize("value", SAMPLES, ids=lambda v: type(v).__name__)
def test_round_trip(value: object) -> None:
    data = to_bytes(value)
    assert from_bytes(data, type(value)) == value
    assert dag_cbor.decode(data)["type"] == TYPE_NAMES[type(value)]


@settings(max_examples=3, deadline=None)
@given(st.integers(0, 2**32))
def test_round_trip_property(seed: int) -> None:
    for value in sample_values(seed):
        assert from_bytes(to_bytes(value), type(value)) == value


def _as_map(value: object) -> dict:
    return dag_cbor.decode(to_bytes(value))


def _by_type(cls: type) -> object:
    return next(v for v in SAMPLES if type(v) is cls)


def _reject(cls: type, mapping: object, match: str) -> None:
    with pytest.raises(InvalidEncoding, match=match):
        from_bytes(dag_cbor.encode(mapping), cls)


@pytest.mark.parametrize("value", SAMPLES, ids=lambda v: type(v).__name__)
def test_missing_extra_and_retagged_fields(value: object) -> None:
    cls = type(value)
    mapping = _as_map(value)
    field = next(k for k in mapping if k != "type")
    _reject(cls, {k: v for k, v in mapping.items() if k != field}, f"missing field.*{field}")
    _reject(cls, {**mapping, "extra": 1}, "unexpected field.*extra")
    _reject(cls, {**mapping, "type": "aura.frost.other.v1"}, "type tag")
    _reject(cls, [mapping], "must be a map")


def test_wrong_message_type_is_refused() -> None:
    share = _by_type(SignatureShare)
    with pytest.raises(InvalidEncoding, match="type tag"):
        from_bytes(to_bytes(share), DkgRound2Package)


@pytest.mark.parametrize(
    ("cls", "field"),
    [
        (KeyPackage, "signing_share"),
        (SignatureShare, "share"),
        (DkgRound2Package, "signing_share"),
        (RefreshShare, "signing_share"),
        (ReshareShare, "signing_share"),
        (RepairDelta, "value"),
        (RepairSigma, "value"),
        (SecretShare, "signing_share"),
    ],
)
@pytest.mark.parametrize("bad", [ORDER, ORDER + 1, 2**256 - 1])
def test_non_canonical_scalars_rejected(cls: type, field: str, bad: int) -> None:
    mapping = _as_map(_by_type(cls))
    _reject(cls, {**mapping, field: bad.to_bytes(32, "little")}, "canonical scalar")
    _reject(cls, {**mapping, field: mapping[field][:31]}, "32 bytes")
    _reject(cls, {**mapping, field: mapping[field] + b"\x00"}, "32 bytes")
    _reject(cls, {**mapping, field: int.from_bytes(mapping[field], "little") % 2**63}, "bytes")


@pytest.mark.parametrize(
    ("cls", "field"),
    [
        (KeyPackage, "verifying_key"),
        (PublicKeyPackage, "verifying_key"),
        (SigningCommitments, "hiding"),
        (SigningCommitments, "binding"),
    ],
)
@pytest.mark.parametrize(
    "bad",
    [IDENTITY_ENCODING, ORDER_8, (2**255 - 1).to_bytes(32, "little"), (2).to_bytes(32, "little")],
    ids=["identity", "order8", "noncanonical", "offcurve"],
)
def test_invalid_points_rejected(cls: type, field: str, bad: bytes) -> None:
    mapping = _as_map(_by_type(cls))
    with pytest.raises(InvalidEncoding):
        from_bytes(dag_cbor.encode({**mapping, field: bad}), cls)


@pytest.mark.parametrize("field", ["identifier"])
@pytest.mark.parametrize("bad", [0, ORDER])
def test_bad_identifiers_rejected(field: str, bad: int) -> None:
    mapping = _as_map(_by_type(SignatureShare))
    _reject(SignatureShare, {**mapping, field: bad.to_bytes(32, "little")}, "identifier")


def test_key_package_with_mismatched_share_rejected() -> None:
    key = _by_type(KeyPackage)
    assert isinstance(key, KeyPackage)
    mapping = _as_map(key)
    other = (key.signing_share + 1) % ORDER
    _reject(
        KeyPackage, {**mapping, "signing_share": other.to_bytes(32, "little")}, "does not match"
    )
    _reject(KeyPackage, {**mapping, "min_signers": 0}, "min_signers")
    _reject(KeyPackage, {**mapping, "min_signers": True}, "min_signers")


def test_public_key_package_rules() -> None:
    public = _by_type(PublicKeyPackage)
    mapping = _as_map(public)
    shares = mapping["verifying_shares"]
    # Listed out of order: same value, but not the canonical bytes.
    _reject(PublicKeyPackage, {**mapping, "verifying_shares": shares[::-1]}, "canonical")
    _reject(PublicKeyPackage, {**mapping, "verifying_shares": [*shares, shares[0]]}, "duplicate")
    _reject(PublicKeyPackage, {**mapping, "verifying_shares": [shares[0]]}, "exceeds")
    _reject(PublicKeyPackage, {**mapping, "verifying_shares": [[shares[0][0]]]}, "pair")
    _reject(PublicKeyPackage, {**mapping, "min_signers": 1}, "1-of-3")


def test_signing_package_rules() -> None:
    package = _by_type(SigningPackage)
    mapping = _as_map(package)
    commitments = mapping["commitments"]
    _reject(SigningPackage, {**mapping, "commitments": commitments[::-1]}, "not sorted")
    _reject(SigningPackage, {**mapping, "commitments": []}, "no commitments")
    _reject(SigningPackage, {**mapping, "message": "text"}, "byte string")
    tagged = [{**commitments[0], "type": "x"}, commitments[1]]
    _reject(SigningPackage, {**mapping, "commitments": tagged}, "unexpected field")


def test_dkg_round1_rules() -> None:
    package = _by_type(DkgRound1Package)
    mapping = _as_map(package)
    _reject(DkgRound1Package, {**mapping, "commitment": []}, "no coefficients")
    _reject(DkgRound1Package, {**mapping, "proof_of_knowledge": b"\x00" * 63}, "64 bytes")
    bad_proof = mapping["proof_of_knowledge"][:32] + ORDER.to_bytes(32, "little")
    _reject(DkgRound1Package, {**mapping, "proof_of_knowledge": bad_proof}, "canonical scalar")
    _reject(
        DkgRound1Package,
        {**mapping, "commitment": [IDENTITY_ENCODING, *mapping["commitment"][1:]]},
        "identity",
    )


def test_refresh_and_reshare_commitment_rules() -> None:
    mapping = _as_map(_by_type(RefreshCommitment))
    _reject(RefreshCommitment, {**mapping, "coefficients": []}, "no coefficients")
    mapping = _as_map(_by_type(ReshareCommitment))
    _reject(ReshareCommitment, {**mapping, "commitment": [ORDER_8]}, "prime-order")


@pytest.mark.parametrize("value", SAMPLES[:6], ids=lambda v: type(v).__name__)
def test_trailing_bytes_floats_and_non_bytes(value: object) -> None:
    data = to_bytes(value)
    with pytest.raises(InvalidEncoding):
        from_bytes(data + b"\x00", type(value))
    with pytest.raises(InvalidEncoding):
        from_bytes(dag_cbor.encode({**_as_map(value), "type": 1.5}), type(value))
    with pytest.raises(InvalidEncoding):
        from_bytes(bytearray(data), type(value))  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(
    index=st.integers(0, len(SAMPLES) - 1),
    position=st.integers(0, 10_000),
    replacement=st.integers(0, 255),
)
def test_corrupted_bytes_raise_only_invalid_encoding(
    index: int, position: int, replacement: int
) -> None:
    value = SAMPLES[index]
    data = bytearray(to_bytes(value))
    data[position % len(data)] = replacement
    try:
        decoded = from_bytes(bytes(data), type(value))
    except InvalidEncoding:
        return
    assert to_bytes(decoded) == bytes(data)


def test_unknown_types_are_refused() -> None:
    with pytest.raises(InvalidInput, match="cannot serialize"):
        to_bytes(object())
    with pytest.raises(InvalidInput, match="cannot deserialize"):
        from_bytes(b"", int)


def test_secret_bearing_encodings_do_not_leak_through_errors() -> None:
    key = _by_type(KeyPackage)
    assert isinstance(key, KeyPackage)
    mapping = _as_map(key)
    try:
        from_bytes(dag_cbor.encode({**mapping, "verifying_share": IDENTITY_ENCODING}), KeyPackage)
    except InvalidEncoding as exc:
        assert str(key.signing_share) not in str(exc)
        assert mapping["signing_share"].hex() not in str(exc)
    else:  # pragma: no cover
        pytest.fail("identity verifying share accepted")
