"""Where threshold cryptography gets its randomness: an injected source.

The core layer never reads OS randomness itself; every function that needs
random choices takes an object with ``random_bytes(n)`` (structurally the
``RandomEffects`` effect), so tests can replay published vectors and the
simulator can replay a seed.
"""

from __future__ import annotations

from typing import Protocol

from aura_core.crypto.ed25519_group import ORDER
from aura_core.errors import InvalidInput

__all__ = ["RandomSource", "random_bytes", "random_nonzero_scalar", "random_scalar"]


class RandomSource(Protocol):
    """Anything that returns ``n`` uniformly random bytes."""

    def random_bytes(self, n: int) -> bytes: ...


def random_bytes(rng: RandomSource, n: int) -> bytes:
    """Draw ``n`` bytes and check the source kept its promise."""
    data = rng.random_bytes(n)
    if not isinstance(data, bytes):
        raise InvalidInput(f"random source returned {type(data).__name__}, expected {n} bytes")
    if len(data) != n:
        raise InvalidInput(f"random source returned {len(data)} bytes, expected {n}")
    return data


def random_scalar(rng: RandomSource) -> int:
    """RFC 9591 ``RandomScalar`` by wide reduction: 64 random bytes mod L."""
    return int.from_bytes(random_bytes(rng, 64), "little") % ORDER


def random_nonzero_scalar(rng: RandomSource) -> int:
    """A uniformly random scalar in [1, L)."""
    while True:
        value = random_scalar(rng)
        if value:
            return value
