"""The device's vector + Lamport clock (the same logic in production and simulation)."""

from __future__ import annotations

from aura_core.errors import InvalidInput
from aura_core.identifiers import DeviceId
from aura_core.time_domains import LogicalTime

__all__ = ["DeviceLogicalClock"]


class DeviceLogicalClock:
    """:class:`~aura_core.effects.LogicalClockEffects` for one device.

    The clock is in memory; a runtime that must survive restarts saves
    :meth:`current` with its state and passes it back as ``start``.
    """

    def __init__(self, device: DeviceId, start: LogicalTime | None = None) -> None:
        if not isinstance(device, DeviceId):
            raise InvalidInput(f"DeviceLogicalClock needs a DeviceId, got {type(device).__name__}")
        self._device = device
        self._time = start if start is not None else LogicalTime()

    @property
    def device(self) -> DeviceId:
        return self._device

    def current(self) -> LogicalTime:
        return self._time

    def tick(self) -> LogicalTime:
        self._time = self._time.tick(self._device)
        return self._time

    def observe(self, remote: LogicalTime) -> LogicalTime:
        if not isinstance(remote, LogicalTime):
            raise InvalidInput(f"observe needs a LogicalTime, got {type(remote).__name__}")
        self._time = self._time.merge(remote).tick(self._device)
        return self._time
