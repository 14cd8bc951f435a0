"""Attestations: who endorsed a fact, and the proof.

Three kinds: none (local bookkeeping a journal accepts unsigned), a single
device's Ed25519 signature, and a threshold signature of an authority's group
key (FROST over Ed25519, which verifies as a plain Ed25519 signature). The
signed message (built in :mod:`aura_journal.facts`) binds the signer's key
and, for threshold signatures, the claimed signer count, so neither can be
swapped after signing.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError
from nacl.exceptions import CryptoError as NaclCryptoError

from aura_core.canonical_fields import of_type, read_bytes, read_choice, read_map, read_uint
from aura_core.errors import InvalidEncoding, InvalidInput
from aura_core.identifiers import DeviceId
from aura_journal.errors import AttestationInvalid

__all__ = [
    "ATTESTATION_KINDS",
    "UNATTESTED",
    "Attestation",
    "DeviceAttestation",
    "ThresholdAttestation",
    "Unattested",
    "attestation_from_canonical",
    "attestation_to_canonical",
    "verify_ed25519",
]

_MAX_SIGNERS = 65535


def _key32(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not bytes or len(value) != 32:
        raise InvalidInput(f"{attribute.name} must be 32 bytes (an Ed25519 public key)")


def _sig64(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not bytes or len(value) != 64:
        raise InvalidInput(f"{attribute.name} must be 64 bytes (an Ed25519 signature)")


def _signers(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not int or not 1 <= value <= _MAX_SIGNERS:
        raise InvalidInput(
            f"{attribute.name} must be an integer in 1..{_MAX_SIGNERS}, got {value!r}"
        )


@attrs.frozen
class Unattested:
    """No attestation: for facts whose type needs no endorsement."""

    kind: ClassVar[str] = "none"

    def binding(self) -> tuple[bytes, ...]:
        return (b"none",)


UNATTESTED = Unattested()


@attrs.frozen
class DeviceAttestation:
    """One device's Ed25519 signature; ``public_key`` is the device's own key."""

    kind: ClassVar[str] = "device"
    device: DeviceId = attrs.field(validator=of_type(DeviceId))
    public_key: bytes = attrs.field(validator=_key32)
    signature: bytes = attrs.field(validator=_sig64, repr=lambda s: s[:8].hex() + "…")

    def binding(self) -> tuple[bytes, ...]:
        """What the signed message commits to (everything but the signature)."""
        return (b"device", self.device.raw, self.public_key)

    def verify(self, message: bytes) -> None:
        if not _ed25519_valid(self.public_key, message, self.signature):
            raise AttestationInvalid(f"signature of {self.device} does not verify")


@attrs.frozen
class ThresholdAttestation:
    """A group signature (FROST, or 1-of-1 Ed25519) by ``signer_count`` of the group's devices."""

    kind: ClassVar[str] = "threshold"
    group_public_key: bytes = attrs.field(validator=_key32)
    signature: bytes = attrs.field(validator=_sig64, repr=lambda s: s[:8].hex() + "…")
    signer_count: int = attrs.field(validator=_signers)

    def binding(self) -> tuple[bytes, ...]:
        return (b"threshold", self.group_public_key, self.signer_count.to_bytes(2, "big"))

    def verify(self, message: bytes) -> None:
        if not _ed25519_valid(self.group_public_key, message, self.signature):
            raise AttestationInvalid(
                f"threshold signature ({self.signer_count} signers) does not verify"
            )


Attestation = Unattested | DeviceAttestation | ThresholdAttestation
"""Any of the three attestation kinds."""

ATTESTATION_KINDS = frozenset({"none", "device", "threshold"})


def verify_ed25519(public_key: bytes, message: bytes, signature: bytes, *, what: str) -> None:
    """Raise :class:`AttestationInvalid` unless ``signature`` is valid for ``message``.

    libsodium's verification is strict: non-canonical S, small-order keys and
    points off the curve are all refused.
    """
    if not _ed25519_valid(public_key, message, signature):
        raise AttestationInvalid(f"{what} does not verify")


def _ed25519_valid(public_key: bytes, message: bytes, signature: bytes) -> bool:
    try:
        crypto_sign_open(signature + message, public_key)
    except (BadSignatureError, NaclCryptoError, ValueError, TypeError):
        return False
    return True


def attestation_to_canonical(attestation: Attestation) -> dict[str, Any]:
    if type(attestation) is Unattested:
        return {"kind": "none"}
    if type(attestation) is DeviceAttestation:
        return {
            "kind": "device",
            "device": attestation.device.raw,
            "key": attestation.public_key,
            "sig": attestation.signature,
        }
    if type(attestation) is ThresholdAttestation:
        return {
            "kind": "threshold",
            "key": attestation.group_public_key,
            "sig": attestation.signature,
            "signers": attestation.signer_count,
        }
    raise InvalidInput(f"not an attestation: {type(attestation).__name__}")


def attestation_from_canonical(value: object) -> Attestation:
    """Strict inverse of :func:`attestation_to_canonical`; raises ``InvalidEncoding``."""
    if type(value) is not dict:
        raise InvalidEncoding(f"attestation must be a map, got {type(value).__name__}")
    kind = read_choice(value.get("kind"), "attestation kind", ("none", "device", "threshold"))
    if kind == "none":
        read_map(value, "attestation", ("kind",))
        return UNATTESTED
    if kind == "device":
        fields = read_map(value, "device attestation", ("kind", "device", "key", "sig"))
        return DeviceAttestation(
            DeviceId(read_bytes(fields["device"], "attestation device", size=16)),
            read_bytes(fields["key"], "attestation key", size=32),
            read_bytes(fields["sig"], "attestation signature", size=64),
        )
    fields = read_map(value, "threshold attestation", ("kind", "key", "sig", "signers"))
    return ThresholdAttestation(
        read_bytes(fields["key"], "attestation group key", size=32),
        read_bytes(fields["sig"], "attestation signature", size=64),
        read_uint(fields["signers"], "attestation signer count", minimum=1, maximum=_MAX_SIGNERS),
    )
