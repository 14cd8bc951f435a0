"""Child process for the kill -9 durability test (not a test module).

Usage: python sqlite_crash_writer.py DB_PATH KEY_HEX

Commits transactions forever, each writing a table row, a fact, an outbox
entry and (every tenth) a secret, all tagged with one counter, and prints
the counter to stdout only after the commit returned. The parent kills it
with SIGKILL at random moments.
"""

from __future__ import annotations

import sys

from aura_effects import SqliteStorage


def main() -> None:
    path, key_hex = sys.argv[1], sys.argv[2]
    storage = SqliteStorage(path, secrets_key=bytes.fromhex(key_hex))
    with storage.transaction(readonly=True) as txn:
        done = txn.scan("acks")
    counter = max((int.from_bytes(k, "big") for k, _ in done), default=-1) + 1
    print(f"ready {counter}", flush=True)
    while True:
        tag = counter.to_bytes(8, "big")
        with storage.transaction() as txn:
            txn.put("acks", tag, b"v" * 200 + tag)
            txn.append_fact("journal", tag, b"fact body " * 20 + tag)
            txn.enqueue_outbox("peer", tag)
            if counter % 10 == 0:
                txn.put_secret(f"secret-{counter}", tag * 4)
        print(counter, flush=True)
        counter += 1


if __name__ == "__main__":
    main()
