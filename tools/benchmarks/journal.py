"""Journal layer: merge, ingest, full and incremental reduction, queries, tree operations.

Facts are real: flow-budget charges signed by single devices (Ed25519), tree
operations signed by a 1-of-1 group key. Building the fixtures (signing
~100k facts) takes a few seconds and is not timed.
"""

from __future__ import annotations

import hashlib
import statistics
import time

from nacl.signing import SigningKey

from aura_core.identifiers import AuthorityId, ContextId, DeviceId
from aura_core.time_domains import OrderTime, PhysicalTime
from aura_journal import (
    ANY,
    AddLeaf,
    AttestedOp,
    BranchSpec,
    Fact,
    FactMetadata,
    FlowCharge,
    Journal,
    JournalNamespace,
    LeafId,
    LeafNode,
    LeafRole,
    RemovalReason,
    RemoveLeaf,
    TreeGenesis,
    default_registry,
    order_time_from_entropy,
)
from benchmarks._timing import median_ms, median_us

GOALS = {
    "merge_100k_s": "join two validated 50k-fact journals, 10% overlap; goal <= 0.2 s",
    "merge_100k_live_view_s": "the same merge into a journal whose flow-budget view is live; no goal",
    "ingest_facts_per_s": "decode + validate (Ed25519) + insert + view update, from bytes; goal >= 5000",
    "add_one_us": "Journal.add of one signed fact into 100k (validation + view); no goal",
    "reduce_full_100k_s": "flow-budget view recomputed from scratch over 100k facts; no goal",
    "apply_one_us": "incremental view update for one new fact in a 100k-fact journal; goal <= 500",
    "query_10k_ms": "OrderTime range query returning 5k of 10k facts (index warm); goal < 10",
    "query_10k_cold_ms": "same query on a fresh journal (index built); goal < 10",
    "tree_op_apply_us": "TreeState.apply(AddLeaf) at 64 devices, commitments along the path; no goal",
    "tree_op_admit_us": "Journal.add of a signed tree op at 64 devices (verify + checks + apply); no goal",
    "facts": "journal size used for the 100k figures",
}

_AUTHORITY = JournalNamespace.authority(AuthorityId(b"\x01" * 16))
_CONTEXTS = [ContextId(hashlib.sha256(b"ctx%d" % i).digest()[:16]) for i in range(16)]
_PEERS = [AuthorityId(hashlib.sha256(b"peer%d" % i).digest()[:16]) for i in range(16)]
_DEVICE = DeviceId(b"\x0d" * 16)
_DEVICE_KEY = SigningKey(b"\x0e" * 32)


def _metadata(label: bytes) -> FactMetadata:
    return FactMetadata(
        order_time_from_entropy(hashlib.sha256(label).digest()), PhysicalTime(1_700_000_000_000)
    )


