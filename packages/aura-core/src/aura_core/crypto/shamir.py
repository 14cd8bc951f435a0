"""Shamir secret sharing over the Ed25519 scalar field (RFC 9591 Appendix C.1).

Polynomials are lists of coefficients, constant term first. These are the
RFC's helper functions under their RFC names; every key-management protocol
(dealer, DKG, refresh, repair, reshare) is built from them.
"""

from __future__ import annotations

from collections.abc import Sequence

from aura_core.crypto.ed25519_group import ORDER
from aura_core.crypto.participants import check_identifier, check_identifiers
from aura_core.errors import InvalidInput

__all__ = [
    "derive_interpolating_value",
    "polynomial_evaluate",
    "polynomial_interpolate_constant",
    "secret_share_combine",
    "secret_share_shard",
]


def polynomial_evaluate(x: int, coefficients: Sequence[int]) -> int:
    """Evaluate the polynomial at ``x`` by Horner's rule, modulo L."""
    value = 0
    for coefficient in reversed(coefficients):
        value = (value * x + coefficient) % ORDER
    return value


def derive_interpolating_value(x_coordinates: Sequence[int], x_i: int, *, at: int = 0) -> int:
    """Lagrange coefficient of ``x_i`` over ``x_coordinates``, evaluated at ``at``.

    With ``at=0`` this is RFC 9591's ``derive_interpolating_value``. Repair uses
    other evaluation points to rebuild a share at a missing participant's x.
    Raises :class:`InvalidInput` if ``x_i`` is absent or a coordinate repeats.
    """
    if x_i not in x_coordinates:
        raise InvalidInput(f"invalid parameters: identifier {x_i} is not among the signers")
    if len(set(x_coordinates)) != len(x_coordinates):
        raise InvalidInput("invalid parameters: duplicate identifier among the signers")
    numerator = 1
    denominator = 1
    for x_j in x_coordinates:
        if x_j == x_i:
            continue
        numerator = numerator * (x_j - at) % ORDER
        denominator = denominator * (x_j - x_i) % ORDER
    return numerator * pow(denominator, -1, ORDER) % ORDER


def secret_share_shard(
    secret: int,
    coefficients: Sequence[int],
    max_participants: int,
    *,
    identifiers: Sequence[int] | None = None,
) -> tuple[list[tuple[int, int]], list[int]]:
    """Split ``secret`` with the given higher coefficients into shares.

    Returns ``(shares, coefficients)`` with shares ``(x, f(x))`` for
    ``x = 1..max_participants`` (or for the given identifiers) and the full
    coefficient list ``[secret, *coefficients]``.
    """
    if identifiers is None:
        xs: Sequence[int] = range(1, max_participants + 1)
    else:
        xs = check_identifiers(identifiers)
        if len(xs) != max_participants:
            raise InvalidInput(f"{len(xs)} identifiers given for {max_participants} participants")
    full = [secret % ORDER, *(c % ORDER for c in coefficients)]
    return [(x, polynomial_evaluate(x, full)) for x in xs], full


def polynomial_interpolate_constant(points: Sequence[tuple[int, int]]) -> int:
    """f(0) of the polynomial through ``points`` (distinct nonzero x)."""
    xs = [check_identifier(x, name="x-coordinate") for x, _ in points]
    total = 0
    for x, y in points:
        total = (total + y * derive_interpolating_value(xs, x)) % ORDER
    return total


def secret_share_combine(shares: Sequence[tuple[int, int]], min_participants: int) -> int:
    """Recover the secret from at least ``min_participants`` shares."""
    if len(shares) < min_participants:
        raise InvalidInput(
            f"invalid parameters: {len(shares)} shares given, {min_participants} needed"
        )
    return polynomial_interpolate_constant(shares)
