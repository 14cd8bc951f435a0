"""The canonical event log of a simulation run and its BLAKE3 trace hash.

Every event is encoded canonically and fed to one running BLAKE3 hasher, so
two runs have equal trace hashes exactly when they produced the same events
in the same order at the same virtual microseconds. Record encoding:

``kind (u8) || time_us (u64 BE) || field count (u8) || fields``

where each field is ``u32 BE length || bytes`` (text fields as UTF-8, integer
fields as 8-byte big-endian). The encoding is injective, so no two different
event sequences share an input to the hash.
"""

from __future__ import annotations

import enum
import struct

import attrs
import blake3

__all__ = ["EventKind", "EventLog", "SimEvent"]

_HEADER = struct.Struct(">BQB")
_LEN = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_INT_FIELD = _LEN.pack(8)
_FLUSH_AT = 1 << 16
_SEND_HEAD = struct.Struct(">BQBIQ")  # header + first field (an integer id)


class EventKind(enum.IntEnum):
    SEND = 1
    DELIVER = 2
    DROP = 3
    DUPLICATE = 4
    TIMER = 5
    CRASH = 6
    RESTART = 7
    PARTITION = 8
    HEAL = 9
    SKEW = 10
    NOTE = 11


@attrs.frozen
class SimEvent:
    """One logged event (kept only when the log is created with ``keep=True``)."""

    time_us: int
    kind: EventKind
    fields: tuple[str | bytes | int, ...]


class EventLog:
    """Hashes every event; optionally keeps them for inspection.

    Records are appended to a buffer that is hashed in 64 KiB pieces: the
    digest is the same as hashing record by record, at a fraction of the cost.
    """

    def __init__(self, *, keep: bool = False) -> None:
        self._hasher = blake3.blake3(derive_key_context="AURA_SIM_TRACE_V1")
        self._buffer = bytearray()
        self._keep = keep
        self._names: dict[str, bytes] = {}
        self.events: list[SimEvent] = []
        self.count = 0

    def record(self, time_us: int, kind: EventKind, *fields: str | bytes | int) -> None:
        buffer = self._buffer
        buffer += _HEADER.pack(kind, time_us, len(fields))
        for field in fields:
            cls = field.__class__
            if cls is bytes:
                buffer += _LEN.pack(len(field))  # type: ignore[arg-type]
                buffer += field  # type: ignore[operator]
            elif cls is str:
                raw = field.encode()  # type: ignore[union-attr]
                buffer += _LEN.pack(len(raw))
                buffer += raw
            else:
                buffer += _INT_FIELD
                buffer += _U64.pack(field)
        self.count += 1
        if len(buffer) >= _FLUSH_AT:
            self._hasher.update(buffer)
            buffer.clear()
        if self._keep:
            self.events.append(SimEvent(time_us, kind, fields))

    # Specialised forms of :meth:`record` for the hot path; the bytes are identical.
    def record_send(
        self, time_us: int, message_id: int, source: str, destination: str, payload: bytes
    ) -> None:
        if self._keep:
            self.record(time_us, EventKind.SEND, message_id, source, destination, payload)
            return
        names = self._names
        src = names.get(source)
        if src is None:
            raw = source.encode()
            src = names[source] = _LEN.pack(len(raw)) + raw
        dst = names.get(destination)
        if dst is None:
            raw = destination.encode()
            dst = names[destination] = _LEN.pack(len(raw)) + raw
        buffer = self._buffer
        buffer += _SEND_HEAD.pack(EventKind.SEND, time_us, 4, 8, message_id)
        buffer += src
        buffer += dst
        buffer += _LEN.pack(len(payload))
        buffer += payload
        self.count += 1
        if len(buffer) >= _FLUSH_AT:
            self._hasher.update(buffer)
            buffer.clear()

    def record_timer(self, time_us: int, node: str) -> None:
        if self._keep:
            self.record(time_us, EventKind.TIMER, node)
            return
        name = self._names.get(node)
        if name is None:
            raw = node.encode()
            name = self._names[node] = _LEN.pack(len(raw)) + raw
        buffer = self._buffer
        buffer += _HEADER.pack(EventKind.TIMER, time_us, 1)
        buffer += name
        self.count += 1
        if len(buffer) >= _FLUSH_AT:
            self._hasher.update(buffer)
            buffer.clear()

    def record_deliver(self, time_us: int, message_id: int) -> None:
        if self._keep:
            self.record(time_us, EventKind.DELIVER, message_id)
            return
        buffer = self._buffer
        buffer += _SEND_HEAD.pack(EventKind.DELIVER, time_us, 1, 8, message_id)
        self.count += 1
        if len(buffer) >= _FLUSH_AT:
            self._hasher.update(buffer)
            buffer.clear()

    def trace_hash(self) -> str:
        """Hex BLAKE3 over every record so far (the log keeps accepting events)."""
        hasher = self._hasher.copy()
        hasher.update(self._buffer)
        return hasher.hexdigest()
