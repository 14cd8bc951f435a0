"""EquivocationProof: two signed statements by one witness for two operations.

An honest witness signs at most one rid per ``(consensus id, prestate)``.
Two of its vote-key signatures naming different rids for the same instance
are therefore proof, checkable by anyone who knows the witness's vote key,
that it misbehaved. Honest witnesses exclude its shares from then on, and the
proof can be journaled (fact type ``consensus.equivocation``) so every
replica learns it.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from aura_core import dag_cbor
from aura_core.canonical_fields import read_bytes, read_map
from aura_core.errors import CryptoError, InvalidEncoding, InvalidInput
from aura_protocol.consensus.binding import ConsensusId
from aura_protocol.consensus.votes import SignedVote
from aura_protocol.consensus.witness_set import WitnessSet

__all__ = ["EQUIVOCATION_FACT_TYPE", "EquivocationProof"]

EQUIVOCATION_FACT_TYPE = "consensus.equivocation"


def _check_key(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not bytes or len(value) != 32:
        raise InvalidInput("EquivocationProof.vote_key must be a 32-byte Ed25519 key")


@attrs.frozen
class EquivocationProof:
    """Two conflicting signed statements of one witness, in canonical (byte) order."""

    TYPE_ID: ClassVar[str] = EQUIVOCATION_FACT_TYPE

    first: SignedVote = attrs.field(validator=attrs.validators.instance_of(SignedVote))
    second: SignedVote = attrs.field(validator=attrs.validators.instance_of(SignedVote))
    vote_key: bytes = attrs.field(validator=_check_key, repr=lambda k: k[:6].hex() + "…")

    def __attrs_post_init__(self) -> None:
        a, b = self.first.statement, self.second.statement
        if a.witness != b.witness:
            raise InvalidInput("an equivocation proof needs two statements by the same witness")
        if a.instance != b.instance:
            raise InvalidInput("an equivocation proof needs two statements for the same instance")
        if a.rid == b.rid:
            raise InvalidInput("an equivocation proof needs two different rids")
        if self.first.statement.signing_bytes() >= self.second.statement.signing_bytes():
            raise InvalidInput("an equivocation proof lists its statements in byte order")

    @classmethod
    def from_pair(cls, one: SignedVote, other: SignedVote, vote_key: bytes) -> EquivocationProof:
        """Build the canonical proof from two conflicting statements in any order."""
        if one.statement.signing_bytes() > other.statement.signing_bytes():
            one, other = other, one
        return cls(one, other, vote_key)

    @property
    def witness(self) -> int:
        return self.first.statement.witness

    @property
    def instance(self) -> tuple[ConsensusId, bytes]:
        return self.first.statement.instance

    def verify(self, witnesses: WitnessSet | None = None) -> None:
        """Both signatures must be the vote key's; with ``witnesses``, that key must be the witness's."""
        if witnesses is not None:
            member = witnesses.member(self.witness)
            if member is None or member.vote_key != self.vote_key:
                raise CryptoError(
                    f"equivocation proof key is not the vote key of witness {self.witness}"
                )
        self.first.verify(self.vote_key)
        self.second.verify(self.vote_key)

    def is_valid(self, witnesses: WitnessSet | None = None) -> bool:
        try:
            self.verify(witnesses)
        except CryptoError:
            return False
        return True

    def to_canonical(self) -> dict[str, Any]:
        return {
            "first": self.first.to_canonical(),
            "second": self.second.to_canonical(),
            "key": self.vote_key,
        }

    @classmethod
    def from_canonical(cls, value: object) -> EquivocationProof:
        fields = read_map(value, "equivocation proof", ("first", "second", "key"))
        first = SignedVote.from_canonical(fields["first"])
        second = SignedVote.from_canonical(fields["second"])
        key = read_bytes(fields["key"], "equivocation vote key", size=32)
        try:
            return cls(first, second, key)
        except InvalidInput as exc:
            raise InvalidEncoding(f"invalid equivocation proof: {exc.message}") from None

    def encode(self) -> bytes:
        return dag_cbor.encode(self.to_canonical())

    @classmethod
    def decode(cls, data: bytes) -> EquivocationProof:
        if not isinstance(data, bytes):
            raise InvalidEncoding(f"a proof is decoded from bytes, got {type(data).__name__}")
        return cls.from_canonical(dag_cbor.decode(data))
