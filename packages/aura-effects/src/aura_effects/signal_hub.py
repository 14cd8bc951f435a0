"""Reactive signals: named latest-value cells with coalescing subscriptions.

``emit`` is synchronous and never blocks, so reducers can publish from
anywhere. A subscriber that is slower than the producer does not build a
backlog: each time it asks, it gets the newest value it has not seen yet
(intermediate values are skipped). That is the batching the UI needs.
"""

from __future__ import annotations

import re
from typing import Any

import anyio
import anyio.lowlevel

from aura_core.errors import InvalidInput

__all__ = ["SignalHub", "SignalStream"]

_SIGNAL_NAME = re.compile(r"[a-z][a-z0-9_.:-]{0,127}")


def _check_signal(name: object) -> str:
    if not isinstance(name, str) or _SIGNAL_NAME.fullmatch(name) is None:
        raise InvalidInput(f"signal name must match [a-z][a-z0-9_.:-]*, got {name!r:.80}")
    return name


class _Cell:
    __slots__ = ("value", "version", "waiters")

    def __init__(self) -> None:
        self.value: Any = None
        self.version = 0
        self.waiters: list[anyio.Event] = []


class SignalStream:
    """One subscription; iterate it with ``async for``. Yields the current value first, if any."""

    def __init__(self, cell: _Cell) -> None:
        self._cell = cell
        self._seen = 0
        self._closed = False
        self._waiter: anyio.Event | None = None

    def __aiter__(self) -> SignalStream:
        return self

    async def __anext__(self) -> Any:
        cell = self._cell
        while not self._closed:
            if cell.version > self._seen:
                self._seen = cell.version
                await anyio.lowlevel.checkpoint()
                return cell.value
            self._waiter = anyio.Event()
            cell.waiters.append(self._waiter)
            await self._waiter.wait()
        raise StopAsyncIteration

    async def aclose(self) -> None:
        self._closed = True
        if self._waiter is not None:
            self._waiter.set()


class SignalHub:
    """:class:`~aura_core.effects.ReactiveEffects` held in memory."""

    def __init__(self) -> None:
        self._cells: dict[str, _Cell] = {}

    def _cell(self, signal: str) -> _Cell:
        cell = self._cells.get(signal)
        if cell is None:
            cell = self._cells[_check_signal(signal)] = _Cell()
        return cell

    def emit(self, signal: str, value: Any) -> None:
        cell = self._cell(signal)
        cell.value = value
        cell.version += 1
        waiters, cell.waiters = cell.waiters, []
        for waiter in waiters:
            waiter.set()

    def latest(self, signal: str, default: Any = None) -> Any:
        cell = self._cells.get(_check_signal(signal))
        return default if cell is None or cell.version == 0 else cell.value

    def version(self, signal: str) -> int:
        """How many times ``signal`` was emitted (0: never)."""
        cell = self._cells.get(_check_signal(signal))
        return 0 if cell is None else cell.version

    def subscribe(self, signal: str) -> SignalStream:
        return SignalStream(self._cell(signal))
