"""Durable storage on SQLite (stdlib ``sqlite3``), the embedded default.

WAL journal with ``synchronous=FULL``: a transaction that returned has been
fsynced to the WAL, so it survives a crash or ``kill -9``. Writers take the
lock up front (``BEGIN IMMEDIATE``) so a transaction never fails halfway for
lack of it; ``busy_timeout`` lets a second process wait its turn. The schema
version lives in ``PRAGMA user_version`` and is migrated forward on open; a
database from a newer version is refused rather than misread.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from aura_core.effects import OutboxEntry, RandomEffects, StoredFact
from aura_core.errors import ErrorKind, InvalidInput, StorageError
from aura_effects import _storage_rules as rules
from aura_effects.sealed_records import RecordSealer
from aura_effects.system_random import SystemRandom

__all__ = ["SCHEMA_VERSION", "SqliteStorage"]

SCHEMA_VERSION = 1
"""The schema this code writes; ``PRAGMA user_version`` of every database it creates."""

_MIGRATIONS: dict[int, tuple[str, ...]] = {
    # version reached -> statements that take the schema from version-1 to it
    1: (
        """CREATE TABLE kv (
               tbl TEXT NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL,
               PRIMARY KEY (tbl, key)) WITHOUT ROWID""",
        """CREATE TABLE facts (
               seq INTEGER PRIMARY KEY, journal TEXT NOT NULL,
               fact_id BLOB NOT NULL, body BLOB NOT NULL,
               UNIQUE (journal, fact_id))""",
        "CREATE INDEX facts_by_journal ON facts (journal, seq)",
        """CREATE TABLE outbox (
               entry_id INTEGER PRIMARY KEY AUTOINCREMENT,
               destination TEXT NOT NULL, payload BLOB NOT NULL)""",
        "CREATE TABLE secrets (name TEXT PRIMARY KEY, sealed BLOB NOT NULL) WITHOUT ROWID",
        "CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID",
    ),
}

_KEY_CHECK_NAME = "\x00storage-key-check"
_KEY_CHECK_PLAINTEXT = b"AURA_STORAGE_KEY_CHECK_V1"


def _storage_error(action: str, exc: sqlite3.Error) -> StorageError:
    transient = isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)
    return StorageError(
        f"sqlite {action} failed: {exc}",
        kind=ErrorKind.TRANSIENT if transient else ErrorKind.SYSTEM,
    )


class _SqliteTransaction:
    """One open transaction; every method raises ``StorageError`` once it has ended."""

    def __init__(self, storage: SqliteStorage, readonly: bool) -> None:
        self._db = storage._db
        self._sealer = storage._sealer
        self._readonly = readonly
        self._open = True

    def _usable(self, *, write: bool) -> sqlite3.Connection:
        if not self._open:
            raise StorageError("transaction used after its block ended", kind=ErrorKind.PERMANENT)
        if write and self._readonly:
            raise StorageError("write in a read-only transaction", kind=ErrorKind.PERMANENT)
        return self._db

    # tables -----------------------------------------------------------------
    def get(self, table: str, key: bytes) -> bytes | None:
        db = self._usable(write=False)
        row = db.execute(
            "SELECT value FROM kv WHERE tbl = ? AND key = ?",
            (rules.check_table(table), rules.check_key(key)),
        ).fetchone()
        return None if row is None else row[0]

    def put(self, table: str, key: bytes, value: bytes) -> None:
        self._usable(write=True).execute(
            "INSERT OR REPLACE INTO kv (tbl, key, value) VALUES (?, ?, ?)",
            (rules.check_table(table), rules.check_key(key), rules.check_value(value)),
        )

    def delete(self, table: str, key: bytes) -> bool:
        cursor = self._usable(write=True).execute(
            "DELETE FROM kv WHERE tbl = ? AND key = ?",
            (rules.check_table(table), rules.check_key(key)),
        )
        return cursor.rowcount > 0

    def scan(
        self, table: str, prefix: bytes = b"", *, limit: int | None = None
    ) -> list[tuple[bytes, bytes]]:
        db = self._usable(write=False)
        rules.check_table(table)
        rules.check_key(prefix, what="prefix")
        cap = rules.check_limit(limit)
        sql_limit = -1 if cap is None else cap
        upper = rules.prefix_upper_bound(prefix)
        if upper is None:
            rows = db.execute(
                "SELECT key, value FROM kv WHERE tbl = ? AND key >= ? ORDER BY key LIMIT ?",
                (table, prefix, sql_limit),
            )
        else:
            rows = db.execute(
                "SELECT key, value FROM kv WHERE tbl = ? AND key >= ? AND key < ? ORDER BY key LIMIT ?",
                (table, prefix, upper, sql_limit),
            )
        return [(bytes(k), bytes(v)) for k, v in rows]

    # facts ------------------------------------------------------------------
    def append_fact(self, journal: str, fact_id: bytes, body: bytes) -> bool:
        cursor = self._usable(write=True).execute(
            "INSERT OR IGNORE INTO facts (journal, fact_id, body) VALUES (?, ?, ?)",
            (
                rules.check_name(journal, what="journal"),
                rules.check_key(fact_id, what="fact_id"),
                rules.check_value(body, what="fact body"),
            ),
        )
        return cursor.rowcount > 0

    def append_facts(self, journal: str, facts: Sequence[tuple[bytes, bytes]]) -> int:
        db = self._usable(write=True)
        rules.check_name(journal, what="journal")
        rows = []
        for item in facts:
            if not (isinstance(item, tuple) and len(item) == 2):
                raise InvalidInput("append_facts needs (fact_id, body) pairs")
            rows.append(
                (
                    journal,
                    rules.check_key(item[0], what="fact_id"),
                    rules.check_value(item[1], what="fact body"),
                )
            )
        before = db.total_changes
        db.executemany(
            "INSERT OR IGNORE INTO facts (journal, fact_id, body) VALUES (?, ?, ?)", rows
        )
        return db.total_changes - before

    def scan_facts(
        self, journal: str, *, after_seq: int = 0, limit: int | None = None
    ) -> list[StoredFact]:
        db = self._usable(write=False)
        cap = rules.check_limit(limit)
        rows = db.execute(
            "SELECT seq, fact_id, body FROM facts WHERE journal = ? AND seq > ? ORDER BY seq LIMIT ?",
            (
                rules.check_name(journal, what="journal"),
                rules.check_seq(after_seq, what="after_seq"),
                -1 if cap is None else cap,
            ),
        )
        return [StoredFact(journal, seq, bytes(fid), bytes(body)) for seq, fid, body in rows]

    # outbox -----------------------------------------------------------------
    def enqueue_outbox(self, destination: str, payload: bytes) -> int:
        cursor = self._usable(write=True).execute(
            "INSERT INTO outbox (destination, payload) VALUES (?, ?)",
            (
                rules.check_name(destination, what="outbox destination"),
                rules.check_value(payload, what="outbox payload"),
            ),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def ack_outbox(self, entry_id: int) -> bool:
        cursor = self._usable(write=True).execute(
            "DELETE FROM outbox WHERE entry_id = ?", (rules.check_seq(entry_id, what="entry_id"),)
        )
        return cursor.rowcount > 0

    def pending_outbox(self, limit: int | None = None) -> list[OutboxEntry]:
        cap = rules.check_limit(limit)
        rows = self._usable(write=False).execute(
            "SELECT entry_id, destination, payload FROM outbox ORDER BY entry_id LIMIT ?",
            (-1 if cap is None else cap,),
        )
        return [OutboxEntry(eid, dest, bytes(payload)) for eid, dest, payload in rows]

    # secrets ----------------------------------------------------------------
    def put_secret(self, name: str, secret: bytes) -> None:
        db = self._usable(write=True)
        rules.check_name(name, what="secret name")
        rules.check_value(secret, what="secret")
        db.execute(
            "INSERT OR REPLACE INTO secrets (name, sealed) VALUES (?, ?)",
            (name, self._sealer.seal(name, secret)),
        )

    def get_secret(self, name: str) -> bytes | None:
        row = (
            self._usable(write=False)
            .execute(
                "SELECT sealed FROM secrets WHERE name = ?",
                (rules.check_name(name, what="secret name"),),
            )
            .fetchone()
        )
        return None if row is None else self._sealer.open(name, bytes(row[0]))

    def delete_secret(self, name: str) -> bool:
        cursor = self._usable(write=True).execute(
            "DELETE FROM secrets WHERE name = ?", (rules.check_name(name, what="secret name"),)
        )
        return cursor.rowcount > 0


class SqliteStorage:
    """:class:`~aura_core.effects.StorageEffects` on one SQLite file.

    ``secrets_key`` (32 bytes) is supplied by the host (OS keychain, hardware
    key...); it encrypts every secret record. Opening a database with a key
    other than the one it was created with fails at once.

    One connection serves the process; a lock serialises transactions from
    several threads. Transactions do not nest.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        secrets_key: bytes,
        random: RandomEffects | None = None,
        busy_timeout_ms: int = 5000,
    ) -> None:
        self._path = Path(path)
        self._sealer = RecordSealer(secrets_key, random if random is not None else SystemRandom())
        self._lock = threading.Lock()
        self._owner: int | None = None
        try:
            self._db = sqlite3.connect(
                self._path,
                isolation_level=None,
                check_same_thread=False,
                timeout=busy_timeout_ms / 1000,
                cached_statements=64,
            )
        except sqlite3.Error as exc:
            raise _storage_error(f"open of {self._path.name}", exc) from None
        try:
            self._configure(busy_timeout_ms)
            self._migrate()
            self._check_key()
        except BaseException:
            self._db.close()
            raise

    @property
    def path(self) -> Path:
        return self._path

    def _configure(self, busy_timeout_ms: int) -> None:
        try:
            self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            self._db.execute("PRAGMA synchronous = FULL")
        except sqlite3.Error as exc:
            raise _storage_error("configuration", exc) from None
        if str(mode).lower() != "wal":
            raise StorageError(
                f"sqlite refused WAL journal mode (got {mode!r}) for {self._path.name}"
            )

    def _migrate(self) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                version = self._db.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise StorageError(
                        f"{self._path.name} has schema version {version}; this code knows up to "
                        f"{SCHEMA_VERSION} — upgrade the software",
                        kind=ErrorKind.PERMANENT,
                    )
                for target in range(version + 1, SCHEMA_VERSION + 1):
                    for statement in _MIGRATIONS[target]:
                        self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version = {target}")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise _storage_error("schema migration", exc) from None

    def _check_key(self) -> None:
        with self.transaction() as txn:
            db = txn._usable(write=True)
            row = db.execute("SELECT value FROM meta WHERE name = ?", (_KEY_CHECK_NAME,)).fetchone()
            if row is None:
                sealed = self._sealer.seal(_KEY_CHECK_NAME, _KEY_CHECK_PLAINTEXT)
                db.execute(
                    "INSERT INTO meta (name, value) VALUES (?, ?)", (_KEY_CHECK_NAME, sealed)
                )
                return
        try:
            self._sealer.open(_KEY_CHECK_NAME, bytes(row[0]))
        except StorageError:
            raise StorageError(
                f"secrets key does not match the key {self._path.name} was created with",
                kind=ErrorKind.PERMANENT,
            ) from None

    @contextmanager
    def transaction(self, *, readonly: bool = False) -> Iterator[_SqliteTransaction]:
        me = threading.get_ident()
        if self._owner == me:
            raise StorageError("storage transactions do not nest", kind=ErrorKind.PERMANENT)
        with self._lock:
            self._owner = me
            try:
                yield from self._run(readonly)
            finally:
                self._owner = None

    def _run(self, readonly: bool) -> Iterator[_SqliteTransaction]:
        db = self._db
        try:
            db.execute("BEGIN" if readonly else "BEGIN IMMEDIATE")
        except sqlite3.ProgrammingError:
            raise StorageError("storage is closed", kind=ErrorKind.PERMANENT) from None
        except sqlite3.Error as exc:
            raise _storage_error("begin", exc) from None
        txn = _SqliteTransaction(self, readonly)
        try:
            yield txn
        except BaseException as exc:
            txn._open = False
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # the original exception matters more; SQLite already rolled back
            if isinstance(exc, sqlite3.Error):
                raise _storage_error("statement", exc) from None
            raise
        txn._open = False
        try:
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            raise _storage_error("commit", exc) from None

    def integrity_check(self) -> str:
        """SQLite's own consistency check; ``"ok"`` when the file is sound."""
        with self._lock:
            rows = self._db.execute("PRAGMA integrity_check").fetchall()
        return "\n".join(str(r[0]) for r in rows)

    def close(self) -> None:
        with self._lock:
            self._db.close()
