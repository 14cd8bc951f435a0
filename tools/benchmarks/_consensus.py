"""Consensus figures for the protocol area (called from ``protocol.py``), one function each.

``consensus_fast_path_rtts``: round trips from proposal to the initiator's
decision, in steady state, measured in the deterministic simulator over
fault-free links with a fixed latency (the largest over the steady-state
proposals). ``consensus_first_contact_rtts`` and
``consensus_epoch_change_rtts`` are the same for the first proposal and for
the first one after a key epoch change, which need a commitment round.

``consensus_2of3_ms``: wall time of one whole fast path with three
witnesses, in one process: the initiator builds and encodes ``Execute``;
each witness decodes it, checks the prestate, records its vote, signs its
FROST share (two of them) or a plain vote, signs the statement with its vote
key and draws its next nonce commitment; the initiator decodes and verifies
the three replies, aggregates and verifies the group signature; the three
witnesses decode and verify the ``CommitNotice``. Steady state (commitments
already cached), median per instance. ``consensus_4of5_ms`` is the same
with five witnesses and a threshold of four.
"""

from __future__ import annotations

import os
import statistics
import time
from collections import deque

from aura_core.effects import Incoming, Outgoing
from aura_protocol.consensus import (
    ConsensusId,
    Decided,
    Initiator,
    Witness,
    encode_operation,
    witness_group_from_dealer,
)
from aura_protocol.consensus.fast_path_probe import measure_round_trips

GOALS = {
    "consensus_fast_path_rtts": "steady state, simulator, fixed latency; goal == 1",
    "consensus_first_contact_rtts": "first proposal (commitment round first); expected 2",
    "consensus_epoch_change_rtts": "first proposal after a key epoch change; expected 2",
    "consensus_2of3_ms": "whole fast path in process, 3 witnesses, incl. codec + vote keys; goal <= 5 ms",
    "consensus_4of5_ms": "the same with 4-of-5; no goal",
}


class _OsRandom:
    def random_bytes(self, n: int) -> bytes:
        return os.urandom(n)


def consensus_fast_path_rtts(quick: bool) -> dict[str, float]:
    run = measure_round_trips(proposals=4 if quick else 8, epoch_changes_before=[2])
    steady = [r for i, r in enumerate(run.round_trips) if i not in (0, 2)]
    return {
        "consensus_fast_path_rtts": max(steady),
        "consensus_first_contact_rtts": run.round_trips[0],
        "consensus_epoch_change_rtts": run.round_trips[2],
    }


def _in_process_ms(size: int, threshold: int, count: int) -> float:
    rng = _OsRandom()
    creds, witnesses = witness_group_from_dealer(size, threshold, rng)
    prestate = os.urandom(32)
    nodes: dict[str, Witness | Initiator] = {
        f"w{c.identifier}": Witness(
            address=f"w{c.identifier}",
            credentials=c,
            witnesses=witnesses,
            prestate_hash=prestate,
            rng=rng,
        )
        for c in creds
    }
    initiator = Initiator(address="init", witnesses=witnesses)
    nodes["init"] = initiator

    def settle(source: str, outputs: list[Outgoing]) -> int:
        """Deliver everything in FIFO order; returns how many nodes decided."""
        decided = 0
        queue = deque((source, out) for out in outputs)
        while queue:
            sender, out = queue.popleft()
            node = nodes[out.destination]
            replies = node.receive(Incoming(sender, out.payload), 0.0)
            decided += sum(isinstance(e, Decided) for e in node.take_events())
            queue.extend((out.destination, reply) for reply in replies)
        return decided

    def one(index: int) -> None:
        cid = ConsensusId.for_slot(b"bench", prestate, index.to_bytes(8, "big"))
        outputs = initiator.propose(cid, prestate, encode_operation({"n": index}), 0.0)
        if settle("init", outputs) != size + 1:
            raise RuntimeError("benchmark instance was not decided everywhere")
        initiator.forget(cid, prestate)

    one(0)  # first contact: fetch commitments, not timed
    samples = []
    for index in range(1, count + 1):
        begin = time.perf_counter()
        one(index)
        samples.append(time.perf_counter() - begin)
    return round(statistics.median(samples) * 1000, 3)


def consensus_2of3_ms(quick: bool) -> dict[str, float]:
    return {"consensus_2of3_ms": _in_process_ms(3, 2, 30 if quick else 200)}


def consensus_4of5_ms(quick: bool) -> dict[str, float]:
    return {"consensus_4of5_ms": _in_process_ms(5, 4, 20 if quick else 100)}


FIGURES = (consensus_fast_path_rtts, consensus_2of3_ms, consensus_4of5_ms)


def consensus_figures(quick: bool) -> dict[str, float]:
    out: dict[str, float] = {}
    for figure in FIGURES:
        out.update(figure(quick))
    return out
