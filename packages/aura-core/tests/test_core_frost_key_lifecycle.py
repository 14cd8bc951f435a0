"""Refresh, repair and reshare keep the group key and give working shares."""

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
    InvalidSignatureShares,
    KeyGenerationAborted,
    KeyPackage,
    PublicKeyPackage,
    RepairDelta,
    RepairSigma,
    SigningPackage,
    aggregate,
    commit,
    key_package_from_secret_share,
    prepare_signing,
    refresh_finalize,
    refresh_round1,
    repair_share_step_1,
    repair_share_step_2,
    repair_share_step_3,
    reshare_finalize,
    reshare_round1,
    sign,
    sign_single,
    trusted_dealer_keygen,
)
from aura_core.crypto.ed25519_group import ORDER, deserialize_scalar
from aura_core.crypto.shamir import polynomial_interpolate_constant
from aura_core.errors import CryptoError, InvalidInput

VECTORS = Path(__file__).parent / "vectors" / "frost"


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


def signs(keys: dict[int, KeyPackage], public: PublicKeyPackage, signers, seed: int = 0) -> bytes:
    rng = SeededRandom(seed)
    round1 = {i: commit(keys[i], rng) for i in signers}
    package = SigningPackage.from_unsorted([c for _, c in round1.values()], b"lifecycle")
    context = prepare_signing(package, public.verifying_key)
    shares = [sign(context, round1[i][0], keys[i]) for i in signers]
    signature = aggregate(context, shares, public)
    nacl.signing.VerifyKey(bytes(public.verifying_key)).verify(b"lifecycle", signature)
    return signature


def run_refresh(keys, public, participants, seed):
    rng = SeededRandom(seed)
    first = {i: refresh_round1(keys[i], public, participants, rng) for i in participants}
    results = {}
    for i in participants:
        commitments = [first[j][1] for j in participants]
        inbox = [s for j in participants if j != i for s in first[j][2] if s.recipient == i]
        results[i] = refresh_finalize(first[i][0], keys[i], public, commitments, inbox)
    return results


def run_repair(keys, public, helpers, target, seed):
    rng = SeededRandom(seed)
    deltas = {h: repair_share_step_1(helpers, keys[h], target, rng) for h in helpers}
    sigmas = [
        repair_share_step_2(h, helpers, [d for g in helpers for d in deltas[g] if d.recipient == h])
        for h in helpers
    ]
    return repair_share_step_3(target, helpers, sigmas, public)


def run_reshare(keys, public, dealers, new_ids, new_t, seed):
    rng = SeededRandom(seed)
    dealt = {d: reshare_round1(keys[d], public, dealers, new_ids, new_t, rng) for d in dealers}
    commitments = [dealt[d][0] for d in dealers]
    results = {}
    for r in new_ids:
        inbox = [s for d in dealers for s in dealt[d][1] if s.recipient == r]
        results[r] = reshare_finalize(r, new_ids, new_t, public, dealers, commitments, inbox)
    return results


# --- Refresh ---------------------------------------------------------------------------


@settings(max_examples=5, deadline=None)
@given(n=st.integers(2, 5), data=st.data(), seed=st.integers(0, 2**32))
def test_refresh_keeps_group_key_and_shares_work(n: int, data: st.DataObject, seed: int) -> None:
    t = data.draw(st.integers(2, n), label="t")
    keys, public = dealer(n, t, seed)
    participants = sorted(data.draw(st.sets(st.integers(1, n), min_size=t, max_size=n)))
    results = run_refresh(keys, public, participants, seed + 1)
    new_keys = {i: k for i, (k, _) in results.items()}
    new_public = results[participants[0]][1]
    assert all(p == new_public for _, p in results.values())
    assert new_public.verifying_key == public.verifying_key
    assert new_public.identifiers == tuple(participants)
    for i in participants:
        assert new_keys[i].signing_share != keys[i].signing_share
    signs(new_keys, new_public, data.draw(st.permutations(participants))[:t], seed)


