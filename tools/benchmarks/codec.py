"""Canonical DAG-CBOR codec, content ids and hashing, against the reference ``dag_cbor`` package.

The workload is a typical journal fact: eight fields, four 32-byte byte
strings, a timestamp and a nested attestation map (about 370 bytes encoded).
"""

from __future__ import annotations

import hashlib

import dag_cbor as reference

from aura_core import dag_cbor
from aura_core.content_id import content_id, content_id_of_bytes
from aura_core.hashing import derive_context_key, hash_canonical, kdf
from benchmarks._timing import median_us

GOALS = {
    "encode_us": "median µs per encode of the fact; goal: >= 4x faster than ref_encode_us",
    "decode_us": "median µs per strict decode of the fact; goal: >= 4x faster than ref_decode_us",
    "content_id_us": "content_id_of_bytes(encoded fact): BLAKE3 + CID; goal <= 5 µs",
    "content_id_value_us": "content_id(fact) = encode + id (no goal; for reference)",
    "ref_encode_us": "dag_cbor package encode, same fact, same run",
    "ref_decode_us": "dag_cbor package decode, same fact, same run",
    "encode_speedup": "ref_encode_us / encode_us; goal >= 4",
    "decode_speedup": "ref_decode_us / decode_us; goal >= 4",
    "hash_canonical_us": "hash_canonical(fact, domain): encode + framed BLAKE3",
    "kdf_us": "kdf() of 32 bytes",
    "derive_context_key_us": "derive_context_key() of 32 bytes",
    "fact_bytes": "size of the encoded fact",
}


def _bytes32(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def typical_fact() -> dict[str, object]:
    """Shape of a journal fact: ids and payload as 32-byte strings, an attestation map."""
    return {
        "type_id": "aura.journal.attested_op",
        "payload": _bytes32("payload"),
        "authority": _bytes32("authority"),
        "context": _bytes32("context"),
        "order": _bytes32("order"),
        "timestamp": 1_718_000_000_123,
        "attestation": {
            "signer": _bytes32("signer"),
            "signature": _bytes32("sig-r") + _bytes32("sig-s"),
            "epoch": 7,
        },
        "version": 1,
    }


def run(quick: bool) -> dict[str, float | int | str]:
    fact = typical_fact()
    encoded = dag_cbor.encode(fact)
    if encoded != reference.encode(fact):
        raise AssertionError("codec output differs from the reference package")
    fast = {"repeat": 5, "number": 2000 if quick else 20000}
    slow = {"repeat": 5, "number": 200 if quick else 2000}
    root = _bytes32("root")
    results: dict[str, float | int | str] = {
        "encode_us": median_us(lambda: dag_cbor.encode(fact), **fast),
        "decode_us": median_us(lambda: dag_cbor.decode(encoded), **fast),
        "content_id_us": median_us(lambda: content_id_of_bytes(encoded), **fast),
        "content_id_value_us": median_us(lambda: content_id(fact), **fast),
        "ref_encode_us": median_us(lambda: reference.encode(fact), **slow),
        "ref_decode_us": median_us(lambda: reference.decode(encoded), **slow),
        "hash_canonical_us": median_us(lambda: hash_canonical(fact, "AURA_BENCH_V1"), **fast),
        "kdf_us": median_us(lambda: kdf("AURA_BENCH_V1", root), **fast),
        "derive_context_key_us": median_us(
            lambda: derive_context_key(
                root, authority=root[:16], context=root[16:], epoch=1, purpose="bench"
            ),
            **fast,
        ),
        "fact_bytes": len(encoded),
    }
    results["encode_speedup"] = round(results["ref_encode_us"] / results["encode_us"], 1)  # type: ignore[operator]
    results["decode_speedup"] = round(results["ref_decode_us"] / results["decode_us"], 1)  # type: ignore[operator]
    return results
