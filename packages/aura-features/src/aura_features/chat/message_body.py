"""What an AMP frame of a chat message holds once opened: the kind of message and its text.

The plaintext is a canonical DAG-CBOR map ``{k, t}``: ``k`` is ``"text"``
(an ordinary message) or ``"action"`` (``/me waves``), ``t`` the text. Text
may hold line breaks and tabs but no other control characters (they could
spoof a terminal UI). Decoding is strict; a member who seals garbage gets
its message shown as undecodable, never an exception in the view.
"""

from __future__ import annotations

import enum
import re
from typing import Self

import attrs

from aura_core import dag_cbor
from aura_core.canonical_fields import decode_canonical, read_choice, read_map, read_str
from aura_core.errors import InvalidEncoding, InvalidInput

__all__ = ["MAX_MESSAGE_CHARS", "MessageBody", "MessageKind", "check_message_text"]

MAX_MESSAGE_CHARS = 4000
_MAX_BODY_BYTES = 4 * MAX_MESSAGE_CHARS + 64
_FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""Control characters other than tab and newline (they could spoof a terminal UI)."""


class MessageKind(enum.StrEnum):
    TEXT = "text"
    ACTION = "action"


def check_message_text(value: object) -> str:
    """Message text: 1..4000 characters, no control characters except newline and tab."""
    if type(value) is not str or not 1 <= len(value) <= MAX_MESSAGE_CHARS:
        raise InvalidInput(f"a message is 1..{MAX_MESSAGE_CHARS} characters of text")
    if _FORBIDDEN.search(value):
        raise InvalidInput("a message may not contain control characters (except newline, tab)")
    if not value.strip():
        raise InvalidInput("a message cannot be only whitespace")
    return value


def _text(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    check_message_text(value)


@attrs.frozen
class MessageBody:
    kind: MessageKind = attrs.field(converter=MessageKind)
    text: str = attrs.field(validator=_text)

    def encode(self) -> bytes:
        return dag_cbor.encode({"k": self.kind.value, "t": self.text})

    @classmethod
    def decode(cls, data: bytes) -> Self:
        fields = read_map(
            decode_canonical(data, "message body", max_bytes=_MAX_BODY_BYTES),
            "message body",
            ("k", "t"),
        )
        kind = read_choice(fields["k"], "message kind", [k.value for k in MessageKind])
        text = read_str(fields["t"], "message text", max_length=MAX_MESSAGE_CHARS, min_length=1)
        try:
            return cls(MessageKind(kind), text)
        except InvalidInput as exc:
            raise InvalidEncoding(f"message body: {exc.message}") from None
