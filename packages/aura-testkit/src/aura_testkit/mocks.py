"""Mock handlers that record every call, for tests that check *how* effects were used.

:class:`Recorded` wraps any handler (sync or async methods alike) and
appends a :class:`CallRecord` per call; :func:`recording_effects` wraps a
whole testing bundle. :class:`ManualClock` and :class:`ScriptedRandom` give
tests full control over time and randomness.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any

import attrs

from aura_core.effect_context import ExecutionMode
from aura_core.effects import Effects
from aura_core.errors import InvalidInput
from aura_core.identifiers import DeviceId
from aura_core.time_domains import PhysicalTime
from aura_effects import build_effects

__all__ = [
    "CallRecord",
    "ManualClock",
    "Recorded",
    "RecordingEffects",
    "ScriptedRandom",
    "recording_effects",
]


@attrs.frozen
class CallRecord:
    """One call: method name, arguments, and its result or exception."""

    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    result: Any = None
    error: BaseException | None = None


class Recorded:
    """A transparent proxy over a handler that records each method call in :attr:`calls`."""

    def __init__(self, inner: Any) -> None:
        object.__setattr__(self, "_inner", inner)
        object.__setattr__(self, "calls", [])

    @property
    def inner(self) -> Any:
        return self._inner

    def names(self) -> list[str]:
        """The method names called so far, in order."""
        return [call.method for call in self.calls]

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not callable(attribute):
            return attribute
        calls: list[CallRecord] = self.calls
        if inspect.iscoroutinefunction(attribute):

            async def record_async(*args: Any, **kwargs: Any) -> Any:
                try:
                    result = await attribute(*args, **kwargs)
                except BaseException as exc:
                    calls.append(CallRecord(name, args, kwargs, None, exc))
                    raise
                calls.append(CallRecord(name, args, kwargs, result))
                return result

            return record_async

        def record(*args: Any, **kwargs: Any) -> Any:
            try:
                result = attribute(*args, **kwargs)
            except BaseException as exc:
                calls.append(CallRecord(name, args, kwargs, None, exc))
                raise
            calls.append(CallRecord(name, args, kwargs, result))
            return result

        return record


class ManualClock:
    """:class:`~aura_core.effects.PhysicalTimeEffects` that moves only when told (``sleep`` advances it)."""

    def __init__(
        self, start_ms: int = 1_700_000_000_000, uncertainty_ms: int | None = None
    ) -> None:
        self._ms = start_ms
        self._uncertainty_ms = uncertainty_ms
        self.sleeps: list[float] = []

    def now(self) -> PhysicalTime:
        return PhysicalTime(self._ms, self._uncertainty_ms)

    def monotonic(self) -> float:
        return self._ms / 1000

    def set(self, ms: int) -> None:
        self._ms = ms

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise InvalidInput("ManualClock cannot go backwards; use set() to model a clock step")
        self._ms += round(seconds * 1000)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)


class ScriptedRandom:
    """:class:`~aura_core.effects.RandomEffects` that hands out scripted chunks, then a counter pattern.

    Each ``random_bytes(n)`` call takes the next scripted value, which must be
    exactly ``n`` bytes; when the script is exhausted it returns ``n`` bytes
    of a running counter, so runs stay reproducible.
    """

    def __init__(self, script: Iterable[bytes] = ()) -> None:
        self._script = list(script)
        self._counter = 0

    def random_bytes(self, n: int) -> bytes:
        if self._script:
            value = self._script.pop(0)
            if len(value) != n:
                raise InvalidInput(
                    f"scripted random value has {len(value)} bytes, caller asked for {n}"
                )
            return value
        out = bytes((self._counter + i) % 256 for i in range(n))
        self._counter += n
        return out

    def random_u64(self) -> int:
        return int.from_bytes(self.random_bytes(8), "big")


@attrs.frozen
class RecordingEffects:
    """A testing bundle whose every handler is :class:`Recorded`."""

    effects: Effects
    recorders: dict[str, Recorded]

    def calls(self, handler: str) -> list[CallRecord]:
        return self.recorders[handler].calls


def recording_effects(device: DeviceId | None = None, *, seed: int = 0) -> RecordingEffects:
    """Testing-mode effects (in-memory, seeded) with every handler recording its calls."""
    base = build_effects(
        ExecutionMode.TESTING, device=device or DeviceId(b"\x00" * 15 + b"\x01"), seed=seed
    )
    recorders = {field.name: Recorded(getattr(base, field.name)) for field in attrs.fields(Effects)}
    return RecordingEffects(Effects(**recorders), recorders)
