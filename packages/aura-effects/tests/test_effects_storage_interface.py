"""One interface suite that every StorageEffects backend must pass (SQLite and in-memory)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aura_core.effects import OutboxEntry, StorageEffects, StoredFact
from aura_core.errors import InvalidInput, StorageError
from aura_effects import SqliteStorage
from aura_effects.simulated import MemoryStorage, SeededRandom

KEY = bytes(range(32))
BACKENDS = ["sqlite", "memory"]


def _open(kind: str, directory: Path) -> StorageEffects:
    if kind == "sqlite":
        return SqliteStorage(directory / "store.db", secrets_key=KEY)
    return MemoryStorage(secrets_key=KEY, random=SeededRandom(7))


@pytest.fixture(params=BACKENDS)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StorageEffects]:
    store = _open(request.param, tmp_path)
    yield store
    store.close()


def test_handlers_satisfy_the_protocol(storage: StorageEffects) -> None:
    assert isinstance(storage, StorageEffects)


def test_put_get_delete(storage: StorageEffects) -> None:
    with storage.transaction() as txn:
        assert txn.get("views", b"a") is None
        txn.put("views", b"a", b"1")
        assert txn.get("views", b"a") == b"1"
        txn.put("views", b"a", b"2")
    with storage.transaction(readonly=True) as txn:
        assert txn.get("views", b"a") == b"2"
        assert txn.get("other", b"a") is None
    with storage.transaction() as txn:
        assert txn.delete("views", b"a") is True
        assert txn.delete("views", b"a") is False
        assert txn.get("views", b"a") is None


def test_empty_values_and_keys_are_stored(storage: StorageEffects) -> None:
    with storage.transaction() as txn:
        txn.put("t", b"", b"")
    with storage.transaction() as txn:
        assert txn.get("t", b"") == b""
        assert txn.scan("t") == [(b"", b"")]


def test_scan_by_prefix_is_ordered_and_bounded(storage: StorageEffects) -> None:
    keys = [b"a", b"ab", b"ab\xff", b"ab\xff\xff", b"ac", b"b", b"\xff", b"\xff\x00"]
    with storage.transaction() as txn:
        for key in reversed(keys):
            txn.put("t", key, key + b"!")
        txn.put("u", b"ab", b"other table")
    with storage.transaction() as txn:
        assert [k for k, _ in txn.scan("t", b"ab")] == [b"ab", b"ab\xff", b"ab\xff\xff"]
        assert [k for k, _ in txn.scan("t", b"ab\xff")] == [b"ab\xff", b"ab\xff\xff"]
        assert [k for k, _ in txn.scan("t", b"\xff")] == [b"\xff", b"\xff\x00"]
        assert [k for k, _ in txn.scan("t")] == sorted(keys)
        assert txn.scan("t", b"a", limit=2) == [(b"a", b"a!"), (b"ab", b"ab!")]
        assert txn.scan("t", limit=0) == []
        assert txn.scan("t", b"zz") == []


def test_exception_rolls_back_every_kind_of_write(storage: StorageEffects) -> None:
    with storage.transaction() as txn:
        txn.put("t", b"k", b"before")
        txn.append_fact("j", b"f0", b"body0")
        kept = txn.enqueue_outbox("peer", b"kept")
        txn.put_secret("s", b"old secret")
    with pytest.raises(RuntimeError, match="boom"), storage.transaction() as txn:
        txn.put("t", b"k", b"after")
        txn.put("t", b"new", b"x")
        txn.delete("t", b"k")
        assert txn.append_fact("j", b"f1", b"body1")
        txn.enqueue_outbox("peer", b"lost")
        txn.ack_outbox(kept)
        txn.put_secret("s", b"new secret")
        txn.put_secret("s2", b"other")
        raise RuntimeError("boom")
    with storage.transaction(readonly=True) as txn:
        assert txn.get("t", b"k") == b"before"
        assert txn.get("t", b"new") is None
        assert [f.fact_id for f in txn.scan_facts("j")] == [b"f0"]
        assert [e.payload for e in txn.pending_outbox()] == [b"kept"]
        assert txn.get_secret("s") == b"old secret"
        assert txn.get_secret("s2") is None


def test_facts_are_idempotent_and_scanned_incrementally(storage: StorageEffects) -> None:
    with storage.transaction() as txn:
        assert txn.append_fact("journal-a", b"id1", b"one") is True
        assert txn.append_fact("journal-a", b"id1", b"one again") is False
        assert txn.append_fact("journal-b", b"id1", b"same id, other journal") is True
        assert (
            txn.append_facts("journal-a", [(b"id2", b"two"), (b"id1", b"dup"), (b"id3", b"three")])
            == 2
        )
    with storage.transaction(readonly=True) as txn:
        facts = txn.scan_facts("journal-a")
        assert [(f.fact_id, f.body) for f in facts] == [
            (b"id1", b"one"),
            (b"id2", b"two"),
            (b"id3", b"three"),
        ]
        assert all(isinstance(f, StoredFact) and f.journal == "journal-a" for f in facts)
        assert [f.seq for f in facts] == sorted(f.seq for f in facts)
        after_first = txn.scan_facts("journal-a", after_seq=facts[0].seq)
        assert [f.fact_id for f in after_first] == [b"id2", b"id3"]
        assert [f.fact_id for f in txn.scan_facts("journal-a", limit=1)] == [b"id1"]
        assert txn.scan_facts("journal-a", after_seq=facts[-1].seq) == []
        assert [f.body for f in txn.scan_facts("journal-b")] == [b"same id, other journal"]
        assert txn.scan_facts("nobody") == []


def test_outbox_is_fifo_until_acked(storage: StorageEffects) -> None:
    with storage.transaction() as txn:
        first = txn.enqueue_outbox("peer-1", b"m1")
        second = txn.enqueue_outbox("peer-2", b"m2")
        third = txn.enqueue_outbox("peer-1", b"m3")
    assert first < second < third
    with storage.transaction() as txn:
        assert txn.pending_outbox() == [
            OutboxEntry(first, "peer-1", b"m1"),
            OutboxEntry(second, "peer-2", b"m2"),
            OutboxEntry(third, "peer-1", b"m3"),
        ]
        assert txn.ack_outbox(second) is True
        assert txn.ack_outbox(second) is False
        assert [e.entry_id for e in txn.pending_outbox(limit=1)] == [first]
        assert txn.ack_outbox(first) and txn.ack_outbox(third)
        later = txn.enqueue_outbox("peer-3", b"m4")
    assert later > third, "entry ids are never reused"


def test_secrets_round_trip_and_delete(storage: StorageEffects) -> None:
    with storage.transaction() as txn:
        txn.put_secret("device/root", b"\x01" * 32)
        txn.put_secret("empty", b"")
    with storage.transaction() as txn:
        assert txn.get_secret("device/root") == b"\x01" * 32
        assert txn.get_secret("empty") == b""
        assert txn.get_secret("missing") is None
        assert txn.delete_secret("device/root") is True
        assert txn.delete_secret("device/root") is False
        assert txn.get_secret("device/root") is None


def test_guard_chain_commit_is_one_transaction(storage: StorageEffects) -> None:
    """Budget charge + fact + outbox row land together or not at all."""

    def charge_and_send(fail: bool) -> None:
        with storage.transaction() as txn:
            spent = int.from_bytes(txn.get("flow_budget", b"ctx") or bytes(8), "big")
            txn.put("flow_budget", b"ctx", (spent + 5).to_bytes(8, "big"))
            txn.append_fact("context:ctx", f"fact-{spent}".encode(), b"body")
            txn.enqueue_outbox("peer", b"envelope")
            if fail:
                raise StorageError("transport refused")

    charge_and_send(False)
    with pytest.raises(StorageError):
        charge_and_send(True)
    with storage.transaction(readonly=True) as txn:
        assert int.from_bytes(txn.get("flow_budget", b"ctx") or b"", "big") == 5
        assert len(txn.scan_facts("context:ctx")) == 1
        assert len(txn.pending_outbox()) == 1


def test_misuse_is_rejected(storage: StorageEffects) -> None:
    with storage.transaction() as txn:
        kept = txn
        with pytest.raises(StorageError, match="nest"), storage.transaction():
            pass
    with pytest.raises(StorageError, match="after its block"):
        kept.get("t", b"k")
    with storage.transaction(readonly=True) as txn:
        for write in (
            lambda: txn.put("t", b"k", b"v"),
            lambda: txn.append_fact("j", b"f", b"b"),
            lambda: txn.enqueue_outbox("d", b"p"),
            lambda: txn.put_secret("s", b"x"),
        ):
            with pytest.raises(StorageError, match="read-only"):
                write()


@pytest.mark.parametrize(
    "call",
    [
        lambda t: t.put("Bad-Table", b"k", b"v"),
        lambda t: t.put("", b"k", b"v"),
        lambda t: t.put("t" * 65, b"k", b"v"),
        lambda t: t.put("t", "text key", b"v"),
        lambda t: t.put("t", b"k", "text value"),
        lambda t: t.put("t", b"k" * 2000, b"v"),
        lambda t: t.scan("t", limit=-1),
        lambda t: t.append_fact("", b"f", b"b"),
        lambda t: t.append_facts("j", [b"not a pair"]),
        lambda t: t.scan_facts("j", after_seq=-1),
        lambda t: t.enqueue_outbox("", b"p"),
        lambda t: t.put_secret("a\x00b", b"s"),
        lambda t: t.ack_outbox("1"),
    ],
)
def test_bad_arguments_raise_invalid_input(storage: StorageEffects, call) -> None:
    with storage.transaction() as txn, pytest.raises(InvalidInput):
        call(txn)


_ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("put"),
            st.sampled_from(["a", "b"]),
            st.binary(max_size=3),
            st.binary(max_size=4),
        ),
        st.tuples(st.just("delete"), st.sampled_from(["a", "b"]), st.binary(max_size=3)),
        st.tuples(st.just("fail")),
    ),
    max_size=25,
)


@settings(max_examples=25, deadline=None)
@given(ops=_ops, kind=st.sampled_from(BACKENDS))
def test_backends_agree_with_a_dict_model(ops, kind) -> None:
    """Random writes (with failed transactions in between) leave exactly the model's state."""
    with tempfile.TemporaryDirectory() as directory:
        store = _open(kind, Path(directory))
        model: dict[tuple[str, bytes], bytes] = {}
        pending: dict[tuple[str, bytes], bytes | None] = {}
        try:
            for op in ops:
                try:
                    with store.transaction() as txn:
                        if op[0] == "put":
                            txn.put(op[1], op[2], op[3])
                            pending = {(op[1], op[2]): op[3]}
                        elif op[0] == "delete":
                            txn.delete(op[1], op[2])
                            pending = {(op[1], op[2]): None}
                        else:
                            txn.put("a", b"never", b"kept")
                            raise ValueError("abort")
                except ValueError:
                    pending = {}
                for key, value in pending.items():
                    if value is None:
                        model.pop(key, None)
                    else:
                        model[key] = value
                pending = {}
            with store.transaction(readonly=True) as txn:
                seen = {(t, k): v for t in ("a", "b") for k, v in txn.scan(t)}
            assert seen == model
        finally:
            store.close()
