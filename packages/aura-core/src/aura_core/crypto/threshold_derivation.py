"""Threshold key derivation: a secret every holder set of the group key can re-derive.

An account's group secret ``s`` is never in one place, yet its devices need
keys that survive losing any of them (the account's data key: per-context
keys, its contact signing key). This module derives such a key from ``s``
itself, so whoever can sign for the account — ``t`` devices, or a device
that a recovery through guardians re-dealt a share to — can derive it again:

* ``P = from_uniform(H(label))`` is a point whose discrete log nobody knows;
* holder ``i`` publishes ``D_i = s_i·P`` with a Chaum–Pedersen proof that
  ``log_B(Y_i) = log_P(D_i)`` (``Y_i`` its public verifying share), so a
  holder cannot skew the result with a wrong contribution;
* ``t`` valid contributions interpolate to ``s·P`` (Lagrange at zero), and the
  derived secret is ``KDF(label ‖ Y ‖ s·P)``.

A resharing (new devices, recovery) keeps ``s``, so the derived secret stays
the same across custody changes; a holder of a 1-of-1 key computes ``s·P``
alone. Revealing ``t`` contributions reveals the derived secret (that is the
point), so contributions travel only to the account's own devices.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs
import nacl.bindings as _sodium

from aura_core.canonical_fields import decode_canonical, read_bytes, read_map, read_uint
from aura_core.crypto import ed25519_group as group
from aura_core.crypto.ed25519_group import ORDER, Element
from aura_core.crypto.keys import KeyPackage, PublicKeyPackage
from aura_core.crypto.random_source import RandomSource, random_scalar
from aura_core.crypto.shamir import derive_interpolating_value
from aura_core.dag_cbor import encode
from aura_core.errors import CryptoError, InvalidEncoding, InvalidInput
from aura_core.hashing import kdf, tagged_hash

__all__ = [
    "DERIVED_SECRET_BYTES",
    "DerivationShare",
    "combine_derivation",
    "derivation_point",
    "derivation_share",
    "derive_alone",
    "verify_derivation_share",
]

DERIVED_SECRET_BYTES = 32
_POINT_DOMAIN = "aura.frost.derivation.point.v1"
_PROOF_DOMAIN = "aura.frost.derivation.proof.v1"
_SECRET_KDF = "aura.frost.derivation.secret.v1"
_MAX_LABEL = 256
_KEYS = frozenset({"id", "d", "c", "z"})


def _check_label(label: object) -> bytes:
    if type(label) is not bytes or not 0 < len(label) <= _MAX_LABEL:
        raise InvalidInput(f"a derivation label is 1 to {_MAX_LABEL} bytes")
    return label


def derivation_point(label: bytes) -> Element:
    """The point ``P`` for ``label`` (hash to the prime-order subgroup; no known log)."""
    digest = tagged_hash(_POINT_DOMAIN, _check_label(label))
    return group.to_element(
        _sodium.crypto_core_ed25519_from_uniform(digest), name="derivation point"
    )


@attrs.frozen
class DerivationShare:
    """Holder ``identifier``'s contribution ``s_i·P`` and its proof (challenge, response)."""

    identifier: int
    point: Element = attrs.field(converter=group.element_converter("derivation share point"))
    challenge: int
    response: int

    def to_bytes(self) -> bytes:
        return encode(
            {
                "id": self.identifier,
                "d": bytes(self.point),
                "c": group.serialize_scalar(self.challenge),
                "z": group.serialize_scalar(self.response),
            }
        )

    @classmethod
    def from_bytes(cls, data: object) -> DerivationShare:
        """Strict decoding; :class:`InvalidEncoding` names the bad field."""
        fields = read_map(
            decode_canonical(data, "derivation share", max_bytes=256), "derivation share", _KEYS
        )
        identifier = read_uint(fields["id"], "derivation share identifier", minimum=1)
        if identifier >= ORDER:
            raise InvalidEncoding("derivation share identifier is out of range")
        point = read_bytes(fields["d"], "derivation share point", size=32)
        return cls(
            identifier,
            group.deserialize_element(point, name="derivation share point"),
            group.deserialize_scalar(
                read_bytes(fields["c"], "proof challenge", size=32), name="proof challenge"
            ),
            group.deserialize_scalar(
                read_bytes(fields["z"], "proof response", size=32), name="proof response"
            ),
        )


