"""Opaque order tokens: BLAKE3 over a domain tag and fresh randomness."""

from __future__ import annotations

import blake3

from aura_core.effects import RandomEffects
from aura_core.time_domains import OrderTime

__all__ = ["RandomOrderClock"]

_ORDER_TAG = "AURA_ORDER_TIME_V1"


class RandomOrderClock:
    """:class:`~aura_core.effects.OrderClockEffects` drawing 32 random bytes per token.

    Hashing under a domain tag keeps the raw randomness (which may be reused
    elsewhere by a seeded simulation source) out of the token; the order it
    gives is arbitrary but the same on every replica, and it reveals no time.
    """

    def __init__(self, random: RandomEffects) -> None:
        self._random = random

    def next_order(self) -> OrderTime:
        entropy = self._random.random_bytes(32)
        return OrderTime(blake3.blake3(entropy, derive_key_context=_ORDER_TAG).digest())
