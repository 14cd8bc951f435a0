"""The wire envelope of a guarded send: payload, coupled facts and the receipt chain.

``{v, ctx, origin, dest, payload, facts, receipts}`` in canonical DAG-CBOR.
``facts`` are the encoded facts committed with the send (so they reach the
receiver's journal with the message) and ``receipts`` the hop chain, oldest
first. Decoding is strict: exact fields, canonical bytes, bounded sizes.
"""

from __future__ import annotations

from typing import Any

import attrs

from aura_core import dag_cbor
from aura_core.canonical_fields import decode_canonical, read_bytes, read_list, read_map, read_uint
from aura_core.errors import InvalidEncoding, InvalidInput
from aura_core.identifiers import AuthorityId, ContextId
from aura_journal.facts import MAX_FACT_BYTES
from aura_protocol.guards.receipt import Receipt
from aura_protocol.guards.receipt_chain import MAX_RECEIPT_HOPS
from aura_protocol.guards.send_request import MAX_COUPLED_FACTS, MAX_PAYLOAD_BYTES

__all__ = ["ENVELOPE_VERSION", "MAX_ENVELOPE_BYTES", "Envelope"]

ENVELOPE_VERSION = 1
MAX_ENVELOPE_BYTES = 4 * MAX_PAYLOAD_BYTES
_KEYS = frozenset({"v", "ctx", "origin", "dest", "payload", "facts", "receipts"})


@attrs.frozen
class Envelope:
    """One message in flight between two hops."""

    context: ContextId
    origin: AuthorityId
    destination: AuthorityId
    payload: bytes
    facts: tuple[bytes, ...]
    receipts: tuple[Receipt, ...]

    def __attrs_post_init__(self) -> None:
        if not 1 <= len(self.receipts) <= MAX_RECEIPT_HOPS:
            raise InvalidInput(f"an envelope carries 1..{MAX_RECEIPT_HOPS} receipts")
        if len(self.facts) > MAX_COUPLED_FACTS:
            raise InvalidInput(f"an envelope carries at most {MAX_COUPLED_FACTS} facts")

    @property
    def last_receipt(self) -> Receipt:
        return self.receipts[-1]

    def to_canonical(self) -> dict[str, Any]:
        return {
            "v": ENVELOPE_VERSION,
            "ctx": self.context.raw,
            "origin": self.origin.raw,
            "dest": self.destination.raw,
            "payload": self.payload,
            "facts": list(self.facts),
            "receipts": [r.to_canonical() for r in self.receipts],
        }

    def encode(self) -> bytes:
        return dag_cbor.encode(self.to_canonical())

    @classmethod
    def decode(cls, data: bytes) -> Envelope:
        """Strict decode; anything malformed raises ``InvalidEncoding``."""
        fields = read_map(
            decode_canonical(data, "envelope", max_bytes=MAX_ENVELOPE_BYTES), "envelope", _KEYS
        )
        if read_uint(fields["v"], "envelope version") != ENVELOPE_VERSION:
            raise InvalidEncoding(f"unsupported envelope version {fields['v']}")
        facts = tuple(
            read_bytes(item, f"envelope fact {i}", max_size=MAX_FACT_BYTES)
            for i, item in enumerate(
                read_list(fields["facts"], "envelope facts", max_items=MAX_COUPLED_FACTS)
            )
        )
        receipts = tuple(
            Receipt.from_canonical(item)
            for item in read_list(
                fields["receipts"], "envelope receipts", min_items=1, max_items=MAX_RECEIPT_HOPS
            )
        )
        return cls(
            ContextId(read_bytes(fields["ctx"], "envelope ctx", size=16, max_size=16)),
            AuthorityId(read_bytes(fields["origin"], "envelope origin", size=16, max_size=16)),
            AuthorityId(read_bytes(fields["dest"], "envelope dest", size=16, max_size=16)),
            read_bytes(fields["payload"], "envelope payload", max_size=MAX_PAYLOAD_BYTES),
            facts,
            receipts,
        )
