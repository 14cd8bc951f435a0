"""Type-specific merge rules for facts that compete for one slot.

Some facts conflict: two devices set a nickname, two moderators set a topic.
The journal keeps both (merge is set union); a :class:`ConflictResolver`
view picks one winner per slot by a rule the fact type chooses, and the rule
is a total order, so every replica picks the same winner whatever order the
facts came in. The default rule is "latest by ``OrderTime``", ties broken by
content id.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Any

from aura_core.errors import InvalidInput
from aura_journal.facts import Fact

__all__ = ["ConflictResolver", "Winners", "latest_by_order"]

RankFn = Callable[[Fact, Any], Any]
KeyFn = Callable[[Fact, Any], Hashable]


def latest_by_order(fact: Fact, _body: Any) -> tuple[bytes, bytes]:
    """The default rule: larger ``OrderTime`` wins, then larger content id."""
    return fact.sort_key


class Winners:
    """slot -> (winning fact, its body). Owned by its view."""

    __slots__ = ("_rank", "_slots")

    def __init__(self, rank: RankFn) -> None:
        self._rank = rank
        self._slots: dict[Hashable, tuple[Any, Fact, Any]] = {}

    def offer(self, key: Hashable, fact: Fact, body: Any) -> None:
        rank = (self._rank(fact, body), fact.cid.raw)
        current = self._slots.get(key)
        if current is None or rank > current[0]:
            self._slots[key] = (rank, fact, body)

    def winner(self, key: Hashable) -> Fact | None:
        entry = self._slots.get(key)
        return None if entry is None else entry[1]

    def body(self, key: Hashable) -> Any:
        entry = self._slots.get(key)
        return None if entry is None else entry[2]

    def keys(self) -> Iterator[Hashable]:
        return iter(self._slots)

    def __len__(self) -> int:
        return len(self._slots)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Winners):
            return NotImplemented
        mine = {key: entry[1].cid for key, entry in self._slots.items()}
        theirs = {key: entry[1].cid for key, entry in other._slots.items()}
        return mine == theirs

    __hash__ = None  # type: ignore[assignment]


class ConflictResolver:
    """A commutative reducer keeping one winning fact per slot.

    ``key(fact, body)`` names the slot a fact competes for; ``rank(fact, body)``
    orders competitors (largest wins; content id breaks ties), so the winner
    is the maximum of a total order: the same on every replica.
    """

    def __init__(
        self,
        name: str,
        fact_types: Iterable[str],
        key: KeyFn,
        rank: RankFn = latest_by_order,
    ) -> None:
        types = frozenset(fact_types)
        if not types:
            raise InvalidInput("a ConflictResolver needs at least one fact type")
        self.name = name
        self.fact_types = types
        self._key = key
        self._rank = rank

    def initial(self) -> Winners:
        return Winners(self._rank)

    def apply(self, state: Winners, fact: Fact, body: Any) -> Winners:
        state.offer(self._key(fact, body), fact, body)
        return state
