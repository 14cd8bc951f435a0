"""Threshold key derivation: any signing set, and the whole secret, derive the same key."""

from __future__ import annotations

import hashlib
import itertools

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aura_core.crypto import (
    DerivationShare,
    combine_derivation,
    derivation_point,
    derivation_share,
    derive_alone,
    key_package_from_secret_share,
    reshare_finalize,
    reshare_round1,
    trusted_dealer_keygen,
    verify_derivation_share,
)
from aura_core.crypto import ed25519_group as group
from aura_core.errors import CryptoError, InvalidEncoding, InvalidInput

LABEL = b"aura account data key"


class SeededRandom:
    def __init__(self, seed: int) -> None:
        self._seed = seed.to_bytes(16, "little")
        self._counter = 0

    def random_bytes(self, n: int) -> bytes:
        self._counter += 1
        return hashlib.shake_256(self._seed + self._counter.to_bytes(8, "little")).digest(n)


def _keys(n, t, seed, secret=None):
    shares, public = trusted_dealer_keygen(n, t, SeededRandom(seed), secret_key=secret)
    return {s.identifier: key_package_from_secret_share(s) for s in shares}, public


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 5), t=st.integers(2, 5), seed=st.integers(0, 2**32))
@example(n=3, t=2, seed=7)
def test_every_signing_set_derives_what_the_whole_secret_derives(n, t, seed):
    t = min(t, n)
    secret = 1 + seed % (group.ORDER - 1)
    keys, public = _keys(n, t, seed, secret)
    rng = SeededRandom(seed + 1)
    expected = derive_alone(secret, bytes(public.verifying_key), LABEL)
    for signers in itertools.combinations(sorted(keys), t):
        shares = [derivation_share(keys[i], LABEL, rng) for i in signers]
        assert combine_derivation(public, LABEL, shares) == expected


def test_other_labels_and_other_keys_derive_other_secrets():
    keys, public = _keys(3, 2, 1, 12345)
    other_keys, other_public = _keys(3, 2, 2, 54321)
    rng = SeededRandom(3)

    def derive(keys, public, label):
        return combine_derivation(
            public, label, [derivation_share(keys[i], label, rng) for i in (1, 2)]
        )

    assert derive(keys, public, LABEL) != derive(keys, public, b"another purpose")
    assert derive(keys, public, LABEL) != derive(other_keys, other_public, LABEL)


def test_a_reshare_keeps_the_derived_secret():
    keys, public = _keys(3, 2, 4)
    rng = SeededRandom(5)
    before = combine_derivation(
        public, LABEL, [derivation_share(keys[i], LABEL, rng) for i in (1, 3)]
    )
    dealers, new_ids = (1, 2), (4, 5, 6, 7)
    dealt = [reshare_round1(keys[d], public, dealers, new_ids, 3, rng) for d in dealers]
    commitments = [c for c, _ in dealt]
    fresh = {}
    for ident in new_ids:
        mine = [s for _c, shares in dealt for s in shares if s.recipient == ident]
        fresh[ident], new_public = reshare_finalize(
            ident, new_ids, 3, public, dealers, commitments, mine
        )
    after = combine_derivation(
        new_public, LABEL, [derivation_share(fresh[i], LABEL, rng) for i in (4, 6, 7)]
    )
    assert after == before


def test_a_contribution_from_a_wrong_share_is_refused_by_name():
    keys, public = _keys(3, 2, 6)
    other_keys, _ = _keys(3, 2, 7)
    rng = SeededRandom(8)
    forged = derivation_share(other_keys[2], LABEL, rng)  # right identifier, wrong share
    with pytest.raises(CryptoError, match="participant 2"):
        verify_derivation_share(public, LABEL, forged)
    honest = derivation_share(keys[1], LABEL, rng)
    with pytest.raises(CryptoError, match="participant 2"):
        combine_derivation(public, LABEL, [honest, forged])
    shifted = DerivationShare(honest.identifier, group.BASEPOINT, honest.challenge, honest.response)
    with pytest.raises(CryptoError, match="does not match"):
        verify_derivation_share(public, LABEL, shifted)
    for_other_label = derivation_share(keys[2], b"other", rng)
    with pytest.raises(CryptoError):
        verify_derivation_share(public, LABEL, for_other_label)


def test_too_few_or_unknown_contributions_are_refused():
    keys, public = _keys(3, 2, 9)
    rng = SeededRandom(10)
    one = derivation_share(keys[1], LABEL, rng)
    with pytest.raises(InvalidInput, match="needs 2"):
        combine_derivation(public, LABEL, [one, one])
    stranger_keys, _ = _keys(5, 2, 11)
    with pytest.raises(CryptoError, match="not a holder"):
        verify_derivation_share(public, LABEL, derivation_share(stranger_keys[5], LABEL, rng))
    with pytest.raises(InvalidInput, match="label"):
        derivation_point(b"")
    with pytest.raises(CryptoError, match="does not belong"):
        derive_alone(5, bytes(public.verifying_key), LABEL)


def test_contributions_round_trip_and_decoding_is_strict():
    keys, _public = _keys(3, 2, 12)
    share = derivation_share(keys[3], LABEL, SeededRandom(13))
    assert DerivationShare.from_bytes(share.to_bytes()) == share
    raw = share.to_bytes()
    with pytest.raises(InvalidEncoding):
        DerivationShare.from_bytes(raw[:-1])
    with pytest.raises(InvalidEncoding):
        DerivationShare.from_bytes(b"\xa0")
    with pytest.raises(InvalidEncoding):
        DerivationShare.from_bytes("not bytes")


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_never_decodes_to_anything_but_an_encoding_error(data):
    try:
        DerivationShare.from_bytes(data)
    except InvalidEncoding:
        return
