"""Snapshots and garbage collection: compaction without deletion.

A snapshot is a fact naming the facts it covers and, for each reducer that
can store its state, the state reached by reducing them; ``state_hash``
commits to both. Garbage collection under a snapshot moves covered facts to
the journal's tombstones: the ids stay forever (so a collected fact sent
again is recognised, not re-added), the contents go. Reducing the snapshot's
state plus the facts it does not cover gives exactly what reducing every
fact gives, which is what makes collection safe.

A journal admits a snapshot only after recomputing each stored reduction
from the covered facts it holds and finding it equal. Collection is refused
unless the snapshot is the head (its coverage includes every other live
snapshot's and every earlier tombstone), and a fact is only collected when every
registered reducer that reads it has its state in the snapshot.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any, ClassVar, Self

import attrs

from aura_core.canonical_fields import read_bytes, read_cid, read_list, read_map, read_str
from aura_core.content_id import CID
from aura_core.dag_cbor import decode, encode
from aura_core.errors import InvalidEncoding, InvalidInput, NotFound
from aura_core.hashing import tagged_hash
from aura_journal.errors import MissingDependency, SnapshotConflict, SnapshotMismatch
from aura_journal.fact_registry import FactType
from aura_journal.facts import Fact, FactMetadata
from aura_journal.reduction import SnapshotCodec, build_view

if TYPE_CHECKING:
    from aura_journal.journal import Journal

__all__ = [
    "SNAPSHOT_TYPE_ID",
    "SnapshotBody",
    "admit_snapshot",
    "collect_garbage",
    "make_snapshot",
    "snapshot_base",
    "snapshot_fact_type",
]

SNAPSHOT_TYPE_ID = "journal.snapshot"
_STATE_DOMAIN = "AURA_SNAPSHOT_STATE_V1"
_COVERED_DOMAIN = "AURA_SNAPSHOT_COVERED_V1"
_MAX_REDUCTIONS = 256


def _state_hash(covered: Iterable[bytes], reductions: tuple[tuple[str, bytes], ...]) -> bytes:
    covered_digest = tagged_hash(_COVERED_DOMAIN, b"".join(sorted(covered)))
    parts: list[bytes] = [covered_digest]
    for name, state in reductions:
        parts += [name.encode("utf-8"), state]
    return tagged_hash(_STATE_DOMAIN, *parts)


@attrs.frozen
class SnapshotBody:
    """Covered fact ids, per-reducer encoded states, and the hash binding them."""

    TYPE_ID: ClassVar[str] = SNAPSHOT_TYPE_ID
    covered: frozenset[bytes]
    """Raw content ids of the covered facts."""
    reductions: tuple[tuple[str, bytes], ...]
    """``(reducer name, canonical state bytes)``, sorted by name."""
    state_hash: bytes

    def __attrs_post_init__(self) -> None:
        if type(self.covered) is not frozenset or not self.covered:
            raise InvalidInput("a snapshot covers a non-empty frozenset of content ids")
        names = [entry[0] for entry in self.reductions]
        if type(self.reductions) is not tuple or any(a >= b for a, b in itertools.pairwise(names)):
            raise InvalidInput("snapshot reductions must be sorted by reducer name, no repeats")
        if _state_hash(self.covered, self.reductions) != self.state_hash:
            raise InvalidInput("snapshot state_hash does not match its covered ids and states")

    @classmethod
    def build(cls, covered: Iterable[CID], reductions: Mapping[str, bytes]) -> Self:
        raws = frozenset(cid.raw for cid in covered)
        ordered = tuple(sorted(reductions.items()))
        return cls(raws, ordered, _state_hash(raws, ordered))

    @property
    def reducer_names(self) -> frozenset[str]:
        return frozenset(name for name, _ in self.reductions)

    def covers(self, cid: CID) -> bool:
        return cid.raw in self.covered

    def reduction(self, name: str) -> bytes | None:
        for reducer_name, state in self.reductions:
            if reducer_name == name:
                return state
        return None

    def decode_reduction(self, name: str, reducer: object) -> Any:
        """The stored state of ``name`` as the reducer's own state object."""
        stored = self.reduction(name)
        if stored is None:
            raise NotFound(f"snapshot holds no state for reducer {name!r}")
        if not isinstance(reducer, SnapshotCodec):
            raise InvalidInput(f"reducer {name!r} cannot decode snapshot states")
        return reducer.decode_state(decode(stored, allow_floats=False))

    def to_canonical(self) -> dict[str, Any]:
        return {
            "covered": [CID(raw) for raw in sorted(self.covered)],
            "reductions": [[name, state] for name, state in self.reductions],
            "state_hash": self.state_hash,
        }

    @classmethod
    def from_canonical(cls, value: Any) -> Self:
        fields = read_map(value, "snapshot", ("covered", "reductions", "state_hash"))
        covered_list = [
            read_cid(item, "snapshot covered id").raw
            for item in read_list(fields["covered"], "snapshot covered")
        ]
        if any(a >= b for a, b in itertools.pairwise(covered_list)):
            raise InvalidEncoding("snapshot covered ids must be sorted and unique")
        if not covered_list:
            raise InvalidEncoding("a snapshot must cover at least one fact")
        reductions: list[tuple[str, bytes]] = []
        for entry in read_list(
            fields["reductions"], "snapshot reductions", max_items=_MAX_REDUCTIONS
        ):
            pair = read_list(entry, "snapshot reduction", max_items=2)
            if len(pair) != 2:
                raise InvalidEncoding("a snapshot reduction is [reducer name, state bytes]")
            reductions.append(
                (
                    read_str(pair[0], "snapshot reducer name"),
                    read_bytes(pair[1], "snapshot state", max_size=1 << 23),
                )
            )
        names = [name for name, _ in reductions]
        if any(a >= b for a, b in itertools.pairwise(names)):
            raise InvalidEncoding("snapshot reductions must be sorted by reducer name, no repeats")
        state_hash = read_bytes(fields["state_hash"], "snapshot state_hash", size=32)
        try:
            return cls(frozenset(covered_list), tuple(reductions), state_hash)
        except InvalidInput as exc:
            raise InvalidEncoding(exc.message) from None


