"""Who holds shares of an account's key: devices and guardians, their keys and profiles.

A *profile* is what the account publishes about a holder: for a device, its
id, its leaf key (the Ed25519 key in the commitment tree, which signs its
ceremony messages), its X25519 encryption key (key shares travel sealed to
it) and its vote key (signs consensus votes); for a guardian, its authority
id, its signing key and its encryption key. A *member* is a profile seated
at a FROST identifier, which is also its ``LeafId`` in the commitment tree.

The secret halves (:class:`DeviceKeys`, :class:`GuardianKeys`) never leave
the holder. Every signed ceremony message is an Ed25519 signature over a
domain-tagged BLAKE3 digest, so a signature made for one purpose cannot be
replayed as another.
"""

from __future__ import annotations

from typing import Any, Self

import attrs
from nacl.bindings import crypto_scalarmult_base, crypto_sign_open
from nacl.exceptions import BadSignatureError
from nacl.exceptions import CryptoError as NaclCryptoError
from nacl.signing import SigningKey

from aura_core.canonical_fields import (
    U16_MAX,
    as_encoding_error,
    of_type,
    read_authority,
    read_bytes,
    read_list,
    read_map,
    read_uint,
)
from aura_core.crypto import RandomSource
from aura_core.errors import InvalidInput
from aura_core.hashing import kdf, tagged_hash
from aura_core.identifiers import AuthorityId, DeviceId

__all__ = [
    "MAX_DEVICES",
    "MAX_GUARDIANS",
    "DeviceKeys",
    "DeviceMember",
    "DeviceProfile",
    "GuardianKeys",
    "GuardianMember",
    "GuardianProfile",
    "check_roster",
    "guardian_leaf_device",
    "identity_signature",
    "identity_signature_valid",
    "members_from_canonical",
    "members_to_canonical",
]

MAX_DEVICES = 7
"""Devices per account: the consensus witness set is capped at 7 (docs/consensus.md)."""
MAX_GUARDIANS = 16
"""Guardians per account; each holds one recovery share."""

_VOTE_KEY_CONTEXT = "AURA_DEVICE_VOTE_KEY_V1"
_GUARDIAN_LEAF_DOMAIN = "AURA_GUARDIAN_LEAF_V1"


