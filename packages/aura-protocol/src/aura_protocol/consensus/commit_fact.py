"""CommitFact: the decision of one consensus instance, checkable by anyone.

It carries the operation itself, so a replica that was not a witness can
apply it, and the FROST group signature over
:func:`~aura_protocol.consensus.binding.decision_message`, so that replica
can check — with nothing but the group's public key — that a threshold of
witnesses agreed to exactly this operation on exactly this prestate in
exactly this instance.

Two commit facts for one instance may differ in signature, signer set,
timestamp or path (the fallback can aggregate several signer sets); they are
the same *decision* when :attr:`CommitFact.decision` is equal. Agreement is
about decisions: never two different operations for one
``(consensus_id, prestate_hash)``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from aura_core import dag_cbor
from aura_core.canonical_fields import read_bool, read_bytes, read_map, read_uint
from aura_core.crypto import verify_signature
from aura_core.errors import CryptoError, InvalidEncoding, InvalidInput
from aura_core.time_domains import PhysicalTime, timestamp_from_canonical, timestamp_to_canonical
from aura_protocol.consensus._wire_fields import read_ids
from aura_protocol.consensus.binding import (
    MAX_OPERATION_BYTES,
    ConsensusId,
    binding_rid,
    check_operation_bytes,
    decision_message,
    operation_hash,
)
from aura_protocol.consensus.witness_set import MAX_WITNESSES, WitnessSet

__all__ = ["COMMIT_FACT_TYPE", "CommitFact"]

COMMIT_FACT_TYPE = "consensus.commit"
_FIELDS = (
    "cid",
    "prestate",
    "op_hash",
    "op",
    "sig",
    "group_key",
    "participants",
    "threshold",
    "time",
    "fast_path",
)


def _bytes_of(size: int) -> Any:
    def check(_instance: object, attribute: attrs.Attribute, value: object) -> None:
        if type(value) is not bytes or len(value) != size:
            raise InvalidInput(f"CommitFact.{attribute.name} must be {size} bytes")

    return check


def _check_operation(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not bytes or not 0 < len(value) <= MAX_OPERATION_BYTES:
        raise InvalidInput(f"CommitFact.operation_bytes must be 1..{MAX_OPERATION_BYTES} bytes")


def _to_participants(value: object) -> tuple[int, ...]:
    if isinstance(value, bytes | str):
        raise InvalidInput("CommitFact.participants must be a sequence of identifiers")
    try:
        ids = tuple(value)  # type: ignore[arg-type]
    except TypeError:
        raise InvalidInput("CommitFact.participants must be a sequence of identifiers") from None
    if not ids or len(ids) > MAX_WITNESSES:
        raise InvalidInput(f"CommitFact.participants must list 1..{MAX_WITNESSES} witnesses")
    if any(type(i) is not int or not 1 <= i <= 65535 for i in ids):
        raise InvalidInput("CommitFact.participants must be identifiers in 1..65535")
    if list(ids) != sorted(set(ids)):
        raise InvalidInput("CommitFact.participants must be strictly ascending")
    return ids


def _check_threshold(instance: CommitFact, _attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not int or not 2 <= value <= MAX_WITNESSES:
        raise InvalidInput(f"CommitFact.threshold must be in 2..{MAX_WITNESSES}")
    if len(instance.participants) < value:
        raise InvalidInput(
            f"CommitFact lists {len(instance.participants)} participants, fewer than its threshold {value}"
        )


@attrs.frozen
class CommitFact:
    """One instance's decision with the threshold signature that proves it."""

    TYPE_ID: ClassVar[str] = COMMIT_FACT_TYPE

    consensus_id: ConsensusId = attrs.field(validator=attrs.validators.instance_of(ConsensusId))
    prestate_hash: bytes = attrs.field(validator=_bytes_of(32))
    operation_hash: bytes = attrs.field(validator=_bytes_of(32))
    operation_bytes: bytes = attrs.field(
        validator=_check_operation, repr=lambda b: f"<{len(b)} bytes>"
    )
    threshold_signature: bytes = attrs.field(
        validator=_bytes_of(64), repr=lambda s: s[:6].hex() + "…"
    )
    group_public_key: bytes = attrs.field(validator=_bytes_of(32), repr=lambda k: k[:6].hex() + "…")
    participants: tuple[int, ...] = attrs.field(converter=_to_participants)
    threshold: int = attrs.field(validator=_check_threshold)
    timestamp: PhysicalTime = attrs.field(validator=attrs.validators.instance_of(PhysicalTime))
    fast_path: bool = attrs.field(validator=attrs.validators.instance_of(bool))

    @property
    def rid(self) -> bytes:
        """The request id the witnesses voted for (prestate + operation)."""
        return binding_rid(self.prestate_hash, self.operation_bytes)

    @property
    def instance(self) -> tuple[ConsensusId, bytes]:
        return (self.consensus_id, self.prestate_hash)

    @property
    def decision(self) -> tuple[ConsensusId, bytes, bytes]:
        """What agreement is about: (consensus id, prestate hash, operation hash)."""
        return (self.consensus_id, self.prestate_hash, self.operation_hash)

    def message(self) -> bytes:
        """The decision message the threshold signature covers."""
        return decision_message(
            self.consensus_id,
            self.prestate_hash,
            self.rid,
            self.group_public_key,
            self.threshold,
            self.participants,
        )

    def verify(self, witnesses: WitnessSet | None = None) -> None:
        """Check the operation hash and the group signature; raise :class:`CryptoError` if wrong.

        With ``witnesses``, also require their group key and threshold (a
        fact signed by some *other* group proves nothing about this one).
        """
        if operation_hash(self.operation_bytes) != self.operation_hash:
            raise CryptoError("commit fact operation_hash does not match its operation bytes")
        if witnesses is not None:
            if self.group_public_key != witnesses.group_public_key:
                raise CryptoError("commit fact is signed by a different group key")
            if self.threshold != witnesses.threshold:
                raise CryptoError(
                    f"commit fact claims threshold {self.threshold}; the witness set's is "
                    f"{witnesses.threshold}"
                )
            unknown = [i for i in self.participants if witnesses.member(i) is None]
            if unknown:
                raise CryptoError(f"commit fact names unknown participant(s) {unknown}")
        if not verify_signature(self.group_public_key, self.message(), self.threshold_signature):
            raise CryptoError("commit fact threshold signature does not verify under its group key")

    def is_valid(self, witnesses: WitnessSet | None = None) -> bool:
        try:
            self.verify(witnesses)
        except CryptoError:
            return False
        return True

    # ------------------------------------------------------------------ encoding

    def to_canonical(self) -> dict[str, Any]:
        return {
            "cid": self.consensus_id.raw,
            "prestate": self.prestate_hash,
            "op_hash": self.operation_hash,
            "op": self.operation_bytes,
            "sig": self.threshold_signature,
            "group_key": self.group_public_key,
            "participants": list(self.participants),
            "threshold": self.threshold,
            "time": timestamp_to_canonical(self.timestamp),
            "fast_path": self.fast_path,
        }

    @classmethod
    def from_canonical(cls, value: object) -> CommitFact:
        """Strict inverse of :meth:`to_canonical`; raises :class:`InvalidEncoding` only."""
        fields = read_map(value, "commit fact", _FIELDS)
        timestamp = timestamp_from_canonical(fields["time"])
        if not isinstance(timestamp, PhysicalTime):
            raise InvalidEncoding("commit fact time must be a physical timestamp")
        operation = check_operation_bytes(
            read_bytes(fields["op"], "commit fact operation", max_size=MAX_OPERATION_BYTES)
        )
        try:
            return cls(
                ConsensusId(read_bytes(fields["cid"], "commit fact consensus id", size=32)),
                read_bytes(fields["prestate"], "commit fact prestate hash", size=32),
                read_bytes(fields["op_hash"], "commit fact operation hash", size=32),
                operation,
                read_bytes(fields["sig"], "commit fact signature", size=64),
                read_bytes(fields["group_key"], "commit fact group key", size=32),
                read_ids(
                    fields["participants"], "commit fact participants", max_items=MAX_WITNESSES
                ),
                read_uint(
                    fields["threshold"], "commit fact threshold", minimum=2, maximum=MAX_WITNESSES
                ),
                timestamp,
                read_bool(fields["fast_path"], "commit fact fast_path"),
            )
        except InvalidEncoding:
            raise
        except InvalidInput as exc:
            raise InvalidEncoding(f"invalid commit fact: {exc.message}") from None

    def encode(self) -> bytes:
        return dag_cbor.encode(self.to_canonical())

    @classmethod
    def decode(cls, data: bytes) -> CommitFact:
        """Parse canonical DAG-CBOR bytes; anything else raises :class:`InvalidEncoding`."""
        if not isinstance(data, bytes):
            raise InvalidEncoding(f"a commit fact is decoded from bytes, got {type(data).__name__}")
        return cls.from_canonical(dag_cbor.decode(data))
