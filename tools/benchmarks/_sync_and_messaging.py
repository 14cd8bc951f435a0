"""Anti-entropy and AMP figures for the protocol area (called from ``protocol.py``).

``anti_entropy_bytes_ratio``: two replicas of a 100k-fact journal, each
missing a different 500 facts (a 1% symmetric difference), reconcile with
one session. Counted: every byte of every encoded session message in both
directions — range fingerprints and id lists, need bitmaps, end markers, and
the 1000 missing facts themselves with their CIDs and framing. Divided by the
bytes of all 100k encoded facts (what "send everything" would move, framing
not even counted). Facts are ~300-byte canonical DAG-CBOR values shaped like
journal facts (type, payload, attestation, order token, timestamp).

``anti_entropy_100k_ms``: wall time of that whole session, both sides'
processing plus encoding and decoding every message, with each replica's
fingerprint index already built (a replica maintains it as facts arrive).
``anti_entropy_index_100k_ms`` is building one index from scratch.

``amp_seal_open_us``: seal a 256-byte message in a channel epoch (ratchet
step, key derivation, XChaCha20-Poly1305), encode the frame, decode it and
open it on the receiver (prepare, authenticate, commit).
``amp_send_ack_us`` is the whole endpoint path for one message: send, receive
and deliver, build the MAC'd ack, process the ack at the sender.
"""

from __future__ import annotations

import random
import statistics
import time

from aura_core.content_id import content_id_of_bytes
from aura_core.dag_cbor import encode
from aura_core.effects import Incoming
from aura_core.identifiers import ChannelId, ContextId
from aura_protocol.amp import AmpEndpoint, ChannelKeyring, decode_frame, encode_frame
from aura_protocol.anti_entropy import (
    FactsMessage,
    FingerprintIndex,
    MappingFactStore,
    ReconciliationSession,
    decode_sync_message,
    encode_sync_message,
)
from benchmarks._timing import median_us

GOALS = {
    "anti_entropy_bytes_ratio": "bytes to heal a 1% difference on 100k ~300-byte facts (all messages, facts included) / bytes of all facts; goal <= 0.05",
    "anti_entropy_bytes": "total bytes of that session, both directions; no goal",
    "anti_entropy_fact_bytes": "of which fact transfer (1000 facts + CIDs + framing); no goal",
    "anti_entropy_messages": "messages exchanged in that session (both directions); no goal",
    "anti_entropy_100k_ms": "that session's wall time, both sides, codec included, indexes warm; no goal",
    "anti_entropy_index_100k_ms": "building a fingerprint index of 100k ids from scratch; no goal",
    "amp_seal_open_us": "seal + encode + decode + open of a 256-byte AMP message; no goal",
    "amp_send_ack_us": "endpoint send -> receive/deliver -> ack -> ack processed, one message; no goal",
}

_FACTS = 100_000
_MISSING_EACH = 500


def _facts(count: int) -> list[bytes]:
    rng = random.Random(2024)
    out = []
    for number in range(count):
        value = {
            "v": 1,
            "type": "chat.message_sent",
            "payload": rng.randbytes(88),
            "att": {"kind": "device", "device": rng.randbytes(16), "sig": rng.randbytes(64)},
            "order": rng.randbytes(32),
            "time": {"physical": 1_700_000_000_000 + number},
        }
        out.append(encode(value))
    return out


def _session(a: MappingFactStore, b: MappingFactStore) -> tuple[dict[str, int], float]:
    begin = time.perf_counter()
    initiator = ReconciliationSession(a, b"\x01" * 16, initiator=True)
    responder = ReconciliationSession(b, b"\x01" * 16, initiator=False)
    sizes = {"facts": 0, "ranges": 0, "messages": 0}
    queue = [(responder, message) for message in initiator.start()]
    while queue:
        target, message = queue.pop(0)
        data = encode_sync_message(message)
        sizes["facts" if isinstance(message, FactsMessage) else "ranges"] += len(data)
        sizes["messages"] += 1
        other = initiator if target is responder else responder
        queue.extend((other, reply) for reply in target.receive(decode_sync_message(data)))
    elapsed = time.perf_counter() - begin
    if not (initiator.done and responder.done) or a.id_index().digest() != b.id_index().digest():
        raise AssertionError("anti-entropy benchmark: the replicas did not converge")
    return sizes, elapsed


def anti_entropy_figures(quick: bool) -> dict[str, float | int]:
    facts = _facts(_FACTS)
    cids = [content_id_of_bytes(data) for data in facts]
    full_bytes = sum(map(len, facts))
    rng = random.Random(7)
    chosen = rng.sample(range(_FACTS), 2 * _MISSING_EACH)
    missing_a, missing_b = set(chosen[:_MISSING_EACH]), set(chosen[_MISSING_EACH:])

    begin = time.perf_counter()
    FingerprintIndex(cid.raw for cid in cids).digest()
    index_ms = (time.perf_counter() - begin) * 1000

    samples = []
    sizes: dict[str, int] = {}
    for _ in range(1 if quick else 3):
        a = MappingFactStore({cids[i]: facts[i] for i in range(_FACTS) if i not in missing_a})
        b = MappingFactStore({cids[i]: facts[i] for i in range(_FACTS) if i not in missing_b})
        a.id_index().digest()
        b.id_index().digest()
        sizes, elapsed = _session(a, b)
        samples.append(elapsed)
    total = sizes["ranges"] + sizes["facts"]
    return {
        "anti_entropy_bytes_ratio": round(total / full_bytes, 4),
        "anti_entropy_bytes": total,
        "anti_entropy_fact_bytes": sizes["facts"],
        "anti_entropy_messages": sizes["messages"],
        "anti_entropy_100k_ms": round(statistics.median(samples) * 1000, 1),
        "anti_entropy_index_100k_ms": round(index_ms, 1),
    }


_CONTEXT = ContextId(b"\x01" * 16)
_CHANNEL = ChannelId(b"\x02" * 32)


def amp_figures(quick: bool) -> dict[str, float]:
    sender = ChannelKeyring(_CONTEXT, _CHANNEL, b"alice")
    receiver = ChannelKeyring(_CONTEXT, _CHANNEL, b"bob")
    for ring in (sender, receiver):
        ring.install(1, b"\x07" * 32, [b"alice", b"bob"], 0.0)
    message = bytes(256)

    def seal_open() -> None:
        frame = encode_frame(sender.seal(message))
        if receiver.open(decode_frame(frame)) != message:
            raise AssertionError("AMP benchmark: round trip changed the message")

    alice, bob = AmpEndpoint(b"alice"), AmpEndpoint(b"bob")
    members = {b"alice": "alice", b"bob": "bob"}
    for node in (alice, bob):
        node.install_epoch(_CONTEXT, _CHANNEL, 1, b"\x08" * 32, members, 0.0)

    def send_ack() -> None:
        (out,) = alice.send(_CONTEXT, _CHANNEL, message, 1.0)
        (ack,) = bob.receive(Incoming("alice", out.payload), 1.0)
        alice.receive(Incoming("bob", ack.payload), 1.0)
        bob.take_events()

    number = 300 if quick else 2000
    return {
        "amp_seal_open_us": median_us(seal_open, number=number),
        "amp_send_ack_us": median_us(send_ack, number=number),
    }
