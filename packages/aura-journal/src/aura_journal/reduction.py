"""Reducers and the cached, incremental views built from them.

A reducer turns a set of facts into a state and must not care in which order
the facts arrive. Two shapes are supported:

* :class:`Reducer` — a commutative fold: ``initial()`` and
  ``apply(state, fact, body)``. Each new fact costs one ``apply``. Views own
  their state object, so ``apply`` may update it in place and return it.
* :class:`OrderedReducer` — for results that depend on the order of facts
  (by ``OrderTime``, content id breaking ties): a monoid (``identity``,
  ``lift``, associative ``combine``) and ``finish``. Its view keeps facts in a
  sorted index of small chunks under a segment tree of chunk summaries, so a
  fact landing anywhere in the order costs ``O(chunk + log n)`` combines
  instead of a refold of everything after it.

Either may also implement :class:`SnapshotCodec` so its state can be stored
in a snapshot fact (see :mod:`aura_journal.snapshots`).
"""

from __future__ import annotations

import abc
from bisect import bisect_left
from collections.abc import Iterable
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from aura_core.errors import InvalidInput
from aura_journal.facts import Fact

__all__ = [
    "AnyReducer",
    "FoldView",
    "OrderedReducer",
    "OrderedView",
    "Reducer",
    "SnapshotCodec",
    "View",
    "build_view",
    "is_ordered",
    "make_view",
    "reduce_facts",
]

S = TypeVar("S")
M = TypeVar("M")

_UNSET: Any = object()


@runtime_checkable
class Reducer(Protocol[S]):
    """A commutative fold over the facts whose type is in ``fact_types``."""

    name: str
    fact_types: frozenset[str]

    def initial(self) -> S: ...

    def apply(self, state: S, fact: Fact, body: Any) -> S: ...


@runtime_checkable
class OrderedReducer(Protocol[M, S]):
    """An order-sensitive reduction expressed as a monoid over facts in ``OrderTime`` order."""

    name: str
    fact_types: frozenset[str]

    def identity(self) -> M: ...

    def lift(self, fact: Fact, body: Any) -> M: ...

    def combine(self, left: M, right: M) -> M: ...

    def finish(self, summary: M) -> S: ...


@runtime_checkable
class SnapshotCodec(Protocol):
    """Canonical form of a reducer's state (a fold's state, an ordered reducer's summary)."""

    def encode_state(self, state: Any) -> Any: ...

    def decode_state(self, value: Any) -> Any: ...


AnyReducer = Reducer[Any] | OrderedReducer[Any, Any]


def is_ordered(reducer: object) -> bool:
    return callable(getattr(reducer, "combine", None)) and callable(getattr(reducer, "lift", None))


class View(abc.ABC, Generic[S]):
    """A reducer's cached result over a growing set of facts."""

    reducer: Any

    @property
    @abc.abstractmethod
    def state(self) -> S:
        """The reducer's current result."""

    @property
    @abc.abstractmethod
    def snapshot_state(self) -> Any:
        """What a snapshot stores for this reducer (a fold's state, an ordered summary)."""

    @property
    @abc.abstractmethod
    def fact_count(self) -> int:
        """Facts folded in since the view was built (beyond its snapshot base)."""

    @abc.abstractmethod
    def add(self, fact: Fact, body: Any) -> None:
        """Fold in one new fact."""


class FoldView(View[S]):
    """View of a commutative :class:`Reducer`: one ``apply`` per new fact."""

    def __init__(self, reducer: Reducer[S], base: S | None = None) -> None:
        self.reducer = reducer
        self._state = reducer.initial() if base is None else base
        self._count = 0

    @property
    def state(self) -> S:
        return self._state

    @property
    def snapshot_state(self) -> Any:
        return self._state

    @property
    def fact_count(self) -> int:
        return self._count

    def add(self, fact: Fact, body: Any) -> None:
        self._state = self.reducer.apply(self._state, fact, body)
        self._count += 1


