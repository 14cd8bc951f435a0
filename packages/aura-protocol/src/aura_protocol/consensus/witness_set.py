"""Who witnesses a consensus instance, and the keys each witness holds.

Each witness has a FROST key share of the group (what makes a commit
unforgeable) and a separate Ed25519 *vote key* that signs its vote
statements: a FROST share alone cannot be attributed to its signer by a third
party, a signed vote can, and that is what makes equivocation provable.

Quorum rule: ``2t > n``. Two quorums of ``t`` then share at least ``2t - n``
witnesses, so two different operations can both gather ``t`` signatures only
if at least ``2t - n`` witnesses signed both. Honest witnesses never do, so
agreement holds against up to ``f = 2t - n - 1`` equivocating witnesses
(:attr:`WitnessSet.tolerated_faults`). A set with ``2t <= n`` could commit two
operations with no fault at all and is refused.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs
from nacl.signing import SigningKey

from aura_core.crypto import (
    KeyPackage,
    PublicKeyPackage,
    RandomSource,
    key_package_from_secret_share,
    trusted_dealer_keygen,
)
from aura_core.errors import InvalidInput

__all__ = [
    "MAX_WITNESSES",
    "WitnessCredentials",
    "WitnessInfo",
    "WitnessSet",
    "witness_group_from_dealer",
]

MAX_WITNESSES = 7
"""Largest witness set: the leaderless fallback keeps one nonce per t-subset (C(n-1, t-1))."""


def _check_address(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not str or not value or len(value) > 256:
        raise InvalidInput(f"WitnessInfo.{attribute.name} must be a non-empty str (<= 256 chars)")


def _check_identifier(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not int or not 1 <= value <= 65535:
        raise InvalidInput(f"WitnessInfo.{attribute.name} must be an integer in 1..65535")


def _check_key(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not bytes or len(value) != 32:
        raise InvalidInput(f"WitnessInfo.{attribute.name} must be a 32-byte Ed25519 public key")


@attrs.frozen
class WitnessInfo:
    """One witness: its FROST identifier, network address and vote verification key."""

    identifier: int = attrs.field(validator=_check_identifier)
    address: str = attrs.field(validator=_check_address)
    vote_key: bytes = attrs.field(validator=_check_key, repr=lambda k: k[:6].hex() + "…")


def _to_members(value: object) -> tuple[WitnessInfo, ...]:
    if isinstance(value, bytes | str) or not isinstance(value, Iterable):
        raise InvalidInput("witness set members must be a sequence of WitnessInfo")
    members = tuple(value)
    for member in members:
        if not isinstance(member, WitnessInfo):
            raise InvalidInput(
                f"witness set members must be WitnessInfo, got {type(member).__name__}"
            )
    return tuple(sorted(members, key=lambda m: m.identifier))


def _check_epoch(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not int or not 0 <= value < 2**64:
        raise InvalidInput("WitnessSet.epoch must be an integer in 0..2**64-1")


@attrs.frozen
class WitnessSet:
    """The witnesses of one key epoch and the group's public key package."""

    members: tuple[WitnessInfo, ...] = attrs.field(converter=_to_members)
    public_key_package: PublicKeyPackage = attrs.field(
        validator=attrs.validators.instance_of(PublicKeyPackage)
    )
    epoch: int = attrs.field(default=0, validator=_check_epoch)
    _by_id: dict[int, WitnessInfo] = attrs.field(init=False, repr=False, eq=False, hash=False)
    _by_address: dict[str, WitnessInfo] = attrs.field(init=False, repr=False, eq=False, hash=False)

    def __attrs_post_init__(self) -> None:
        n = len(self.members)
        if not 2 <= n <= MAX_WITNESSES:
            raise InvalidInput(f"a witness set has 2..{MAX_WITNESSES} members, got {n}")
        ids = [m.identifier for m in self.members]
        if len(set(ids)) != n:
            raise InvalidInput("witness identifiers must be distinct")
        addresses = [m.address for m in self.members]
        if len(set(addresses)) != n:
            raise InvalidInput("witness addresses must be distinct")
        if len({m.vote_key for m in self.members}) != n:
            raise InvalidInput("witness vote keys must be distinct")
        if tuple(ids) != self.public_key_package.identifiers:
            raise InvalidInput(
                "witness identifiers must be exactly the public key package's participants"
            )
        t = self.public_key_package.min_signers
        if t < 2:
            raise InvalidInput("consensus needs a FROST threshold of at least 2")
        if 2 * t <= n:
            raise InvalidInput(
                f"threshold {t} of {n} witnesses is not a quorum: two disjoint groups could "
                f"commit different operations; use t > n/2 (here t >= {n // 2 + 1})"
            )
        object.__setattr__(self, "_by_id", {m.identifier: m for m in self.members})
        object.__setattr__(self, "_by_address", {m.address: m for m in self.members})

    @property
    def threshold(self) -> int:
        return self.public_key_package.min_signers

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def group_public_key(self) -> bytes:
        return bytes(self.public_key_package.verifying_key)

    @property
    def identifiers(self) -> tuple[int, ...]:
        return tuple(m.identifier for m in self.members)

    @property
    def tolerated_faults(self) -> int:
        """Equivocating witnesses agreement survives: ``2t - n - 1``."""
        return 2 * self.threshold - self.size - 1

    def member(self, identifier: int) -> WitnessInfo | None:
        return self._by_id.get(identifier)

    def member_at(self, address: str) -> WitnessInfo | None:
        return self._by_address.get(address)


def _check_seed(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not bytes or len(value) != 32:
        raise InvalidInput("a vote key seed must be 32 bytes")


@attrs.frozen
class WitnessCredentials:
    """A witness's secrets: its FROST key package and the seed of its Ed25519 vote key."""

    key_package: KeyPackage = attrs.field(validator=attrs.validators.instance_of(KeyPackage))
    vote_seed: bytes = attrs.field(validator=_check_seed, repr=lambda _s: "<secret>")
    _signing_key: SigningKey = attrs.field(init=False, repr=False, eq=False, hash=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_signing_key", SigningKey(self.vote_seed))

    @property
    def identifier(self) -> int:
        return self.key_package.identifier

    @property
    def vote_key(self) -> bytes:
        return bytes(self._signing_key.verify_key)

    def sign_vote(self, message: bytes) -> bytes:
        """A detached Ed25519 signature by the vote key."""
        return self._signing_key.sign(message).signature


def witness_group_from_dealer(
    size: int,
    threshold: int,
    rng: RandomSource,
    *,
    epoch: int = 0,
    address_prefix: str = "w",
) -> tuple[tuple[WitnessCredentials, ...], WitnessSet]:
    """A fresh witness group: trusted-dealer FROST shares plus one vote key per witness.

    Witness ``i`` gets identifier ``i`` and address ``f"{address_prefix}{i}"``.
    For groups whose members must not trust a dealer, run the DKG
    (:func:`aura_core.crypto.dkg_round1` ...) and build the set from its output.
    """
    shares, public = trusted_dealer_keygen(size, threshold, rng)
    credentials = tuple(
        WitnessCredentials(key_package_from_secret_share(share), rng.random_bytes(32))
        for share in shares
    )
    members = [
        WitnessInfo(c.identifier, f"{address_prefix}{c.identifier}", c.vote_key)
        for c in credentials
    ]
    return credentials, WitnessSet(members, public, epoch)
