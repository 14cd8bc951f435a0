"""An agent's journals, kept in memory for reduction and in storage for durability.

Every namespace the agent takes part in (its authority, each context) has one
:class:`~aura_journal.Journal`. Facts reach it three ways: the agent adds its
own (validated first, then written), the guard chain commits some directly to
storage in the same transaction as a budget charge (picked up by
:meth:`JournalBook.refresh`), and anti-entropy brings facts from peers
(:class:`SyncedFactStore`, which validates, persists and then announces them).
Listeners hear about every batch of new facts: that is how journal changes
reach reducers and signals.

The storage journal of a namespace is its printed form, the name the guard
chain uses too, so both write to the same place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from aura_core.content_id import CID
from aura_core.effects import StorageEffects
from aura_core.errors import AuraError, InvalidEncoding, InvalidInput, NotFound
from aura_journal import FactRegistry, Journal, JournalNamespace
from aura_journal.facts import Fact
from aura_protocol.anti_entropy import AcceptReport, JournalFactStore, TransferredFact
from aura_protocol.anti_entropy.fingerprint_index import FingerprintIndex
from aura_protocol.guards import journal_name

__all__ = ["JOURNALS_TABLE", "JournalBook", "JournalListener", "SyncedFactStore"]

JOURNALS_TABLE = "agent_journals"
"""Table listing the namespaces this agent keeps (key: namespace bytes)."""

JournalListener = Callable[[JournalNamespace, Sequence[Fact]], None]
"""Called with the namespace and the facts that just became part of its journal."""


class JournalBook:
    """The journals of one agent, loaded from and written to its storage."""

    def __init__(self, storage: StorageEffects, registry: FactRegistry) -> None:
        self._storage = storage
        self._registry = registry
        self._journals: dict[JournalNamespace, Journal] = {}
        self._seq: dict[JournalNamespace, int] = {}
        self._listeners: list[JournalListener] = []
        self._stores: dict[JournalNamespace, SyncedFactStore] = {}
        self.facts_loaded = 0
        self.corrupt_records = 0
        """Stored fact records that failed to decode when loaded (storage corruption)."""

    @property
    def registry(self) -> FactRegistry:
        return self._registry

    def listen(self, listener: JournalListener) -> None:
        self._listeners.append(listener)

    # ------------------------------------------------------------------ namespaces

    def load_all(self) -> None:
        """Open every namespace recorded in storage (at start-up)."""
        with self._storage.transaction(readonly=True) as txn:
            rows = txn.scan(JOURNALS_TABLE)
        for key, _value in rows:
            try:
                namespace = JournalNamespace.from_bytes(key)
            except AuraError:
                self.corrupt_records += 1
                continue
            self.open(namespace)

    def open(self, namespace: JournalNamespace) -> Journal:
        """The journal of ``namespace``, loading it from storage the first time."""
        journal = self._journals.get(namespace)
        if journal is not None:
            return journal
        if not isinstance(namespace, JournalNamespace):
            raise InvalidInput(f"expected a JournalNamespace, got {type(namespace).__name__}")
        journal = Journal(namespace, self._registry)
        self._journals[namespace] = journal
        self._seq[namespace] = 0
        key = namespace.to_bytes()
        with self._storage.transaction() as txn:
            if txn.get(JOURNALS_TABLE, key) is None:
                txn.put(JOURNALS_TABLE, key, b"")
        self.refresh(namespace, announce=False)
        return journal

    def __contains__(self, namespace: object) -> bool:
        return namespace in self._journals

    def journal(self, namespace: JournalNamespace) -> Journal:
        try:
            return self._journals[namespace]
        except KeyError:
            raise NotFound(f"this agent keeps no journal for {namespace}") from None

    @property
    def namespaces(self) -> tuple[JournalNamespace, ...]:
        return tuple(sorted(self._journals, key=lambda ns: ns.to_bytes()))

    def fact_count(self) -> int:
        return sum(len(journal) for journal in self._journals.values())

    # ------------------------------------------------------------------ writing

    def add(self, namespace: JournalNamespace, facts: Iterable[Fact]) -> list[Fact]:
        """Validate ``facts`` (every rule of their types) and write the new ones durably.

        A fact breaking a rule raises its error and nothing is written.
        """
        journal = self.open(namespace)
        new: list[Fact] = []
        try:
            for fact in facts:
                if journal.add(fact):
                    new.append(fact)
            if new:
                self._persist(namespace, new)
        except BaseException:
            if new:
                self._reload(namespace)  # memory must not hold what storage does not
            raise
        if new:
            self._announce(namespace, new)
        return new

    def adopt(self, journal: Journal) -> list[Fact]:
        """Take over a journal another component built (an invitation's new context).

        It becomes this book's journal of its namespace (the same object, so
        the component keeps working on it); facts it holds that storage does
        not are written and announced. Adopting into a namespace already kept
        merges instead.
        """
        namespace = journal.namespace
        current = self._journals.get(namespace)
        if current is not None and current is not journal:
            return self.add(namespace, list(journal))
        if current is None:
            self.open(namespace)
            stored = self._journals[namespace]
            journal.merge(stored)  # whatever storage already had (nothing, normally)
            self._journals[namespace] = journal
            self._stores.pop(namespace, None)
        return self.save(namespace)

    def save(self, namespace: JournalNamespace) -> list[Fact]:
        """Write facts another component added to the journal directly; returns them."""
        journal = self.journal(namespace)
        with self._storage.transaction(readonly=True) as txn:
            stored = {record.fact_id for record in txn.scan_facts(journal_name(namespace))}
        unsaved = [fact for fact in journal if fact.cid.raw not in stored]
        if unsaved:
            self._persist(namespace, unsaved)
            self._announce(namespace, unsaved)
        return unsaved

    def refresh(self, namespace: JournalNamespace, *, announce: bool = True) -> list[Fact]:
        """Load facts written to storage by someone else (the guard chain) since the last look."""
        journal = self.open(namespace)
        with self._storage.transaction(readonly=True) as txn:
            stored = txn.scan_facts(journal_name(namespace), after_seq=self._seq[namespace])
        if not stored:
            return []
        self._seq[namespace] = stored[-1].seq
        facts = []
        for record in stored:
            try:
                fact = Fact.decode(record.body)
            except InvalidEncoding:
                self.corrupt_records += 1
                continue
            if fact.cid.raw != record.fact_id:
                self.corrupt_records += 1
                continue
            if fact not in journal:
                facts.append(fact)
        try:
            journal.load_trusted(facts)
        except AuraError:
            # A record that decodes but whose body does not: load the rest one by one.
            good = []
            for fact in facts:
                try:
                    journal.load_trusted([fact])
                    good.append(fact)
                except AuraError:
                    self.corrupt_records += 1
            facts = good
        self.facts_loaded += len(facts)
        if announce and facts:
            self._announce(namespace, facts)
        return facts

    def refresh_all(self) -> int:
        return sum(len(self.refresh(namespace)) for namespace in list(self._journals))

    def sync_store(self, namespace: JournalNamespace) -> SyncedFactStore:
        """The anti-entropy store of ``namespace`` (one per namespace, kept)."""
        store = self._stores.get(namespace)
        if store is None:
            store = self._stores[namespace] = SyncedFactStore(self, namespace)
        return store

    # ------------------------------------------------------------------ internals

    def _persist(self, namespace: JournalNamespace, facts: Sequence[Fact]) -> None:
        name = journal_name(namespace)
        journal = self._journals[namespace]
        with self._storage.transaction() as txn:
            txn.append_facts(name, [(fact.cid.raw, fact.encode()) for fact in facts])
            tail = txn.scan_facts(name, after_seq=self._seq[namespace])
        # Rows already in memory need no reload; stop at the first one that is not.
        for record in tail:
            if CID(record.fact_id) not in journal:
                break
            self._seq[namespace] = record.seq

    def _reload(self, namespace: JournalNamespace) -> None:
        self._journals[namespace] = Journal(namespace, self._registry)
        self._seq[namespace] = 0
        self._stores.pop(namespace, None)
        self.refresh(namespace, announce=False)

    def _accepted(self, namespace: JournalNamespace, cids: Sequence[CID]) -> None:
        journal = self._journals[namespace]
        facts = [fact for fact in (journal.get(cid) for cid in cids) if fact is not None]
        if facts:
            self._persist(namespace, facts)
            self._announce(namespace, facts)

    def _announce(self, namespace: JournalNamespace, facts: Sequence[Fact]) -> None:
        for listener in list(self._listeners):
            listener(namespace, facts)


class SyncedFactStore:
    """Anti-entropy's view of one journal: arrivals are validated, persisted, then announced."""

    def __init__(self, book: JournalBook, namespace: JournalNamespace) -> None:
        self._book = book
        self._namespace = namespace
        self._inner = JournalFactStore(book.journal(namespace))

    @property
    def namespace(self) -> JournalNamespace:
        return self._namespace

    @property
    def deferred(self) -> int:
        return self._inner.deferred

    def id_index(self) -> FingerprintIndex:
        return self._inner.id_index()

    def fetch(self, raw_cid: bytes) -> bytes | None:
        return self._inner.fetch(raw_cid)

    def accept(self, facts: Sequence[TransferredFact]) -> AcceptReport:
        report = self._inner.accept(facts)
        if report.accepted:
            self._book._accepted(self._namespace, report.accepted)
        return report