def snapshot_base(
    snapshots: Mapping[bytes, SnapshotBody],
    reducer_name: str,
    tombstones: AbstractSet[bytes] = frozenset(),
) -> tuple[bytes, SnapshotBody] | None:
    """The snapshot a view of ``reducer_name`` starts from, or ``None``.

    A view is its base snapshot's state plus every live fact the base does
    not cover. That is complete exactly when the base covers every tombstone
    (collected facts are gone; only a snapshot still accounts for them), so
    the base is chosen among the live snapshots holding the reducer's state
    that cover all tombstones: the one covering the most facts, the larger
    content id breaking ties (snapshots of the same facts hold equal states).
    If none covers every tombstone (collection without agreement), the one
    covering the most tombstones is the best remaining choice. The choice
    depends only on the journal's value, never on arrival order.
    """
    best: tuple[tuple[int, int, int, bytes], bytes, SnapshotBody] | None = None
    for raw, body in snapshots.items():
        if reducer_name not in body.reducer_names:
            continue
        if tombstones <= body.covered:
            accounted = len(tombstones)
        else:
            accounted = len(tombstones & body.covered)
        rank = (int(accounted == len(tombstones)), accounted, len(body.covered), raw)
        if best is None or rank > best[0]:
            best = (rank, raw, body)
    return None if best is None else (best[1], best[2])


def make_snapshot(
    journal: Journal, metadata: FactMetadata, *, reducers: Iterable[str] | None = None
) -> Fact:
    """An unsigned snapshot fact of ``journal`` as it is now (sign it before adding).

    It covers every live fact and every tombstone, and stores the state of
    each named reducer (default: every registered reducer that has a
    snapshot codec).
    """
    registry = journal.registry
    if reducers is None:
        names = [r.name for r in registry.reducers if isinstance(r, SnapshotCodec)]
    else:
        names = list(reducers)
    reductions: dict[str, bytes] = {}
    for name in names:
        reducer = registry.reducer(name)
        if not isinstance(reducer, SnapshotCodec):
            raise InvalidInput(
                f"reducer {name!r} has no snapshot codec (encode_state/decode_state)"
            )
        reductions[name] = encode(reducer.encode_state(journal.view(name).snapshot_state))
    covered = [*journal.cids(), *journal.tombstones]
    if not covered:
        raise InvalidInput("an empty journal has nothing to snapshot")
    return Fact.create(SnapshotBody.build(covered, reductions), metadata)