def _charges(start: int, count: int) -> list[Fact]:
    facts = []
    for i in range(start, start + count):
        body = FlowCharge(_CONTEXTS[i % 16], _PEERS[(i // 16) % 16], 1, 1 + i % 7)
        facts.append(
            Fact.create(body, _metadata(b"charge%d" % i)).signed_by_device(
                _AUTHORITY, _DEVICE, _DEVICE_KEY
            )
        )
    return facts


def _journal(facts: list[Fact]) -> Journal:
    journal = Journal(_AUTHORITY, default_registry())
    journal.load_trusted(facts)
    return journal


def _seconds(fn, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return round(statistics.median(samples), 4)


def _tree_figures(quick: bool) -> dict[str, float]:
    group = SigningKey(b"\x0f" * 32)
    group_key = bytes(group.verify_key)

    def leaf(i: int) -> LeafNode:
        key = SigningKey(hashlib.sha256(b"leaf%d" % i).digest()).verify_key
        return LeafNode(
            LeafId(i),
            DeviceId(hashlib.sha256(b"dev%d" % i).digest()[:16]),
            LeafRole.DEVICE,
            bytes(key),
        )

    genesis = TreeGenesis.of([BranchSpec(None, ANY, group_key)], [(leaf(i), 0) for i in range(64)])
    state = genesis.state
    extra = AddLeaf(leaf(1000), 0)
    apply_us = median_us(lambda: state.apply(extra), number=200 if quick else 2000)

    # A chain of signed ops alternating add/remove keeps the tree at 64-65 devices.
    ops = []
    current = state
    count = 50 if quick else 300
    for i in range(count):
        op = (
            AddLeaf(leaf(2000 + i), 0)
            if i % 2 == 0
            else RemoveLeaf(LeafId(2000 + i - 1), RemovalReason.REPLACED)
        )
        fact = AttestedOp.propose(op, current, _metadata(b"op%d" % i)).signed_by_single_key(
            _AUTHORITY, group
        )
        ops.append(fact)
        current = current.apply(op)
    genesis_fact = Fact.create(genesis, _metadata(b"genesis")).signed_by_single_key(
        _AUTHORITY, group
    )
    journal = Journal(_AUTHORITY, default_registry())
    journal.add(genesis_fact)
    journal.view("commitment_tree")
    start = time.perf_counter()
    for fact in ops:
        journal.add(fact)
    admit_us = (time.perf_counter() - start) / len(ops) * 1e6
    head = journal.state("commitment_tree").head
    if head is None or head.commitment != current.commitment:
        raise AssertionError("tree benchmark: journal head differs from the directly applied chain")
    return {"tree_op_apply_us": apply_us, "tree_op_admit_us": round(admit_us, 1)}


def run(quick: bool) -> dict[str, float | int | str]:
    half = 5_000 if quick else 50_000
    overlap = half // 10
    pool = _charges(0, 2 * half - overlap)
    left, right = _journal(pool[:half]), _journal(pool[half - overlap :])
    merge_s = _seconds(lambda: left.join(right), 3 if quick else 5)
    merged = left.join(right)
    if len(merged) != len(pool):
        raise AssertionError("merge benchmark: wrong fact count")
    live_samples = []
    for _ in range(3):
        live = left.copy()
        live.view("flow_budget")
        begin = time.perf_counter()
        live.merge(right)
        live_samples.append(time.perf_counter() - begin)
    if live.state("flow_budget") != merged.recompute("flow_budget"):
        raise AssertionError("merge benchmark: live view differs after the merge")

    # Ingest: encoded facts from a peer into a journal whose view is live.
    incoming = [fact.encode() for fact in _charges(10_000_000, 1_000 if quick else 5_000)]
    target = _journal(pool[:1000])
    target.view("flow_budget")
    start = time.perf_counter()
    for data in incoming:
        target.ingest(data)
    ingest_rate = len(incoming) / (time.perf_counter() - start)

    big = _journal(pool + _charges(20_000_000, 2 * half - len(pool)))
    reduce_s = _seconds(lambda: big.recompute("flow_budget"), 3)
    big.view("flow_budget")
    fresh = iter(_charges(30_000_000, 3_000))
    apply_us = median_us(lambda: big.load_trusted([next(fresh)]), repeat=5, number=200)
    add_facts = iter(_charges(40_000_000, 600))
    add_us = median_us(lambda: big.add(next(add_facts)), repeat=3, number=200)
    if big.state("flow_budget") != big.recompute("flow_budget"):
        raise AssertionError("incremental view differs from full recompute")

    ten_k = pool[:10_000] if len(pool) >= 10_000 else _charges(0, 10_000)
    small = _journal(ten_k)
    ordered = sorted(fact.order.token for fact in ten_k)
    lo, hi = order_time_of(ordered[2_500]), order_time_of(ordered[7_500])
    small.query("flow.charge")
    query_ms = median_ms(lambda: small.query("flow.charge", start=lo, end=hi), number=20)

    def cold() -> None:
        fresh_journal = Journal(_AUTHORITY, small.registry)
        fresh_journal.load_trusted(ten_k)
        begin = time.perf_counter()
        fresh_journal.query("flow.charge", start=lo, end=hi)
        cold_samples.append(time.perf_counter() - begin)

    cold_samples: list[float] = []
    for _ in range(3):
        cold()
    result: dict[str, float | int | str] = {
        "merge_100k_s": merge_s,
        "merge_100k_live_view_s": round(statistics.median(live_samples), 4),
        "ingest_facts_per_s": round(ingest_rate),
        "add_one_us": add_us,
        "reduce_full_100k_s": reduce_s,
        "apply_one_us": apply_us,
        "query_10k_ms": query_ms,
        "query_10k_cold_ms": round(statistics.median(cold_samples) * 1000, 3),
    }
    result.update(_tree_figures(quick))
    result["facts"] = len(big)
    return result


def order_time_of(token: bytes) -> OrderTime:
    return OrderTime(token)
