"""Journal changes flow through reducers into reactive signals, in batches.

Each :class:`~aura_agent.feature.SignalSpec` names the fact types it depends
on. When facts arrive, :meth:`SignalBoard.journal_changed` only marks the
affected signals dirty; :meth:`SignalBoard.flush` recomputes each dirty
signal once from the (incrementally maintained) journal views and emits it.
:meth:`SignalBoard.run` flushes ``batch_s`` after the first change of a burst,
so a thousand facts arriving together cost one recomputation per signal, not
a thousand. Subscribers read through the reactive effect, which always hands
them the newest value (intermediate ones are skipped), so a slow UI never
falls behind and never sees an older state after a newer one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

import anyio

from aura_agent.feature import JournalReader, SignalSpec
from aura_core.effects import PhysicalTimeEffects, ReactiveEffects
from aura_core.errors import InvalidInput
from aura_journal import JournalNamespace
from aura_journal.facts import Fact

__all__ = ["SignalBoard"]

_ERROR_HISTORY = 64


class SignalBoard:
    """The signals of one agent and the bookkeeping that keeps them current."""

    def __init__(self, reactive: ReactiveEffects, reader: JournalReader) -> None:
        self._reactive = reactive
        self._reader = reader
        self._specs: dict[str, SignalSpec] = {}
        self._by_type: dict[str, set[str]] = {}
        self._any_change: set[str] = set()
        self._dirty: set[str] = set()
        self._wake: anyio.Event | None = None
        self._last: dict[str, Any] = {}
        self.recomputations = 0
        self.emissions = 0
        self.facts_seen = 0
        self.errors: deque[tuple[str, str]] = deque(maxlen=_ERROR_HISTORY)
        """(signal, error type and message) for signal computations that raised."""

    # ------------------------------------------------------------------ registration

    def add(self, spec: SignalSpec) -> None:
        if not isinstance(spec, SignalSpec):
            raise InvalidInput(f"expected a SignalSpec, got {type(spec).__name__}")
        if spec.name in self._specs:
            raise InvalidInput(f"signal {spec.name!r} is registered twice")
        self._specs[spec.name] = spec
        if spec.fact_types:
            for type_id in spec.fact_types:
                self._by_type.setdefault(type_id, set()).add(spec.name)
        else:
            self._any_change.add(spec.name)
        self._mark([spec.name])

    def add_all(self, specs: Iterable[SignalSpec]) -> None:
        for spec in specs:
            self.add(spec)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._specs)

    @property
    def dirty(self) -> frozenset[str]:
        return frozenset(self._dirty)

    # ------------------------------------------------------------------ changes

    def journal_changed(self, _namespace: JournalNamespace, facts: Sequence[Fact]) -> None:
        """A :data:`~aura_agent.journal_book.JournalListener`: mark what these facts affect."""
        self.facts_seen += len(facts)
        affected: set[str] = set(self._any_change)
        by_type = self._by_type
        for type_id in {fact.type_id for fact in facts}:
            affected |= by_type.get(type_id, set())
        self._mark(affected)

    def invalidate(self, names: Iterable[str] | None = None) -> None:
        """Mark signals dirty for a reason other than new facts (``None``: all of them)."""
        self._mark(self._specs if names is None else names)

    def _mark(self, names: Iterable[str]) -> None:
        before = len(self._dirty)
        self._dirty.update(names)
        if len(self._dirty) != before and self._wake is not None:
            self._wake.set()

    # ------------------------------------------------------------------ emitting

    def flush(self) -> int:
        """Recompute every dirty signal once and emit those whose value changed."""
        emitted = 0
        while self._dirty:
            dirty, self._dirty = self._dirty, set()
            for name in sorted(dirty):
                spec = self._specs.get(name)
                if spec is None:
                    continue
                self.recomputations += 1
                try:
                    value = spec.compute(self._reader)
                except Exception as exc:  # a feature's bug must not stop the other signals
                    self.errors.append((name, f"{type(exc).__name__}: {exc}"))
                    continue
                if name in self._last and self._last[name] == value:
                    continue
                self._last[name] = value
                self._reactive.emit(name, value)
                self.emissions += 1
                emitted += 1
        return emitted

    async def run(self, time: PhysicalTimeEffects, batch_s: float) -> None:
        """Flush ``batch_s`` after the first change of each burst, until cancelled."""
        while True:
            if not self._dirty:
                self._wake = anyio.Event()
                try:
                    await self._wake.wait()
                finally:
                    self._wake = None
            if batch_s > 0:
                await time.sleep(batch_s)
            self.flush()
