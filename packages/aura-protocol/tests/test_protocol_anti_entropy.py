"""Anti-entropy: the fingerprint index, reconciliation sessions and their byte cost."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aura_core.content_id import CID, content_id_of_bytes
from aura_core.dag_cbor import encode
from aura_core.errors import InvalidInput
from aura_protocol.anti_entropy import (
    FactsMessage,
    FingerprintIndex,
    MappingFactStore,
    RangesMessage,
    ReconciliationConfig,
    ReconciliationSession,
    SyncStatus,
    decode_sync_message,
    encode_sync_message,
    fingerprint_of,
    separating_bound,
)
from aura_protocol.anti_entropy.fingerprint_index import _item_value

SESSION = b"\x5a" * 16


def fact_bytes(number: int, size: int = 48) -> bytes:
    """A small canonical DAG-CBOR value standing in for an encoded fact."""
    filler = random.Random(number).randbytes(size)
    return encode({"n": number, "payload": filler})


POOL = [fact_bytes(number) for number in range(400)]
POOL_CIDS = [content_id_of_bytes(data) for data in POOL]


def store_of(numbers) -> MappingFactStore:
    return MappingFactStore({POOL_CIDS[n]: POOL[n] for n in numbers})


def run_pair(a, b, config=None, *, rng=None, duplicate=False):
    """Shuttle encoded messages between two sessions until both finish.

    With ``rng`` set, queued messages are delivered in a shuffled order (the
    turn messages keep their relative order, as a session's turns alternate),
    and ``duplicate`` delivers some messages twice.
    """
    initiator = ReconciliationSession(a, SESSION, initiator=True, config=config)
    responder = ReconciliationSession(b, SESSION, initiator=False, config=config)
    sizes = Counter()
    queue = [(responder, message) for message in initiator.start()]
    steps = 0
    while queue:
        steps += 1
        assert steps < 10_000, "sessions did not finish"
        position = rng.randrange(len(queue)) if rng is not None else 0
        target, message = queue.pop(position)
        data = encode_sync_message(message)
        sizes["facts" if isinstance(message, FactsMessage) else "ranges"] += len(data)
        decoded = decode_sync_message(data)
        assert decoded == message
        other = initiator if target is responder else responder
        replies = target.receive(decoded)
        if duplicate and rng is not None and rng.random() < 0.3:
            assert target.receive(decoded) == [] or isinstance(decoded, FactsMessage)
        queue.extend((other, reply) for reply in replies)
    assert initiator.done and responder.done
    return initiator.outcome, responder.outcome, sizes


# --------------------------------------------------------------------------- index


@settings(max_examples=60, deadline=None)
@given(
    st.sets(st.binary(min_size=1, max_size=8), max_size=60),
    st.binary(max_size=3),
    st.one_of(st.none(), st.binary(min_size=1, max_size=3)),
)
def test_range_fingerprint_equals_the_fingerprint_of_the_range_computed_directly(ids, lower, upper):
    index = FingerprintIndex()
    for item in sorted(ids, reverse=True):
        index.add(item)
    start, stop = index.position(lower), index.position(upper)
    inside = [item for item in ids if item >= lower and (upper is None or item < upper)]
    assert stop - start == max(0, len(inside)) or start > stop
    if start <= stop:
        expected = fingerprint_of(sum(map(_item_value, inside)), len(inside))
        assert index.fingerprint(start, stop) == expected
    assert FingerprintIndex(ids).digest() == index.digest()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.sets(st.binary(min_size=1, max_size=4), max_size=40), min_size=1, max_size=6),
    st.lists(st.tuples(st.integers(0, 200), st.integers(0, 200)), min_size=1, max_size=8),
)
def test_fingerprints_stay_exact_while_ids_keep_arriving(batches, spans):
    """Ids added after the sums were built (the recent layer) are counted like the rest."""
    index = FingerprintIndex()
    held: set[bytes] = set()
    for batch in batches:
        if len(batch) % 2:
            index.add_many(batch)
        else:
            for item in batch:
                index.add(item)
        held |= batch
        ordered = sorted(held)
        for a, b in spans:
            start, stop = sorted((min(a, len(ordered)), min(b, len(ordered))))
            inside = ordered[start:stop]
            expected = fingerprint_of(sum(map(_item_value, inside)), len(inside))
            assert index.fingerprint(start, stop) == expected
        assert index.digest() == FingerprintIndex(held).digest()


def test_many_arrivals_fold_into_the_base():
    index = FingerprintIndex(bytes([1, n]) for n in range(200))
    index.digest()
    for n in range(1500):
        index.add(bytes([2]) + n.to_bytes(2, "big"))
    ordered = sorted(index)
    assert index.fingerprint(10, 900) == fingerprint_of(sum(map(_item_value, ordered[10:900])), 890)


@given(st.binary(max_size=6), st.binary(min_size=1, max_size=6))
@example(b"ab", b"abc")
@example(b"", b"\x00")
def test_separating_bound_is_the_shortest_prefix_between_two_ids(below, above):
    if not below < above:
        above = below + above
    bound = separating_bound(below, above)
    assert below < bound <= above
    assert above.startswith(bound)
    assert not below < bound[:-1] or len(bound) == 0


@settings(max_examples=40, deadline=None)
@given(st.sets(st.binary(min_size=1, max_size=6), min_size=2, max_size=80), st.integers(2, 9))
def test_split_partitions_a_range_into_runs_with_increasing_bounds(ids, parts):
    index = FingerprintIndex(ids)
    runs = index.split(0, len(index), min(parts, len(index)))
    assert runs[-1][0] == len(index) and runs[-1][1] is None
    start = 0
    for stop, bound, fingerprint in runs:
        assert stop > start
        assert fingerprint == index.fingerprint(start, stop)
        if bound is not None:
            assert index.id_at(stop - 1) < bound <= index.id_at(stop)
        start = stop


def test_index_refuses_ids_that_are_not_short_byte_strings():
    index = FingerprintIndex()
    for bad in ("text", b"", b"x" * 65):
        with pytest.raises(InvalidInput):
            index.add(bad)
    assert len(index) == 0
    assert index.add(b"x") and not index.add(b"x")
    assert index.add_many([b"y", b"x", b"y"]) == 1


# --------------------------------------------------------------------------- sessions


numbers = st.sets(st.integers(0, len(POOL) - 1), max_size=120)


@settings(max_examples=40, deadline=None)
@given(numbers, numbers, st.sampled_from([(2, 2), (4, 4), (16, 16), (3, 40)]))
@example(set(), set(), (16, 16))
@example(set(range(50)), set(), (2, 2))
@example(set(), set(range(300)), (16, 16))
def test_after_a_session_both_sides_hold_the_union(a_numbers, b_numbers, shape):
    config = ReconciliationConfig(branching=shape[0], id_list_threshold=shape[1])
    a, b = store_of(a_numbers), store_of(b_numbers)
    out_a, out_b, _ = run_pair(a, b, config)
    union = {POOL_CIDS[n] for n in a_numbers | b_numbers}
    assert set(a.facts) == set(b.facts) == union
    assert a.id_index().digest() == b.id_index().digest()
    assert out_a.received == len(b_numbers - a_numbers) == out_b.pushed
    assert out_b.received == len(a_numbers - b_numbers) == out_a.pushed
    expected = {
        (False, False): SyncStatus.EQUAL,
        (True, False): SyncStatus.LOCAL_BEHIND,
        (False, True): SyncStatus.REMOTE_BEHIND,
        (True, True): SyncStatus.DIVERGED,
    }
    a_lacked, b_lacked = bool(b_numbers - a_numbers), bool(a_numbers - b_numbers)
    assert out_a.status is expected[(a_lacked, b_lacked)]
    assert out_b.status is expected[(b_lacked, a_lacked)]


@settings(max_examples=25, deadline=None)
@given(numbers, numbers, st.randoms(use_true_random=False))
def test_reordered_and_duplicated_delivery_still_converges(a_numbers, b_numbers, rng):
    a, b = store_of(a_numbers), store_of(b_numbers)
    config = ReconciliationConfig(branching=4, id_list_threshold=4, fact_chunk_bytes=200)
    run_pair(a, b, config, rng=rng, duplicate=True)
    assert set(a.facts) == set(b.facts) == {POOL_CIDS[n] for n in a_numbers | b_numbers}


def test_equal_replicas_settle_in_one_round_trip_of_a_few_dozen_bytes():
    a, b = store_of(range(300)), store_of(range(300))
    out_a, out_b, sizes = run_pair(a, b)
    assert out_a.status is out_b.status is SyncStatus.EQUAL
    assert out_a.rounds == out_b.rounds == 2
    assert sizes["ranges"] < 100 and sizes["facts"] == 0


def _synthetic_stores(total: int, missing_a: set[int], missing_b: set[int]):
    """Stores over ``total`` tiny distinct values (keeps the large cases fast)."""
    values = [encode(number) for number in range(total)]
    cids = [content_id_of_bytes(value) for value in values]
    a = MappingFactStore({cids[i]: values[i] for i in range(total) if i not in missing_a})
    b = MappingFactStore({cids[i]: values[i] for i in range(total) if i not in missing_b})
    return a, b


@pytest.mark.parametrize("differences", [1, 8, 64])
def test_reconciliation_bytes_grow_with_the_difference_not_the_set(differences):
    """Ranges traffic stays within c * d * log16(n), and barely moves when n grows 10x."""
    traffic = {}
    for total in (4_000, 40_000):
        rng = random.Random(total + differences)
        chosen = rng.sample(range(total), differences)
        a, b = _synthetic_stores(total, set(chosen[::2]), set(chosen[1::2]))
        _, _, sizes = run_pair(a, b)
        traffic[total] = sizes["ranges"]
        depth = math.log(total, 16)
        assert sizes["ranges"] <= 600 * differences * depth + 500, (total, sizes)
        assert set(a.facts) == set(b.facts)
    # 10x more facts, same difference: at most one more level of splitting.
    assert traffic[40_000] <= 2.5 * traffic[4_000] + 1000


def test_a_reply_over_the_frame_limit_is_cut_and_still_converges():
    config = ReconciliationConfig(frame_limit=64 * 1024)
    rng = random.Random(7)
    chosen = rng.sample(range(30_000), 6_000)
    a, b = _synthetic_stores(30_000, set(chosen[::2]), set(chosen[1::2]))
    initiator = ReconciliationSession(a, SESSION, initiator=True, config=config)
    responder = ReconciliationSession(b, SESSION, initiator=False, config=config)
    queue = [(responder, m) for m in initiator.start()]
    largest = 0
    cut = 0
    while queue:
        target, message = queue.pop(0)
        data = encode_sync_message(message)
        if isinstance(message, RangesMessage):
            largest = max(largest, len(data))
            cut += message.ranges[-1].upper is None and len(message.ranges) > 1
        other = initiator if target is responder else responder
        queue.extend((other, reply) for reply in target.receive(decode_sync_message(data)))
    assert largest <= 64 * 1024
    assert cut > 0, "the test should exercise the cut"
    assert set(a.facts) == set(b.facts) and len(a.facts) == 30_000


def test_one_side_empty_gets_everything_in_two_round_trips():
    a, b = store_of(range(400)), store_of([])
    out_a, out_b, _ = run_pair(a, b)
    assert len(b.facts) == 400
    assert out_b.status is SyncStatus.LOCAL_BEHIND and out_a.status is SyncStatus.REMOTE_BEHIND
    assert out_a.rounds <= 4


def test_a_fact_known_only_by_id_is_not_pushed():
    """A store may keep only the id of a fact (collected under a snapshot)."""

    class IdOnlyStore(MappingFactStore):
        def fetch(self, raw_cid: bytes) -> bytes | None:
            return None if raw_cid == POOL_CIDS[0].raw else super().fetch(raw_cid)

    a, b = IdOnlyStore({c: d for c, d in zip(POOL_CIDS[:5], POOL[:5], strict=True)}), store_of([])
    out_a, out_b, _ = run_pair(a, b)
    assert out_a.pushed == 4 and out_b.received == 4
    assert set(b.facts) == set(POOL_CIDS[1:5])


def test_config_is_validated():
    for bad in (
        dict(branching=1),
        dict(branching=16, id_list_threshold=8),
        dict(id_list_threshold=5000),
        dict(frame_limit=1000),
        dict(fact_chunk_bytes=0),
    ):
        with pytest.raises(InvalidInput):
            ReconciliationConfig(**bad)
    with pytest.raises(InvalidInput):
        ReconciliationSession(store_of([]), b"short", initiator=True)
    with pytest.raises(InvalidInput):
        ReconciliationSession({}, SESSION, initiator=True)  # not a FactStore


def test_mapping_store_indexes_facts_added_behind_its_back():
    backing: dict[CID, bytes] = {}
    store = MappingFactStore(backing)
    backing[POOL_CIDS[3]] = POOL[3]
    assert POOL_CIDS[3].raw in store.id_index()
    assert store.put(POOL[4]) == POOL_CIDS[4]
    assert store.fetch(POOL_CIDS[4].raw) == POOL[4]
    with pytest.raises(InvalidInput):
        MappingFactStore({"not a cid": b"x"})


def test_exports_exist_and_are_public():
    import aura_protocol
    import aura_protocol.anti_entropy as anti_entropy

    assert aura_protocol.anti_entropy is anti_entropy and "anti_entropy" in aura_protocol.__all__
    assert len(anti_entropy.__all__) == len(set(anti_entropy.__all__))
    for name in anti_entropy.__all__:
        assert hasattr(anti_entropy, name) and not name.startswith("_"), name
    for name in ("AntiEntropyNode", "ReconciliationSession", "JournalFactStore", "SyncStatus"):
        assert name in anti_entropy.__all__