def _challenge(
    label: bytes, verifying_share: bytes, point: bytes, commit_base: bytes, commit_p: bytes
) -> int:
    digest = tagged_hash(_PROOF_DOMAIN, label, verifying_share, point, commit_base, commit_p)
    return group.scalar_from_wide_bytes(digest + digest)


def derivation_share(key_package: KeyPackage, label: bytes, rng: RandomSource) -> DerivationShare:
    """This holder's contribution for ``label`` with a proof it used its real share."""
    if not isinstance(key_package, KeyPackage):
        raise InvalidInput(f"expected a KeyPackage, got {type(key_package).__name__}")
    base = derivation_point(label)
    secret = key_package.signing_share
    point = group.mult(base, secret)
    nonce = random_scalar(rng)
    commit_base = group.base_mult(nonce)
    commit_p = group.mult(base, nonce)
    challenge = _challenge(label, key_package.verifying_share, point, commit_base, commit_p)
    response = (nonce + challenge * secret) % ORDER
    return DerivationShare(key_package.identifier, point, challenge, response)


def verify_derivation_share(public: PublicKeyPackage, label: bytes, share: DerivationShare) -> None:
    """Check ``share`` against its holder's verifying share; :class:`CryptoError` if wrong."""
    if not isinstance(share, DerivationShare):
        raise InvalidInput(f"expected a DerivationShare, got {type(share).__name__}")
    if not public.has(share.identifier):
        raise CryptoError(f"participant {share.identifier} is not a holder of this key")
    verifying_share = public.verifying_share(share.identifier)
    base = derivation_point(label)
    # z·B − c·Y_i and z·P − c·D_i must reproduce the prover's commitments.
    commit_base = group.sub(
        group.base_mult(share.response), group.mult(verifying_share, share.challenge)
    )
    commit_p = group.sub(group.mult(base, share.response), group.mult(share.point, share.challenge))
    if _challenge(label, verifying_share, share.point, commit_base, commit_p) != share.challenge:
        raise CryptoError(
            f"participant {share.identifier}'s derivation share does not match its key share"
        )


def _secret(label: bytes, group_key: bytes, combined: bytes) -> bytes:
    return kdf(
        _SECRET_KDF, bytes([len(label)]) + label + group_key + combined, DERIVED_SECRET_BYTES
    )


def combine_derivation(
    public: PublicKeyPackage, label: bytes, shares: Iterable[DerivationShare]
) -> bytes:
    """The derived secret from ``min_signers`` valid contributions (each one is checked)."""
    label = _check_label(label)
    chosen: dict[int, DerivationShare] = {}
    for share in shares:
        verify_derivation_share(public, label, share)
        chosen.setdefault(share.identifier, share)
    if len(chosen) < public.min_signers:
        raise InvalidInput(
            f"deriving needs {public.min_signers} holders' contributions, got {len(chosen)}"
        )
    identifiers = sorted(chosen)[: public.min_signers]
    combined = group.mult(chosen[identifiers[0]].point, 0)
    for identifier in identifiers:
        weight = derive_interpolating_value(identifiers, identifier)
        combined = group.add(combined, group.mult(chosen[identifier].point, weight))
    return _secret(label, bytes(public.verifying_key), combined)


def derive_alone(secret_scalar: int, group_key: bytes, label: bytes) -> bytes:
    """The same derived secret from the whole secret ``s`` (a 1-of-1 key's holder)."""
    label = _check_label(label)
    if type(secret_scalar) is not int or not 0 < secret_scalar < ORDER:
        raise InvalidInput("the secret scalar must be in [1, L)")
    if group.base_mult(secret_scalar) != group_key:
        raise CryptoError("the secret scalar does not belong to this group key")
    return _secret(label, group_key, group.mult(derivation_point(label), secret_scalar))
