"""Shared timing helper for benchmark areas: median of repeated runs."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_us(fn: Callable[[], object], *, repeat: int = 7, number: int = 1000) -> float:
    """Median over ``repeat`` batches of the per-call time of ``fn`` in microseconds."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - start) / number * 1e6)
    return round(statistics.median(samples), 3)


def median_ms(fn: Callable[[], object], *, repeat: int = 7, number: int = 10) -> float:
    """Median per-call time of ``fn`` in milliseconds."""
    return round(median_us(fn, repeat=repeat, number=number) / 1000, 4)
