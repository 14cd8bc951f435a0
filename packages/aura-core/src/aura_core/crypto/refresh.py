"""Proactive share refresh: new shares for the same group key.

Each participant deals a random polynomial ``g_k`` of degree ``t - 1`` with
``g_k(0) = 0`` (its commitment therefore omits the constant term) and adds
``Σ_k g_k(i)`` to its share. The group secret, the sum of the constant terms,
is unchanged; every share moves to a fresh polynomial, so shares stolen
before the refresh are useless together with shares from after it.
Sans-IO: :func:`refresh_round1` (broadcast the commitment, send each share
privately), then :func:`refresh_finalize`.

Participants left out of a refresh are dropped from the new public key
package; they can be brought back with :mod:`aura_core.crypto.repair`.
Everyone must erase the old share after finalizing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs

from aura_core.crypto import ed25519_group as group
from aura_core.crypto.ed25519_group import ORDER, Element
from aura_core.crypto.identifiable_abort import KeyGenerationAborted, ShareComplaint
from aura_core.crypto.keys import KeyPackage, PublicKeyPackage
from aura_core.crypto.participants import check_identifier, check_identifiers
from aura_core.crypto.random_source import RandomSource, random_nonzero_scalar
from aura_core.crypto.shamir import polynomial_evaluate
from aura_core.crypto.share_exchange import collect_shares
from aura_core.crypto.vss import evaluate_commitment, vss_commit
from aura_core.errors import CryptoError, InvalidInput

__all__ = [
    "RefreshCommitment",
    "RefreshSecret",
    "RefreshShare",
    "refresh_finalize",
    "refresh_round1",
]


def _secret_repr(_value: object) -> str:
    return "<secret>"


def _identifier(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    check_identifier(value, name=attribute.name)


def _scalar(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < ORDER:
        raise InvalidInput(f"{attribute.name} must be a canonical scalar in [0, L)")


def _to_elements(values: object) -> tuple[Element, ...]:
    if isinstance(values, bytes | str) or not isinstance(values, Iterable):
        raise InvalidInput("refresh commitment must be a sequence of elements")
    return tuple(
        group.deserialize_element(v, name=f"refresh commitment coefficient {j + 1}")
        for j, v in enumerate(values)
    )


def _non_empty(_instance: object, _attribute: object, value: tuple[Element, ...]) -> None:
    if not value:
        raise InvalidInput("refresh commitment has no coefficients")


@attrs.frozen
class RefreshCommitment:
    """Broadcast: commitments to coefficients 1..t-1 of a polynomial with zero constant."""

    sender: int = attrs.field(validator=_identifier)
    coefficients: tuple[Element, ...] = attrs.field(converter=_to_elements, validator=_non_empty)

    def as_points(self) -> tuple[bytes, ...]:
        """The full commitment, identity first (the zero constant term)."""
        return (group.IDENTITY_ENCODING, *self.coefficients)


@attrs.frozen
class RefreshShare:
    """Sent privately: the sender's zero-polynomial evaluated at the recipient."""

    sender: int = attrs.field(validator=_identifier)
    recipient: int = attrs.field(validator=_identifier)
    signing_share: int = attrs.field(validator=_scalar, repr=_secret_repr)


@attrs.frozen
class RefreshSecret:
    """Kept between the two steps: who takes part and our own contribution."""

    identifier: int = attrs.field(validator=_identifier)
    participants: tuple[int, ...]
    own_delta: int = attrs.field(repr=_secret_repr)
    commitment: RefreshCommitment


def _check_participants(
    key_package: KeyPackage, public_key_package: PublicKeyPackage, participants: Iterable[int]
) -> tuple[int, ...]:
    members = check_identifiers(participants, name="refresh participants")
    if key_package.verifying_key != public_key_package.verifying_key:
        raise CryptoError("key package and public key package have different group keys")
    if key_package.identifier not in members:
        raise InvalidInput(
            f"participant {key_package.identifier} is not among the refresh participants"
        )
    unknown = [m for m in members if not public_key_package.has(m)]
    if unknown:
        raise InvalidInput(
            "refresh participant(s) not in the public key package: " + ", ".join(map(str, unknown))
        )
    if len(members) < key_package.min_signers:
        raise InvalidInput(
            f"{len(members)} refresh participants; at least {key_package.min_signers} needed"
        )
    if key_package.min_signers < 2:
        raise InvalidInput("a 1-of-1 key has no shares to refresh")
    return members