def admit_snapshot(journal: Journal, fact: Fact, body: SnapshotBody) -> None:
    """Admission rule: every stored reduction must equal reducing the covered facts.

    Raises ``MissingDependency`` while covered facts are missing here and
    ``SnapshotMismatch`` if a stored state is wrong.
    """
    registry = journal.registry
    snapshots = journal.snapshot_bodies()
    own = fact.cid.raw
    earlier = {
        raw: snap for raw, snap in snapshots.items() if raw != own and snap.covered <= body.covered
    }
    collected = journal.collected_within(body.covered)
    accounted: set[bytes] = set()
    for snap in earlier.values():
        accounted |= snap.covered
    missing = [raw for raw in body.covered if raw not in accounted and not journal._knows(raw)]
    if missing:
        raise MissingDependency(
            f"snapshot covers {len(missing)} fact(s) this journal does not hold, e.g. {CID(missing[0])}"
        )
    for name, stored in body.reductions:
        if name not in {r.name for r in registry.reducers}:
            continue  # a reducer this node does not run: its state is never used here
        reducer = registry.reducer(name)
        prior = snapshot_base(earlier, name, collected)
        prior_covered: frozenset[bytes] = frozenset()
        base = None
        if prior is not None:
            prior_covered = prior[1].covered
            base = prior[1].decode_reduction(name, reducer)
        entries = [
            (item, registry.body(item))
            for type_id in reducer.fact_types
            for item in journal.facts_of_type(type_id)
            if item.cid.raw in body.covered and item.cid.raw not in prior_covered
        ]
        recomputed = encode(reducer.encode_state(_summary_or_state(reducer, entries, base)))  # type: ignore[union-attr]
        if recomputed != stored:
            raise SnapshotMismatch(
                f"snapshot state for reducer {name!r} differs from reducing the {len(entries)} fact(s) it covers"
            )


def _summary_or_state(reducer: Any, entries: list[tuple[Fact, Any]], base: Any) -> Any:
    return build_view(reducer, entries, base).snapshot_state


def collect_garbage(journal: Journal, snapshot: CID) -> int:
    """Tombstone the facts ``snapshot`` makes redundant; returns how many were collected."""
    snapshots = journal.snapshot_bodies()
    head = snapshots.get(snapshot.raw)
    if head is None:
        raise NotFound(f"{snapshot} is not a live snapshot of journal {journal.namespace}")
    for raw, other in snapshots.items():
        if raw == snapshot.raw:
            continue
        if not other.covered <= head.covered:
            raise SnapshotConflict(
                f"snapshot {snapshot} does not cover what live snapshot {CID(raw)} covers; "
                "agree on one head first"
            )
        lost = other.reducer_names - head.reducer_names
        if lost:
            raise SnapshotConflict(
                f"snapshot {snapshot} lacks state for reducer(s) {sorted(lost)} held by {CID(raw)}"
            )
    uncovered_tombstones = [cid for cid in journal.tombstones if cid.raw not in head.covered]
    if uncovered_tombstones:
        raise SnapshotConflict(
            f"snapshot {snapshot} does not cover earlier tombstone {uncovered_tombstones[0]}"
        )
    stored = head.reducer_names
    collectable: list[bytes] = []
    for raw in head.covered:
        fact = journal.get(CID(raw))
        if fact is None:
            continue
        if fact.type_id == SNAPSHOT_TYPE_ID:
            collectable.append(raw)
            continue
        readers = journal.consumers_of(fact.type_id)
        if readers and set(readers) <= stored:
            collectable.append(raw)
    return journal._collect(collectable)


def snapshot_fact_type() -> FactType:
    """Snapshots are signed (by a device or the group) and verified on admission."""
    return FactType.for_body(
        SnapshotBody, attestations=frozenset({"device", "threshold"}), admit=admit_snapshot
    )
