"""What a consensus decision is bound to: instance id, prestate, operation, signers.

* ``operation_hash = H("AURA_CONSENSUS_OPERATION_V1" || DAG-CBOR(op))``;
* ``rid = H("AURA_OP_BINDING" || prestate_hash || DAG-CBOR(op))`` names
  "this operation on this state" (what a witness votes for);
* the FROST group signs :func:`decision_message`, which binds the consensus
  id, prestate hash, rid, group key, threshold and the exact signer set, so
  a threshold signature can never be replayed for another instance, another
  operation, another key or another claimed set of participants.

A :class:`ConsensusId` names one single-shot instance. Derive it from the
*slot* being decided (e.g. "the next change of this authority's tree"), not
from the operation: competing operations for the same slot then share the
id and at most one of them can commit on a given prestate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from aura_core import dag_cbor
from aura_core.errors import InvalidEncoding, InvalidInput
from aura_core.hashing import tagged_hash
from aura_core.identifiers import Hash32

__all__ = [
    "BINDING_DOMAIN",
    "DECISION_DOMAIN",
    "MAX_OPERATION_BYTES",
    "OPERATION_DOMAIN",
    "ConsensusId",
    "binding_rid",
    "check_operation_bytes",
    "decision_message",
    "encode_operation",
    "operation_hash",
]

BINDING_DOMAIN = "AURA_OP_BINDING"
OPERATION_DOMAIN = "AURA_CONSENSUS_OPERATION_V1"
DECISION_DOMAIN = "AURA_CONSENSUS_DECISION_V1"
_CONSENSUS_ID_DOMAIN = "AURA_CONSENSUS_ID_V1"

MAX_OPERATION_BYTES = 64 * 1024
"""Largest operation a consensus instance carries (operations are small state changes)."""


class ConsensusId(Hash32):
    """One single-shot consensus instance, printed ``consensus:<hex>``."""

    prefix: ClassVar[str] = "consensus"

    @classmethod
    def for_slot(cls, scope: bytes, prestate_hash: bytes, slot: bytes) -> ConsensusId:
        """The instance deciding ``slot`` of ``scope`` (an authority or context id) on a prestate."""
        for name, value in (("scope", scope), ("prestate_hash", prestate_hash), ("slot", slot)):
            if type(value) is not bytes or not value:
                raise InvalidInput(f"ConsensusId.for_slot: {name} must be non-empty bytes")
        return cls(tagged_hash(_CONSENSUS_ID_DOMAIN, scope, prestate_hash, slot))


def _hash32(name: str, value: object) -> bytes:
    if type(value) is not bytes or len(value) != 32:
        raise InvalidInput(f"{name} must be 32 bytes")
    return value


def encode_operation(operation: object) -> bytes:
    """The canonical DAG-CBOR bytes of an operation value (what witnesses vote on)."""
    data = dag_cbor.encode(operation)
    if len(data) > MAX_OPERATION_BYTES:
        raise InvalidInput(f"operation is {len(data)} bytes, more than {MAX_OPERATION_BYTES}")
    return data


def check_operation_bytes(data: object) -> bytes:
    """``data`` if it is the canonical DAG-CBOR encoding of some value, else :class:`InvalidEncoding`."""
    if type(data) is not bytes:
        raise InvalidEncoding(f"operation must be bytes, got {type(data).__name__}")
    if not data:
        raise InvalidEncoding("operation is empty")
    if len(data) > MAX_OPERATION_BYTES:
        raise InvalidEncoding(f"operation is {len(data)} bytes, more than {MAX_OPERATION_BYTES}")
    dag_cbor.decode(data)  # strict: raises InvalidEncoding unless canonical
    return data


def operation_hash(operation_bytes: bytes) -> bytes:
    return tagged_hash(OPERATION_DOMAIN, operation_bytes)


def binding_rid(prestate_hash: bytes, operation_bytes: bytes) -> bytes:
    """The request id witnesses vote for: this operation applied to this prestate."""
    return tagged_hash(BINDING_DOMAIN, _hash32("prestate_hash", prestate_hash), operation_bytes)


def decision_message(
    consensus_id: ConsensusId,
    prestate_hash: bytes,
    rid: bytes,
    group_public_key: bytes,
    threshold: int,
    participants: Sequence[int],
) -> bytes:
    """The 32-byte message the witnesses' FROST shares sign."""
    if not isinstance(consensus_id, ConsensusId):
        raise InvalidInput(f"expected a ConsensusId, got {type(consensus_id).__name__}")
    if type(threshold) is not int or not 1 <= threshold <= 65535:
        raise InvalidInput("threshold must be an integer in 1..65535")
    ids = b"".join(i.to_bytes(2, "big") for i in participants)
    return tagged_hash(
        DECISION_DOMAIN,
        consensus_id.raw,
        _hash32("prestate_hash", prestate_hash),
        _hash32("rid", rid),
        _hash32("group_public_key", group_public_key),
        threshold.to_bytes(2, "big"),
        ids,
    )
