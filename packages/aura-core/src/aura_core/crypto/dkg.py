"""Distributed key generation without a dealer: Pedersen DKG with proofs of knowledge.

Every participant acts as a dealer of its own random polynomial; the group
secret is the sum of all constant terms and is never assembled anywhere.
Sans-IO, three steps per participant:

1. :func:`dkg_round1` -> keep :class:`DkgRound1Secret`, **broadcast**
   :class:`DkgRound1Package` (Feldman commitment + Schnorr proof that the
   sender knows its constant term, which stops rogue-key attacks).
2. :func:`dkg_round2` (given everyone else's round-1 packages) checks every
   proof, then -> keep :class:`DkgRound2Secret`, send each other participant
   its :class:`DkgRound2Package` over a **confidential, authenticated** channel.
3. :func:`dkg_finalize` (given the round-2 packages addressed to you) checks
   every share against its sender's commitment and returns the
   :class:`~aura_core.crypto.keys.KeyPackage` and
   :class:`~aura_core.crypto.keys.PublicKeyPackage`.

Any failed check aborts with
:class:`~aura_core.crypto.identifiable_abort.KeyGenerationAborted` naming the
sender(s); for bad shares it carries :class:`ShareComplaint` values that the
other participants can check against the accused's public commitment.

The proof-of-knowledge challenge is H(contextString || "dkg" || id || C_0 || R),
the same as the Zcash Foundation implementation, so its DKG vectors verify.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from aura_core.crypto import ed25519_group as group
from aura_core.crypto.ed25519_group import ORDER, Element, element_converter
from aura_core.crypto.frost_ciphersuite import h_dkg
from aura_core.crypto.identifiable_abort import KeyGenerationAborted
from aura_core.crypto.keys import KeyPackage, PublicKeyPackage
from aura_core.crypto.participants import check_identifier, check_threshold
from aura_core.crypto.random_source import RandomSource, random_nonzero_scalar
from aura_core.crypto.shamir import polynomial_evaluate
from aura_core.crypto.share_exchange import (
    collect_shares,
    complaints_against,
    group_info_from_commitments,
)
from aura_core.crypto.vss import VssCommitment, vss_commit
from aura_core.errors import InvalidInput

__all__ = [
    "DkgRound1Package",
    "DkgRound1Secret",
    "DkgRound2Package",
    "DkgRound2Secret",
    "ProofOfKnowledge",
    "dkg_finalize",
    "dkg_round1",
    "dkg_round2",
    "prove_knowledge",
    "verify_proof_of_knowledge",
]


def _secret_repr(_value: object) -> str:
    return "<secret>"


def _identifier(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    check_identifier(value, name=attribute.name)


def _scalar(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < ORDER:
        raise InvalidInput(f"{attribute.name} must be a canonical scalar in [0, L)")


def _secret_scalars(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if not isinstance(value, tuple) or not value:
        raise InvalidInput(f"{attribute.name} must be a non-empty tuple of scalars")
    for item in value:
        if not isinstance(item, int) or isinstance(item, bool) or not 0 < item < ORDER:
            raise InvalidInput(f"{attribute.name} must hold nonzero scalars in [1, L)")


@attrs.frozen
class ProofOfKnowledge:
    """Schnorr proof ``(R, mu)`` of knowledge of the discrete log of a commitment's C_0."""

    commitment: Element = attrs.field(converter=element_converter("proof of knowledge R"))
    response: int = attrs.field(validator=_scalar)

    def to_bytes(self) -> bytes:
        return bytes(self.commitment) + self.response.to_bytes(32, "little")


def _challenge(identifier: int, public_key: bytes, nonce_commitment: bytes) -> int:
    return h_dkg(identifier.to_bytes(32, "little") + bytes(public_key) + bytes(nonce_commitment))


def prove_knowledge(
    identifier: int, secret: int, public_key: Element, rng: RandomSource
) -> ProofOfKnowledge:
    """Prove knowledge of ``secret`` with ``secret·B == public_key``, bound to ``identifier``."""
    nonce = random_nonzero_scalar(rng)
    nonce_commitment = group.to_element(group.base_mult(nonce), name="proof nonce commitment")
    challenge = _challenge(identifier, public_key, nonce_commitment)
    return ProofOfKnowledge(nonce_commitment, (nonce + secret * challenge) % ORDER)


def verify_proof_of_knowledge(
    identifier: int, public_key: Element, proof: ProofOfKnowledge
) -> bool:
    """Check ``mu·B == R + c·C_0`` with c = H_dkg(id || C_0 || R)."""
    challenge = _challenge(identifier, public_key, proof.commitment)
    expected = group.add(proof.commitment, group.mult(public_key, challenge))
    return group.base_mult(proof.response) == expected


@attrs.frozen
class DkgRound1Package:
    """Broadcast in round one: the sender's commitment and proof of knowledge."""

    sender: int = attrs.field(validator=_identifier)
    commitment: VssCommitment = attrs.field(validator=attrs.validators.instance_of(VssCommitment))
    proof_of_knowledge: ProofOfKnowledge = attrs.field(
        validator=attrs.validators.instance_of(ProofOfKnowledge)
    )


@attrs.frozen
class DkgRound1Secret:
    """Kept by a participant between round one and round two."""

    identifier: int = attrs.field(validator=_identifier)
    min_signers: int
    max_signers: int
    coefficients: tuple[int, ...] = attrs.field(validator=_secret_scalars, repr=_secret_repr)
    commitment: VssCommitment