def refresh_round1(
    key_package: KeyPackage,
    public_key_package: PublicKeyPackage,
    participants: Iterable[int],
    rng: RandomSource,
) -> tuple[RefreshSecret, RefreshCommitment, tuple[RefreshShare, ...]]:
    """Deal a zero-constant polynomial: broadcast its commitment, send each share privately."""
    members = _check_participants(key_package, public_key_package, participants)
    me = key_package.identifier
    coefficients = [0, *(random_nonzero_scalar(rng) for _ in range(key_package.min_signers - 1))]
    commitment = RefreshCommitment(me, vss_commit(coefficients[1:]).coefficients)
    shares = tuple(
        RefreshShare(me, m, polynomial_evaluate(m, coefficients)) for m in members if m != me
    )
    secret = RefreshSecret(me, members, polynomial_evaluate(me, coefficients), commitment)
    return secret, commitment, shares


def _sum_points(commitments: Sequence[RefreshCommitment]) -> tuple[bytes, ...]:
    totals = list(commitments[0].as_points())
    for commitment in commitments[1:]:
        for j, point in enumerate(commitment.as_points()):
            totals[j] = group.add(totals[j], point)
    return tuple(totals)


def refresh_finalize(
    secret: RefreshSecret,
    key_package: KeyPackage,
    public_key_package: PublicKeyPackage,
    commitments: Iterable[RefreshCommitment],
    shares: Iterable[RefreshShare],
) -> tuple[KeyPackage, PublicKeyPackage]:
    """Check every received refresh share and move to the refreshed key package.

    Raises :class:`KeyGenerationAborted` naming senders whose commitment has
    the wrong length or whose share does not match it.
    """
    if not isinstance(secret, RefreshSecret):
        raise InvalidInput(f"expected RefreshSecret, got {type(secret).__name__}")
    me = secret.identifier
    if key_package.identifier != me:
        raise InvalidInput("refresh state and key package belong to different participants")
    others = [m for m in secret.participants if m != me]
    by_sender: dict[int, RefreshCommitment] = {}
    for commitment in commitments:
        if not isinstance(commitment, RefreshCommitment):
            raise InvalidInput(f"expected RefreshCommitment, got {type(commitment).__name__}")
        if commitment.sender == me:
            continue
        if commitment.sender not in others:
            raise InvalidInput(f"refresh commitment from non-participant {commitment.sender}")
        if commitment.sender in by_sender:
            raise InvalidInput(f"duplicate refresh commitment from participant {commitment.sender}")
        by_sender[commitment.sender] = commitment
    missing = sorted(set(others) - by_sender.keys())
    if missing:
        raise InvalidInput(
            "missing refresh commitment(s) from participant(s) " + ", ".join(map(str, missing))
        )
    degree = key_package.min_signers - 1
    wrong = [s for s, c in sorted(by_sender.items()) if len(c.coefficients) != degree]
    if wrong:
        raise KeyGenerationAborted(f"refresh commitment does not have {degree} coefficients", wrong)
    received = collect_shares(me, others, shares, kind=RefreshShare)
    complaints = [
        ShareComplaint(me, sender, value)
        for sender, value in sorted(received.items())
        if group.base_mult(value) != evaluate_commitment(by_sender[sender].as_points(), me)
    ]
    if complaints:
        raise KeyGenerationAborted(
            "refresh share does not match the sender's commitment",
            [c.accused for c in complaints],
            complaints,
        )
    new_share = (key_package.signing_share + secret.own_delta + sum(received.values())) % ORDER
    summed = _sum_points([secret.commitment, *by_sender.values()])
    verifying_shares = []
    for member in secret.participants:
        delta = evaluate_commitment(summed, member)
        point = group.add(public_key_package.verifying_share(member), delta)
        verifying_shares.append((member, group.to_element(point, name=f"verifying share {member}")))
    public = PublicKeyPackage(
        tuple(verifying_shares), public_key_package.verifying_key, public_key_package.min_signers
    )
    refreshed = KeyPackage(
        identifier=me,
        signing_share=new_share,
        verifying_share=public.verifying_share(me),
        verifying_key=public.verifying_key,
        min_signers=key_package.min_signers,
    )
    return refreshed, public
