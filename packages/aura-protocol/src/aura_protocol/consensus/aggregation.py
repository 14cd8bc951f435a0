"""Signing a decision message and assembling t shares into a CommitFact.

Both the initiator (fast path) and any witness (fallback) aggregate, so the
two steps live here once: :func:`sign_decision` for a witness's share of one
package, :func:`assemble_commit` for the aggregator. ``aggregate`` verifies
the final signature and, if it fails, names the witnesses whose shares were
bad (identifiable abort), which the caller then excludes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aura_core.crypto import (
    KeyPackage,
    SignatureShare,
    SigningCommitments,
    SigningNonces,
    SigningPackage,
    aggregate,
    sign,
)
from aura_core.errors import InvalidInput
from aura_core.time_domains import PhysicalTime
from aura_protocol.consensus.binding import (
    ConsensusId,
    binding_rid,
    decision_message,
    operation_hash,
)
from aura_protocol.consensus.commit_fact import CommitFact
from aura_protocol.consensus.witness_set import WitnessSet

__all__ = ["assemble_commit", "physical_time", "sign_decision", "signing_package"]


def signing_package(
    witnesses: WitnessSet,
    consensus_id: ConsensusId,
    prestate_hash: bytes,
    rid: bytes,
    commitments: Sequence[SigningCommitments],
) -> SigningPackage:
    """The FROST package for ``rid`` signed by exactly the owners of ``commitments``."""
    participants = tuple(c.identifier for c in commitments)
    message = decision_message(
        consensus_id,
        prestate_hash,
        rid,
        witnesses.group_public_key,
        witnesses.threshold,
        participants,
    )
    return SigningPackage(tuple(commitments), message)


def sign_decision(
    witnesses: WitnessSet,
    key_package: KeyPackage,
    nonces: SigningNonces,
    consensus_id: ConsensusId,
    prestate_hash: bytes,
    rid: bytes,
    commitments: Sequence[SigningCommitments],
) -> int:
    """This witness's signature share (``z_i``) for ``rid`` in the given package."""
    package = signing_package(witnesses, consensus_id, prestate_hash, rid, commitments)
    return sign(package, nonces, key_package).share


def physical_time(now: float) -> PhysicalTime:
    """The commit timestamp: the driver's clock reading in whole milliseconds."""
    return PhysicalTime(max(0, int(now * 1000)))


def assemble_commit(
    witnesses: WitnessSet,
    consensus_id: ConsensusId,
    prestate_hash: bytes,
    operation: bytes,
    commitments: Sequence[SigningCommitments],
    shares: Mapping[int, int],
    *,
    now: float,
    fast_path: bool,
) -> CommitFact:
    """Aggregate one share per package member into a verified :class:`CommitFact`.

    Raises :class:`~aura_core.crypto.InvalidSignatureShares` naming bad signers.
    """
    if len(commitments) < witnesses.threshold:
        raise InvalidInput(
            f"a package of {len(commitments)} signers is below the threshold {witnesses.threshold}"
        )
    rid = binding_rid(prestate_hash, operation)
    package = signing_package(witnesses, consensus_id, prestate_hash, rid, commitments)
    signature = aggregate(
        package,
        [SignatureShare(c.identifier, shares[c.identifier]) for c in commitments],
        witnesses.public_key_package,
    )
    return CommitFact(
        consensus_id=consensus_id,
        prestate_hash=prestate_hash,
        operation_hash=operation_hash(operation),
        operation_bytes=operation,
        threshold_signature=signature,
        group_public_key=witnesses.group_public_key,
        participants=tuple(c.identifier for c in commitments),
        threshold=witnesses.threshold,
        timestamp=physical_time(now),
        fast_path=fast_path,
    )
