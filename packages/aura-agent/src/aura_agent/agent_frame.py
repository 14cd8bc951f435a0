"""The frames agents exchange: one envelope kind per subsystem, strictly decoded.

Every message between two agents is one canonical DAG-CBOR map naming what
it carries, so one transport (a relay mailbox, a direct channel, the
simulator's network) serves anti-entropy, consensus and every feature:

* ``sync``: an anti-entropy message for one journal namespace;
* ``push``: facts of one namespace sent unasked (a new member's first
  descriptor, before the peer can answer a reconciliation session);
* ``cons``: a consensus message for one witness group;
* ``svc``: a message for one feature's service (its own sans-IO protocol,
  e.g. device custody changes); the service authenticates its messages;
* ``env``: a guarded envelope (``aura_protocol.guards.Envelope``) whose
  payload is a :class:`FeaturePayload`: feature messages only ever travel
  inside envelopes that passed the guard chain.

Decoding refuses anything but the exact field set of its kind, with sizes
checked, so a peer cannot smuggle data past the subsystem that reads it.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from aura_core.dag_cbor import decode, encode
from aura_core.errors import InvalidEncoding, InvalidInput
from aura_journal import JournalNamespace

__all__ = [
    "FRAME_VERSION",
    "MAX_FRAME_BYTES",
    "MAX_PUSHED_FACTS",
    "AgentFrame",
    "ConsensusFrame",
    "EnvelopeFrame",
    "FeaturePayload",
    "PushFrame",
    "ServiceFrame",
    "SyncFrame",
    "decode_frame",
    "encode_frame",
]

FRAME_VERSION = 1
MAX_FRAME_BYTES = 4 * 1024 * 1024
MAX_PUSHED_FACTS = 64
_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")


@attrs.frozen
class SyncFrame:
    namespace: JournalNamespace
    body: bytes


@attrs.frozen
class PushFrame:
    namespace: JournalNamespace
    facts: tuple[bytes, ...]


@attrs.frozen
class ConsensusFrame:
    group: bytes
    """32-byte id of the witness group (hash of its public key package)."""
    body: bytes


@attrs.frozen
class ServiceFrame:
    feature: str
    body: bytes


@attrs.frozen
class EnvelopeFrame:
    envelope: bytes
    """The encoded guarded envelope, checked by the receiver's guard stack."""


AgentFrame = SyncFrame | PushFrame | ConsensusFrame | ServiceFrame | EnvelopeFrame


@attrs.frozen
class FeaturePayload:
    """What a guarded envelope carries for a feature: which feature, which kind, the body."""

    feature: str
    kind: str
    body: bytes

    def encode(self) -> bytes:
        return encode(
            {"f": _name(self.feature, "feature"), "t": _name(self.kind, "kind"), "b": self.body}
        )

    @classmethod
    def decode(cls, data: bytes) -> FeaturePayload:
        value = decode(data, allow_floats=False)
        if not isinstance(value, dict) or set(value) != {"f", "t", "b"}:
            raise InvalidEncoding("a feature payload is a map of f, t, b")
        return cls(
            _name(value["f"], "feature"), _name(value["t"], "kind"), _bytes(value["b"], "body")
        )


def encode_frame(frame: AgentFrame) -> bytes:
    if isinstance(frame, SyncFrame):
        value: dict[str, Any] = {
            "v": 1,
            "k": "sync",
            "ns": frame.namespace.to_bytes(),
            "b": frame.body,
        }
    elif isinstance(frame, PushFrame):
        if not 1 <= len(frame.facts) <= MAX_PUSHED_FACTS:
            raise InvalidInput(f"a push frame carries 1..{MAX_PUSHED_FACTS} facts")
        value = {"v": 1, "k": "push", "ns": frame.namespace.to_bytes(), "b": list(frame.facts)}
    elif isinstance(frame, ConsensusFrame):
        value = {"v": 1, "k": "cons", "g": frame.group, "b": frame.body}
    elif isinstance(frame, ServiceFrame):
        value = {"v": 1, "k": "svc", "f": _name(frame.feature, "feature"), "b": frame.body}
    elif isinstance(frame, EnvelopeFrame):
        value = {"v": 1, "k": "env", "b": frame.envelope}
    else:
        raise InvalidInput(f"not an agent frame: {type(frame).__name__}")
    data = encode(value)
    if len(data) > MAX_FRAME_BYTES:
        raise InvalidInput(f"agent frame of {len(data)} bytes exceeds {MAX_FRAME_BYTES}")
    return data


