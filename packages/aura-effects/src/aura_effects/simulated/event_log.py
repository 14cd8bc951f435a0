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
    """Hashes every event; optionally keeps them for inspection."""

    def __init__(self, *, keep: bool = False) -> None:
        self._hasher = blake3.blake3(derive_key_context="AURA_SIM_TRACE_V1")
        self._keep = keep
        self.events: list[SimEvent] = []
        self.count = 0

    def record(self, time_us: int, kind: EventKind, *fields: str | bytes | int) -> None:
        parts = [_HEADER.pack(kind, time_us, len(fields))]
        for field in fields:
            if isinstance(field, bytes):
                raw = field
            elif isinstance(field, str):
                raw = field.encode()
            else:
                raw = _U64.pack(field)
            parts.append(_LEN.pack(len(raw)))
            parts.append(raw)
        self._hasher.update(b"".join(parts))
        self.count += 1
        if self._keep:
            self.events.append(SimEvent(time_us, kind, fields))

    def trace_hash(self) -> str:
        """Hex BLAKE3 over every record so far (the log keeps accepting events)."""
        return self._hasher.copy().hexdigest()
