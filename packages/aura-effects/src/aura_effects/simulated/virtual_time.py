"""Virtual time: a discrete-event scheduler and clocks that read it.

Time is an integer number of microseconds, so event order never depends on
float rounding and the trace of a run is exactly reproducible. Events with
the same deadline run in the order they were scheduled.

Sans-IO code is driven by :meth:`Scheduler.run` directly. Async code that
calls ``await clock.sleep(...)`` needs :meth:`VirtualClock.drive` running in
its task group: whenever every task is blocked it jumps time to the next
deadline, so an hour of sleeping costs no wall time ("autojump").
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from typing import Any

import anyio

from aura_core.errors import InvalidInput
from aura_core.time_domains import PhysicalTime

__all__ = ["DEFAULT_START_US", "Scheduler", "TimerHandle", "VirtualClock", "seconds_to_us"]

DEFAULT_START_US = 1_700_000_000 * 1_000_000
"""Virtual runs start at a realistic wall-clock instant (2023-11-14) so timestamps look real."""


def seconds_to_us(seconds: float) -> int:
    if not isinstance(seconds, int | float) or math.isnan(seconds) or math.isinf(seconds):
        raise InvalidInput(f"a duration must be a finite number of seconds, got {seconds!r}")
    return round(seconds * 1_000_000)


class TimerHandle:
    """A scheduled callback; :meth:`cancel` stops it from running."""

    __slots__ = ("cancelled", "deadline_us")

    def __init__(self, deadline_us: int) -> None:
        self.deadline_us = deadline_us
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


_NEVER_CANCELLED = TimerHandle(0)


class Scheduler:
    """A heap of ``(deadline, sequence)``-ordered callbacks over virtual microseconds."""

    def __init__(self, start_us: int = DEFAULT_START_US) -> None:
        if type(start_us) is not int or start_us < 0:
            raise InvalidInput(f"start_us must be a non-negative int, got {start_us!r}")
        self._now = start_us
        self._heap: list[tuple[int, int, TimerHandle, Callable[..., Any], tuple[Any, ...]]] = []
        self._sequence = 0
        self._on_schedule: Callable[[], None] | None = None
        self.events_run = 0

    @property
    def now_us(self) -> int:
        return self._now

    def call_at(self, deadline_us: int, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        """Run ``callback(*args)`` at ``deadline_us`` (never earlier than now)."""
        deadline = max(int(deadline_us), self._now)
        handle = TimerHandle(deadline)
        self._sequence += 1
        heapq.heappush(self._heap, (deadline, self._sequence, handle, callback, args))
        if self._on_schedule is not None:
            self._on_schedule()
        return handle

    def post(self, deadline_us: int, callback: Callable[..., Any], *args: Any) -> None:
        """Like :meth:`call_at` for events that are never cancelled (the cheap path for messages)."""
        self._sequence += 1
        heapq.heappush(
            self._heap,
            (max(deadline_us, self._now), self._sequence, _NEVER_CANCELLED, callback, args),
        )
        if self._on_schedule is not None:
            self._on_schedule()

    def call_later(self, delay_us: int, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        return self.call_at(self._now + max(0, int(delay_us)), callback, *args)

    def next_deadline(self) -> int | None:
        """The deadline of the next live event, if any."""
        heap = self._heap
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def step(self) -> bool:
        """Run the next live event, advancing time to it; False if there is none."""
        heap = self._heap
        while heap:
            deadline, _seq, handle, callback, args = heapq.heappop(heap)
            if handle.cancelled:
                continue
            self._now = deadline
            self.events_run += 1
            callback(*args)
            return True
        return False

    def run(self, *, until_us: int | None = None, max_events: int | None = None) -> int:
        """Run events in order until none is left, the next is after ``until_us``, or ``max_events`` ran.

        Time ends at ``until_us`` when given (even if the heap emptied earlier).
        Returns the number of events run.
        """
        heap = self._heap
        pop = heapq.heappop
        budget = -1 if max_events is None else max_events
        limit = until_us
        ran = 0
        while ran != budget and heap:
            entry = heap[0]
            if entry[2].cancelled:
                pop(heap)
                continue
            if limit is not None and entry[0] > limit:
                break
            pop(heap)
            self._now = entry[0]
            self.events_run += 1
            ran += 1
            entry[3](*entry[4])
        if limit is not None and limit > self._now and ran != budget:
            self._now = limit
        return ran

    def advance(self, seconds: float) -> int:
        """Run everything due within the next ``seconds`` of virtual time."""
        return self.run(until_us=self._now + max(0, seconds_to_us(seconds)))


class VirtualClock:
    """:class:`~aura_core.effects.PhysicalTimeEffects` reading a :class:`Scheduler`.

    ``skew_s`` offsets this clock's wall-clock reading (``now``) from the
    global virtual time, to play a node whose clock is wrong. ``monotonic``
    is not skewed: it must never run backwards.
    """

    def __init__(
        self, scheduler: Scheduler, *, skew_s: float = 0.0, uncertainty_ms: int | None = None
    ) -> None:
        self._scheduler = scheduler
        self._skew_us = seconds_to_us(skew_s)
        self._uncertainty_ms = uncertainty_ms
        self._wakeup: anyio.Event | None = None

    @property
    def scheduler(self) -> Scheduler:
        return self._scheduler

    @property
    def skew_s(self) -> float:
        return self._skew_us / 1_000_000

    def set_skew(self, seconds: float) -> None:
        self._skew_us = seconds_to_us(seconds)

    def now(self) -> PhysicalTime:
        return PhysicalTime(
            max(0, self._scheduler.now_us + self._skew_us) // 1000, self._uncertainty_ms
        )

    def monotonic(self) -> float:
        return self._scheduler.now_us / 1_000_000

    async def sleep(self, seconds: float) -> None:
        delay = seconds_to_us(seconds)
        if delay < 0:
            raise InvalidInput(f"sleep needs a non-negative number of seconds, got {seconds!r}")
        done = anyio.Event()
        handle = self._scheduler.call_later(delay, done.set)
        try:
            await done.wait()
        finally:
            handle.cancel()

    async def drive(self) -> None:
        """Advance virtual time whenever all tasks are blocked. Run it in a task group; cancel to stop."""
        scheduler = self._scheduler
        previous = scheduler._on_schedule
        scheduler._on_schedule = self._wake
        try:
            while True:
                await anyio.wait_all_tasks_blocked()
                if not scheduler.step():
                    self._wakeup = anyio.Event()
                    await self._wakeup.wait()
                    self._wakeup = None
        finally:
            scheduler._on_schedule = previous

    def _wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()
