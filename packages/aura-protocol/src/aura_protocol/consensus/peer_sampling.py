"""Choosing gossip peers with the injected randomness (so a seed replays the choice)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from aura_core.crypto import RandomSource

__all__ = ["sample_peers"]

T = TypeVar("T")


def _below(rng: RandomSource, n: int) -> int:
    limit = (1 << 64) - ((1 << 64) % n)
    while True:
        draw = int.from_bytes(rng.random_bytes(8), "big")
        if draw < limit:
            return draw % n


def sample_peers(rng: RandomSource, peers: Sequence[T], k: int) -> list[T]:
    """``min(k, len(peers))`` distinct peers, uniformly (partial Fisher-Yates)."""
    pool = list(peers)
    count = min(k, len(pool))
    for i in range(count):
        j = i + _below(rng, len(pool) - i)
        pool[i], pool[j] = pool[j], pool[i]
    return pool[:count]
