"""FROST signing properties, identifiable abort, 1-of-1 Ed25519 and input validation."""

from __future__ import annotations

import hashlib

import attrs
import nacl.signing
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aura_core.crypto import (
    InvalidSignatureShares,
    KeyPackage,
    PublicKeyPackage,
    SignatureShare,
    SigningCommitments,
    SigningNonces,
    SigningPackage,
    aggregate,
    commit,
    key_package_from_secret_share,
    prepare_signing,
    sign,
    sign_single,
    trusted_dealer_keygen,
    verify_signature,
    verify_signature_share,
)
from aura_core.crypto.ed25519 import expand_seed, sign_expanded
from aura_core.crypto.ed25519_group import ORDER, add, base_mult
from aura_core.errors import CryptoError, InvalidEncoding, InvalidInput


class SeededRandom:
    def __init__(self, seed: int) -> None:
        self._seed = seed.to_bytes(16, "little")
        self._counter = 0

    def random_bytes(self, n: int) -> bytes:
        self._counter += 1
        return hashlib.shake_256(self._seed + self._counter.to_bytes(8, "little")).digest(n)


def dealer(n: int, t: int, seed: int) -> tuple[dict[int, KeyPackage], PublicKeyPackage]:
    shares, public = trusted_dealer_keygen(n, t, SeededRandom(seed))
    return {s.identifier: key_package_from_secret_share(s) for s in shares}, public


def round_one(keys, signers, message: bytes, seed: int):
    rng = SeededRandom(seed)
    nonces = {i: commit(keys[i], rng) for i in signers}
    package = SigningPackage.from_unsorted([c for _, c in nonces.values()], message)
    return {i: n for i, (n, _) in nonces.items()}, package


def independent_verify(key: bytes, message: bytes, signature: bytes) -> bool:
    try:
        nacl.signing.VerifyKey(key).verify(message, signature)
        Ed25519PublicKey.from_public_bytes(key).verify(signature, message)
    except Exception:
        return False
    return True


# --- Properties ---------------------------------------------------------------------


@settings(max_examples=8, deadline=None)
@given(
    n=st.integers(2, 7),
    data=st.data(),
    message=st.binary(max_size=64),
    seed=st.integers(0, 2**32),
)
@example(n=2, data=None, message=b"", seed=0).via("smallest group, empty message")
def test_any_threshold_subset_signs(n: int, data, message: bytes, seed: int) -> None:
    if data is None:  # the pinned example: 2-of-2
        t, signers = 2, [1, 2]
    else:
        t = data.draw(st.integers(2, n), label="t")
        signers = data.draw(
            st.lists(st.integers(1, n), min_size=t, max_size=n, unique=True), label="signers"
        )
    keys, public = dealer(n, t, seed)
    nonces, package = round_one(keys, signers, message, seed)
    shares = [sign(package, nonces[i], keys[i]) for i in signers]
    signature = aggregate(package, shares, public)
    assert independent_verify(bytes(public.verifying_key), message, signature)
    assert verify_signature(public.verifying_key, message, signature)


@settings(max_examples=6, deadline=None)
@given(n=st.integers(3, 7), data=st.data(), seed=st.integers(0, 2**32))
def test_fewer_than_threshold_cannot_sign(n: int, data, seed: int) -> None:
    t = data.draw(st.integers(3, n), label="t")
    keys, public = dealer(n, t, seed)
    signers = data.draw(st.lists(st.integers(1, n), min_size=t - 1, max_size=t - 1, unique=True))
    nonces, package = round_one(keys, signers, b"too few", seed)
    # The API refuses outright...
    with pytest.raises(InvalidInput, match=f"at least {t}"):
        sign(package, nonces[signers[0]], keys[signers[0]])
    # ...and even participants who lie about the threshold get no valid signature:
    # each share is individually consistent, but together they interpolate a
    # different secret.
    lowered = {i: attrs.evolve(keys[i], min_signers=t - 1) for i in signers}
    lowered_public = attrs.evolve(public, min_signers=t - 1)
    shares = [sign(package, nonces[i], lowered[i]) for i in signers]
    with pytest.raises(CryptoError, match="every share verifies"):
        aggregate(package, shares, lowered_public)
    context = prepare_signing(package, public.verifying_key)
    z = sum(s.share for s in shares) % ORDER
    forged = bytes(context.group_commitment) + z.to_bytes(32, "little")
    assert not independent_verify(bytes(public.verifying_key), b"too few", forged)


