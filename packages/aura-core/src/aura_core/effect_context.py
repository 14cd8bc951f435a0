"""The operation scope that flows through every call chain.

Guards read it to decide authorization; handlers read it to route to the
right namespace; traces record it. It never holds secrets.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

import attrs

from aura_core.errors import InvalidInput
from aura_core.identifiers import AuthorityId, ContextId, SessionId

__all__ = ["EffectContext", "ExecutionMode"]


class ExecutionMode(enum.Enum):
    """Which family of handlers is serving this operation."""

    PRODUCTION = "production"
    SIMULATION = "simulation"
    TESTING = "testing"


def _frozen_metadata(value: Mapping[str, str]) -> Mapping[str, str]:
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise InvalidInput("EffectContext metadata must map str to str")
    return MappingProxyType(dict(sorted(value.items())))


@attrs.frozen
class EffectContext:
    """Authority, context, session, execution mode and free-form (non-secret) metadata."""

    authority: AuthorityId
    session: SessionId
    context: ContextId | None = None
    mode: ExecutionMode = ExecutionMode.PRODUCTION
    metadata: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_metadata, eq=False)

    def with_context(self, context: ContextId | None) -> EffectContext:
        return attrs.evolve(self, context=context)

    def with_session(self, session: SessionId) -> EffectContext:
        return attrs.evolve(self, session=session)

    def with_metadata(self, **items: str) -> EffectContext:
        return attrs.evolve(self, metadata={**self.metadata, **items})

    def as_log_fields(self) -> dict[str, str]:
        """Flat, printable fields for structured logging."""
        fields = {
            "authority": str(self.authority),
            "session": str(self.session),
            "mode": self.mode.value,
        }
        if self.context is not None:
            fields["context"] = str(self.context)
        fields.update({f"meta.{k}": v for k, v in self.metadata.items()})
        return fields
