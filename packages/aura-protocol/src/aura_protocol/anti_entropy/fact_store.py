"""What a reconciliation session needs from the replica it runs for.

A session only needs three things: the sorted, fingerprinted set of ids it
holds, the bytes of one fact by id (to push it), and a place to put facts
that arrived (already checked against their ids). :class:`FactStore` is that
seam; two adapters implement it:

* :class:`MappingFactStore` over any mutable mapping ``CID -> bytes`` (a
  dict, a storage-backed mapping, a test fixture);
* :class:`JournalFactStore` over an :class:`aura_journal.Journal`, which
  validates every arriving fact with the journal's own rules.

Both keep the id index up to date incrementally: arrivals are indexed as
they are accepted, and facts added behind the adapter's back are picked up
by a size check before each session (the reconciled sets only grow).
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from typing import Protocol, runtime_checkable

import attrs

from aura_core.content_id import CID, content_id_of_bytes
from aura_core.errors import AuraError, ErrorKind, InvalidInput, ValidationError
from aura_journal.facts import Fact
from aura_journal.journal import Journal
from aura_protocol.anti_entropy.fingerprint_index import FingerprintIndex
from aura_protocol.anti_entropy.messages import TransferredFact

__all__ = ["AcceptReport", "FactStore", "JournalFactStore", "MappingFactStore"]


@attrs.frozen
class AcceptReport:
    """What a store did with facts a peer sent."""

    accepted: tuple[CID, ...] = ()
    rejected: tuple[tuple[CID, AuraError], ...] = ()
    """Facts refused for good (bad signature, broken rule...), with the reason."""
    deferred: tuple[CID, ...] = ()
    """Facts held back until something they depend on arrives (retried on later arrivals)."""


@runtime_checkable
class FactStore(Protocol):
    """The replica side of anti-entropy."""

    def id_index(self) -> FingerprintIndex:
        """The index of every id held (up to date when returned)."""
        ...

    def fetch(self, raw_cid: bytes) -> bytes | None:
        """The encoded fact with this binary CID, or ``None`` if only its id is kept."""
        ...

    def accept(self, facts: Sequence[TransferredFact]) -> AcceptReport:
        """Store facts whose bytes were already checked against their CIDs."""
        ...


class MappingFactStore:
    """A :class:`FactStore` over a mutable mapping of CID to encoded bytes.

    The mapping is treated as grow-only; if it shrinks, the index is rebuilt.
    """

    def __init__(self, facts: MutableMapping[CID, bytes] | None = None) -> None:
        self._facts: MutableMapping[CID, bytes] = {} if facts is None else facts
        for cid, data in self._facts.items():
            if not isinstance(cid, CID) or type(data) is not bytes:
                raise InvalidInput("MappingFactStore needs a mapping of CID to bytes")
        self._index = FingerprintIndex(cid.raw for cid in self._facts)

    @property
    def facts(self) -> MutableMapping[CID, bytes]:
        return self._facts

    def put(self, data: bytes) -> CID:
        """Add a locally created fact (DAG-CBOR bytes); returns its CID."""
        if type(data) is not bytes or not data:
            raise InvalidInput("a fact must be non-empty bytes")
        cid = content_id_of_bytes(data)
        if cid not in self._facts:
            self._facts[cid] = data
            self._index.add(cid.raw)
        return cid

    def id_index(self) -> FingerprintIndex:
        if len(self._index) != len(self._facts):
            if len(self._index) > len(self._facts):
                self._index = FingerprintIndex()
            self._index.add_many(cid.raw for cid in self._facts)
        return self._index

    def fetch(self, raw_cid: bytes) -> bytes | None:
        return self._facts.get(CID(raw_cid))

    def accept(self, facts: Sequence[TransferredFact]) -> AcceptReport:
        accepted = []
        for fact in facts:
            if fact.cid not in self._facts:
                self._facts[fact.cid] = fact.data
                self._index.add(fact.cid.raw)
                accepted.append(fact.cid)
        return AcceptReport(tuple(accepted))


class JournalFactStore:
    """A :class:`FactStore` over a journal: arriving facts pass every rule of their type.

    The reconciled set is the journal's live facts plus its tombstones (ids
    of facts collected under a snapshot). That set only grows, and a replica
    that collected a fact still "has" it, so two replicas that differ only in
    what they collected compare equal. A tombstoned fact cannot be pushed
    (its bytes are gone); a peer missing it gets it from a replica that has
    not collected it yet, or gets the snapshot that covers it.

    Facts refused with a transient error (a parent not seen yet) are kept and
    retried with each later arrival, so dependencies may come in any order
    and across sessions. At most ``max_deferred`` are kept.
    """

    def __init__(self, journal: Journal, *, max_deferred: int = 10_000) -> None:
        if not isinstance(journal, Journal):
            raise InvalidInput(f"expected a Journal, got {type(journal).__name__}")
        if type(max_deferred) is not int or max_deferred < 0:
            raise InvalidInput("max_deferred must be a non-negative int")
        self._journal = journal
        self._max_deferred = max_deferred
        self._deferred: dict[bytes, Fact] = {}
        self._index = FingerprintIndex()
        self._tombstone_count = 0
        self._refresh()

    @property
    def journal(self) -> Journal:
        return self._journal

    @property
    def deferred(self) -> int:
        """Facts waiting for a dependency."""
        return len(self._deferred)

    def _refresh(self) -> None:
        journal = self._journal
        tombstones = journal.tombstones
        self._tombstone_count = len(tombstones)
        index = self._index
        index.add_many(fact.cid.raw for fact in journal)
        index.add_many(cid.raw for cid in tombstones)

    def id_index(self) -> FingerprintIndex:
        journal = self._journal
        # Live facts + tombstones only grow; collection moves an id from one to the other.
        if len(journal) + len(journal.tombstones) != len(self._index):
            self._refresh()
        return self._index

    def fetch(self, raw_cid: bytes) -> bytes | None:
        fact = self._journal.get(CID(raw_cid))
        return None if fact is None else fact.encode()

    def accept(self, facts: Sequence[TransferredFact]) -> AcceptReport:
        batch: list[Fact] = list(self._deferred.values())
        self._deferred.clear()
        rejected: list[tuple[CID, AuraError]] = []
        for item in facts:
            try:
                fact = Fact.decode(item.data)
            except AuraError as exc:
                rejected.append((item.cid, exc))
                continue
            if fact.cid != item.cid:  # Fact.decode keeps the bytes; a mismatch is a bug upstream
                rejected.append((item.cid, ValidationError(f"fact bytes do not match {item.cid}")))
                continue
            batch.append(fact)
        report = self._journal.ingest_many(batch)
        accepted = list(report.accepted)
        deferred: list[CID] = []
        for position, error in report.rejected:
            fact = batch[position]
            if error.kind is ErrorKind.TRANSIENT and len(self._deferred) < self._max_deferred:
                self._deferred[fact.cid.raw] = fact
                deferred.append(fact.cid)
            else:
                rejected.append((fact.cid, error))
        self._index.add_many(cid.raw for cid in accepted)
        return AcceptReport(tuple(accepted), tuple(rejected), tuple(deferred))
