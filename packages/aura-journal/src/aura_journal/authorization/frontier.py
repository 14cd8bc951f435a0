"""The capability frontier: what an authority may do, per context.

Capabilities form a meet-semilattice: combining two views of authority
(two tokens, a token and a policy ceiling) keeps only what both allow, so
authority can only narrow as information accumulates. The frontier is a
finite set of (context, capability) grants; meet is set intersection.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Self

import attrs

from aura_core.errors import InvalidInput
from aura_core.identifiers import ContextId
from aura_journal.authorization.capability import Capability

__all__ = ["CapabilityFrontier"]


def _check_grants(
    _instance: object, _attribute: attrs.Attribute, value: frozenset[tuple[ContextId, Capability]]
) -> None:
    if type(value) is not frozenset:
        raise InvalidInput(
            "CapabilityFrontier.grants must be a frozenset of (ContextId, Capability)"
        )
    for grant in value:
        if (
            type(grant) is not tuple
            or len(grant) != 2
            or not isinstance(grant[0], ContextId)
            or not isinstance(grant[1], Capability)
        ):
            raise InvalidInput(
                f"CapabilityFrontier grant must be (ContextId, Capability), got {grant!r}"
            )


@attrs.frozen
class CapabilityFrontier:
    """A finite set of (context, capability) grants; ``meet`` only narrows."""

    grants: frozenset[tuple[ContextId, Capability]] = attrs.field(
        default=frozenset(), validator=_check_grants
    )

    @classmethod
    def empty(cls) -> Self:
        """The bottom element: nothing is allowed anywhere."""
        return cls(frozenset())

    @classmethod
    def of(cls, per_context: Mapping[ContextId, Iterable[Capability]]) -> Self:
        """Build from ``{context: capabilities}``."""
        return cls(frozenset((ctx, cap) for ctx, caps in per_context.items() for cap in caps))

    @classmethod
    def from_grants(cls, grants: Iterable[tuple[ContextId, Capability]]) -> Self:
        return cls(frozenset(grants))

    def meet(self, other: CapabilityFrontier) -> CapabilityFrontier:
        """What both frontiers allow (greatest lower bound)."""
        if not isinstance(other, CapabilityFrontier):
            raise InvalidInput(f"cannot meet a CapabilityFrontier with {type(other).__name__}")
        return CapabilityFrontier(self.grants & other.grants)

    @staticmethod
    def meet_all(frontiers: Iterable[CapabilityFrontier]) -> CapabilityFrontier:
        """Meet of a non-empty collection (there is no finite top element)."""
        result: CapabilityFrontier | None = None
        for frontier in frontiers:
            result = frontier if result is None else result.meet(frontier)
        if result is None:
            raise InvalidInput("meet of no frontiers is undefined (there is no finite top)")
        return result

    def is_within(self, other: CapabilityFrontier) -> bool:
        """True when every grant here is also in ``other`` (self <= other)."""
        return self.grants <= other.grants

    def allows(self, context: ContextId, capability: Capability) -> bool:
        return (context, capability) in self.grants

    def contexts(self) -> frozenset[ContextId]:
        return frozenset(ctx for ctx, _ in self.grants)

    def capabilities(self, context: ContextId) -> frozenset[Capability]:
        return frozenset(cap for ctx, cap in self.grants if ctx == context)

    def __iter__(self) -> Iterator[tuple[ContextId, Capability]]:
        return iter(sorted(self.grants))

    def __len__(self) -> int:
        return len(self.grants)
