"""The relay's durable mailbox store: a dedicated SQLite database, written in batches.

One call of :meth:`RelayStore.execute` applies a batch of requests in one
transaction (one fsync for the whole batch: group commit). Each request is
checked completely before it writes anything, so a refused request inside a
batch changes nothing and the others still commit.

The relay is a service, not an agent, so it does not use the agents'
key-value :class:`~aura_core.effects.StorageEffects`: it needs secondary
indexes (by mailbox in arrival order, by expiry) and multi-row statements,
which cut the cost of a deposit plus its fetch and acknowledgement several
fold (see ``docs/relay.md``). Same durability rules as the agents' store:
WAL, ``synchronous=FULL``, ``BEGIN IMMEDIATE``, schema version in
``PRAGMA user_version``.

Only what the relay must know is stored, keyed by opaque values:

* ``envelopes(seq, eid, tag, expires, size, ct)``: ``seq`` is arrival order,
  ``eid`` the envelope id, ``tag`` the mailbox tag, ``ct`` the ciphertext. An
  acknowledged envelope keeps its row with ``ct`` set to NULL until it
  expires: that is how a replayed envelope is recognised and dropped.
* ``mailboxes(tag, count, bytes)`` and ``totals``: quota counters.

Expired envelopes are invisible at once and deleted by :meth:`RelayStore.sweep`.
Receipt chains are checked before a deposit reaches the store and never stored.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import attrs

from aura_core.errors import ErrorKind, InvalidInput, StorageError
from aura_features.rendezvous.relay_errors import (
    EnvelopeReplayed,
    EnvelopeTooLarge,
    RelayQuotaExceeded,
)
from aura_features.rendezvous.relay_limits import RelayLimits
from aura_features.rendezvous.relay_wire import (
    Acked,
    AckRequest,
    Deposited,
    DepositRequest,
    EnvelopeRefusal,
    Fetched,
    FetchRequest,
    RelayRequest,
    RelayResponse,
)
from aura_features.rendezvous.sealed_envelope import EnvelopeId, SealedEnvelope

__all__ = ["RELAY_SCHEMA_VERSION", "RelayStats", "RelayStore", "SweepRequest"]

RELAY_SCHEMA_VERSION = 1
_SCHEMA = (
    """CREATE TABLE envelopes (
           seq INTEGER PRIMARY KEY,
           eid BLOB NOT NULL UNIQUE,
           tag BLOB NOT NULL,
           expires INTEGER NOT NULL,
           size INTEGER NOT NULL,
           ct BLOB)""",
    "CREATE INDEX envelopes_by_mailbox ON envelopes (tag, seq) WHERE ct IS NOT NULL",
    "CREATE INDEX envelopes_by_expiry ON envelopes (expires)",
    """CREATE TABLE mailboxes (
           tag BLOB PRIMARY KEY, count INTEGER NOT NULL, bytes INTEGER NOT NULL) WITHOUT ROWID""",
    """CREATE TABLE totals (
           id INTEGER PRIMARY KEY CHECK (id = 0), count INTEGER NOT NULL, bytes INTEGER NOT NULL)""",
    "INSERT INTO totals (id, count, bytes) VALUES (0, 0, 0)",
)
_CHUNK = 500  # bound parameters per IN (...) list


@attrs.frozen
class SweepRequest:
    """Delete everything expired at the batch's time (at most ``limit`` rows)."""

    request_id: int = 0
    limit: int = 100_000


@attrs.frozen
class RelayStats:
    """What the relay holds right now (expired-but-unswept envelopes included)."""

    envelopes: int
    bytes: int


def _storage_error(action: str, exc: sqlite3.Error) -> StorageError:
    transient = isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)
    return StorageError(
        f"relay database {action} failed: {exc}",
        kind=ErrorKind.TRANSIENT if transient else ErrorKind.SYSTEM,
    )


