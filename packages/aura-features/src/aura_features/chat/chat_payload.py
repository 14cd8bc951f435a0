"""The payload of a chat envelope (the guard chain's envelope carries it and the facts).

Two kinds, as a canonical DAG-CBOR map:

* ``{v: 1, k: "facts"}`` — the content is the envelope's coupled chat facts
  (a sealed message travels as its ``chat.message_sent`` fact, whose AMP
  frame the receiver opens);
* ``{v: 1, k: "ack", f: <AMP ack frame>}`` — an acknowledgement, coupled
  with the ``chat.delivery_updated`` fact that records it.

Decoding is strict and bounded; anything else is ``InvalidEncoding``.
"""

from __future__ import annotations

import enum

import attrs

from aura_core import dag_cbor
from aura_core.canonical_fields import (
    decode_canonical,
    read_bytes,
    read_choice,
    read_map,
    read_uint,
)
from aura_core.errors import InvalidEncoding, InvalidInput

__all__ = ["CHAT_PAYLOAD_VERSION", "ChatPayload", "PayloadKind"]

CHAT_PAYLOAD_VERSION = 1
_MAX_PAYLOAD_BYTES = 4096
_MAX_ACK_BYTES = 3072


class PayloadKind(enum.StrEnum):
    FACTS = "facts"
    ACK = "ack"


@attrs.frozen
class ChatPayload:
    kind: PayloadKind = attrs.field(converter=PayloadKind)
    ack_frame: bytes | None = None

    def __attrs_post_init__(self) -> None:
        if (self.kind is PayloadKind.ACK) != (self.ack_frame is not None):
            raise InvalidInput("an ack payload carries an ack frame, a facts payload none")
        if self.ack_frame is not None and (
            type(self.ack_frame) is not bytes or len(self.ack_frame) > _MAX_ACK_BYTES
        ):
            raise InvalidInput(f"an ack frame is bytes of at most {_MAX_ACK_BYTES}")

    def encode(self) -> bytes:
        value: dict[str, object] = {"v": CHAT_PAYLOAD_VERSION, "k": self.kind.value}
        if self.ack_frame is not None:
            value["f"] = self.ack_frame
        return dag_cbor.encode(value)

    @classmethod
    def decode(cls, data: bytes) -> ChatPayload:
        value = decode_canonical(data, "chat payload", max_bytes=_MAX_PAYLOAD_BYTES)
        if type(value) is not dict:
            raise InvalidEncoding("chat payload must be a map")
        kind = read_choice(value.get("k"), "chat payload kind", [k.value for k in PayloadKind])
        keys = ("v", "k", "f") if kind == PayloadKind.ACK else ("v", "k")
        fields = read_map(value, "chat payload", keys)
        if read_uint(fields["v"], "chat payload version") != CHAT_PAYLOAD_VERSION:
            raise InvalidEncoding(f"unsupported chat payload version {fields['v']}")
        frame = fields.get("f")
        if frame is not None:
            frame = read_bytes(frame, "chat ack frame", max_size=_MAX_ACK_BYTES)
        return cls(PayloadKind(kind), frame)


FACTS_PAYLOAD = ChatPayload(PayloadKind.FACTS).encode()