class OrderedView(View[S]):
    """View of an :class:`OrderedReducer` over a chunked, sorted index of facts."""

    def __init__(
        self, reducer: OrderedReducer[Any, S], base: Any | None = None, *, chunk_size: int = 64
    ) -> None:
        if chunk_size < 2:
            raise InvalidInput("chunk_size must be at least 2")
        self.reducer = reducer
        self._chunk_size = chunk_size
        self._base = reducer.identity() if base is None else base
        self._keys: list[list[tuple[bytes, bytes]]] = []
        self._values: list[list[Any]] = []
        self._maxes: list[tuple[bytes, bytes]] = []
        self._tree: list[Any] = []
        self._size = 0
        self._count = 0
        self._cached: Any = _UNSET
        self._rebuild_tree()

    # ------------------------------------------------------------------ reading

    @property
    def summary(self) -> Any:
        """The monoid value of the base followed by every fact in order."""
        return self.reducer.combine(self._base, self._tree[1])

    @property
    def state(self) -> S:
        if self._cached is _UNSET:
            self._cached = self.reducer.finish(self.summary)
        return self._cached

    @property
    def snapshot_state(self) -> Any:
        return self.summary

    @property
    def fact_count(self) -> int:
        return self._count

    # ------------------------------------------------------------------ updating

    def add(self, fact: Fact, body: Any) -> None:
        key = fact.sort_key
        value = self.reducer.lift(fact, body)
        self._count += 1
        self._cached = _UNSET
        if not self._keys:
            self._keys.append([key])
            self._values.append([value])
            self._maxes.append(key)
            self._rebuild_tree()
            return
        index = bisect_left(self._maxes, key)
        if index == len(self._maxes):
            index -= 1
        keys, values = self._keys[index], self._values[index]
        position = bisect_left(keys, key)
        keys.insert(position, key)
        values.insert(position, value)
        self._maxes[index] = keys[-1]
        if len(keys) > 2 * self._chunk_size:
            half = len(keys) // 2
            self._keys[index : index + 1] = [keys[:half], keys[half:]]
            self._values[index : index + 1] = [values[:half], values[half:]]
            self._maxes[index : index + 1] = [keys[half - 1], keys[-1]]
            self._rebuild_tree()
        else:
            self._update_leaf(index)

    def extend_sorted(self, entries: list[tuple[tuple[bytes, bytes], Any]]) -> None:
        """Bulk load (used by full reduction): ``entries`` sorted by key, view empty."""
        if self._keys:
            raise InvalidInput("extend_sorted needs an empty view")
        step = self._chunk_size
        for start in range(0, len(entries), step):
            piece = entries[start : start + step]
            self._keys.append([key for key, _ in piece])
            self._values.append([value for _, value in piece])
            self._maxes.append(piece[-1][0])
        self._count = len(entries)
        self._cached = _UNSET
        self._rebuild_tree()

    def _chunk_summary(self, index: int) -> Any:
        combine = self.reducer.combine
        values = self._values[index]
        total = values[0]
        for value in values[1:]:
            total = combine(total, value)
        return total

    def _rebuild_tree(self) -> None:
        count = len(self._keys)
        size = 1
        while size < count:
            size *= 2
        identity = self.reducer.identity()
        tree = [identity] * (2 * size)
        for index in range(count):
            tree[size + index] = self._chunk_summary(index)
        combine = self.reducer.combine
        for node in range(size - 1, 0, -1):
            tree[node] = combine(tree[2 * node], tree[2 * node + 1])
        self._tree = tree
        self._size = size

    def _update_leaf(self, index: int) -> None:
        tree = self._tree
        combine = self.reducer.combine
        node = self._size + index
        tree[node] = self._chunk_summary(index)
        node //= 2
        while node:
            tree[node] = combine(tree[2 * node], tree[2 * node + 1])
            node //= 2


def make_view(reducer: AnyReducer, base: Any | None = None) -> View[Any]:
    """An empty view of ``reducer``, optionally starting from a snapshot's state."""
    if is_ordered(reducer):
        return OrderedView(reducer, base)  # type: ignore[arg-type]
    if not (
        callable(getattr(reducer, "initial", None)) and callable(getattr(reducer, "apply", None))
    ):
        raise InvalidInput(f"{type(reducer).__name__} is neither a Reducer nor an OrderedReducer")
    return FoldView(reducer, base)  # type: ignore[arg-type]


def build_view(
    reducer: AnyReducer, entries: Iterable[tuple[Fact, Any]], base: Any | None = None
) -> View[Any]:
    """A view over ``entries`` computed in one pass (a full recompute)."""
    view = make_view(reducer, base)
    if isinstance(view, OrderedView):
        lift = reducer.lift  # type: ignore[union-attr]
        loaded = sorted(((fact.sort_key, lift(fact, body)) for fact, body in entries), key=_first)
        view.extend_sorted(loaded)
    else:
        for fact, body in entries:
            view.add(fact, body)
    return view


def _first(entry: tuple[Any, Any]) -> Any:
    return entry[0]


def reduce_facts(
    reducer: AnyReducer, entries: Iterable[tuple[Fact, Any]], base: Any | None = None
) -> Any:
    """The reducer's state over ``(fact, body)`` pairs, from scratch."""
    return build_view(reducer, entries, base).state
