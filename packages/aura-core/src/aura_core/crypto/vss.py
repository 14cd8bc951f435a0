"""Feldman verifiable secret sharing (RFC 9591 Appendix C.2).

A commitment to a polynomial is the list of its coefficients times the base
point. Anyone holding it can compute the public image ``f(x)·B`` of any
share, which is how participants check the shares they receive and how every
participant's verifying share is derived without learning any secret.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from aura_core.crypto import ed25519_group as group
from aura_core.crypto.ed25519_group import ORDER, Element
from aura_core.crypto.identifiable_abort import ShareComplaint
from aura_core.crypto.participants import check_identifier
from aura_core.errors import InvalidInput

__all__ = [
    "VssCommitment",
    "complaint_is_justified",
    "derive_group_info",
    "evaluate_commitment",
    "sum_commitments",
    "vss_commit",
    "vss_verify",
]


def _to_elements(values: Sequence[object]) -> tuple[Element, ...]:
    if isinstance(values, bytes | str):
        raise InvalidInput("VSS commitment must be a sequence of elements")
    return tuple(
        group.deserialize_element(v, name=f"VSS commitment coefficient {j}")
        for j, v in enumerate(values)
    )


def _non_empty(_instance: object, _attribute: object, value: tuple[Element, ...]) -> None:
    if not value:
        raise InvalidInput("VSS commitment has no coefficients")


@attrs.frozen
class VssCommitment:
    """Commitments ``a_j·B`` to the coefficients of a secret polynomial, a_0 first.

    Its length is the threshold; its first element is the public key of the
    shared secret.
    """

    coefficients: tuple[Element, ...] = attrs.field(converter=_to_elements, validator=_non_empty)

    @property
    def threshold(self) -> int:
        return len(self.coefficients)

    @property
    def public_key(self) -> Element:
        return self.coefficients[0]


def vss_commit(coefficients: Sequence[int]) -> VssCommitment:
    """Commit to each coefficient; zero coefficients are refused (identity)."""
    points = []
    for j, coefficient in enumerate(coefficients):
        points.append(
            group.to_element(group.base_mult(coefficient), name=f"commitment to coefficient {j}")
        )
    return VssCommitment(tuple(points))


def evaluate_commitment(commitment: VssCommitment | Sequence[bytes], x: int) -> bytes:
    """``Σ_j C_j·x^j``: the public image ``f(x)·B`` of the share at ``x``.

    Returns raw bytes (possibly the identity encoding).
    """
    coefficients = commitment.coefficients if isinstance(commitment, VssCommitment) else commitment
    result = coefficients[0]
    power = 1
    for point in coefficients[1:]:
        power = power * x % ORDER
        result = group.add(result, group.mult(point, power))
    return result


def vss_verify(share: tuple[int, int], commitment: VssCommitment) -> bool:
    """RFC 9591 ``vss_verify``: does ``share = (i, s_i)`` lie on the committed polynomial?"""
    identifier, value = share
    check_identifier(identifier)
    if not 0 <= value < ORDER:
        return False
    return group.base_mult(value) == evaluate_commitment(commitment, identifier)


def sum_commitments(commitments: Sequence[VssCommitment]) -> tuple[bytes, ...]:
    """Coefficient-wise sum of equal-length commitments: the commitment to Σ f_k.

    Raw bytes, because a sum may be the identity (e.g. a refresh polynomial).
    """
    if not commitments:
        raise InvalidInput("no commitments to sum")
    length = commitments[0].threshold
    if any(c.threshold != length for c in commitments):
        raise InvalidInput("commitments to sum have different lengths")
    totals: list[bytes] = list(commitments[0].coefficients)
    for commitment in commitments[1:]:
        for j, point in enumerate(commitment.coefficients):
            totals[j] = group.add(totals[j], point)
    return tuple(totals)


def derive_group_info(
    max_participants: int,
    min_participants: int,
    commitment: VssCommitment,
    *,
    identifiers: Sequence[int] | None = None,
) -> tuple[Element, tuple[tuple[int, Element], ...]]:
    """RFC 9591 ``derive_group_info``: group key and every participant's verifying share."""
    if commitment.threshold != min_participants:
        raise InvalidInput(
            f"commitment has {commitment.threshold} coefficients, expected {min_participants}"
        )
    xs = range(1, max_participants + 1) if identifiers is None else identifiers
    shares = tuple(
        (x, group.to_element(evaluate_commitment(commitment, x), name=f"verifying share {x}"))
        for x in xs
    )
    return commitment.public_key, shares


def complaint_is_justified(complaint: ShareComplaint, accused_commitment: VssCommitment) -> bool:
    """True if the complained-about share really is inconsistent with the commitment."""
    return not vss_verify((complaint.accuser, complaint.share), accused_commitment)