def test_old_and_new_shares_cannot_be_mixed() -> None:
    keys, public = dealer(3, 2, 21)
    results = run_refresh(keys, public, [1, 2, 3], 22)
    new_keys = {i: k for i, (k, _) in results.items()}
    new_public = results[1][1]
    # Interpolating one old and one new share does not give the group secret...
    old_secret = polynomial_interpolate_constant(
        [(1, keys[1].signing_share), (2, keys[2].signing_share)]
    )
    mixed = polynomial_interpolate_constant(
        [(1, keys[1].signing_share), (2, new_keys[2].signing_share)]
    )
    assert mixed != old_secret
    # ...and a signing run mixing them fails, naming the stale share.
    mixed_keys = {1: keys[1], 2: new_keys[2]}
    with pytest.raises(InvalidSignatureShares) as caught:
        signs(mixed_keys, new_public, [1, 2])
    assert caught.value.culprits == (1,)
    # Under the old public package the new share is the one flagged.
    with pytest.raises(InvalidSignatureShares) as caught:
        signs(mixed_keys, public, [1, 2])
    assert caught.value.culprits == (2,)


def test_refresh_subset_drops_absent_participants() -> None:
    keys, public = dealer(4, 2, 31)
    results = run_refresh(keys, public, [1, 3, 4], 32)
    new_public = results[1][1]
    assert new_public.identifiers == (1, 3, 4)
    assert not new_public.has(2)


def test_refresh_bad_share_is_named() -> None:
    keys, public = dealer(3, 2, 41)
    rng = SeededRandom(42)
    first = {i: refresh_round1(keys[i], public, [1, 2, 3], rng) for i in (1, 2, 3)}
    inbox = [s for j in (2, 3) for s in first[j][2] if s.recipient == 1]
    inbox = [
        attrs.evolve(s, signing_share=(s.signing_share + 7) % ORDER) if s.sender == 2 else s
        for s in inbox
    ]
    with pytest.raises(KeyGenerationAborted) as caught:
        refresh_finalize(first[1][0], keys[1], public, [first[j][1] for j in (1, 2, 3)], inbox)
    assert caught.value.culprits == (2,)
    assert caught.value.complaints[0].accused == 2


def test_refresh_rejects_bad_parameters() -> None:
    keys, public = dealer(3, 2, 51)
    rng = SeededRandom(1)
    with pytest.raises(InvalidInput, match="at least 2"):
        refresh_round1(keys[1], public, [1], rng)
    with pytest.raises(InvalidInput, match="not among"):
        refresh_round1(keys[1], public, [2, 3], rng)
    with pytest.raises(InvalidInput, match="not in the public key package"):
        refresh_round1(keys[1], public, [1, 9], rng)
    _other_keys, other_public = dealer(3, 2, 52)
    with pytest.raises(CryptoError, match="different group keys"):
        refresh_round1(keys[1], other_public, [1, 2], rng)
    first = {i: refresh_round1(keys[i], public, [1, 2, 3], rng) for i in (1, 2, 3)}
    inbox = [s for j in (2, 3) for s in first[j][2] if s.recipient == 1]
    with pytest.raises(InvalidInput, match="missing refresh commitment"):
        refresh_finalize(first[1][0], keys[1], public, [first[2][1]], inbox)


# --- Repair ----------------------------------------------------------------------------


def test_zf_repair_vector_sums() -> None:
    vector = json.loads((VECTORS / "zf-repair-share.json").read_text())

    def scalar(key: str, group: str) -> int:
        return deserialize_scalar(bytes.fromhex(vector[group][key]))

    # Step 2 sums the pieces a helper received (one per helper, its own included).
    _, public = dealer(5, 3, 61)
    deltas = [scalar(f"random_scalar_{k}", "scalar_generation") for k in (1, 2, 3)]
    sigma = repair_share_step_2(
        1, [1, 2, 3], [RepairDelta(h, 1, 4, v) for h, v in zip((1, 2, 3), deltas, strict=True)]
    )
    assert sigma == RepairSigma(1, 4, scalar("random_scalar_sum", "scalar_generation"))
    # Step 3 sums the helpers' sigmas.
    sigmas = [scalar(f"sigma_{k}", "sigma_generation") for k in (1, 2, 3, 4)]
    total = scalar("sigma_sum", "sigma_generation")
    # The vector's sigmas are arbitrary scalars, so they do not rebuild a real
    # share: step 3 sums them and then refuses the result it cannot verify.
    assert sum(sigmas) % ORDER == total
    with pytest.raises(CryptoError, match="does not match its verifying share"):
        repair_share_step_3(
            5,
            [1, 2, 3, 4],
            [RepairSigma(h, 5, v) for h, v in zip((1, 2, 3, 4), sigmas, strict=True)],
            public,
        )