@settings(max_examples=8, deadline=None)
@given(n=st.integers(2, 6), data=st.data(), seed=st.integers(0, 2**32))
def test_identifiable_abort_names_exactly_the_bad_shares(n: int, data, seed: int) -> None:
    t = data.draw(st.integers(2, n), label="t")
    keys, public = dealer(n, t, seed)
    signers = sorted(data.draw(st.sets(st.integers(1, n), min_size=t, max_size=n), label="signers"))
    bad = data.draw(st.sets(st.sampled_from(signers), min_size=1), label="bad")
    offset = data.draw(st.integers(1, ORDER - 1), label="offset")
    nonces, package = round_one(keys, signers, b"abort", seed)
    context = prepare_signing(package, public.verifying_key)
    shares = []
    for i in signers:
        share = sign(context, nonces[i], keys[i])
        if i in bad:
            share = SignatureShare(i, (share.share + offset) % ORDER)
        shares.append(share)
    with pytest.raises(InvalidSignatureShares) as caught:
        aggregate(context, shares, public)
    assert caught.value.culprits == tuple(sorted(bad))
    assert all(str(i) in str(caught.value) for i in bad)


def test_share_from_wrong_nonces_is_named() -> None:
    keys, public = dealer(3, 2, 5)
    nonces, package = round_one(keys, [1, 3], b"m", 5)
    other_nonces, _ = round_one(keys, [1, 3], b"m", 6)
    with pytest.raises(CryptoError, match="does not match its nonces"):
        sign(package, other_nonces[3], keys[3])
    # A signer that skips the check (computes with other nonces) is still caught.
    forged_nonces = SigningNonces(
        other_nonces[3].hiding, other_nonces[3].binding, nonces[3].commitments
    )
    shares = [sign(package, nonces[1], keys[1]), sign(package, forged_nonces, keys[3])]
    with pytest.raises(InvalidSignatureShares) as caught:
        aggregate(package, shares, public)
    assert caught.value.culprits == (3,)


def test_context_is_reused_and_matches_package_path() -> None:
    keys, public = dealer(4, 3, 8)
    nonces, package = round_one(keys, [1, 2, 4], b"ctx", 8)
    context = prepare_signing(package, public.verifying_key)
    via_context = [sign(context, nonces[i], keys[i]) for i in (1, 2, 4)]
    via_package = [sign(package, nonces[i], keys[i]) for i in (1, 2, 4)]
    assert via_context == via_package
    assert aggregate(context, via_context, public) == aggregate(package, via_package, public)
    assert all(verify_signature_share(context, s, public) for s in via_context)
    _, other_public = dealer(4, 3, 9)
    with pytest.raises(CryptoError, match="different group verifying key"):
        aggregate(context, via_context, other_public)


# --- 1-of-1 is plain Ed25519 ---------------------------------------------------------


def test_single_signer_key_signs_plain_ed25519() -> None:
    keys, public = dealer(1, 1, 12)
    key = keys[1]
    assert key.is_single_signer and key.verifying_share == public.verifying_key
    signature = sign_single(key, b"hello")
    assert signature == sign_single(key, b"hello"), "RFC 8032 signing is deterministic"
    assert signature != sign_single(key, b"hello!")
    assert independent_verify(bytes(public.verifying_key), b"hello", signature)
    with pytest.raises(InvalidInput, match="plain Ed25519"):
        commit(key, SeededRandom(1))


def test_threshold_key_refuses_single_signing() -> None:
    keys, _ = dealer(3, 2, 13)
    with pytest.raises(InvalidInput, match="FROST"):
        sign_single(keys[1], b"x")


@pytest.mark.parametrize("n", [2, 3, 10])
def test_one_of_n_is_refused(n: int) -> None:
    with pytest.raises(InvalidInput, match=f"1-of-{n}"):
        trusted_dealer_keygen(n, 1, SeededRandom(1))


@settings(max_examples=10, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32), message=st.binary(max_size=80))
def test_expanded_signing_is_exactly_rfc8032(seed: bytes, message: bytes) -> None:
    scalar, prefix = expand_seed(seed)
    expected = nacl.signing.SigningKey(seed).sign(message).signature
    assert sign_expanded(scalar, prefix, message) == expected


def test_rfc8032_test_vector_1() -> None:
    seed = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    public = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    signature = bytes.fromhex(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )
    scalar, prefix = expand_seed(seed)
    assert base_mult(scalar) == public
    assert sign_expanded(scalar, prefix, b"") == signature
    assert verify_signature(public, b"", signature)


# --- Input validation ----------------------------------------------------------------


@pytest.fixture(scope="module")
def group3():
    keys, public = dealer(3, 2, 77)
    nonces, package = round_one(keys, [1, 2], b"validate", 77)
    return keys, public, nonces, package


def test_package_must_be_sorted_and_unique(group3) -> None:
    _, _, _, package = group3
    c1, c2 = package.commitments
    with pytest.raises(InvalidInput, match="not sorted"):
        SigningPackage((c2, c1), b"m")
    with pytest.raises(InvalidInput, match="more than once"):
        SigningPackage((c1, c1), b"m")
    with pytest.raises(InvalidInput, match="no commitments"):
        SigningPackage((), b"m")
    with pytest.raises(InvalidInput, match="must be bytes"):
        SigningPackage((c1, c2), "text")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="SigningCommitments"):
        SigningPackage((c1, "junk"), b"m")  # type: ignore[arg-type]
    assert SigningPackage.from_unsorted((c2, c1), b"m").identifiers == (1, 2)


