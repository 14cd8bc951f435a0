"""FROST(Ed25519, SHA-512) threshold signatures: key generation, signing rounds, aggregation.

Sizes 2-of-3, 7-of-10 and 67-of-100 (DKG only for the two smaller ones).
Steps, each a median in ms:

* ``keygen_dealer``: trusted-dealer key generation (shares, VSS commitment,
  public key package);
* ``dkg``: a whole dealer-less DKG, every participant's three steps run in
  this one process (so it is n times one participant's work);
* ``round1``: one signer's ``commit``;
* ``round2``: one signer's ``sign`` from the signing package (it computes the
  binding factors and group commitment itself);
* ``aggregate``: the coordinator's ``aggregate`` from the signing package
  (group commitment, sum, verification of the final signature);
* ``full_sign``: both rounds for all t signers plus aggregation and
  verification, in one process, computing the group commitment once
  (``prepare_signing``) as a process holding several shares would;
* ``derive_share`` / ``derive_combine`` (2-of-3 only): one holder's threshold
  key-derivation contribution with its proof, and checking ``t`` of them and
  combining (what a device does to get the account's data key).
"""

from __future__ import annotations

import os

from aura_core.crypto import (
    SigningPackage,
    aggregate,
    combine_derivation,
    commit,
    derivation_share,
    dkg_finalize,
    dkg_round1,
    dkg_round2,
    key_package_from_secret_share,
    prepare_signing,
    sign,
    trusted_dealer_keygen,
)
from benchmarks._timing import median_ms

SIZES = [(2, 3), (7, 10), (67, 100)]
DKG_SIZES = [(2, 3), (7, 10)]
DERIVATION_LABEL = b"aura benchmark derivation"
MESSAGE = b"aura benchmark message: a 64-byte operation binding, roughly...."

GOALS = {
    "full_sign_ms_2of3": "both rounds, 2 signers, aggregate + verify; goal <= 1.2 ms",
    "aggregate_ms_67of100": "aggregate 67 shares incl. group commitment + verify; goal <= 12 ms",
}


class _OsRandom:
    def random_bytes(self, n: int) -> bytes:
        return os.urandom(n)


def _dkg(t: int, n: int, rng: _OsRandom) -> None:
    ids = list(range(1, n + 1))
    first = {i: dkg_round1(i, n, t, rng) for i in ids}
    second = {i: dkg_round2(first[i][0], [first[j][1] for j in ids if j != i]) for i in ids}
    for i in ids:
        inbox = [p for j in ids if j != i for p in second[j][1] if p.recipient == i]
        dkg_finalize(second[i][0], inbox)


def run(quick: bool) -> dict[str, float | int | str]:
    rng = _OsRandom()
    repeat = 3 if quick else 7
    results: dict[str, float | int | str] = {}
    for t, n in SIZES:
        label = f"{t}of{n}"
        big = n >= 100
        number = 1 if quick or big else 10
        results[f"keygen_dealer_ms_{label}"] = median_ms(
            lambda t=t, n=n: trusted_dealer_keygen(n, t, rng), repeat=repeat, number=number
        )
        if (t, n) in DKG_SIZES:
            results[f"dkg_ms_{label}"] = median_ms(
                lambda t=t, n=n: _dkg(t, n, rng), repeat=repeat, number=1
            )
        shares, public = trusted_dealer_keygen(n, t, rng)
        keys = [key_package_from_secret_share(s) for s in shares[:t]]
        results[f"round1_ms_{label}"] = median_ms(
            lambda k=keys[0]: commit(k, rng), repeat=repeat, number=1 if quick else 20
        )
        round1 = [commit(k, rng) for k in keys]
        package = SigningPackage(tuple(c for _, c in round1), MESSAGE)
        results[f"round2_ms_{label}"] = median_ms(
            lambda p=package, nonces=round1[0][0], k=keys[0]: sign(p, nonces, k),
            repeat=repeat,
            number=number,
        )
        context = prepare_signing(package, public.verifying_key)
        shares_out = [sign(context, nonces, k) for (nonces, _), k in zip(round1, keys, strict=True)]
        results[f"aggregate_ms_{label}"] = median_ms(
            lambda p=package, s=shares_out, pub=public: aggregate(p, s, pub),
            repeat=repeat,
            number=number,
        )

        def full_sign(keys=keys, public=public) -> bytes:
            started = [commit(k, rng) for k in keys]
            pkg = SigningPackage(tuple(c for _, c in started), MESSAGE)
            ctx = prepare_signing(pkg, public.verifying_key)
            sig_shares = [
                sign(ctx, nonces, k) for (nonces, _), k in zip(started, keys, strict=True)
            ]
            return aggregate(ctx, sig_shares, public)

        results[f"full_sign_ms_{label}"] = median_ms(full_sign, repeat=repeat, number=number)
        if (t, n) == (2, 3):
            results["derive_share_ms_2of3"] = median_ms(
                lambda k=keys[0]: derivation_share(k, DERIVATION_LABEL, rng),
                repeat=repeat,
                number=number,
            )
            contributions = [derivation_share(k, DERIVATION_LABEL, rng) for k in keys]
            results["derive_combine_ms_2of3"] = median_ms(
                lambda pub=public, c=contributions: combine_derivation(pub, DERIVATION_LABEL, c),
                repeat=repeat,
                number=number,
            )
    return results
