"""Wall-clock and monotonic time from the operating system, for production."""

from __future__ import annotations

import math
import time

import anyio

from aura_core.errors import InvalidInput
from aura_core.time_domains import PhysicalTime

__all__ = ["SystemTime"]


class SystemTime:
    """:class:`~aura_core.effects.PhysicalTimeEffects` on ``time`` and ``anyio.sleep``.

    ``uncertainty_ms`` is what the host says about its clock (for example the
    NTP error bound); it defaults to unknown.
    """

    def __init__(self, *, uncertainty_ms: int | None = None) -> None:
        self._uncertainty_ms = uncertainty_ms

    def now(self) -> PhysicalTime:
        return PhysicalTime(time.time_ns() // 1_000_000, self._uncertainty_ms)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        if not isinstance(seconds, int | float) or math.isnan(seconds) or seconds < 0:
            raise InvalidInput(f"sleep needs a non-negative number of seconds, got {seconds!r}")
        await anyio.sleep(seconds)