@pytest.mark.parametrize("bad", [0, -1, ORDER, ORDER + 5, True, 1.0, "1"])
def test_identifiers_are_nonzero_scalars(group3, bad) -> None:
    _, _, _, package = group3
    c = package.commitments[0]
    with pytest.raises(InvalidInput, match="identifier"):
        SigningCommitments(bad, c.hiding, c.binding)
    with pytest.raises(InvalidInput, match="identifier"):
        SignatureShare(bad, 1)


@pytest.mark.parametrize("bad", [ORDER, ORDER + 1, 2**256 - 1, -1])
def test_signature_share_must_be_canonical(bad: int) -> None:
    with pytest.raises(InvalidInput, match="canonical scalar"):
        SignatureShare(1, bad)


def test_signer_checks_its_own_commitment(group3) -> None:
    keys, _, nonces, package = group3
    with pytest.raises(InvalidInput, match="does not contain participant 3"):
        sign(
            package,
            attrs.evolve(nonces[1], commitments=attrs.evolve(nonces[1].commitments, identifier=3)),
            keys[3],
        )
    with pytest.raises(InvalidInput, match="nonces belong to participant 1"):
        sign(package, nonces[1], keys[2])


def test_aggregate_rejects_missing_extra_duplicate_and_unknown(group3) -> None:
    keys, public, nonces, package = group3
    shares = [sign(package, nonces[i], keys[i]) for i in (1, 2)]
    with pytest.raises(InvalidInput, match="missing signature share"):
        aggregate(package, shares[:1], public)
    with pytest.raises(InvalidInput, match="two signature shares from participant 1"):
        aggregate(package, [shares[0], shares[0], shares[1]], public)
    with pytest.raises(InvalidInput, match="not in the signing package"):
        aggregate(package, [*shares, SignatureShare(3, 5)], public)
    other = PublicKeyPackage(
        [(1, public.verifying_share(1)), (3, public.verifying_share(3))], public.verifying_key, 2
    )
    with pytest.raises(InvalidInput, match="participant 2 is not in the public key package"):
        aggregate(package, shares, other)


def test_secrets_never_in_repr(group3) -> None:
    keys, _, nonces, _ = group3
    for key in keys.values():
        assert str(key.signing_share) not in repr(key)
        assert "<secret>" in repr(key)
    assert str(nonces[1].hiding) not in repr(nonces[1])
    assert str(nonces[1].binding) not in repr(nonces[1])


def test_key_package_share_must_match_verifying_share(group3) -> None:
    keys, _, _, _ = group3
    with pytest.raises(CryptoError, match="does not match"):
        attrs.evolve(keys[1], signing_share=keys[2].signing_share)
    with pytest.raises(InvalidInput, match="nonzero"):
        attrs.evolve(keys[1], signing_share=0)


def test_verify_signature_rejects_malformed(group3) -> None:
    keys, public, nonces, package = group3
    shares = [sign(package, nonces[i], keys[i]) for i in (1, 2)]
    signature = aggregate(package, shares, public)
    key = public.verifying_key
    assert verify_signature(key, b"validate", signature)
    r, z = signature[:32], int.from_bytes(signature[32:], "little")
    # Non-canonical z (z + L) satisfies the equation but must be rejected.
    assert not verify_signature(key, b"validate", r + (z + ORDER).to_bytes(32, "little"))
    assert not verify_signature(key, b"validate", signature[:63])
    assert not verify_signature(key, b"validate", bytes(64))
    assert not verify_signature(b"\x01" + bytes(31), b"validate", signature)
    assert not verify_signature(key[:31], b"validate", signature)
    torsion = bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")
    mixed_r = add(r, torsion)  # R plus a point of order 8
    assert not verify_signature(key, b"validate", mixed_r + signature[32:])


def test_elements_are_validated_on_construction(group3) -> None:
    _, _, _, package = group3
    c = package.commitments[0]
    with pytest.raises(InvalidEncoding, match="hiding nonce commitment is the identity"):
        SigningCommitments(1, b"\x01" + bytes(31), c.binding)
    with pytest.raises(InvalidEncoding, match="binding nonce commitment must be 32 bytes"):
        SigningCommitments(1, c.hiding, bytes(c.binding)[:31])


def test_dealer_share_is_checked_against_the_commitment() -> None:
    shares, _ = trusted_dealer_keygen(3, 2, SeededRandom(200))
    tampered = attrs.evolve(shares[1], signing_share=(shares[1].signing_share + 1) % ORDER)
    assert shares[1].verify() and not tampered.verify()
    with pytest.raises(CryptoError, match="participant 2 does not match the VSS commitment"):
        key_package_from_secret_share(tampered)
    assert str(tampered.signing_share) not in repr(tampered)