class _Counters:
    """Quota counters of one transaction: read on first use, written back once."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self.count, self.bytes = db.execute(
            "SELECT count, bytes FROM totals WHERE id = 0"
        ).fetchone()
        self._boxes: dict[bytes, list[int]] = {}
        self._dirty = False

    def box(self, tag: bytes) -> list[int]:
        entry = self._boxes.get(tag)
        if entry is None:
            row = self._db.execute(
                "SELECT count, bytes FROM mailboxes WHERE tag = ?", (tag,)
            ).fetchone()
            entry = [0, 0] if row is None else [row[0], row[1]]
            self._boxes[tag] = entry
        return entry

    def add(self, tag: bytes, count: int, size: int) -> None:
        entry = self.box(tag)
        entry[0] += count
        entry[1] += size
        self.count += count
        self.bytes += size
        self._dirty = True

    def flush(self) -> None:
        if not self._dirty:
            return
        db = self._db
        gone = [(tag,) for tag, (count, _size) in self._boxes.items() if count <= 0]
        kept = [(tag, count, size) for tag, (count, size) in self._boxes.items() if count > 0]
        if gone:
            db.executemany("DELETE FROM mailboxes WHERE tag = ?", gone)
        if kept:
            db.executemany(
                "INSERT OR REPLACE INTO mailboxes (tag, count, bytes) VALUES (?, ?, ?)", kept
            )
        db.execute(
            "UPDATE totals SET count = ?, bytes = ? WHERE id = 0",
            (max(self.count, 0), max(self.bytes, 0)),
        )


class RelayStore:
    """Mailboxes of opaque envelopes with expiry, quotas and replay detection."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        limits: RelayLimits | None = None,
        *,
        busy_timeout_ms: int = 5000,
    ) -> None:
        self._path = Path(path)
        self._limits = limits if limits is not None else RelayLimits()
        self._lock = threading.Lock()
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
            self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StorageError(f"sqlite refused WAL journal mode for {self._path.name}")
            self._db.execute("PRAGMA synchronous = FULL")
            self._migrate()
        except sqlite3.Error as exc:
            self._db.close()
            raise _storage_error("setup", exc) from None
        except BaseException:
            self._db.close()
            raise

    def _migrate(self) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > RELAY_SCHEMA_VERSION:
                raise StorageError(
                    f"{self._path.name} has relay schema version {version}; this code knows up to "
                    f"{RELAY_SCHEMA_VERSION} — upgrade the software",
                    kind=ErrorKind.PERMANENT,
                )
            if version == 0:
                for statement in _SCHEMA:
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {RELAY_SCHEMA_VERSION}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    @property
    def path(self) -> Path:
        return self._path

    @property
    def limits(self) -> RelayLimits:
        return self._limits

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ------------------------------------------------------------------ batches

    def execute(
        self, requests: Sequence[RelayRequest | SweepRequest], now_ms: int
    ) -> list[RelayResponse]:
        """Apply ``requests`` in order in one durable transaction; one response each.

        Refusals are responses, not exceptions. A storage failure raises
        ``StorageError`` and nothing of the batch is applied.
        """
        with self._lock:
            db = self._db
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.ProgrammingError:
                raise StorageError(
                    "the relay database is closed", kind=ErrorKind.PERMANENT
                ) from None
            except sqlite3.Error as exc:
                raise _storage_error("begin", exc) from None
            try:
                counters = _Counters(db)
                responses = self._apply_all(counters, requests, now_ms)
                counters.flush()
                db.execute("COMMIT")
            except BaseException as exc:
                try:
                    db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass  # SQLite already rolled back; the original error matters more
                if isinstance(exc, sqlite3.Error):
                    raise _storage_error("transaction", exc) from None
                raise
        return responses

    def sweep(self, now_ms: int, limit: int = 100_000) -> int:
        """Delete expired envelopes and replay records; returns how many rows went."""
        response = self.execute([SweepRequest(0, limit)], now_ms)[0]
        assert isinstance(response, Acked)
        return response.removed

    def stats(self) -> RelayStats:
        with self._lock:
            try:
                count, size = self._db.execute(
                    "SELECT count, bytes FROM totals WHERE id = 0"
                ).fetchone()
            except sqlite3.Error as exc:
                raise _storage_error("read", exc) from None
        return RelayStats(count, size)

    def integrity_check(self) -> str:
        with self._lock:
            rows = self._db.execute("PRAGMA integrity_check").fetchall()
        return "\n".join(str(row[0]) for row in rows)

    def _apply_all(
        self, counters: _Counters, requests: Sequence[RelayRequest | SweepRequest], now_ms: int
    ) -> list[RelayResponse]:
        responses: list[RelayResponse] = []
        index = 0
        total = len(requests)
        while index < total:
            request = requests[index]
            if isinstance(request, DepositRequest):
                end = index + 1
                while end < total and isinstance(requests[end], DepositRequest):
                    end += 1
                responses.extend(self._deposit_run(counters, requests[index:end], now_ms))  # type: ignore[arg-type]
                index = end
                continue
            if isinstance(request, FetchRequest):
                responses.append(self._fetch(request, now_ms))
            elif isinstance(request, AckRequest):
                responses.append(self._ack(counters, request))
            elif isinstance(request, SweepRequest):
                responses.append(
                    Acked(request.request_id, self._sweep(counters, now_ms, request.limit))
                )
            else:
                raise InvalidInput(f"not a relay request: {type(request).__name__}")
            index += 1
        return responses

    # ------------------------------------------------------------------ operations

    def _deposit_run(
        self, counters: _Counters, run: Sequence[DepositRequest], now_ms: int
    ) -> list[RelayResponse]:
        """Consecutive deposits: one lookup for replays, one multi-row insert."""
        db = self._db
        ids = [envelope.envelope_id.raw for request in run for envelope in request.envelopes]
        known: dict[bytes, list] = {}  # eid -> [seq, expires, size if still held else None, tag]
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for eid, seq, expires, size, tag in db.execute(
                f"SELECT eid, seq, expires, CASE WHEN ct IS NULL THEN NULL ELSE size END, tag "
                f"FROM envelopes WHERE eid IN ({marks})",
                chunk,
            ):
                known[eid] = [seq, expires, size, tag]
        responses: list[RelayResponse] = []
        rows: list[tuple[bytes, bytes, int, int, bytes]] = []
        stale: list[tuple[int]] = []
        taken: set[bytes] = set()
        max_ttl = self._limits.max_ttl_s
        position = 0
        for request in run:
            expires = now_ms + min(request.ttl_s, max_ttl) * 1000
            results: list[EnvelopeId | EnvelopeRefusal] = []
            for envelope in request.envelopes:
                eid = ids[position]
                position += 1
                try:
                    self._check_deposit(counters, envelope, eid, known, taken, stale, now_ms)
                except (RelayQuotaExceeded, EnvelopeReplayed, EnvelopeTooLarge) as exc:
                    results.append(EnvelopeRefusal(exc.code, exc.message))
                    continue
                tag = envelope.tag.raw
                size = len(envelope.ciphertext)
                rows.append((eid, tag, expires, size, envelope.ciphertext))
                counters.add(tag, 1, size)
                taken.add(eid)
                results.append(envelope.envelope_id)
            responses.append(Deposited(request.request_id, tuple(results)))
        if stale:
            db.executemany("DELETE FROM envelopes WHERE seq = ?", stale)
        if rows:
            db.executemany(
                "INSERT INTO envelopes (eid, tag, expires, size, ct) VALUES (?, ?, ?, ?, ?)", rows
            )
        return responses

    def _check_deposit(
        self,
        counters: _Counters,
        envelope: SealedEnvelope,
        eid: bytes,
        known: dict[bytes, list],
        taken: set[bytes],
        stale: list[tuple[int]],
        now_ms: int,
    ) -> None:
        limits = self._limits
        size = len(envelope.ciphertext)
        if size > limits.max_envelope_bytes:
            raise EnvelopeTooLarge(
                f"envelope of {size} bytes exceeds this relay's limit of {limits.max_envelope_bytes}"
            )
        previous = known.get(eid)
        if eid in taken or (previous is not None and previous[1] > now_ms):
            raise EnvelopeReplayed(
                f"envelope {eid.hex()[:16]}… was already deposited here and is still within its TTL"
            )
        tag = envelope.tag.raw
        count, held = counters.box(tag)
        if count + 1 > limits.mailbox_max_envelopes or held + size > limits.mailbox_max_bytes:
            count, held = self._purge_expired(counters, tag, now_ms)
            for entry in known.values():  # the purge released these rows' ciphertexts
                if entry[3] == tag and entry[1] <= now_ms:
                    entry[2] = None
        if count + 1 > limits.mailbox_max_envelopes:
            raise RelayQuotaExceeded(
                f"mailbox quota exhausted: it holds {count} envelopes (limit "
                f"{limits.mailbox_max_envelopes}); the recipient must fetch and acknowledge first"
            )
        if held + size > limits.mailbox_max_bytes:
            raise RelayQuotaExceeded(
                f"mailbox quota exhausted: {held} of {limits.mailbox_max_bytes} bytes held; "
                "the recipient must fetch and acknowledge first"
            )
        if counters.bytes + size > limits.store_max_bytes:
            raise RelayQuotaExceeded(
                f"relay storage full ({counters.bytes} of {limits.store_max_bytes} bytes); "
                "try another relay"
            )
        if previous is not None:  # an expired record of the same id, not yet swept
            seq, _expires, held_size, _tag = previous
            stale.append((seq,))
            if held_size is not None:
                counters.add(tag, -1, -held_size)
            del known[eid]

    def _purge_expired(self, counters: _Counters, tag: bytes, now_ms: int) -> tuple[int, int]:
        """Stop counting a full mailbox's expired envelopes against its quota."""
        db = self._db
        count, size = db.execute(
            "SELECT count(*), coalesce(sum(size), 0) FROM envelopes "
            "WHERE tag = ? AND ct IS NOT NULL AND expires <= ?",
            (tag, now_ms),
        ).fetchone()
        if count:
            db.execute(
                "UPDATE envelopes SET ct = NULL WHERE tag = ? AND ct IS NOT NULL AND expires <= ?",
                (tag, now_ms),
            )
            counters.add(tag, -count, -size)
        entry = counters.box(tag)
        return entry[0], entry[1]

    def _fetch(self, request: FetchRequest, now_ms: int) -> RelayResponse:
        tag = request.mailbox_key.tag
        wanted = min(request.limit, self._limits.fetch_max)
        budget = self._limits.fetch_max_bytes
        found: list[bytes] = []
        more = False
        for (ciphertext,) in self._db.execute(
            "SELECT ct FROM envelopes WHERE tag = ? AND ct IS NOT NULL AND expires > ? "
            "ORDER BY seq LIMIT ?",
            (tag.raw, now_ms, wanted + 1),
        ):
            size = len(ciphertext)
            if len(found) == wanted or (found and size > budget):
                more = True
                break
            found.append(ciphertext)
            budget -= size
        return Fetched(request.request_id, tag, tuple(found), more)

    def _ack(self, counters: _Counters, request: AckRequest) -> RelayResponse:
        db = self._db
        tag = request.mailbox_key.tag.raw
        ids = [envelope_id.raw for envelope_id in request.envelope_ids]
        removed = 0
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = db.execute(
                f"SELECT seq, size FROM envelopes WHERE tag = ? AND ct IS NOT NULL AND eid IN ({marks})",
                (tag, *chunk),
            ).fetchall()
            if not rows:
                continue
            db.executemany(
                "UPDATE envelopes SET ct = NULL WHERE seq = ?", [(row[0],) for row in rows]
            )
            counters.add(tag, -len(rows), -sum(row[1] for row in rows))
            removed += len(rows)
        return Acked(request.request_id, removed)

    def _sweep(self, counters: _Counters, now_ms: int, limit: int) -> int:
        db = self._db
        rows = db.execute(
            "SELECT seq, tag, size, ct IS NOT NULL FROM envelopes WHERE expires <= ? "
            "ORDER BY expires LIMIT ?",
            (now_ms, limit),
        ).fetchall()
        if not rows:
            return 0
        for _seq, tag, size, held in rows:
            if held:
                counters.add(tag, -1, -size)
        db.executemany("DELETE FROM envelopes WHERE seq = ?", [(row[0],) for row in rows])
        return len(rows)
