"""Creating an account: its key (by DKG) and its first facts (tree genesis, key epoch).

For an account created on devices held side by side (one user, one place)
the DKG rounds run in one process: every device's polynomial is still its
own draw and every share is checked against its sender's commitment, but the
messages do not cross a network. A one-device account gets a 1-of-1 key
(plain Ed25519). The genesis tree puts every device under the root branch
with policy ``Threshold{t, n}`` and the group key; the first key epoch
records the device roster and the public key package. Both facts are signed
by the new key through every device's share.
"""

from __future__ import annotations

from collections.abc import Sequence

from aura_core.crypto import (
    KeyPackage,
    PublicKeyPackage,
    RandomSource,
    dkg_finalize,
    dkg_round1,
    dkg_round2,
    key_package_from_secret_share,
    trusted_dealer_keygen,
)
from aura_core.errors import InvalidInput
from aura_core.identifiers import AuthorityId
from aura_core.time_domains import PhysicalTime
from aura_features.devices.custody_change import ROOT_BRANCH, device_leaf
from aura_features.devices.custody_facts import KeyEpoch
from aura_features.devices.fact_signing import sign_facts_in_process
from aura_features.devices.share_holders import DeviceMember
from aura_journal import (
    BranchSpec,
    Fact,
    FactMetadata,
    JournalNamespace,
    ThresholdPolicy,
    TreeGenesis,
    order_time_from_entropy,
)

__all__ = ["account_genesis", "account_keys_by_dkg"]


def account_keys_by_dkg(
    identifiers: Sequence[int], threshold: int, rng: RandomSource
) -> tuple[dict[int, KeyPackage], PublicKeyPackage]:
    """A ``threshold``-of-``len(identifiers)`` key by Pedersen DKG (1-of-1: a single random key)."""
    ids = sorted(identifiers)
    if len(ids) == 1:
        if threshold != 1:
            raise InvalidInput("a one-device account has threshold 1")
        shares, public = trusted_dealer_keygen(1, 1, rng)
        package = key_package_from_secret_share(shares[0])
        if ids[0] != package.identifier:
            raise InvalidInput("a one-device account's device has identifier 1")
        return {package.identifier: package}, public
    firsts = {i: dkg_round1(i, len(ids), threshold, rng) for i in ids}
    round1 = [package for _secret, package in firsts.values()]
    seconds = {
        i: dkg_round2(secret, [p for p in round1 if p.sender != i])
        for i, (secret, _package) in firsts.items()
    }
    keys: dict[int, KeyPackage] = {}
    public: PublicKeyPackage | None = None
    for i, (secret, _outgoing) in seconds.items():
        incoming = [p for _s, (_st, out) in seconds.items() for p in out if p.recipient == i]
        keys[i], public = dkg_finalize(secret, incoming)
    assert public is not None
    return keys, public


def account_genesis(
    *,
    account: AuthorityId,
    devices: Sequence[DeviceMember],
    key_packages: Sequence[KeyPackage],
    public_key_package: PublicKeyPackage,
    rng: RandomSource,
    now: float,
) -> tuple[Fact, Fact]:
    """The signed tree genesis and first key epoch of a new account."""
    members = tuple(sorted(devices))
    threshold = public_key_package.min_signers
    group_key = bytes(public_key_package.verifying_key)
    genesis = TreeGenesis.of(
        [BranchSpec(None, ThresholdPolicy(threshold, len(members)), group_key)],
        [(device_leaf(m), ROOT_BRANCH) for m in members],
    )
    state = genesis.state

    def metadata() -> FactMetadata:
        return FactMetadata(
            order_time_from_entropy(rng.random_bytes(32)), PhysicalTime(int(now * 1000))
        )

    epoch = KeyEpoch(account, state.epoch, state.commitment, threshold, members, public_key_package)
    facts = [Fact.create(genesis, metadata()), Fact.create(epoch, metadata())]
    signed = sign_facts_in_process(
        facts, JournalNamespace.authority(account), key_packages, public_key_package, rng
    )
    return signed[0], signed[1]
