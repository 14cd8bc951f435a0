"""Consensus wire messages: frozen values with one canonical DAG-CBOR form each.

Every message is a map ``{"t": <type>, "v": 1, ...fields}``. :func:`decode_message`
is strict — wrong type tag, version, missing or extra field, bad length, bad
point, non-canonical bytes, oversize input — and raises only
:class:`~aura_core.errors.InvalidEncoding`, so a witness fed hostile bytes
drops them and carries on.

Flow (see ``docs/consensus.md``)::

    initiator -> witnesses   CommitRequest      (first contact / new epoch only)
    witness   -> initiator   CommitOffer        nonce commitments
    initiator -> witnesses   Execute            op + prestate + signing package
    witness   -> initiator   ExecuteReply       signed vote or share (+ next commitments)
                             Refusal            prestate / epoch / operation / locked
    anyone    -> witnesses   Gossip             fallback: ops, signed statements, proofs
    anyone    -> anyone      CommitNotice       the decision
"""

from __future__ import annotations

from typing import Any

import attrs

from aura_core import dag_cbor
from aura_core.canonical_fields import read_bytes, read_choice, read_list, read_map, read_uint
from aura_core.crypto import SigningCommitments
from aura_core.errors import InvalidEncoding, InvalidInput
from aura_protocol.consensus._wire_fields import (
    commitments_to_canonical,
    read_commitment,
    read_commitment_list,
)
from aura_protocol.consensus.binding import MAX_OPERATION_BYTES, ConsensusId, check_operation_bytes
from aura_protocol.consensus.commit_fact import CommitFact
from aura_protocol.consensus.equivocation import EquivocationProof
from aura_protocol.consensus.votes import SignedVote
from aura_protocol.consensus.witness_set import MAX_WITNESSES

__all__ = [
    "MAX_GOSSIP_OPERATIONS",
    "MAX_GOSSIP_VOTES",
    "MAX_MESSAGE_BYTES",
    "REFUSAL_REASONS",
    "CommitNotice",
    "CommitOffer",
    "CommitRequest",
    "ConsensusMessage",
    "Execute",
    "ExecuteReply",
    "Gossip",
    "Refusal",
    "decode_message",
    "encode_message",
]

VERSION = 1
MAX_MESSAGE_BYTES = 1 << 20
MAX_GOSSIP_OPERATIONS = 8
MAX_GOSSIP_VOTES = 1024
MAX_OFFERED_COMMITMENTS = 16
REFUSAL_REASONS = ("prestate", "epoch", "operation", "locked", "busy")


