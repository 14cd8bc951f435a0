"""Journals: a namespace and a set of facts that merges by union.

A journal is a join-semilattice. Its value is the namespace, the live facts
(keyed by content id), the tombstones of facts collected under a snapshot,
and the capability frontier (a meet-semilattice: it only narrows). Join is
``facts = (A ∪ B) - tombstones``, ``tombstones = A ∪ B``, ``frontier = A ⊓ B``;
joining journals of different namespaces is an error.

Facts from outside (a peer, the application) enter through :meth:`Journal.add`
or :meth:`Journal.ingest`, which run every rule of the fact's type before
anything changes. :meth:`Journal.merge` and :meth:`Journal.join` combine
journals whose facts were already validated (two local replicas, storage), so
they are a set union with no re-validation.

Views of registered reducers are cached per journal and updated fact by fact.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

import attrs

from aura_core.content_id import CID
from aura_core.errors import AuraError, ErrorKind, InvalidInput, NamespaceMismatch
from aura_core.time_domains import OrderTime
from aura_journal.authorization.frontier import CapabilityFrontier
from aura_journal.fact_registry import FactRegistry
from aura_journal.facts import Fact
from aura_journal.namespace import JournalNamespace
from aura_journal.reduction import AnyReducer, View, build_view
from aura_journal.snapshots import SNAPSHOT_TYPE_ID, SnapshotBody, collect_garbage, snapshot_base

__all__ = ["IngestReport", "Journal"]

_LOW = b""
_HIGH = b"\xff" * 64


@attrs.frozen
class IngestReport:
    """What :meth:`Journal.ingest_many` did with a batch."""

    accepted: tuple[CID, ...]
    duplicates: int
    rejected: tuple[tuple[int, AuraError], ...]
    """(position in the batch, the error) for every fact refused."""


class _ViewSlot:
    __slots__ = ("base", "covered", "view")

    def __init__(self, view: View[Any], base: bytes | None, covered: frozenset[bytes]) -> None:
        self.view = view
        self.base = base
        self.covered = covered


class Journal:
    """One namespace's facts, with cached reducer views."""

    def __init__(
        self,
        namespace: JournalNamespace,
        registry: FactRegistry,
        *,
        frontier: CapabilityFrontier | None = None,
    ) -> None:
        if not isinstance(namespace, JournalNamespace):
            raise InvalidInput(
                f"namespace must be a JournalNamespace, got {type(namespace).__name__}"
            )
        if not isinstance(registry, FactRegistry):
            raise InvalidInput(f"registry must be a FactRegistry, got {type(registry).__name__}")
        if frontier is not None and not isinstance(frontier, CapabilityFrontier):
            raise InvalidInput("frontier must be a CapabilityFrontier or None (unrestricted)")
        self._namespace = namespace
        self._registry = registry
        self._frontier = frontier
        self._facts: dict[bytes, Fact] = {}
        self._by_type: dict[str, dict[bytes, Fact]] = {}
        self._tombstones: set[bytes] = set()
        self._snapshots: dict[bytes, SnapshotBody] = {}
        self._order_keys: dict[str, list[tuple[bytes, bytes]]] = {}
        self._unsorted: set[str] = set()
        self._views: dict[str, _ViewSlot | None] = {}
        self._consumers: dict[str, tuple[str, ...]] = {}
        self._consumers_version = -1

    # ------------------------------------------------------------------ the value

    @property
    def namespace(self) -> JournalNamespace:
        return self._namespace

    @property
    def registry(self) -> FactRegistry:
        return self._registry

    @property
    def frontier(self) -> CapabilityFrontier | None:
        """The capability frontier, or ``None`` when nothing has restricted it yet (top)."""
        return self._frontier

    @property
    def tombstones(self) -> frozenset[CID]:
        return frozenset(CID(raw) for raw in self._tombstones)

    def __len__(self) -> int:
        return len(self._facts)

    def __iter__(self) -> Iterator[Fact]:
        return iter(list(self._facts.values()))

    def __contains__(self, item: object) -> bool:
        if isinstance(item, Fact):
            return item.cid.raw in self._facts
        if isinstance(item, CID):
            return item.raw in self._facts
        return False

    def get(self, cid: CID) -> Fact | None:
        return self._facts.get(cid.raw)

    def cids(self) -> frozenset[CID]:
        return frozenset(fact.cid for fact in self._facts.values())

    def is_tombstoned(self, cid: CID) -> bool:
        return cid.raw in self._tombstones

    def snapshot_bodies(self) -> Mapping[bytes, SnapshotBody]:
        """Live snapshot facts (raw content id -> body), read-only."""
        return MappingProxyType(self._snapshots)

    def collect_garbage(self, snapshot: CID) -> int:
        """Collect what ``snapshot`` makes redundant (see :mod:`aura_journal.snapshots`)."""
        return collect_garbage(self, snapshot)

    def collected_within(self, covered: frozenset[bytes]) -> frozenset[bytes]:
        """Raw ids of the tombstones inside ``covered`` (snapshot verification)."""
        return frozenset(raw for raw in self._tombstones if raw in covered)

    def _knows(self, raw: bytes) -> bool:
        return raw in self._facts or raw in self._tombstones

    def facts_of_type(self, type_id: str) -> list[Fact]:
        return list(self._by_type.get(type_id, {}).values())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Journal):
            return NotImplemented
        return (
            self._namespace == other._namespace
            and self._facts.keys() == other._facts.keys()
            and self._tombstones == other._tombstones
            and self._frontier == other._frontier
        )

    __hash__ = None  # type: ignore[assignment]  # mutable container

    def __repr__(self) -> str:
        return (
            f"Journal({self._namespace}, {len(self._facts)} facts, "
            f"{len(self._tombstones)} tombstones)"
        )

    # ------------------------------------------------------------------ accepting facts

    def add(self, fact: Fact) -> bool:
        """Validate ``fact`` against every rule of its type and insert it.

        Returns ``False`` for a fact already held (or already collected under a
        snapshot). Raises the rule's error otherwise, leaving the journal unchanged.
        """
        if not isinstance(fact, Fact):
            raise InvalidInput(f"expected a Fact, got {type(fact).__name__}")
        raw = fact.cid.raw
        if raw in self._facts or raw in self._tombstones:
            return False
        body = self._registry.check(fact, self._namespace)
        self._admit(raw, fact, body)
        return True

    def _admit(self, raw: bytes, fact: Fact, body: Any) -> None:
        """The stateful rules of the fact's type, then the insertion."""
        admit = self._registry.fact_type(fact.type_id).admit
        if admit is not None:
            admit(self, fact, body)
        self._insert(raw, fact, body)

    def ingest(self, data: bytes) -> Fact:
        """Decode and :meth:`add` one fact received as bytes; returns the fact."""
        fact = Fact.decode(data)
        self.add(fact)
        return fact

    def ingest_many(self, batch: Iterable[bytes | Fact]) -> IngestReport:
        """Add a batch from a peer, in any order.

        Every fact is decoded and checked statelessly (signatures included)
        once. Facts whose stateful admission fails with a transient error (a
        parent not seen yet) are retried whenever a pass admitted something,
        so dependencies may arrive in any order. Nothing raises; the report
        lists refusals.
        """
        accepted: list[CID] = []
        duplicates = 0
        refused: dict[int, AuraError] = {}
        checked: list[tuple[int, bytes, Fact, Any]] = []
        for position, item in enumerate(batch):
            try:
                fact = item if isinstance(item, Fact) else Fact.decode(item)
                raw = fact.cid.raw
                if raw in self._facts or raw in self._tombstones:
                    duplicates += 1
                    continue
                checked.append((position, raw, fact, self._registry.check(fact, self._namespace)))
            except AuraError as exc:
                refused[position] = exc
        pending = checked
        while pending:
            retry: list[tuple[int, bytes, Fact, Any]] = []
            waiting: dict[int, AuraError] = {}
            for entry in pending:
                position, raw, fact, body = entry
                if raw in self._facts:
                    duplicates += 1  # the same fact twice in one batch
                    continue
                try:
                    self._admit(raw, fact, body)
                    accepted.append(fact.cid)
                except AuraError as exc:
                    if exc.kind is ErrorKind.TRANSIENT:
                        retry.append(entry)
                        waiting[position] = exc
                    else:
                        refused[position] = exc
            if len(retry) == len(pending):
                refused.update(waiting)
                break
            pending = retry
        rejected = tuple(sorted(refused.items(), key=lambda item: item[0]))
        return IngestReport(tuple(accepted), duplicates, rejected)

    def restrict(self, frontier: CapabilityFrontier) -> None:
        """Narrow the capability frontier (meet); it can never widen."""
        if not isinstance(frontier, CapabilityFrontier):
            raise InvalidInput(f"expected a CapabilityFrontier, got {type(frontier).__name__}")
        self._frontier = frontier if self._frontier is None else self._frontier.meet(frontier)

    # ------------------------------------------------------------------ merging

    def merge(self, other: Journal) -> int:
        """Join ``other`` into this journal in place; returns how many facts arrived.

        ``other`` must hold already-validated facts of the same namespace.
        """
        if not isinstance(other, Journal):
            raise InvalidInput(f"can only merge a Journal, got {type(other).__name__}")
        if other._namespace != self._namespace:
            raise NamespaceMismatch(
                f"cannot merge journal {other._namespace} into journal {self._namespace}"
            )
        new_tombstones = other._tombstones - self._tombstones
        facts, tombstones = self._facts, self._tombstones
        # Plan everything before changing anything: a fact type this journal's
        # registry does not know makes the whole merge fail cleanly. Work goes
        # type by type, reusing the other journal's grouping and order keys.
        plan: list[
            tuple[str, dict[bytes, Fact], list[tuple[Fact, Any]], list[tuple[bytes, bytes]]]
        ] = []
        for type_id, group in other._by_type.items():
            fresh = {
                raw: fact
                for raw, fact in group.items()
                if raw not in facts and raw not in tombstones and raw not in new_tombstones
            }
            if not fresh:
                continue
            self._registry.fact_type(type_id)
            live_readers = any(self._views.get(name) for name in self.consumers_of(type_id))
            bodies: list[tuple[Fact, Any]] = []
            if live_readers or type_id == SNAPSHOT_TYPE_ID:
                body = self._registry.body
                bodies = [(fact, body(fact)) for fact in fresh.values()]
            keys = [key for key in other._order_keys.get(type_id, ()) if key[1] in fresh]
            plan.append((type_id, fresh, bodies, keys))
        if new_tombstones:
            self._tombstones |= new_tombstones
            self._drop(new_tombstones)
        count = 0
        for type_id, fresh, bodies, keys in plan:
            count += len(fresh)
            if type_id == SNAPSHOT_TYPE_ID:
                for fact, fact_body in bodies:
                    self._insert(fact.cid.raw, fact, fact_body)
                continue
            self._facts.update(fresh)
            self._by_type.setdefault(type_id, {}).update(fresh)
            self._order_keys.setdefault(type_id, []).extend(keys)
            self._unsorted.add(type_id)
            for name in self.consumers_of(type_id):
                slot = self._views.get(name)
                if slot is None:
                    continue
                add, covered = slot.view.add, slot.covered
                for fact, fact_body in bodies:
                    if fact.cid.raw not in covered:
                        add(fact, fact_body)
        if other._frontier is not None:
            self.restrict(other._frontier)
        return count

    def join(self, other: Journal) -> Journal:
        """A new journal: the least upper bound of this one and ``other``."""
        result = self.copy()
        result.merge(other)
        return result

    def copy(self) -> Journal:
        """An independent journal with the same value (views are rebuilt on demand)."""
        clone = Journal(self._namespace, self._registry, frontier=self._frontier)
        clone._facts = dict(self._facts)
        clone._by_type = {type_id: dict(group) for type_id, group in self._by_type.items()}
        clone._tombstones = set(self._tombstones)
        clone._snapshots = dict(self._snapshots)
        clone._order_keys = {type_id: list(keys) for type_id, keys in self._order_keys.items()}
        clone._unsorted = set(self._unsorted)
        return clone

    # ------------------------------------------------------------------ views

    def view(self, reducer: AnyReducer | str) -> View[Any]:
        """The cached view of a registered reducer (by object or name)."""
        name = reducer if isinstance(reducer, str) else reducer.name
        slot = self._views.get(name)
        if slot is None:
            slot = self._build_slot(name)
            self._views[name] = slot
        return slot.view

    def state(self, reducer: AnyReducer | str) -> Any:
        """Shortcut for ``view(reducer).state``."""
        return self.view(reducer).state

    def recompute(self, reducer: AnyReducer | str) -> Any:
        """The reducer's state computed from scratch (ignores the cache; for checks)."""
        name = reducer if isinstance(reducer, str) else reducer.name
        return self._build_slot(name).view.state

    def _build_slot(self, name: str) -> _ViewSlot:
        reducer = self._registry.reducer(name)
        base = snapshot_base(self._snapshots, name, self._tombstones)
        covered: frozenset[bytes] = frozenset()
        initial = None
        base_raw = None
        if base is not None:
            base_raw, snapshot = base
            covered = snapshot.covered
            initial = snapshot.decode_reduction(name, reducer)
        body = self._registry.body
        entries = [
            (fact, body(fact))
            for type_id in reducer.fact_types
            for raw, fact in self._by_type.get(type_id, {}).items()
            if raw not in covered
        ]
        return _ViewSlot(build_view(reducer, entries, initial), base_raw, covered)

    def consumers_of(self, type_id: str) -> tuple[str, ...]:
        """Names of the registered reducers that read facts of ``type_id``."""
        if self._consumers_version != self._registry.version:
            self._consumers = {}
            self._consumers_version = self._registry.version
        names = self._consumers.get(type_id)
        if names is None:
            names = tuple(r.name for r in self._registry.reducers if type_id in r.fact_types)
            self._consumers[type_id] = names
        return names

    # ------------------------------------------------------------------ queries

    def query(
        self,
        type_id: str,
        *,
        start: OrderTime | None = None,
        end: OrderTime | None = None,
        limit: int | None = None,
        reverse: bool = False,
    ) -> list[Fact]:
        """Facts of one type in ``OrderTime`` order, ``start <= order < end``."""
        index = self._order_keys.get(type_id, [])
        if type_id in self._unsorted:
            index.sort()  # appended runs since the last query: timsort merges them cheaply
            self._unsorted.discard(type_id)
        low = 0 if start is None else bisect_left(index, (start.token, _LOW))
        high = len(index) if end is None else bisect_left(index, (end.token, _LOW))
        keys = index[low:high]
        if reverse:
            keys.reverse()
        if limit is not None:
            keys = keys[: max(limit, 0)]
        facts = self._facts
        return [facts[raw] for _, raw in keys]

    # ------------------------------------------------------------------ internals

    def _insert(self, raw: bytes, fact: Fact, body: Any) -> None:
        self._facts[raw] = fact
        type_id = fact.type_id
        group = self._by_type.get(type_id)
        if group is None:
            group = self._by_type[type_id] = {}
        group[raw] = fact
        keys = self._order_keys.get(type_id)
        if keys is None:
            keys = self._order_keys[type_id] = []
        keys.append((fact.metadata.order.token, raw))
        self._unsorted.add(type_id)
        if type_id == SNAPSHOT_TYPE_ID and isinstance(body, SnapshotBody):
            self._snapshots[raw] = body
            self._rebase(body.reducer_names)
        for name in self.consumers_of(type_id):
            slot = self._views.get(name)
            if slot is not None and raw not in slot.covered:
                slot.view.add(fact, body)

    def _prepare(
        self, items: Iterable[tuple[bytes, Fact]]
    ) -> dict[str, list[tuple[bytes, Fact, Any]]]:
        """Group facts by type with their bodies; raises before anything changes."""
        grouped: dict[str, list[tuple[bytes, Fact, Any]]] = {}
        body = self._registry.body
        for raw, fact in items:
            group = grouped.get(fact.type_id)
            if group is None:
                self._registry.fact_type(fact.type_id)  # unknown types fail here
                group = grouped[fact.type_id] = []
            cached = fact.cached_body
            group.append((raw, fact, body(fact) if cached is None else cached))
        return grouped

    def _insert_many(self, grouped: dict[str, list[tuple[bytes, Fact, Any]]]) -> int:
        """Bulk :meth:`_insert`: dictionary updates per type, then the live views."""
        count = 0
        for type_id, group in grouped.items():
            if type_id == SNAPSHOT_TYPE_ID:
                for raw, fact, body in group:
                    if raw not in self._facts:
                        self._insert(raw, fact, body)
                        count += 1
                continue
            unique: dict[bytes, tuple[bytes, Fact, Any]] = {}
            for entry in group:  # the same fact twice in one batch counts once
                if entry[0] not in self._facts:
                    unique.setdefault(entry[0], entry)
            fresh = list(unique.values())
            self._facts.update((raw, fact) for raw, fact, _ in fresh)
            self._by_type.setdefault(type_id, {}).update((raw, fact) for raw, fact, _ in fresh)
            self._order_keys.setdefault(type_id, []).extend(
                (fact.metadata.order.token, raw) for raw, fact, _ in fresh
            )
            self._unsorted.add(type_id)
            count += len(fresh)
            for name in self.consumers_of(type_id):
                slot = self._views.get(name)
                if slot is None:
                    continue
                add, covered = slot.view.add, slot.covered
                for raw, fact, body in fresh:
                    if raw not in covered:
                        add(fact, body)
        return count

    def _rebase(self, names: Iterable[str]) -> None:
        """A snapshot arrived or left: views whose base changes are rebuilt lazily."""
        for name in names:
            slot = self._views.get(name)
            if slot is None:
                continue
            base = snapshot_base(self._snapshots, name, self._tombstones)
            if (None if base is None else base[0]) != slot.base:
                self._views[name] = None

    def _drop(self, raws: Iterable[bytes]) -> None:
        """Remove collected facts (their tombstones are already recorded)."""
        touched: set[str] = set()
        removed_snapshots: list[SnapshotBody] = []
        types: set[str] = set()
        for raw in raws:
            fact = self._facts.pop(raw, None)
            if fact is None:
                continue
            self._by_type[fact.type_id].pop(raw, None)
            types.add(fact.type_id)
            snapshot = self._snapshots.pop(raw, None)
            if snapshot is not None:
                removed_snapshots.append(snapshot)
            touched.update(self.consumers_of(fact.type_id))
        for type_id in types:
            live = self._by_type[type_id]
            self._order_keys[type_id] = [key for key in self._order_keys[type_id] if key[1] in live]
        for snapshot in removed_snapshots:
            touched.update(snapshot.reducer_names)
        for name in touched:
            if name in self._views:
                self._views[name] = None
        self._rebase(list(self._views))  # a base must cover every tombstone

    def _collect(self, raws: Iterable[bytes]) -> int:
        """Tombstone and drop facts (garbage collection under a verified snapshot)."""
        chosen = [raw for raw in raws if raw in self._facts]
        self._tombstones.update(chosen)
        self._drop(chosen)
        return len(chosen)

    def load_trusted(self, facts: Iterable[Fact], tombstones: Iterable[CID] = ()) -> int:
        """Restore facts this node validated before (from its own storage).

        Skips signatures and admission checks; bodies are still decoded
        strictly. Not for anything received from a peer.
        """
        arriving = {cid.raw for cid in tombstones} - self._tombstones
        self._tombstones |= arriving
        self._drop(arriving)
        known, tombstones = self._facts, self._tombstones
        pairs = ((fact.cid.raw, fact) for fact in facts)
        return self._insert_many(
            self._prepare(
                (raw, fact) for raw, fact in pairs if raw not in known and raw not in tombstones
            )
        )