_FIELDS = {
    "sync": frozenset({"v", "k", "ns", "b"}),
    "push": frozenset({"v", "k", "ns", "b"}),
    "cons": frozenset({"v", "k", "g", "b"}),
    "env": frozenset({"v", "k", "b"}),
    "svc": frozenset({"v", "k", "f", "b"}),
}


def _bytes(value: object, what: str, size: int | None = None) -> bytes:
    if type(value) is not bytes:
        raise InvalidEncoding(f"agent frame {what} must be bytes")
    if size is not None and len(value) != size:
        raise InvalidEncoding(f"agent frame {what} must be {size} bytes, got {len(value)}")
    return value


def _name(value: object, what: str) -> str:
    if type(value) is not str or _NAME.fullmatch(value) is None:
        raise InvalidEncoding(f"agent frame {what} must be a plain lower-case name")
    return value


def _namespace(value: object) -> JournalNamespace:
    raw = _bytes(value, "namespace")
    try:
        return JournalNamespace.from_bytes(raw)
    except InvalidEncoding:
        raise
    except InvalidInput as exc:
        raise InvalidEncoding(f"agent frame namespace: {exc}") from None


def decode_frame(data: bytes) -> AgentFrame:
    """Parse a frame; anything malformed raises ``InvalidEncoding`` naming the field."""
    if not isinstance(data, bytes):
        raise InvalidEncoding(f"an agent frame must be bytes, got {type(data).__name__}")
    if len(data) > MAX_FRAME_BYTES:
        raise InvalidEncoding(f"agent frame of {len(data)} bytes exceeds {MAX_FRAME_BYTES}")
    value = decode(data, allow_floats=False)
    if not isinstance(value, dict):
        raise InvalidEncoding("an agent frame must be a map")
    kind = value.get("k")
    if type(kind) is not str or kind not in _FIELDS:
        raise InvalidEncoding(f"agent frame kind {kind!r:.20} is unknown")
    if set(value) != _FIELDS[kind]:
        extra = sorted(set(value) ^ _FIELDS[kind])
        raise InvalidEncoding(f"agent frame {kind!r} has wrong fields: {', '.join(extra)}")
    if value["v"] != FRAME_VERSION or type(value["v"]) is not int:
        raise InvalidEncoding(f"agent frame version {value['v']!r:.20} is not {FRAME_VERSION}")
    if kind == "push":
        facts = value["b"]
        if type(facts) is not list or not 1 <= len(facts) <= MAX_PUSHED_FACTS:
            raise InvalidEncoding(f"a push frame carries a list of 1..{MAX_PUSHED_FACTS} facts")
        return PushFrame(_namespace(value["ns"]), tuple(_bytes(f, "pushed fact") for f in facts))
    body = _bytes(value["b"], "body")
    if kind == "sync":
        raw = _bytes(value["ns"], "namespace")
        try:
            namespace = JournalNamespace.from_bytes(raw)
        except InvalidEncoding:
            raise
        except InvalidInput as exc:
            raise InvalidEncoding(f"agent frame namespace: {exc}") from None
        return SyncFrame(namespace, body)
    if kind == "cons":
        return ConsensusFrame(_bytes(value["g"], "group", 32), body)
    if kind == "svc":
        return ServiceFrame(_name(value["f"], "feature"), body)
    return EnvelopeFrame(body)
