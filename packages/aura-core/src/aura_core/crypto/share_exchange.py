"""Receiving secret shares in the dealer-less protocols (DKG, refresh, reshare).

Each of these protocols ends the same way: a participant has one share from
every other contributor, must check each against that contributor's Feldman
commitment (complaining about the ones that fail), and derives the group's
public information from the sum of all commitments.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from aura_core.crypto import ed25519_group as group
from aura_core.crypto.identifiable_abort import ShareComplaint
from aura_core.crypto.keys import PublicKeyPackage
from aura_core.crypto.vss import VssCommitment, evaluate_commitment, sum_commitments, vss_verify
from aura_core.errors import InvalidInput

__all__ = ["collect_shares", "complaints_against", "group_info_from_commitments"]


def collect_shares(
    recipient: int,
    senders: Sequence[int],
    packages: Iterable[object],
    *,
    kind: type,
) -> dict[int, int]:
    """Index share packages addressed to ``recipient`` by sender; exactly one per sender."""
    shares: dict[int, int] = {}
    allowed = set(senders)
    for package in packages:
        if not isinstance(package, kind):
            raise InvalidInput(f"expected {kind.__name__}, got {type(package).__name__}")
        sender = package.sender  # type: ignore[attr-defined]
        if package.recipient != recipient:  # type: ignore[attr-defined]
            raise InvalidInput(
                f"share package from participant {sender} is addressed to "
                f"participant {package.recipient}, not {recipient}"  # type: ignore[attr-defined]
            )
        if sender not in allowed:
            raise InvalidInput(f"share package from unexpected participant {sender}")
        if sender in shares:
            raise InvalidInput(f"duplicate share package from participant {sender}")
        shares[sender] = package.signing_share  # type: ignore[attr-defined]
    missing = sorted(allowed - shares.keys())
    if missing:
        raise InvalidInput(
            "missing share package(s) from participant(s) " + ", ".join(map(str, missing))
        )
    return shares


def complaints_against(
    recipient: int, shares: dict[int, int], commitments: dict[int, VssCommitment]
) -> list[ShareComplaint]:
    """Check each received share against its sender's commitment; one complaint per bad one."""
    return [
        ShareComplaint(recipient, sender, value)
        for sender, value in sorted(shares.items())
        if not vss_verify((recipient, value), commitments[sender])
    ]


def group_info_from_commitments(
    commitments: Sequence[VssCommitment], identifiers: Sequence[int], min_signers: int
) -> PublicKeyPackage:
    """Public key package of Σ f_k: group key Σ C_k0, verifying share of each identifier."""
    summed = sum_commitments(commitments)
    verifying_key = group.to_element(summed[0], name="group verifying key")
    shares = tuple(
        (x, group.to_element(evaluate_commitment(summed, x), name=f"verifying share {x}"))
        for x in identifiers
    )
    return PublicKeyPackage(shares, verifying_key, min_signers)
