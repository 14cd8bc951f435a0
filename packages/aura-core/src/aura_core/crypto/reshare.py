"""Resharing: move the same group key to a new participant set and/or threshold.

A qualified set D of current participants (|D| >= t) acts as dealers. Dealer
d holds ``w_d = λ_d·s_d`` (λ_d its Lagrange coefficient over D), so
``Σ_d w_d`` is the group secret. Each dealer shares ``w_d`` with a fresh
polynomial of degree ``t' - 1`` over the new participants and broadcasts its
Feldman commitment. A new participant checks that

* the commitment's constant term equals ``λ_d·Y_d`` (``Y_d`` the dealer's
  public verifying share), so no dealer can shift the group key, and
* its share matches the commitment;

then its new share is the sum of what it received. The group key is unchanged,
old shares are on an unrelated polynomial, and old participants must erase
them. Sans-IO: :func:`reshare_round1` for each dealer, :func:`reshare_finalize`
for each new participant.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from aura_core.crypto import ed25519_group as group
from aura_core.crypto.ed25519_group import ORDER
from aura_core.crypto.identifiable_abort import KeyGenerationAborted
from aura_core.crypto.keys import KeyPackage, PublicKeyPackage
from aura_core.crypto.participants import check_identifier, check_identifiers, check_threshold
from aura_core.crypto.random_source import RandomSource, random_nonzero_scalar
from aura_core.crypto.shamir import derive_interpolating_value, polynomial_evaluate
from aura_core.crypto.share_exchange import (
    collect_shares,
    complaints_against,
    group_info_from_commitments,
)
from aura_core.crypto.vss import VssCommitment, vss_commit
from aura_core.errors import CryptoError, InvalidInput

__all__ = [
    "ReshareCommitment",
    "ReshareShare",
    "reshare_finalize",
    "reshare_round1",
]


def _secret_repr(_value: object) -> str:
    return "<secret>"


def _identifier(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    check_identifier(value, name=attribute.name)


def _scalar(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < ORDER:
        raise InvalidInput(f"{attribute.name} must be a canonical scalar in [0, L)")


@attrs.frozen
class ReshareCommitment:
    """Broadcast by a dealer: the commitment to its resharing polynomial."""

    sender: int = attrs.field(validator=_identifier)
    commitment: VssCommitment = attrs.field(validator=attrs.validators.instance_of(VssCommitment))


@attrs.frozen
class ReshareShare:
    """Sent privately by a dealer to a new participant."""

    sender: int = attrs.field(validator=_identifier)
    recipient: int = attrs.field(validator=_identifier)
    signing_share: int = attrs.field(validator=_scalar, repr=_secret_repr)


def _check_dealers(dealers: Iterable[int], old: PublicKeyPackage) -> tuple[int, ...]:
    members = check_identifiers(dealers, name="reshare dealers")
    unknown = [d for d in members if not old.has(d)]
    if unknown:
        raise InvalidInput(
            "reshare dealer(s) not in the current public key package: "
            + ", ".join(map(str, unknown))
        )
    if len(members) < old.min_signers:
        raise InvalidInput(
            f"{len(members)} reshare dealers; the current key needs {old.min_signers}"
        )
    return members


def reshare_round1(
    key_package: KeyPackage,
    old_public_key_package: PublicKeyPackage,
    dealers: Iterable[int],
    new_identifiers: Iterable[int],
    new_min_signers: int,
    rng: RandomSource,
) -> tuple[ReshareCommitment, tuple[ReshareShare, ...]]:
    """As dealer: share ``λ_d·s_d`` among the new participants with threshold ``new_min_signers``."""
    if not isinstance(key_package, KeyPackage):
        raise InvalidInput(f"expected a KeyPackage, got {type(key_package).__name__}")
    if key_package.verifying_key != old_public_key_package.verifying_key:
        raise CryptoError("key package and public key package have different group keys")
    members = _check_dealers(dealers, old_public_key_package)
    me = key_package.identifier
    if me not in members:
        raise InvalidInput(f"participant {me} is not among the reshare dealers")
    recipients = check_identifiers(new_identifiers, name="new participants")
    check_threshold(new_min_signers, len(recipients))
    weighted = derive_interpolating_value(members, me) * key_package.signing_share % ORDER
    coefficients = [weighted, *(random_nonzero_scalar(rng) for _ in range(new_min_signers - 1))]
    commitment = ReshareCommitment(me, vss_commit(coefficients))
    shares = tuple(ReshareShare(me, r, polynomial_evaluate(r, coefficients)) for r in recipients)
    return commitment, shares


def reshare_finalize(
    identifier: int,
    new_identifiers: Iterable[int],
    new_min_signers: int,
    old_public_key_package: PublicKeyPackage,
    dealers: Iterable[int],
    commitments: Iterable[ReshareCommitment],
    shares: Iterable[ReshareShare],
) -> tuple[KeyPackage, PublicKeyPackage]:
    """As new participant: check every dealer's contribution and assemble the new key.

    Raises :class:`KeyGenerationAborted` naming dealers whose commitment has
    the wrong length, does not commit to ``λ_d·Y_d``, or whose share to us
    does not match it.
    """
    check_identifier(identifier)
    recipients = check_identifiers(new_identifiers, name="new participants")
    check_threshold(new_min_signers, len(recipients))
    if identifier not in recipients:
        raise InvalidInput(f"participant {identifier} is not among the new participants")
    members = _check_dealers(dealers, old_public_key_package)
    by_sender: dict[int, VssCommitment] = {}
    for item in commitments:
        if not isinstance(item, ReshareCommitment):
            raise InvalidInput(f"expected ReshareCommitment, got {type(item).__name__}")
        if item.sender not in members:
            raise InvalidInput(f"reshare commitment from non-dealer {item.sender}")
        if item.sender in by_sender:
            raise InvalidInput(f"duplicate reshare commitment from dealer {item.sender}")
        by_sender[item.sender] = item.commitment
    missing = sorted(set(members) - by_sender.keys())
    if missing:
        raise InvalidInput(
            "missing reshare commitment(s) from dealer(s) " + ", ".join(map(str, missing))
        )
    wrong_length = [d for d in members if by_sender[d].threshold != new_min_signers]
    if wrong_length:
        raise KeyGenerationAborted(
            f"reshare commitment does not have {new_min_signers} coefficients", wrong_length
        )
    wrong_constant = [
        d
        for d in members
        if bytes(by_sender[d].public_key)
        != group.mult(
            old_public_key_package.verifying_share(d), derive_interpolating_value(members, d)
        )
    ]
    if wrong_constant:
        raise KeyGenerationAborted(
            "reshare commitment does not commit to the dealer's weighted share", wrong_constant
        )
    received = collect_shares(identifier, members, shares, kind=ReshareShare)
    complaints = complaints_against(identifier, received, by_sender)
    if complaints:
        raise KeyGenerationAborted(
            "reshare share does not match the dealer's commitment",
            [c.accused for c in complaints],
            complaints,
        )
    public = group_info_from_commitments(
        [by_sender[d] for d in members], recipients, new_min_signers
    )
    if public.verifying_key != old_public_key_package.verifying_key:  # pragma: no cover
        # Unreachable when every constant term checked out; kept as a last guard.
        raise CryptoError("reshared group key differs from the current group key")
    key = KeyPackage(
        identifier=identifier,
        signing_share=sum(received.values()) % ORDER,
        verifying_share=public.verifying_share(identifier),
        verifying_key=public.verifying_key,
        min_signers=new_min_signers,
    )
    return key, public
