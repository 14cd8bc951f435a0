"""Trace events as structured ``logging`` records, with secrets kept out.

Each event becomes one record on the ``aura.trace`` logger whose ``aura``
attribute holds the event name, the :class:`EffectContext` fields and the
event's own fields, ready for a JSON formatter. Fields whose names suggest
key material are replaced by ``"<redacted>"``, and values that are not plain
scalars are refused, so a careless caller cannot log a key by accident.
"""

from __future__ import annotations

import logging
import re

from aura_core.effect_context import EffectContext
from aura_core.effects import TraceValue
from aura_core.errors import InvalidInput

__all__ = ["REDACTED", "LoggingTrace", "redact_fields"]

REDACTED = "<redacted>"
_SECRET_NAME = re.compile(
    r"(key|secret|seed|psk|password|passphrase|token|nonce|private|share)", re.IGNORECASE
)
_EVENT_NAME = re.compile(r"[a-z][a-z0-9_.:-]{0,127}")


def redact_fields(fields: dict[str, TraceValue]) -> dict[str, TraceValue]:
    """Check field types and blank out fields whose names look secret."""
    clean: dict[str, TraceValue] = {}
    for name, value in fields.items():
        if value is not None and not isinstance(value, str | int | float | bool):
            raise InvalidInput(
                f"trace field {name!r} must be str, int, float, bool or None, got {type(value).__name__}"
            )
        clean[name] = REDACTED if _SECRET_NAME.search(name) else value
    return clean


class LoggingTrace:
    """:class:`~aura_core.effects.TraceEffects` writing to stdlib ``logging``."""

    def __init__(self, logger: logging.Logger | None = None, *, level: int = logging.INFO) -> None:
        self._logger = logger if logger is not None else logging.getLogger("aura.trace")
        self._level = level

    def event(self, ctx: EffectContext, name: str, /, **fields: TraceValue) -> None:
        if not isinstance(name, str) or _EVENT_NAME.fullmatch(name) is None:
            raise InvalidInput(f"trace event name must match [a-z][a-z0-9_.:-]*, got {name!r:.80}")
        if not isinstance(ctx, EffectContext):
            raise InvalidInput(f"trace needs an EffectContext, got {type(ctx).__name__}")
        clean = redact_fields(fields)
        if not self._logger.isEnabledFor(self._level):
            return
        record = {
            "event": name,
            **ctx.as_log_fields(),
            **{f"field.{k}": v for k, v in clean.items()},
        }
        self._logger.log(self._level, "%s", name, extra={"aura": record})