@settings(max_examples=5, deadline=None)
@given(n=st.integers(3, 6), data=st.data(), seed=st.integers(0, 2**32))
def test_repair_rebuilds_the_lost_share(n: int, data: st.DataObject, seed: int) -> None:
    t = data.draw(st.integers(2, n - 1), label="t")
    keys, public = dealer(n, t, seed)
    lost = data.draw(st.integers(1, n), label="lost")
    others = [i for i in range(1, n + 1) if i != lost]
    helpers = sorted(data.draw(st.sets(st.sampled_from(others), min_size=t, max_size=len(others))))
    repaired, same_public = run_repair(keys, public, helpers, lost, seed)
    assert repaired == keys[lost]
    assert same_public == public
    signs({**keys, lost: repaired}, public, [lost, *helpers[: t - 1]], seed)


def test_repair_helpers_see_only_random_pieces() -> None:
    keys, _public = dealer(4, 3, 71)
    deltas = repair_share_step_1([1, 2, 3], keys[1], 4, SeededRandom(72))
    # No single piece equals the helper's share or its weighted share.
    assert all(d.value != keys[1].signing_share for d in deltas)
    assert len({d.value for d in deltas}) == 3
    assert all("<secret>" in repr(d) and str(d.value) not in repr(d) for d in deltas)


def test_repair_enrolls_a_new_participant() -> None:
    keys, public = dealer(3, 2, 81)
    key, extended = run_repair(keys, public, [1, 3], 10, 82)
    assert extended.identifiers == (1, 2, 3, 10)
    assert extended.verifying_key == public.verifying_key
    signs({**keys, 10: key}, extended, [10, 2])


def test_repair_detects_a_cheating_helper() -> None:
    keys, public = dealer(4, 3, 91)
    helpers = [1, 2, 3]
    rng = SeededRandom(92)
    deltas = {h: repair_share_step_1(helpers, keys[h], 4, rng) for h in helpers}
    sigmas = [
        repair_share_step_2(h, helpers, [d for g in helpers for d in deltas[g] if d.recipient == h])
        for h in helpers
    ]
    sigmas[1] = attrs.evolve(sigmas[1], value=(sigmas[1].value + 1) % ORDER)
    with pytest.raises(CryptoError, match="participant 4"):
        repair_share_step_3(4, helpers, sigmas, public)


def test_repair_rejects_bad_parameters() -> None:
    keys, _public = dealer(4, 3, 95)
    rng = SeededRandom(96)
    with pytest.raises(InvalidInput, match="at least 3"):
        repair_share_step_1([1, 2], keys[1], 4, rng)
    with pytest.raises(InvalidInput, match="its own share"):
        repair_share_step_1([1, 2, 4], keys[1], 4, rng)
    with pytest.raises(InvalidInput, match="not among the repair helpers"):
        repair_share_step_1([2, 3, 4], keys[1], 5, rng)
    with pytest.raises(InvalidInput, match="duplicate"):
        repair_share_step_1([1, 1, 2, 3], keys[1], 4, rng)
    deltas = {h: repair_share_step_1([1, 2, 3], keys[h], 4, rng) for h in (1, 2, 3)}
    mine = [d for g in (1, 2, 3) for d in deltas[g] if d.recipient == 1]
    with pytest.raises(InvalidInput, match="missing repair piece"):
        repair_share_step_2(1, [1, 2, 3], mine[:2])
    with pytest.raises(InvalidInput, match="addressed to 2"):
        repair_share_step_2(1, [1, 2, 3], [*mine[:2], deltas[3][1]])


# --- Reshare ---------------------------------------------------------------------------


