"""One choreography message on the wire: who, in which session, which step, which values.

``{v, protocol, session, from, to, seq, label, values}`` in canonical DAG-CBOR,
carried as the payload of a guarded envelope. ``seq`` counts the messages
from one role to another in one session (from 0), so the receiver restores
the per-pair order the session type assumes even when the network reorders,
and drops duplicates. Decoding is strict.
"""

from __future__ import annotations

from typing import Any

import attrs

from aura_core import dag_cbor
from aura_core.canonical_fields import decode_canonical, read_bytes, read_map, read_str, read_uint
from aura_core.errors import InvalidEncoding
from aura_core.identifiers import SessionId
from aura_protocol.guards.send_request import MAX_PAYLOAD_BYTES

__all__ = ["CHOREO_MESSAGE_VERSION", "ChoreoMessage"]

CHOREO_MESSAGE_VERSION = 1
_KEYS = frozenset({"v", "protocol", "session", "from", "to", "seq", "label", "values"})
_MAX_NAME = 64


@attrs.frozen
class ChoreoMessage:
    protocol: str
    session: SessionId
    sender: str
    receiver: str
    seq: int
    label: str
    values: dict[str, Any] = attrs.field(eq=True, hash=False)

    def encode(self) -> bytes:
        return dag_cbor.encode(
            {
                "v": CHOREO_MESSAGE_VERSION,
                "protocol": self.protocol,
                "session": self.session.raw,
                "from": self.sender,
                "to": self.receiver,
                "seq": self.seq,
                "label": self.label,
                "values": self.values,
            }
        )

    @classmethod
    def decode(cls, data: bytes) -> ChoreoMessage:
        fields = read_map(
            decode_canonical(data, "choreography message", max_bytes=MAX_PAYLOAD_BYTES),
            "choreography message",
            _KEYS,
        )
        if read_uint(fields["v"], "message version") != CHOREO_MESSAGE_VERSION:
            raise InvalidEncoding(f"unsupported choreography message version {fields['v']}")
        values = fields["values"]
        if type(values) is not dict or not all(type(k) is str for k in values):
            raise InvalidEncoding("message values must be a map of field names")
        return cls(
            read_str(fields["protocol"], "message protocol", max_length=_MAX_NAME, min_length=1),
            SessionId(read_bytes(fields["session"], "message session", size=16, max_size=16)),
            read_str(fields["from"], "message sender role", max_length=_MAX_NAME, min_length=1),
            read_str(fields["to"], "message receiver role", max_length=_MAX_NAME, min_length=1),
            read_uint(fields["seq"], "message seq"),
            read_str(fields["label"], "message label", max_length=_MAX_NAME, min_length=1),
            values,
        )
