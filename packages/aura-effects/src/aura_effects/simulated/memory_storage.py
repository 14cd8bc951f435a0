"""In-memory storage with the same contract as SQLite, plus injectable faults.

Writes apply in place and are recorded in an undo log, so a failed block
rolls back exactly. The undo logs of the last few committed transactions are
kept so a simulation can play a disk that lied about durability
(:meth:`MemoryStorage.lose_last_commits`), and single bytes of stored values
can be flipped (:meth:`MemoryStorage.corrupt_value` and friends) to check
that upper layers detect corruption.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from aura_core.effects import OutboxEntry, RandomEffects, StoredFact
from aura_core.errors import ErrorKind, InvalidInput, NotFound, StorageError
from aura_effects import _storage_rules as rules
from aura_effects.sealed_records import RecordSealer

__all__ = ["MemoryStorage"]

_Undo = tuple[Any, ...]


class _MemoryTransaction:
    def __init__(self, store: MemoryStorage, readonly: bool) -> None:
        self._store = store
        self._readonly = readonly
        self._open = True
        self.undo: list[_Undo] = []

    def _usable(self, *, write: bool) -> MemoryStorage:
        if not self._open:
            raise StorageError("transaction used after its block ended", kind=ErrorKind.PERMANENT)
        if write and self._readonly:
            raise StorageError("write in a read-only transaction", kind=ErrorKind.PERMANENT)
        return self._store

    # tables -----------------------------------------------------------------
    def get(self, table: str, key: bytes) -> bytes | None:
        store = self._usable(write=False)
        return store._kv.get(rules.check_table(table), {}).get(rules.check_key(key))

    def put(self, table: str, key: bytes, value: bytes) -> None:
        store = self._usable(write=True)
        rows = store._kv.setdefault(rules.check_table(table), {})
        rules.check_key(key)
        rules.check_value(value)
        self.undo.append(("kv", table, key, rows.get(key)))
        rows[key] = value

    def delete(self, table: str, key: bytes) -> bool:
        store = self._usable(write=True)
        rows = store._kv.get(rules.check_table(table), {})
        old = rows.pop(rules.check_key(key), None)
        if old is None:
            return False
        self.undo.append(("kv", table, key, old))
        return True

    def scan(
        self, table: str, prefix: bytes = b"", *, limit: int | None = None
    ) -> list[tuple[bytes, bytes]]:
        store = self._usable(write=False)
        rows = store._kv.get(rules.check_table(table), {})
        rules.check_key(prefix, what="prefix")
        cap = rules.check_limit(limit)
        found = sorted(item for item in rows.items() if item[0].startswith(prefix))
        return found if cap is None else found[:cap]

    # facts ------------------------------------------------------------------
    def append_fact(self, journal: str, fact_id: bytes, body: bytes) -> bool:
        store = self._usable(write=True)
        rules.check_name(journal, what="journal")
        rules.check_key(fact_id, what="fact_id")
        rules.check_value(body, what="fact body")
        if (journal, fact_id) in store._fact_index:
            return False
        store._next_seq += 1
        fact = StoredFact(journal, store._next_seq, fact_id, body)
        store._facts.setdefault(journal, []).append(fact)
        store._fact_index[(journal, fact_id)] = fact.seq
        self.undo.append(("fact", journal, fact_id))
        return True

    def append_facts(self, journal: str, facts: Sequence[tuple[bytes, bytes]]) -> int:
        self._usable(write=True)
        rules.check_name(journal, what="journal")
        items = list(facts)
        for item in items:
            if not (isinstance(item, tuple) and len(item) == 2):
                raise InvalidInput("append_facts needs (fact_id, body) pairs")
            rules.check_key(item[0], what="fact_id")
            rules.check_value(item[1], what="fact body")
        return sum(self.append_fact(journal, fact_id, body) for fact_id, body in items)

    def scan_facts(
        self, journal: str, *, after_seq: int = 0, limit: int | None = None
    ) -> list[StoredFact]:
        store = self._usable(write=False)
        rules.check_name(journal, what="journal")
        rules.check_seq(after_seq, what="after_seq")
        cap = rules.check_limit(limit)
        found = [f for f in store._facts.get(journal, ()) if f.seq > after_seq]
        return found if cap is None else found[:cap]

    # outbox -----------------------------------------------------------------
    def enqueue_outbox(self, destination: str, payload: bytes) -> int:
        store = self._usable(write=True)
        rules.check_name(destination, what="outbox destination")
        rules.check_value(payload, what="outbox payload")
        store._next_outbox += 1
        entry = OutboxEntry(store._next_outbox, destination, payload)
        store._outbox[entry.entry_id] = entry
        self.undo.append(("outbox_add", entry.entry_id))
        return entry.entry_id

    def ack_outbox(self, entry_id: int) -> bool:
        store = self._usable(write=True)
        entry = store._outbox.pop(rules.check_seq(entry_id, what="entry_id"), None)
        if entry is None:
            return False
        self.undo.append(("outbox_ack", entry))
        return True

    def pending_outbox(self, limit: int | None = None) -> list[OutboxEntry]:
        store = self._usable(write=False)
        cap = rules.check_limit(limit)
        found = [store._outbox[k] for k in sorted(store._outbox)]
        return found if cap is None else found[:cap]

    # secrets ----------------------------------------------------------------
    def put_secret(self, name: str, secret: bytes) -> None:
        store = self._usable(write=True)
        rules.check_name(name, what="secret name")
        rules.check_value(secret, what="secret")
        self.undo.append(("secret", name, store._secrets.get(name)))
        store._secrets[name] = store._sealer.seal(name, secret)

    def get_secret(self, name: str) -> bytes | None:
        store = self._usable(write=False)
        sealed = store._secrets.get(rules.check_name(name, what="secret name"))
        return None if sealed is None else store._sealer.open(name, sealed)

    def delete_secret(self, name: str) -> bool:
        store = self._usable(write=True)
        old = store._secrets.pop(rules.check_name(name, what="secret name"), None)
        if old is None:
            return False
        self.undo.append(("secret", name, old))
        return True


class MemoryStorage:
    """:class:`~aura_core.effects.StorageEffects` held in memory (testing and simulation).

    ``secrets_key`` plays the host key; secrets are sealed exactly as on disk
    so corrupting one is detected the same way. ``keep_undo`` bounds how many
    committed transactions :meth:`lose_last_commits` can take back.
    """

    def __init__(self, *, secrets_key: bytes, random: RandomEffects, keep_undo: int = 8) -> None:
        self._sealer = RecordSealer(secrets_key, random)
        self._kv: dict[str, dict[bytes, bytes]] = {}
        self._facts: dict[str, list[StoredFact]] = {}
        self._fact_index: dict[tuple[str, bytes], int] = {}
        self._next_seq = 0
        self._outbox: dict[int, OutboxEntry] = {}
        self._next_outbox = 0
        self._secrets: dict[str, bytes] = {}
        self._committed: deque[list[_Undo]] = deque(maxlen=keep_undo)
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._closed = False

    @contextmanager
    def transaction(self, *, readonly: bool = False) -> Iterator[_MemoryTransaction]:
        me = threading.get_ident()
        if self._owner == me:
            raise StorageError("storage transactions do not nest", kind=ErrorKind.PERMANENT)
        with self._lock:
            if self._closed:
                raise StorageError("storage is closed", kind=ErrorKind.PERMANENT)
            self._owner = me
            txn = _MemoryTransaction(self, readonly)
            try:
                yield txn
            except BaseException:
                txn._open = False
                self._undo(txn.undo)
                raise
            finally:
                self._owner = None
            txn._open = False
            if txn.undo:
                self._committed.append(txn.undo)

    def close(self) -> None:
        self._closed = True

    # fault injection ------------------------------------------------------------
    def lose_last_commits(self, count: int = 1) -> int:
        """Undo the newest ``count`` committed transactions (a disk that lost its last writes).

        Returns how many were undone (at most ``keep_undo``).
        """
        undone = 0
        with self._lock:
            while undone < count and self._committed:
                self._undo(self._committed.pop())
                undone += 1
        return undone

    def corrupt_value(self, table: str, key: bytes, byte_index: int = 0) -> None:
        """Flip every bit of one byte of a stored table value."""
        rows = self._kv.get(rules.check_table(table), {})
        if key not in rows:
            raise NotFound(f"no value under {key!r:.40} in table {table!r}")
        rows[key] = _flip(rows[key], byte_index)

    def corrupt_fact(self, journal: str, fact_id: bytes, byte_index: int = 0) -> None:
        """Flip one byte of a stored fact body."""
        facts = self._facts.get(journal, [])
        for position, fact in enumerate(facts):
            if fact.fact_id == fact_id:
                facts[position] = StoredFact(
                    journal, fact.seq, fact_id, _flip(fact.body, byte_index)
                )
                return
        raise NotFound(f"no fact {fact_id.hex()[:16]} in journal {journal!r}")

    def corrupt_secret(self, name: str, byte_index: int = -1) -> None:
        """Flip one byte of a sealed secret record (reading it then fails authentication)."""
        if name not in self._secrets:
            raise NotFound(f"no secret named {name!r}")
        self._secrets[name] = _flip(self._secrets[name], byte_index)

    # internals ------------------------------------------------------------------
    def _undo(self, undo: list[_Undo]) -> None:
        for record in reversed(undo):
            kind = record[0]
            if kind == "kv":
                _, table, key, old = record
                rows = self._kv.setdefault(table, {})
                if old is None:
                    rows.pop(key, None)
                else:
                    rows[key] = old
            elif kind == "fact":
                _, journal, fact_id = record
                seq = self._fact_index.pop((journal, fact_id))
                facts = self._facts[journal]
                facts[:] = [f for f in facts if f.seq != seq]
                if seq == self._next_seq:
                    self._next_seq -= 1
            elif kind == "outbox_add":
                entry_id = record[1]
                self._outbox.pop(entry_id, None)
                if entry_id == self._next_outbox:
                    self._next_outbox -= 1
            elif kind == "outbox_ack":
                entry = record[1]
                self._outbox[entry.entry_id] = entry
            else:  # "secret"
                _, name, old = record
                if old is None:
                    self._secrets.pop(name, None)
                else:
                    self._secrets[name] = old


def _flip(value: bytes, byte_index: int) -> bytes:
    if not value:
        raise InvalidInput("cannot corrupt an empty value")
    index = byte_index % len(value)
    return value[:index] + bytes([value[index] ^ 0xFF]) + value[index + 1 :]
