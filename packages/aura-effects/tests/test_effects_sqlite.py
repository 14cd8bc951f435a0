"""SQLite-specific behaviour: durability under kill -9, schema versions, keys at rest."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from aura_core.errors import StorageError
from aura_effects import SCHEMA_VERSION, SqliteStorage

KEY = bytes(range(32))
WRITER = Path(__file__).with_name("sqlite_crash_writer.py")


def test_reopen_keeps_committed_data_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    store = SqliteStorage(path, secrets_key=KEY)
    with store.transaction() as txn:
        txn.put("t", b"k", b"v")
        txn.append_fact("j", b"f", b"b")
        txn.put_secret("root", b"secret material")
    store.close()
    store = SqliteStorage(path, secrets_key=KEY)
    with store.transaction() as txn:
        assert txn.get("t", b"k") == b"v"
        assert txn.get_secret("root") == b"secret material"
    store.close()
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        raw.close()


def test_secrets_are_encrypted_at_rest(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    store = SqliteStorage(path, secrets_key=KEY)
    with store.transaction() as txn:
        txn.put_secret("device-root", b"TOP-SECRET-MATERIAL")
    store.close()
    raw_bytes = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert b"TOP-SECRET-MATERIAL" not in raw_bytes


def test_wrong_host_key_is_refused_at_open(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    SqliteStorage(path, secrets_key=KEY).close()
    with pytest.raises(StorageError, match="secrets key does not match"):
        SqliteStorage(path, secrets_key=bytes(32))


def test_moved_or_tampered_secret_fails_authentication(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    store = SqliteStorage(path, secrets_key=KEY)
    with store.transaction() as txn:
        txn.put_secret("a", b"alpha")
        txn.put_secret("b", b"beta")
    store.close()
    raw = sqlite3.connect(path)
    sealed_a = raw.execute("SELECT sealed FROM secrets WHERE name = 'a'").fetchone()[0]
    raw.execute("UPDATE secrets SET sealed = ? WHERE name = 'b'", (sealed_a,))
    flipped = bytearray(sealed_a)
    flipped[-1] ^= 1
    raw.execute("UPDATE secrets SET sealed = ? WHERE name = 'a'", (bytes(flipped),))
    raw.commit()
    raw.close()
    store = SqliteStorage(path, secrets_key=KEY)
    with store.transaction() as txn:
        with pytest.raises(StorageError, match="'b' failed authentication"):
            txn.get_secret("b")
        with pytest.raises(StorageError, match="'a' failed authentication"):
            txn.get_secret("a")
    store.close()


def test_database_from_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    SqliteStorage(path, secrets_key=KEY).close()
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.commit()
    raw.close()
    with pytest.raises(StorageError, match="upgrade the software"):
        SqliteStorage(path, secrets_key=KEY)


def test_not_a_database_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError):
        SqliteStorage(path, secrets_key=KEY)


def test_closed_storage_refuses_transactions(tmp_path: Path) -> None:
    store = SqliteStorage(tmp_path / "a.db", secrets_key=KEY)
    store.close()
    with pytest.raises(StorageError, match="closed"), store.transaction():
        pass


def test_threads_are_serialised(tmp_path: Path) -> None:
    store = SqliteStorage(tmp_path / "a.db", secrets_key=KEY)

    def bump() -> None:
        for _ in range(20):
            with store.transaction() as txn:
                value = int.from_bytes(txn.get("t", b"n") or bytes(8), "big")
                txn.put("t", b"n", (value + 1).to_bytes(8, "big"))

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with store.transaction() as txn:
        assert int.from_bytes(txn.get("t", b"n") or b"", "big") == 80
    store.close()


@pytest.mark.slow
def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    """Kill a writer with SIGKILL at random moments; every acknowledged commit must survive."""
    path = tmp_path / "crash.db"
    SqliteStorage(path, secrets_key=KEY).close()
    rng = random.Random(20240607)
    acknowledged: set[int] = set()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    deadline = time.monotonic() + 12.0
    rounds = 0
    while rounds < 12 and time.monotonic() < deadline:
        rounds += 1
        child = subprocess.Popen(
            [sys.executable, str(WRITER), str(path), KEY.hex()],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert child.stdout is not None
        ready = child.stdout.readline()
        assert ready.startswith("ready"), child.stderr.read() if child.stderr else ready
        wanted = rng.randint(1, 60)
        for _ in range(wanted):
            line = child.stdout.readline()
            if not line:
                break
            acknowledged.add(int(line))
        # let it run on for a random sliver so the kill lands mid-transaction at a random point
        time.sleep(rng.random() * 0.01)
        child.send_signal(signal.SIGKILL)
        remaining, _ = child.communicate(timeout=10)
        acknowledged.update(int(x) for x in remaining.split())
        assert child.returncode == -signal.SIGKILL
    assert rounds >= 5 and len(acknowledged) >= 50

    store = SqliteStorage(path, secrets_key=KEY)
    try:
        assert store.integrity_check() == "ok"
        with store.transaction(readonly=True) as txn:
            rows = {int.from_bytes(k, "big") for k, _ in txn.scan("acks")}
            facts = {int.from_bytes(f.fact_id, "big") for f in txn.scan_facts("journal")}
            outbox = {int.from_bytes(e.payload, "big") for e in txn.pending_outbox()}
            missing = acknowledged - rows
            assert not missing, f"acknowledged commits lost: {sorted(missing)[:10]}"
            # atomicity: each transaction's writes are all there or none are
            assert rows == facts == outbox
            for counter in sorted(rows):
                if counter % 10 == 0:
                    assert txn.get_secret(f"secret-{counter}") == counter.to_bytes(8, "big") * 4
    finally:
        store.close()
