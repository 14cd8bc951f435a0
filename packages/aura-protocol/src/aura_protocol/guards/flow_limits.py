"""Where a flow budget's limit comes from: the capabilities the sender holds.

The limit is never stored; it is derived at send time from the sender's
verified token. Each capability may carry a per-epoch budget; the limit for a
context is the largest budget among the capabilities the token grants in that
context (holding several capabilities does not add their budgets up: the
budget bounds how much one authority may send, whatever it sends). No token,
or no budgeted capability in the context, gives no limit, which denies.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import attrs

from aura_core.errors import InvalidInput
from aura_core.identifiers import ContextId
from aura_journal.authorization import Capability, VerifiedToken

__all__ = ["FlowLimits"]


def _convert(value: Mapping[Capability, int]) -> Mapping[Capability, int]:
    if not isinstance(value, Mapping):
        raise InvalidInput("FlowLimits needs a mapping of Capability to per-epoch budget")
    for capability, limit in value.items():
        if not isinstance(capability, Capability):
            raise InvalidInput("FlowLimits keys must be Capability values")
        if type(limit) is not int or not 0 <= limit < 2**64:
            raise InvalidInput(f"the flow budget of {capability} must be a u64, got {limit!r:.40}")
    return MappingProxyType(dict(value))


@attrs.frozen
class FlowLimits:
    """Per-epoch flow budget granted by each capability."""

    per_capability: Mapping[Capability, int] = attrs.field(converter=_convert, hash=False)

    def limit_for(self, token: VerifiedToken | None, context: ContextId) -> int | None:
        """The runtime limit for sends in ``context`` under ``token`` (``None``: no budget)."""
        if token is None:
            return None
        budgets = [
            self.per_capability[capability]
            for granted_context, capability in token.grants
            if granted_context == context and capability in self.per_capability
        ]
        return max(budgets) if budgets else None
