"""Trace events kept in memory, in order, for simulations and tests to inspect."""

from __future__ import annotations

import attrs

from aura_core.effect_context import EffectContext
from aura_core.effects import TraceValue
from aura_core.errors import InvalidInput
from aura_effects.logging_trace import redact_fields

__all__ = ["MemoryTrace", "TraceRecord"]


@attrs.frozen
class TraceRecord:
    ctx: EffectContext
    name: str
    fields: dict[str, TraceValue]


class MemoryTrace:
    """:class:`~aura_core.effects.TraceEffects` appending to :attr:`records` (same redaction as logging)."""

    def __init__(self) -> None:
        self.records: list[TraceRecord] = []

    def event(self, ctx: EffectContext, name: str, /, **fields: TraceValue) -> None:
        if not isinstance(ctx, EffectContext):
            raise InvalidInput(f"trace needs an EffectContext, got {type(ctx).__name__}")
        if not isinstance(name, str) or not name:
            raise InvalidInput("trace event name must be a non-empty string")
        self.records.append(TraceRecord(ctx, name, redact_fields(fields)))

    def named(self, name: str) -> list[TraceRecord]:
        return [r for r in self.records if r.name == name]