def _u64(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not int or not 0 <= value < 2**64:
        raise InvalidInput(f"{attribute.name} must be an integer in 0..2**64-1")


def _hash32(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not bytes or len(value) != 32:
        raise InvalidInput(f"{attribute.name} must be 32 bytes")


def _identifier(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not int or not 1 <= value <= 65535:
        raise InvalidInput(f"{attribute.name} must be an integer in 1..65535")


def _tuple_of(kind: type, limit: int) -> Any:
    def convert(value: object) -> tuple[Any, ...]:
        if isinstance(value, bytes | str | dict):
            raise InvalidInput(f"expected a sequence of {kind.__name__}")
        items = tuple(value)  # type: ignore[call-overload]
        if len(items) > limit:
            raise InvalidInput(f"more than {limit} {kind.__name__} values")
        for item in items:
            if not isinstance(item, kind):
                raise InvalidInput(f"expected {kind.__name__}, got {type(item).__name__}")
        return items

    return convert


def _operation(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not bytes or not 0 < len(value) <= MAX_OPERATION_BYTES:
        raise InvalidInput(f"operation must be 1..{MAX_OPERATION_BYTES} bytes")


@attrs.frozen
class CommitRequest:
    """Initiator asks a witness for ``count`` fresh nonce commitments (key epoch ``epoch``)."""

    TAG = "commit_request"
    epoch: int = attrs.field(validator=_u64)
    count: int = attrs.field(default=1)

    @count.validator
    def _check_count(self, _attribute: attrs.Attribute, value: object) -> None:
        if type(value) is not int or not 1 <= value <= MAX_OFFERED_COMMITMENTS:
            raise InvalidInput(f"CommitRequest.count must be 1..{MAX_OFFERED_COMMITMENTS}")

    def fields(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "count": self.count}

    @classmethod
    def from_fields(cls, f: dict[str, Any]) -> CommitRequest:
        return cls(
            read_uint(f["epoch"], "epoch"),
            read_uint(f["count"], "count", minimum=1, maximum=MAX_OFFERED_COMMITMENTS),
        )


@attrs.frozen
class CommitOffer:
    """A witness's fresh nonce commitments for the initiator's next fast-path rounds."""

    TAG = "commit_offer"
    epoch: int = attrs.field(validator=_u64)
    witness: int = attrs.field(validator=_identifier)
    commitments: tuple[SigningCommitments, ...] = attrs.field(
        converter=_tuple_of(SigningCommitments, MAX_OFFERED_COMMITMENTS)
    )

    def __attrs_post_init__(self) -> None:
        if any(c.identifier != self.witness for c in self.commitments):
            raise InvalidInput("a commit offer carries only the witness's own commitments")

    def fields(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "witness": self.witness,
            "commitments": commitments_to_canonical(self.commitments),
        }

    @classmethod
    def from_fields(cls, f: dict[str, Any]) -> CommitOffer:
        items = read_list(f["commitments"], "commitments", max_items=MAX_OFFERED_COMMITMENTS)
        return cls(
            read_uint(f["epoch"], "epoch"),
            read_uint(f["witness"], "witness", minimum=1, maximum=65535),
            tuple(read_commitment(item, "offered commitment") for item in items),
        )


@attrs.frozen
class Execute:
    """Initiator's proposal: sign ``operation`` on ``prestate_hash`` with this package."""

    TAG = "execute"
    consensus_id: ConsensusId = attrs.field(validator=attrs.validators.instance_of(ConsensusId))
    prestate_hash: bytes = attrs.field(validator=_hash32)
    epoch: int = attrs.field(validator=_u64)
    operation: bytes = attrs.field(validator=_operation, repr=lambda b: f"<{len(b)} bytes>")
    package: tuple[SigningCommitments, ...] = attrs.field(
        converter=_tuple_of(SigningCommitments, MAX_WITNESSES)
    )

    def __attrs_post_init__(self) -> None:
        ids = [c.identifier for c in self.package]
        if not ids or ids != sorted(set(ids)):
            raise InvalidInput("Execute.package must be non-empty and sorted by identifier")

    def fields(self) -> dict[str, Any]:
        return {
            "cid": self.consensus_id.raw,
            "prestate": self.prestate_hash,
            "epoch": self.epoch,
            "op": self.operation,
            "package": commitments_to_canonical(self.package),
        }

    @classmethod
    def from_fields(cls, f: dict[str, Any]) -> Execute:
        return cls(
            ConsensusId(read_bytes(f["cid"], "consensus id", size=32)),
            read_bytes(f["prestate"], "prestate hash", size=32),
            read_uint(f["epoch"], "epoch"),
            check_operation_bytes(read_bytes(f["op"], "operation", max_size=MAX_OPERATION_BYTES)),
            read_commitment_list(f["package"], "signing package", max_items=MAX_WITNESSES),
        )


@attrs.frozen
class ExecuteReply:
    """A witness's signed vote (or share) plus commitments for the initiator's next round."""

    TAG = "reply"
    vote: SignedVote = attrs.field(validator=attrs.validators.instance_of(SignedVote))
    next_commitments: tuple[SigningCommitments, ...] = attrs.field(
        default=(), converter=_tuple_of(SigningCommitments, MAX_OFFERED_COMMITMENTS)
    )

    def __attrs_post_init__(self) -> None:
        if any(c.identifier != self.vote.statement.witness for c in self.next_commitments):
            raise InvalidInput("a reply piggybacks only the witness's own commitments")
        if self.vote.statement.kind == "offer":
            raise InvalidInput("a reply carries a vote or a share, not fallback offers")

    def fields(self) -> dict[str, Any]:
        return {
            "vote": self.vote.to_canonical(),
            "next": commitments_to_canonical(self.next_commitments),
        }

    @classmethod
    def from_fields(cls, f: dict[str, Any]) -> ExecuteReply:
        items = read_list(f["next"], "next commitments", max_items=MAX_OFFERED_COMMITMENTS)
        return cls(
            SignedVote.from_canonical(f["vote"]),
            tuple(read_commitment(item, "next commitment") for item in items),
        )


@attrs.frozen
class Refusal:
    """A witness will not vote for this proposal; ``reason`` says why.

    ``locked`` carries the witness's signed vote for the rid it is locked on.
    """

    TAG = "refusal"
    consensus_id: ConsensusId = attrs.field(validator=attrs.validators.instance_of(ConsensusId))
    prestate_hash: bytes = attrs.field(validator=_hash32)
    witness: int = attrs.field(validator=_identifier)
    reason: str = attrs.field()
    locked_vote: SignedVote | None = None

    @reason.validator
    def _check_reason(self, _attribute: attrs.Attribute, value: object) -> None:
        if value not in REFUSAL_REASONS:
            raise InvalidInput(f"Refusal.reason must be one of {list(REFUSAL_REASONS)}")

    def __attrs_post_init__(self) -> None:
        if (self.reason == "locked") != (self.locked_vote is not None):
            raise InvalidInput("a 'locked' refusal, and only that, carries the locked vote")

    def fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "cid": self.consensus_id.raw,
            "prestate": self.prestate_hash,
            "witness": self.witness,
            "reason": self.reason,
        }
        if self.locked_vote is not None:
            out["locked"] = self.locked_vote.to_canonical()
        return out

    @classmethod
    def from_fields(cls, f: dict[str, Any]) -> Refusal:
        locked = f.get("locked")
        return cls(
            ConsensusId(read_bytes(f["cid"], "consensus id", size=32)),
            read_bytes(f["prestate"], "prestate hash", size=32),
            read_uint(f["witness"], "witness", minimum=1, maximum=65535),
            read_choice(f["reason"], "refusal reason", REFUSAL_REASONS),
            None if locked is None else SignedVote.from_canonical(locked),
        )


@attrs.frozen
class Gossip:
    """Fallback dissemination: operations, signed statements and equivocation proofs."""

    TAG = "gossip"
    consensus_id: ConsensusId = attrs.field(validator=attrs.validators.instance_of(ConsensusId))
    prestate_hash: bytes = attrs.field(validator=_hash32)
    epoch: int = attrs.field(validator=_u64)
    operations: tuple[bytes, ...] = attrs.field(converter=_tuple_of(bytes, MAX_GOSSIP_OPERATIONS))
    votes: tuple[SignedVote, ...] = attrs.field(converter=_tuple_of(SignedVote, MAX_GOSSIP_VOTES))
    proofs: tuple[EquivocationProof, ...] = attrs.field(
        default=(), converter=_tuple_of(EquivocationProof, MAX_WITNESSES)
    )

    def fields(self) -> dict[str, Any]:
        return {
            "cid": self.consensus_id.raw,
            "prestate": self.prestate_hash,
            "epoch": self.epoch,
            "ops": list(self.operations),
            "votes": [v.to_canonical() for v in self.votes],
            "proofs": [p.to_canonical() for p in self.proofs],
        }

    @classmethod
    def from_fields(cls, f: dict[str, Any]) -> Gossip:
        ops = read_list(f["ops"], "gossip operations", max_items=MAX_GOSSIP_OPERATIONS)
        votes = read_list(f["votes"], "gossip votes", max_items=MAX_GOSSIP_VOTES)
        proofs = read_list(f["proofs"], "gossip proofs", max_items=MAX_WITNESSES)
        return cls(
            ConsensusId(read_bytes(f["cid"], "consensus id", size=32)),
            read_bytes(f["prestate"], "prestate hash", size=32),
            read_uint(f["epoch"], "epoch"),
            tuple(
                check_operation_bytes(
                    read_bytes(op, "gossip operation", max_size=MAX_OPERATION_BYTES)
                )
                for op in ops
            ),
            tuple(SignedVote.from_canonical(v) for v in votes),
            tuple(EquivocationProof.from_canonical(p) for p in proofs),
        )


@attrs.frozen
class CommitNotice:
    """The decision, for anyone who has not learned it yet."""

    TAG = "commit"
    fact: CommitFact = attrs.field(validator=attrs.validators.instance_of(CommitFact))

    def fields(self) -> dict[str, Any]:
        return {"fact": self.fact.to_canonical()}

    @classmethod
    def from_fields(cls, f: dict[str, Any]) -> CommitNotice:
        return cls(CommitFact.from_canonical(f["fact"]))


ConsensusMessage = (
    CommitRequest | CommitOffer | Execute | ExecuteReply | Refusal | Gossip | CommitNotice
)

_TYPES: dict[str, Any] = {
    CommitRequest.TAG: (CommitRequest, ("epoch", "count"), ()),
    CommitOffer.TAG: (CommitOffer, ("epoch", "witness", "commitments"), ()),
    Execute.TAG: (Execute, ("cid", "prestate", "epoch", "op", "package"), ()),
    ExecuteReply.TAG: (ExecuteReply, ("vote", "next"), ()),
    Refusal.TAG: (Refusal, ("cid", "prestate", "witness", "reason"), ("locked",)),
    Gossip.TAG: (Gossip, ("cid", "prestate", "epoch", "ops", "votes", "proofs"), ()),
    CommitNotice.TAG: (CommitNotice, ("fact",), ()),
}


def encode_message(message: ConsensusMessage) -> bytes:
    """The canonical bytes of ``message``."""
    tag = getattr(message, "TAG", None)
    if tag not in _TYPES or not isinstance(message, _TYPES[tag][0]):
        raise InvalidInput(f"not a consensus message: {type(message).__name__}")
    return dag_cbor.encode({"t": tag, "v": VERSION, **message.fields()})


def decode_message(data: object) -> ConsensusMessage:
    """Parse one message; any malformed, non-canonical or oversize input raises InvalidEncoding."""
    if type(data) is not bytes:
        raise InvalidEncoding(f"a consensus message is bytes, got {type(data).__name__}")
    if len(data) > MAX_MESSAGE_BYTES:
        raise InvalidEncoding(
            f"consensus message is {len(data)} bytes, more than {MAX_MESSAGE_BYTES}"
        )
    value = dag_cbor.decode(data)
    if type(value) is not dict:
        raise InvalidEncoding("a consensus message must be a map")
    tag = value.get("t")
    if type(tag) is not str or tag not in _TYPES:
        raise InvalidEncoding(f"unknown consensus message type {tag!r:.40}")
    cls, required, optional = _TYPES[tag]
    fields = read_map(value, f"{tag} message", ("t", "v", *required), optional)
    read_uint(fields["v"], f"{tag} version", minimum=VERSION, maximum=VERSION)
    try:
        return cls.from_fields(fields)
    except InvalidEncoding:
        raise
    except InvalidInput as exc:
        raise InvalidEncoding(f"invalid {tag} message: {exc.message}") from None
