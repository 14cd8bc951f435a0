"""One envelope for every custody and recovery message: ``{"t": type, ...fields}`` in DAG-CBOR.

A :class:`MessageCodec` knows a set of message classes by their ``TYPE``
string. Decoding is strict — canonical DAG-CBOR, a known type, the exact
field set of that type, typed fields, and bytes that re-encode to
themselves — and raises :class:`~aura_core.errors.InvalidEncoding` only.
:func:`message_type` reads just the type, so a device can route a message to
the part of the program that owns it.

Messages that a holder signs carry a ``sig`` field; the signed bytes are the
envelope without it (:func:`signed_payload`), under a per-type domain tag.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, Protocol, Self, TypeVar

from aura_core import dag_cbor
from aura_core.canonical_fields import decode_canonical, read_map, read_str
from aura_core.errors import AuraError, InvalidEncoding, InvalidInput

__all__ = [
    "MAX_MESSAGE_BYTES",
    "MessageCodec",
    "WireMessage",
    "message_type",
    "signed_payload",
    "signing_domain",
]

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
"""Largest custody message (a new member's copy of the account journal is the big one)."""


class WireMessage(Protocol):
    TYPE: ClassVar[str]

    def fields(self) -> dict[str, Any]: ...

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> Self: ...


M = TypeVar("M", bound=WireMessage)


def _envelope(message: WireMessage) -> dict[str, Any]:
    fields = message.fields()
    if "t" in fields:  # pragma: no cover - a programming error in a message class
        raise InvalidInput("message fields may not use the key 't'")
    return {"t": message.TYPE, **fields}


def signed_payload(message: WireMessage) -> bytes:
    """The bytes a holder signs: the envelope without its ``sig`` field."""
    envelope = _envelope(message)
    envelope.pop("sig", None)
    return dag_cbor.encode(envelope)


def signing_domain(message: WireMessage) -> str:
    """Domain tag of a message type's signatures (a signature never fits another type)."""
    return "AURA_CUSTODY_MESSAGE_V1:" + message.TYPE


def message_type(data: object) -> str:
    """The ``t`` of an envelope (to route it); :class:`InvalidEncoding` if there is none."""
    value = decode_canonical(data, "custody message", max_bytes=MAX_MESSAGE_BYTES)
    if type(value) is not dict:
        raise InvalidEncoding("custody message must be a map")
    return read_str(value.get("t"), "message type", max_length=64)


class MessageCodec:
    """Encodes and strictly decodes the message classes it was built with."""

    def __init__(self, classes: Iterable[type[WireMessage]]) -> None:
        self._classes: dict[str, type[WireMessage]] = {}
        for cls in classes:
            if cls.TYPE in self._classes:
                raise InvalidInput(f"message type {cls.TYPE!r} registered twice")
            self._classes[cls.TYPE] = cls

    @property
    def types(self) -> frozenset[str]:
        return frozenset(self._classes)

    def encode(self, message: WireMessage) -> bytes:
        if type(message).TYPE not in self._classes:
            raise InvalidInput(f"{type(message).__name__} is not a message of this codec")
        return dag_cbor.encode(_envelope(message))

    def decode(self, data: object) -> WireMessage:
        value = decode_canonical(data, "custody message", max_bytes=MAX_MESSAGE_BYTES)
        if type(value) is not dict:
            raise InvalidEncoding("custody message must be a map")
        kind = read_str(value.get("t"), "message type", max_length=64)
        cls = self._classes.get(kind)
        if cls is None:
            raise InvalidEncoding(f"unknown custody message type {kind!r:.40}")
        fields = {k: v for k, v in value.items() if k != "t"}
        try:
            message = cls.from_fields(fields)
        except InvalidEncoding:
            raise
        except AuraError as exc:
            raise InvalidEncoding(f"{kind}: {exc.message}") from None
        if dag_cbor.encode(_envelope(message)) != data:
            raise InvalidEncoding(f"{kind} is not in canonical form")
        return message

    def decode_as(self, data: object, cls: type[M]) -> M:
        message = self.decode(data)
        if not isinstance(message, cls):
            raise InvalidEncoding(f"expected {cls.TYPE}, got {type(message).TYPE}")
        return message


def exact_fields(fields: dict[str, Any], what: str, names: tuple[str, ...]) -> dict[str, Any]:
    """``fields`` with exactly ``names`` (the envelope's ``t`` already removed)."""
    return read_map(fields, what, names)
