"""Randomness from the operating system (``os.urandom``), for production."""

from __future__ import annotations

import os

from aura_core.errors import InvalidInput

__all__ = ["SystemRandom"]


def check_byte_count(n: object) -> int:
    """Shared argument check for every ``random_bytes`` implementation."""
    if type(n) is not int or n < 0:
        raise InvalidInput(f"random_bytes needs a non-negative int, got {n!r}")
    return n


class SystemRandom:
    """:class:`~aura_core.effects.RandomEffects` backed by the kernel CSPRNG."""

    def random_bytes(self, n: int) -> bytes:
        return os.urandom(check_byte_count(n))

    def random_u64(self) -> int:
        return int.from_bytes(os.urandom(8), "big")