@settings(max_examples=5, deadline=None)
@given(n=st.integers(2, 5), data=st.data(), seed=st.integers(0, 2**32))
def test_reshare_moves_the_key_to_a_new_set_and_threshold(
    n: int, data: st.DataObject, seed: int
) -> None:
    t = data.draw(st.integers(2, n), label="t")
    keys, public = dealer(n, t, seed)
    dealers = sorted(data.draw(st.sets(st.integers(1, n), min_size=t, max_size=n), label="dealers"))
    new_ids = sorted(data.draw(st.sets(st.integers(1, 40), min_size=2, max_size=6), label="new"))
    new_t = data.draw(st.integers(2, len(new_ids)), label="new_t")
    results = run_reshare(keys, public, dealers, new_ids, new_t, seed + 1)
    new_public = results[new_ids[0]][1]
    assert all(p == new_public for _, p in results.values())
    assert new_public.verifying_key == public.verifying_key
    assert new_public.min_signers == new_t
    new_keys = {i: k for i, (k, _) in results.items()}
    signs(new_keys, new_public, new_ids[-new_t:], seed)
    if new_t > 2:
        # t' - 1 new participants cannot rebuild the secret.
        subset = [(i, new_keys[i].signing_share) for i in new_ids[: new_t - 1]]
        full = [(i, new_keys[i].signing_share) for i in new_ids[:new_t]]
        assert polynomial_interpolate_constant(subset) != polynomial_interpolate_constant(full)


def test_reshare_to_a_single_device_gives_a_plain_key() -> None:
    keys, public = dealer(3, 2, 101)
    results = run_reshare(keys, public, [2, 3], [5], 1, 102)
    key, new_public = results[5]
    assert key.is_single_signer and new_public.verifying_key == public.verifying_key
    nacl.signing.VerifyKey(bytes(public.verifying_key)).verify(b"x", sign_single(key, b"x"))


def test_reshare_refuses_one_of_n() -> None:
    keys, public = dealer(3, 2, 111)
    with pytest.raises(InvalidInput, match="1-of-2"):
        reshare_round1(keys[1], public, [1, 2], [4, 5], 1, SeededRandom(1))


def test_reshare_dealer_shifting_the_key_is_named() -> None:
    keys, public = dealer(3, 2, 121)
    rng = SeededRandom(122)
    dealers, new_ids = [1, 2], [4, 5, 6]
    honest = {d: reshare_round1(keys[d], public, dealers, new_ids, 2, rng) for d in dealers}
    # Dealer 2 reshares a different secret (pretends to hold another share).
    rogue_key = attrs.evolve(keys[3], identifier=2)
    with pytest.raises(CryptoError):
        # A key package whose share does not match its verifying share cannot exist...
        KeyPackage(2, keys[3].signing_share, keys[2].verifying_share, public.verifying_key, 2)
    rogue = reshare_round1(rogue_key, public, dealers, new_ids, 2, rng)
    commitments = [honest[1][0], rogue[0]]
    inbox = [s for s in (*honest[1][1], *rogue[1]) if s.recipient == 4]
    with pytest.raises(KeyGenerationAborted, match="weighted share") as caught:
        reshare_finalize(4, new_ids, 2, public, dealers, commitments, inbox)
    assert caught.value.culprits == (2,)


def test_reshare_bad_share_is_named() -> None:
    keys, public = dealer(3, 2, 131)
    rng = SeededRandom(132)
    dealers, new_ids = [1, 3], [7, 8]
    dealt = {d: reshare_round1(keys[d], public, dealers, new_ids, 2, rng) for d in dealers}
    inbox = [s for d in dealers for s in dealt[d][1] if s.recipient == 7]
    inbox = [
        attrs.evolve(s, signing_share=(s.signing_share + 1) % ORDER) if s.sender == 3 else s
        for s in inbox
    ]
    with pytest.raises(KeyGenerationAborted) as caught:
        reshare_finalize(7, new_ids, 2, public, dealers, [dealt[d][0] for d in dealers], inbox)
    assert caught.value.culprits == (3,)


def test_reshare_rejects_too_few_dealers() -> None:
    keys, public = dealer(3, 3, 141)
    with pytest.raises(InvalidInput, match="needs 3"):
        reshare_round1(keys[1], public, [1, 2], [4, 5], 2, SeededRandom(1))
