"""Threshold-signing a batch of account facts: FROST with several holders, or one 1-of-1 key.

A custody change ends with a few facts (tree operations, the key epoch, the
guardian set) that the account key must attest. The signers run FROST once
per fact, with all nonces of a batch drawn in one round: round one returns
one commitment per fact, round two one signature share per fact. The
attested message is the journal's ``threshold_message`` (namespace, fact,
group key and signer count), so a signature covers exactly one fact and the
claimed number of signers. An account with a 1-of-1 key signs with plain
Ed25519 (``sign_single``) instead.

:func:`sign_facts_in_process` signs with key packages held in one process —
for an account's genesis, when one user creates it on devices side by side,
and for tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from aura_core.crypto import (
    KeyPackage,
    PublicKeyPackage,
    RandomSource,
    SignatureShare,
    SigningCommitments,
    SigningNonces,
    SigningPackage,
    aggregate,
    commit,
    sign,
    sign_single,
)
from aura_core.errors import InvalidInput
from aura_journal import Fact, JournalNamespace

__all__ = [
    "aggregate_batch",
    "attest",
    "commit_batch",
    "fact_messages",
    "sign_batch",
    "sign_facts_in_process",
    "signing_packages",
]


def fact_messages(
    facts: Sequence[Fact], namespace: JournalNamespace, group_key: bytes, signer_count: int
) -> list[bytes]:
    """What the group signs for each fact (binds namespace, content, key and signer count)."""
    return [fact.threshold_message(namespace, group_key, signer_count) for fact in facts]


def attest(
    facts: Sequence[Fact], signatures: Sequence[bytes], group_key: bytes, signer_count: int
) -> list[Fact]:
    return [
        fact.with_threshold_signature(group_key, signature, signer_count)
        for fact, signature in zip(facts, signatures, strict=True)
    ]


def commit_batch(
    key_package: KeyPackage, count: int, rng: RandomSource
) -> tuple[tuple[SigningNonces, ...], tuple[SigningCommitments, ...]]:
    """Round one for ``count`` messages: fresh nonces (keep, use once) and their commitments."""
    pairs = [commit(key_package, rng) for _ in range(count)]
    return tuple(n for n, _ in pairs), tuple(c for _, c in pairs)


def signing_packages(
    messages: Sequence[bytes], commitments: Mapping[int, Sequence[SigningCommitments]]
) -> list[SigningPackage]:
    """One package per message, from every signer's commitment for that message."""
    packages = []
    for index, message in enumerate(messages):
        packages.append(
            SigningPackage.from_unsorted(
                [items[index] for _signer, items in sorted(commitments.items())], message
            )
        )
    return packages


def sign_batch(
    key_package: KeyPackage,
    packages: Sequence[SigningPackage],
    nonces: Sequence[SigningNonces],
) -> tuple[SignatureShare, ...]:
    """Round two: one share per package with the matching nonces (callers drop the nonces after)."""
    if len(packages) != len(nonces):
        raise InvalidInput("one signing package per nonce pair is needed")
    return tuple(sign(p, n, key_package) for p, n in zip(packages, nonces, strict=True))


def aggregate_batch(
    packages: Sequence[SigningPackage],
    shares: Mapping[int, Sequence[SignatureShare]],
    public_key_package: PublicKeyPackage,
) -> list[bytes]:
    """The group signature of each package (raises ``InvalidSignatureShares`` naming bad signers)."""
    signatures = []
    for index, package in enumerate(packages):
        signatures.append(
            aggregate(
                package,
                [items[index] for _signer, items in sorted(shares.items())],
                public_key_package,
            )
        )
    return signatures


def sign_facts_in_process(
    facts: Sequence[Fact],
    namespace: JournalNamespace,
    key_packages: Iterable[KeyPackage],
    public_key_package: PublicKeyPackage,
    rng: RandomSource,
) -> list[Fact]:
    """Attest ``facts`` with key packages held here (every one of them signs)."""
    holders = sorted(key_packages, key=lambda k: k.identifier)
    if not holders:
        raise InvalidInput("no key package to sign with")
    group_key = bytes(public_key_package.verifying_key)
    count = len(holders)
    messages = fact_messages(facts, namespace, group_key, count)
    if public_key_package.min_signers == 1:
        if count != 1:
            raise InvalidInput("a 1-of-1 key has exactly one holder")
        return attest(facts, [sign_single(holders[0], m) for m in messages], group_key, 1)
    rounds = {k.identifier: commit_batch(k, len(facts), rng) for k in holders}
    packages = signing_packages(messages, {i: c for i, (_n, c) in rounds.items()})
    shares = {k.identifier: sign_batch(k, packages, rounds[k.identifier][0]) for k in holders}
    return attest(facts, aggregate_batch(packages, shares, public_key_package), group_key, count)
