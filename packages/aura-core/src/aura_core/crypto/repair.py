"""Repairing a lost share: t helpers rebuild participant r's share, none of them learns it.

This is the repairable threshold scheme of Laing and Stinson. With helper set
H (|H| >= t) and ``ζ_h`` the Lagrange coefficient of h for evaluating at r,
``f(r) = Σ_h ζ_h·f(h)``. Three steps:

1. :func:`repair_share_step_1`: helper h splits ``ζ_h·f(h)`` into |H|
   random additive pieces ``δ_{h,j}`` and sends piece j to helper j.
2. :func:`repair_share_step_2`: helper j sums the pieces it received into
   ``σ_j`` and sends it to r.
3. :func:`repair_share_step_3`: r sums the ``σ_j`` into ``f(r)`` and checks
   it against the verifying share the group already knows for r
   (``Σ_h ζ_h·Y_h`` when r is a newcomer).

Each helper sees one uniformly random piece from every other helper, so no
single helper learns anything about ``f(r)`` or the others' shares; r sees
only sums. All messages need confidential, authenticated channels.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs

from aura_core.crypto import ed25519_group as group
from aura_core.crypto.ed25519_group import ORDER
from aura_core.crypto.keys import KeyPackage, PublicKeyPackage
from aura_core.crypto.participants import check_identifier, check_identifiers
from aura_core.crypto.random_source import RandomSource, random_scalar
from aura_core.crypto.shamir import derive_interpolating_value
from aura_core.errors import CryptoError, InvalidInput

__all__ = [
    "RepairDelta",
    "RepairSigma",
    "repair_share_step_1",
    "repair_share_step_2",
    "repair_share_step_3",
]


def _secret_repr(_value: object) -> str:
    return "<secret>"


def _identifier(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    check_identifier(value, name=attribute.name)


def _scalar(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < ORDER:
        raise InvalidInput(f"{attribute.name} must be a canonical scalar in [0, L)")


@attrs.frozen
class RepairDelta:
    """Step-1 message from helper ``sender`` to helper ``recipient``: one random piece."""

    sender: int = attrs.field(validator=_identifier)
    recipient: int = attrs.field(validator=_identifier)
    target: int = attrs.field(validator=_identifier)
    value: int = attrs.field(validator=_scalar, repr=_secret_repr)


@attrs.frozen
class RepairSigma:
    """Step-2 message from helper ``sender`` to the participant being repaired."""

    sender: int = attrs.field(validator=_identifier)
    target: int = attrs.field(validator=_identifier)
    value: int = attrs.field(validator=_scalar, repr=_secret_repr)


def _check_helpers(helpers: Iterable[int], target: int, min_signers: int) -> tuple[int, ...]:
    members = check_identifiers(helpers, name="repair helpers")
    check_identifier(target, name="participant to repair")
    if target in members:
        raise InvalidInput(f"participant {target} cannot help repair its own share")
    if len(members) < min_signers:
        raise InvalidInput(f"{len(members)} repair helpers; at least {min_signers} needed")
    return members


def repair_share_step_1(
    helpers: Iterable[int],
    key_package: KeyPackage,
    target: int,
    rng: RandomSource,
) -> tuple[RepairDelta, ...]:
    """Split this helper's Lagrange-weighted share into one random piece per helper."""
    if not isinstance(key_package, KeyPackage):
        raise InvalidInput(f"expected a KeyPackage, got {type(key_package).__name__}")
    if key_package.min_signers < 2:
        raise InvalidInput("a 1-of-1 key has no shares to repair")
    members = _check_helpers(helpers, target, key_package.min_signers)
    me = key_package.identifier
    if me not in members:
        raise InvalidInput(f"participant {me} is not among the repair helpers")
    zeta = derive_interpolating_value(members, me, at=target)
    weighted = zeta * key_package.signing_share % ORDER
    pieces = [random_scalar(rng) for _ in range(len(members) - 1)]
    pieces.append((weighted - sum(pieces)) % ORDER)
    return tuple(
        RepairDelta(me, recipient, target, piece)
        for recipient, piece in zip(members, pieces, strict=True)
    )


