"""What the consensus cores report to their driver besides messages to send.

Drivers drain :meth:`take_events` after every call. One rule matters for
safety: a :class:`VoteRecorded` event must be stored durably *before* any
message returned by the same call is sent, because that message may carry
the vote, and a witness that forgot its vote after a crash could vote again.
"""

from __future__ import annotations

from typing import Any

import attrs

from aura_core import dag_cbor
from aura_core.canonical_fields import read_bytes, read_map, read_uint
from aura_core.errors import InvalidEncoding, InvalidInput
from aura_protocol.consensus.binding import MAX_OPERATION_BYTES, ConsensusId, check_operation_bytes
from aura_protocol.consensus.commit_fact import CommitFact
from aura_protocol.consensus.equivocation import EquivocationProof

__all__ = [
    "ConsensusEvent",
    "Decided",
    "EquivocationDetected",
    "FallbackStarted",
    "MessageRejected",
    "ProposalAbandoned",
    "VoteRecord",
    "VoteRecorded",
]


@attrs.frozen
class VoteRecord:
    """A witness's durable vote: which rid (and operation) it signs for one instance.

    ``round`` is the last fallback offer round it used, so a restarted witness
    continues above it and its new offers supersede the lost ones.
    """

    consensus_id: ConsensusId
    prestate_hash: bytes
    rid: bytes
    operation: bytes
    round: int = 0

    @property
    def instance(self) -> tuple[ConsensusId, bytes]:
        return (self.consensus_id, self.prestate_hash)

    def encode(self) -> bytes:
        return dag_cbor.encode(
            {
                "cid": self.consensus_id.raw,
                "prestate": self.prestate_hash,
                "rid": self.rid,
                "op": self.operation,
                "round": self.round,
            }
        )

    @classmethod
    def decode(cls, data: bytes) -> VoteRecord:
        if type(data) is not bytes:
            raise InvalidEncoding("a vote record is decoded from bytes")
        fields: dict[str, Any] = read_map(
            dag_cbor.decode(data), "vote record", ("cid", "prestate", "rid", "op", "round")
        )
        try:
            return cls(
                ConsensusId(read_bytes(fields["cid"], "vote record consensus id", size=32)),
                read_bytes(fields["prestate"], "vote record prestate", size=32),
                read_bytes(fields["rid"], "vote record rid", size=32),
                check_operation_bytes(
                    read_bytes(fields["op"], "vote record operation", max_size=MAX_OPERATION_BYTES)
                ),
                read_uint(fields["round"], "vote record round"),
            )
        except InvalidEncoding:
            raise
        except InvalidInput as exc:
            raise InvalidEncoding(f"invalid vote record: {exc.message}") from None

    @property
    def storage_key(self) -> bytes:
        """``cid || prestate``: one record per instance (a new round overwrites it)."""
        return self.consensus_id.raw + self.prestate_hash


@attrs.frozen
class VoteRecorded:
    """Persist ``record`` before sending this call's messages."""

    record: VoteRecord


@attrs.frozen
class Decided:
    """An instance is decided. ``aggregated_here``: this node assembled the signature."""

    fact: CommitFact
    aggregated_here: bool


@attrs.frozen
class EquivocationDetected:
    """A witness signed two rids for one instance; its shares are now excluded."""

    proof: EquivocationProof


@attrs.frozen
class FallbackStarted:
    """The fast path of an instance gave way to gossip; ``reason`` says why."""

    consensus_id: ConsensusId
    prestate_hash: bytes
    reason: str


@attrs.frozen
class MessageRejected:
    """A message was dropped; ``reason`` names what was wrong with it."""

    source: str
    reason: str


@attrs.frozen
class ProposalAbandoned:
    """An initiator stopped waiting for a decision (``abandon_after_s`` passed)."""

    consensus_id: ConsensusId
    prestate_hash: bytes


ConsensusEvent = (
    VoteRecorded
    | Decided
    | EquivocationDetected
    | FallbackStarted
    | MessageRejected
    | ProposalAbandoned
)
