"""Reproducible randomness: one seed, one byte stream (BLAKE3 in extendable-output mode).

Every random choice a simulation makes comes from a :class:`SeededRandom`,
so one seed replays a run exactly. ``fork(label)`` derives an independent
stream per node or per concern, so adding draws in one place does not shift
the draws of another.
"""

from __future__ import annotations

import blake3

from aura_core.errors import InvalidInput
from aura_effects.system_random import check_byte_count

__all__ = ["SeededRandom"]

_BLOCK = 4096
_SEED_CONTEXT = "AURA_SIM_SEEDED_RANDOM_V1"
_TWO_POW_MINUS_53 = 1.0 / (1 << 53)


def _seed_bytes(seed: int | bytes) -> bytes:
    if isinstance(seed, bool) or not isinstance(seed, int | bytes):
        raise InvalidInput(f"seed must be an int or bytes, got {type(seed).__name__}")
    if isinstance(seed, int):
        if seed < 0:
            raise InvalidInput(f"seed must be non-negative, got {seed}")
        return seed.to_bytes(max(1, (seed.bit_length() + 7) // 8), "big")
    return seed


class SeededRandom:
    """:class:`~aura_core.effects.RandomEffects` from a seed, plus the helpers a simulator needs."""

    def __init__(self, seed: int | bytes) -> None:
        self._seed = _seed_bytes(seed)
        key = blake3.blake3(self._seed, derive_key_context=_SEED_CONTEXT).digest()
        self._stream = blake3.blake3(key=key)
        self._buffer = b""
        self._offset = 0  # stream position of the start of _buffer
        self._used = 0  # bytes of _buffer already handed out

    @property
    def seed(self) -> bytes:
        return self._seed

    def fork(self, label: str) -> SeededRandom:
        """An independent stream determined by this seed and ``label`` alone."""
        return SeededRandom(blake3.blake3(self._seed + b"\x00fork\x00" + label.encode()).digest())

    def random_bytes(self, n: int) -> bytes:
        used = self._used
        if n.__class__ is int and 0 <= n <= len(self._buffer) - used:  # fast path: one slice
            self._used = used + n
            return self._buffer[used : used + n]
        check_byte_count(n)
        out = bytearray()
        while len(out) < n:
            if self._used == len(self._buffer):
                self._offset += len(self._buffer)
                self._buffer = self._stream.digest(length=_BLOCK, seek=self._offset)
                self._used = 0
            take = min(n - len(out), len(self._buffer) - self._used)
            out += self._buffer[self._used : self._used + take]
            self._used += take
        return bytes(out)

    def random_u64(self) -> int:
        used = self._used
        if used + 8 <= len(self._buffer):  # fast path: the simulator draws these per message
            self._used = used + 8
            return int.from_bytes(self._buffer[used : used + 8], "big")
        return int.from_bytes(self.random_bytes(8), "big")

    def uniform(self) -> float:
        """A float in ``[0, 1)`` with 53 random bits."""
        return (self.random_u64() >> 11) * _TWO_POW_MINUS_53

    def below(self, n: int) -> int:
        """An unbiased integer in ``0..n-1``."""
        if type(n) is not int or n <= 0:
            raise InvalidInput(f"below needs a positive int, got {n!r}")
        limit = (1 << 64) - ((1 << 64) % n)
        while True:
            draw = self.random_u64()
            if draw < limit:
                return draw % n

    def chance(self, probability: float) -> bool:
        """True with the given probability (0 never draws, so it changes no stream)."""
        if probability <= 0:
            return False
        return self.uniform() < probability