def repair_share_step_2(
    identifier: int, helpers: Iterable[int], deltas: Iterable[RepairDelta]
) -> RepairSigma:
    """Sum the pieces this helper received (one from every helper, itself included)."""
    members = check_identifiers(helpers, name="repair helpers")
    check_identifier(identifier)
    if identifier not in members:
        raise InvalidInput(f"participant {identifier} is not among the repair helpers")
    received: dict[int, RepairDelta] = {}
    for delta in deltas:
        if not isinstance(delta, RepairDelta):
            raise InvalidInput(f"expected RepairDelta, got {type(delta).__name__}")
        if delta.recipient != identifier:
            raise InvalidInput(
                f"repair piece from participant {delta.sender} is addressed to {delta.recipient}"
            )
        if delta.sender not in members:
            raise InvalidInput(f"repair piece from non-helper {delta.sender}")
        if delta.sender in received:
            raise InvalidInput(f"duplicate repair piece from participant {delta.sender}")
        received[delta.sender] = delta
    missing = sorted(set(members) - received.keys())
    if missing:
        raise InvalidInput("missing repair piece(s) from helper(s) " + ", ".join(map(str, missing)))
    targets = {d.target for d in received.values()}
    if len(targets) != 1:
        raise InvalidInput("repair pieces are for different participants")
    target = targets.pop()
    return RepairSigma(identifier, target, sum(d.value for d in received.values()) % ORDER)


def repair_share_step_3(
    target: int,
    helpers: Sequence[int],
    sigmas: Iterable[RepairSigma],
    public_key_package: PublicKeyPackage,
) -> tuple[KeyPackage, PublicKeyPackage]:
    """Rebuild ``target``'s share from the helpers' sums and check it publicly.

    Returns the key package and the public key package (extended with the
    newcomer's verifying share if ``target`` was not in it). Raises
    :class:`CryptoError` if the result does not match the expected
    verifying share (some helper sent a wrong piece or sum).
    """
    members = _check_helpers(helpers, target, public_key_package.min_signers)
    unknown = [m for m in members if not public_key_package.has(m)]
    if unknown:
        raise InvalidInput(
            "repair helper(s) not in the public key package: " + ", ".join(map(str, unknown))
        )
    received: dict[int, int] = {}
    for sigma in sigmas:
        if not isinstance(sigma, RepairSigma):
            raise InvalidInput(f"expected RepairSigma, got {type(sigma).__name__}")
        if sigma.target != target:
            raise InvalidInput(f"repair sum from {sigma.sender} is for participant {sigma.target}")
        if sigma.sender not in members:
            raise InvalidInput(f"repair sum from non-helper {sigma.sender}")
        if sigma.sender in received:
            raise InvalidInput(f"duplicate repair sum from participant {sigma.sender}")
        received[sigma.sender] = sigma.value
    missing = sorted(set(members) - received.keys())
    if missing:
        raise InvalidInput("missing repair sum(s) from helper(s) " + ", ".join(map(str, missing)))
    share = sum(received.values()) % ORDER
    if public_key_package.has(target):
        expected = bytes(public_key_package.verifying_share(target))
        public = public_key_package
    else:
        point = group.IDENTITY_ENCODING
        for helper in members:
            zeta = derive_interpolating_value(members, helper, at=target)
            point = group.add(point, group.mult(public_key_package.verifying_share(helper), zeta))
        expected = point
        public = PublicKeyPackage(
            (
                *public_key_package.verifying_shares,
                (target, group.to_element(point, name="verifying share")),
            ),
            public_key_package.verifying_key,
            public_key_package.min_signers,
        )
    if share == 0 or group.base_mult(share) != expected:
        raise CryptoError(
            f"repaired share for participant {target} does not match its verifying share"
        )
    key = KeyPackage(
        identifier=target,
        signing_share=share,
        verifying_share=public.verifying_share(target),
        verifying_key=public.verifying_key,
        min_signers=public.min_signers,
    )
    return key, public