@attrs.frozen
class DkgRound2Package:
    """Sent privately in round two: the sender's polynomial evaluated at the recipient."""

    sender: int = attrs.field(validator=_identifier)
    recipient: int = attrs.field(validator=_identifier)
    signing_share: int = attrs.field(validator=_scalar, repr=_secret_repr)


@attrs.frozen
class DkgRound2Secret:
    """Kept by a participant between round two and finalization."""

    identifier: int = attrs.field(validator=_identifier)
    min_signers: int
    max_signers: int
    own_share: int = attrs.field(repr=_secret_repr)
    commitment: VssCommitment
    round1_packages: tuple[DkgRound1Package, ...]


def dkg_round1(
    identifier: int, max_signers: int, min_signers: int, rng: RandomSource
) -> tuple[DkgRound1Secret, DkgRound1Package]:
    """Draw a random polynomial of degree ``min_signers - 1``, commit to it, prove its constant."""
    check_identifier(identifier)
    check_threshold(min_signers, max_signers)
    coefficients = tuple(random_nonzero_scalar(rng) for _ in range(min_signers))
    commitment = vss_commit(coefficients)
    proof = prove_knowledge(identifier, coefficients[0], commitment.public_key, rng)
    secret = DkgRound1Secret(identifier, min_signers, max_signers, coefficients, commitment)
    return secret, DkgRound1Package(identifier, commitment, proof)


def _collect_round1(
    secret: DkgRound1Secret, packages: Iterable[DkgRound1Package]
) -> tuple[DkgRound1Package, ...]:
    by_sender: dict[int, DkgRound1Package] = {}
    for package in packages:
        if not isinstance(package, DkgRound1Package):
            raise InvalidInput(f"expected DkgRound1Package, got {type(package).__name__}")
        if package.sender == secret.identifier:
            raise InvalidInput("round-one packages must not include this participant's own")
        if package.sender in by_sender:
            if by_sender[package.sender] != package:
                raise KeyGenerationAborted(
                    "two different round-one packages from the same sender", [package.sender]
                )
            raise InvalidInput(f"duplicate round-one package from participant {package.sender}")
        by_sender[package.sender] = package
    expected = secret.max_signers - 1
    if len(by_sender) != expected:
        raise InvalidInput(
            f"expected round-one packages from {expected} other participants, got {len(by_sender)}"
        )
    return tuple(by_sender[k] for k in sorted(by_sender))


def dkg_round2(
    secret: DkgRound1Secret, round1_packages: Iterable[DkgRound1Package]
) -> tuple[DkgRound2Secret, tuple[DkgRound2Package, ...]]:
    """Check every other participant's round-one package; share our polynomial with each.

    Raises :class:`KeyGenerationAborted` naming senders whose commitment has
    the wrong length or whose proof of knowledge fails.
    """
    if not isinstance(secret, DkgRound1Secret):
        raise InvalidInput(f"expected DkgRound1Secret, got {type(secret).__name__}")
    packages = _collect_round1(secret, round1_packages)
    wrong_length = [p.sender for p in packages if p.commitment.threshold != secret.min_signers]
    if wrong_length:
        raise KeyGenerationAborted(
            f"commitment does not have {secret.min_signers} coefficients", wrong_length
        )
    bad_proofs = [
        p.sender
        for p in packages
        if not verify_proof_of_knowledge(p.sender, p.commitment.public_key, p.proof_of_knowledge)
    ]
    if bad_proofs:
        raise KeyGenerationAborted("invalid proof of knowledge", bad_proofs)
    outgoing = tuple(
        DkgRound2Package(
            secret.identifier, p.sender, polynomial_evaluate(p.sender, secret.coefficients)
        )
        for p in packages
    )
    own_share = polynomial_evaluate(secret.identifier, secret.coefficients)
    state = DkgRound2Secret(
        secret.identifier,
        secret.min_signers,
        secret.max_signers,
        own_share,
        secret.commitment,
        packages,
    )
    return state, outgoing


def dkg_finalize(
    secret: DkgRound2Secret, round2_packages: Iterable[DkgRound2Package]
) -> tuple[KeyPackage, PublicKeyPackage]:
    """Verify the shares sent to us and assemble our key package and the group's public one."""
    if not isinstance(secret, DkgRound2Secret):
        raise InvalidInput(f"expected DkgRound2Secret, got {type(secret).__name__}")
    senders = [p.sender for p in secret.round1_packages]
    shares = collect_shares(secret.identifier, senders, round2_packages, kind=DkgRound2Package)
    commitments = {p.sender: p.commitment for p in secret.round1_packages}
    complaints = complaints_against(secret.identifier, shares, commitments)
    if complaints:
        raise KeyGenerationAborted(
            "share does not match the sender's commitment",
            [c.accused for c in complaints],
            complaints,
        )
    signing_share = (secret.own_share + sum(shares.values())) % ORDER
    identifiers = sorted([secret.identifier, *senders])
    public = group_info_from_commitments(
        [secret.commitment, *commitments.values()], identifiers, secret.min_signers
    )
    key = KeyPackage(
        identifier=secret.identifier,
        signing_share=signing_share,
        verifying_share=public.verifying_share(secret.identifier),
        verifying_key=public.verifying_key,
        min_signers=secret.min_signers,
    )
    return key, public