def _key32(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not bytes or len(value) != 32:
        raise InvalidInput(f"{attribute.name} must be 32 bytes")


def _identifier(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not int or not 1 <= value <= U16_MAX:
        raise InvalidInput(
            f"{attribute.name} must be an integer in 1..{U16_MAX}, got {value!r:.30}"
        )


def identity_signature(seed: bytes, domain: str, payload: bytes) -> bytes:
    """Ed25519 over ``tagged_hash(domain, payload)`` with the key of ``seed``."""
    return SigningKey(seed).sign(tagged_hash(domain, payload)).signature


def identity_signature_valid(
    public_key: bytes, domain: str, payload: bytes, signature: bytes
) -> bool:
    """Whether ``signature`` is :func:`identity_signature` of ``payload`` under ``public_key``."""
    if type(signature) is not bytes or len(signature) != 64:
        return False
    if type(public_key) is not bytes or len(public_key) != 32:
        return False
    try:
        crypto_sign_open(signature + tagged_hash(domain, payload), public_key)
    except (BadSignatureError, NaclCryptoError, ValueError, TypeError):
        return False
    return True


def guardian_leaf_device(authority: AuthorityId) -> DeviceId:
    """The ``DeviceId`` a guardian's leaf carries in the tree (derived: guardians have no device)."""
    return DeviceId.derive(_GUARDIAN_LEAF_DOMAIN, authority.raw)


# --------------------------------------------------------------------------- devices


@attrs.frozen
class DeviceProfile:
    """A device as its account knows it: id and three public keys."""

    device: DeviceId = attrs.field(validator=of_type(DeviceId))
    leaf_key: bytes = attrs.field(validator=_key32, repr=lambda k: k[:6].hex() + "…")
    encryption_key: bytes = attrs.field(validator=_key32, repr=lambda k: k[:6].hex() + "…")
    vote_key: bytes = attrs.field(validator=_key32, repr=lambda k: k[:6].hex() + "…")

    @property
    def address(self) -> str:
        """Where ceremony messages for this device go (the runtime maps it to a transport)."""
        return str(self.device)

    def to_canonical(self) -> dict[str, Any]:
        return {
            "device": self.device.raw,
            "leaf": self.leaf_key,
            "enc": self.encryption_key,
            "vote": self.vote_key,
        }

    @classmethod
    def from_canonical(cls, value: object) -> Self:
        fields = read_map(value, "device profile", ("device", "leaf", "enc", "vote"))
        try:
            return cls(
                DeviceId(read_bytes(fields["device"], "device id", size=16)),
                read_bytes(fields["leaf"], "device leaf key", size=32),
                read_bytes(fields["enc"], "device encryption key", size=32),
                read_bytes(fields["vote"], "device vote key", size=32),
            )
        except InvalidInput as exc:
            raise as_encoding_error("device profile", exc) from None


@attrs.frozen
class DeviceKeys:
    """A device's secrets: its leaf signing seed and X25519 private key (vote seed is derived)."""

    device: DeviceId = attrs.field(validator=of_type(DeviceId))
    leaf_seed: bytes = attrs.field(validator=_key32, repr=lambda _k: "<secret>")
    encryption_private: bytes = attrs.field(validator=_key32, repr=lambda _k: "<secret>")

    @classmethod
    def generate(cls, rng: RandomSource) -> Self:
        return cls(DeviceId.generate(rng), rng.random_bytes(32), rng.random_bytes(32))

    @property
    def vote_seed(self) -> bytes:
        """Seed of the consensus vote key: derived, so a device has one secret to back up."""
        return kdf(_VOTE_KEY_CONTEXT, self.leaf_seed, 32)

    @property
    def profile(self) -> DeviceProfile:
        return DeviceProfile(
            self.device,
            bytes(SigningKey(self.leaf_seed).verify_key),
            crypto_scalarmult_base(self.encryption_private),
            bytes(SigningKey(self.vote_seed).verify_key),
        )

    def sign(self, domain: str, payload: bytes) -> bytes:
        return identity_signature(self.leaf_seed, domain, payload)


@attrs.frozen(order=True)
class DeviceMember:
    """A device seated at a FROST identifier (= its ``LeafId``)."""

    identifier: int = attrs.field(validator=_identifier)
    profile: DeviceProfile = attrs.field(validator=of_type(DeviceProfile), order=False)

    def to_canonical(self) -> list[Any]:
        return [self.identifier, self.profile.to_canonical()]

    @classmethod
    def from_canonical(cls, value: object) -> Self:
        item = read_list(value, "device member", min_items=2, max_items=2)
        return cls(
            read_uint(item[0], "device identifier", minimum=1, maximum=U16_MAX),
            DeviceProfile.from_canonical(item[1]),
        )


# --------------------------------------------------------------------------- guardians


@attrs.frozen
class GuardianProfile:
    """A guardian: another authority, its signing key and the key its share is sealed to."""

    authority: AuthorityId = attrs.field(validator=of_type(AuthorityId))
    signing_key: bytes = attrs.field(validator=_key32, repr=lambda k: k[:6].hex() + "…")
    encryption_key: bytes = attrs.field(validator=_key32, repr=lambda k: k[:6].hex() + "…")

    @property
    def address(self) -> str:
        return str(self.authority)

    @property
    def leaf_device(self) -> DeviceId:
        return guardian_leaf_device(self.authority)

    def to_canonical(self) -> dict[str, Any]:
        return {
            "authority": self.authority.raw,
            "key": self.signing_key,
            "enc": self.encryption_key,
        }

    @classmethod
    def from_canonical(cls, value: object) -> Self:
        fields = read_map(value, "guardian profile", ("authority", "key", "enc"))
        try:
            return cls(
                read_authority(fields["authority"], "guardian authority"),
                read_bytes(fields["key"], "guardian signing key", size=32),
                read_bytes(fields["enc"], "guardian encryption key", size=32),
            )
        except InvalidInput as exc:
            raise as_encoding_error("guardian profile", exc) from None


@attrs.frozen
class GuardianKeys:
    """A guardian authority's secrets (a 1-of-1 guardian: one signing seed, one X25519 key)."""

    authority: AuthorityId = attrs.field(validator=of_type(AuthorityId))
    signing_seed: bytes = attrs.field(validator=_key32, repr=lambda _k: "<secret>")
    encryption_private: bytes = attrs.field(validator=_key32, repr=lambda _k: "<secret>")

    @classmethod
    def generate(cls, rng: RandomSource) -> Self:
        return cls(AuthorityId.generate(rng), rng.random_bytes(32), rng.random_bytes(32))

    @property
    def profile(self) -> GuardianProfile:
        return GuardianProfile(
            self.authority,
            bytes(SigningKey(self.signing_seed).verify_key),
            crypto_scalarmult_base(self.encryption_private),
        )

    def sign(self, domain: str, payload: bytes) -> bytes:
        return identity_signature(self.signing_seed, domain, payload)


@attrs.frozen(order=True)
class GuardianMember:
    """A guardian seated at an identifier of the guardian sharing (= its ``LeafId``)."""

    identifier: int = attrs.field(validator=_identifier)
    profile: GuardianProfile = attrs.field(validator=of_type(GuardianProfile), order=False)

    def to_canonical(self) -> list[Any]:
        return [self.identifier, self.profile.to_canonical()]

    @classmethod
    def from_canonical(cls, value: object) -> Self:
        item = read_list(value, "guardian member", min_items=2, max_items=2)
        return cls(
            read_uint(item[0], "guardian identifier", minimum=1, maximum=U16_MAX),
            GuardianProfile.from_canonical(item[1]),
        )


# --------------------------------------------------------------------------- rosters


def members_to_canonical(members: tuple[DeviceMember, ...] | tuple[GuardianMember, ...]) -> list:
    return [member.to_canonical() for member in members]


def members_from_canonical(
    value: object, kind: type[DeviceMember] | type[GuardianMember], what: str, *, max_items: int
) -> tuple[Any, ...]:
    """A roster: sorted by identifier, no repeated identifier or key."""
    items = tuple(kind.from_canonical(item) for item in read_list(value, what, max_items=max_items))
    try:
        check_roster(items, what)
    except InvalidInput as exc:
        raise as_encoding_error(what, exc) from None
    return items


def check_roster(members: tuple[Any, ...], what: str) -> None:
    """Members sorted by identifier; identifiers, ids and keys all distinct."""
    if type(members) is not tuple:
        raise InvalidInput(f"{what} must be a tuple of members")
    identifiers = [m.identifier for m in members]
    if identifiers != sorted(set(identifiers)):
        raise InvalidInput(f"{what} must be sorted by identifier with no repeats")
    keys: set[bytes] = set()
    owners: set[bytes] = set()
    for member in members:
        profile = member.profile
        owner = profile.device.raw if isinstance(profile, DeviceProfile) else profile.authority.raw
        own_keys = (
            (profile.leaf_key, profile.encryption_key, profile.vote_key)
            if isinstance(profile, DeviceProfile)
            else (profile.signing_key, profile.encryption_key)
        )
        if owner in owners:
            raise InvalidInput(f"{what} lists one holder twice")
        owners.add(owner)
        for key in own_keys:
            if key in keys:
                raise InvalidInput(f"{what} reuses a public key across holders or purposes")
            keys.add(key)
