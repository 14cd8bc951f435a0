"""A simulated datagram network: every message passes a fault hook, then the scheduler.

For each message the hook answers with the list of delays after which a
copy arrives: ``[]`` drops it, ``[d]`` delivers it once, ``[d1, d2]``
duplicates it, and uneven delays reorder messages. :class:`FaultPlan` is
the seeded default; any callable with the same shape can replace it per run
or per message. Partitions (blocked directed links) and down nodes are
checked at send and again at delivery, so a message already in flight when a
partition starts or a node crashes is lost, as on a real network.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

import attrs

from aura_core.effects import Incoming
from aura_core.errors import InvalidInput, NotFound
from aura_effects.simulated.event_log import EventKind, EventLog
from aura_effects.simulated.seeded_random import SeededRandom
from aura_effects.simulated.virtual_time import Scheduler

__all__ = ["FaultHook", "FaultPlan", "InFlight", "SimulatedNetwork"]


class InFlight(NamedTuple):
    """A message between send and delivery (a named tuple: built once per message, so cheap)."""

    message_id: int
    source: str
    destination: str
    payload: bytes
    sent_us: int


_UNIT = 1.0 / (1 << 53)

FaultHook = Callable[[InFlight, SeededRandom], Sequence[int]]
"""Decides a message's fate: delays in microseconds, one per delivered copy."""


def _check_rate(_instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise InvalidInput(
            f"FaultPlan.{attribute.name} must be a probability in [0, 1], got {value!r}"
        )


def _check_seconds(_instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not isinstance(value, int | float) or not 0.0 <= value < 86_400:
        raise InvalidInput(
            f"FaultPlan.{attribute.name} must be seconds in [0, 86400), got {value!r}"
        )


@attrs.frozen
class FaultPlan:
    """Seeded message faults: latency with jitter, drops, duplicates and long delays.

    Jitter alone already reorders messages; ``delay_rate`` holds a message
    back by an extra ``delay_s`` so it overtakes nothing and is overtaken.
    """

    latency_s: float = attrs.field(default=0.001, validator=_check_seconds)
    jitter_s: float = attrs.field(default=0.0, validator=_check_seconds)
    drop_rate: float = attrs.field(default=0.0, validator=_check_rate)
    duplicate_rate: float = attrs.field(default=0.0, validator=_check_rate)
    delay_rate: float = attrs.field(default=0.0, validator=_check_rate)
    delay_s: float = attrs.field(default=0.5, validator=_check_seconds)

    def __call__(self, message: InFlight, rng: SeededRandom) -> list[int]:
        # rng.chance() inlined: this runs once per simulated message
        draw = rng.random_u64
        if self.drop_rate and (draw() >> 11) * _UNIT < self.drop_rate:
            return []
        copies = 2 if self.duplicate_rate and (draw() >> 11) * _UNIT < self.duplicate_rate else 1
        latency = round(self.latency_s * 1_000_000)
        jitter = round(self.jitter_s * 1_000_000)
        delays = []
        for _ in range(copies):
            delay = latency
            if jitter:
                delay += rng.below(jitter + 1)
            if self.delay_rate and (draw() >> 11) * _UNIT < self.delay_rate:
                delay += round(self.delay_s * 1_000_000)
            delays.append(delay)
        return delays


class SimulatedNetwork:
    """Routes payloads between named endpoints over virtual time."""

    def __init__(
        self,
        scheduler: Scheduler,
        rng: SeededRandom,
        log: EventLog,
        *,
        faults: FaultHook | None = None,
    ) -> None:
        self._scheduler = scheduler
        self._rng = rng
        self._log = log
        self._faults: FaultHook = faults if faults is not None else FaultPlan()
        self._endpoints: dict[str, Callable[[Incoming], None]] = {}
        self._down: set[str] = set()
        self._blocked: set[tuple[str, str]] = set()
        self._next_id = 0
        self.delivered = 0
        self.dropped = 0

    # membership -------------------------------------------------------------
    def attach(self, name: str, deliver: Callable[[Incoming], None]) -> None:
        """Register (or re-register after a restart) the receiver for ``name``."""
        if not isinstance(name, str) or not name:
            raise InvalidInput(f"endpoint name must be a non-empty string, got {name!r}")
        self._endpoints[name] = deliver
        self._down.discard(name)

    def set_down(self, name: str) -> None:
        """Mark ``name`` crashed: nothing reaches it and messages in flight to it are lost."""
        if name not in self._endpoints:
            raise NotFound(f"no simulated endpoint named {name!r}")
        self._down.add(name)

    def is_down(self, name: str) -> bool:
        return name in self._down

    @property
    def endpoints(self) -> tuple[str, ...]:
        return tuple(sorted(self._endpoints))

    # faults -----------------------------------------------------------------
    def set_faults(self, faults: FaultHook) -> None:
        self._faults = faults

    def partition(self, side_a: Iterable[str], side_b: Iterable[str]) -> None:
        """Cut every link between the two sides, both directions."""
        a, b = sorted(set(side_a)), sorted(set(side_b))
        for x in a:
            for y in b:
                if x != y:
                    self._blocked.add((x, y))
                    self._blocked.add((y, x))
        self._log.record(self._scheduler._now, EventKind.PARTITION, ",".join(a), ",".join(b))

    def block(self, source: str, destination: str) -> None:
        """Cut one direction of one link."""
        self._blocked.add((source, destination))
        self._log.record(self._scheduler._now, EventKind.PARTITION, source, destination)

    def heal(self) -> None:
        """Restore every link."""
        self._blocked.clear()
        self._log.record(self._scheduler._now, EventKind.HEAL)

    def is_blocked(self, source: str, destination: str) -> bool:
        return (source, destination) in self._blocked

    # traffic ----------------------------------------------------------------
    def send(self, source: str, destination: str, payload: bytes) -> int:
        """Hand a message to the network; returns its id. Never raises for unreachable peers."""
        if type(payload) is not bytes:
            raise InvalidInput(f"simulated payloads are bytes, got {type(payload).__name__}")
        now = self._scheduler._now
        self._next_id += 1
        message = InFlight(self._next_id, source, destination, payload, now)
        log = self._log
        log.record_send(now, message.message_id, source, destination, payload)
        if destination not in self._endpoints or (source, destination) in self._blocked:
            self._drop(message, "unreachable")
            return message.message_id
        delays = self._faults(message, self._rng)
        if not delays:
            self._drop(message, "fault")
            return message.message_id
        if len(delays) > 1:
            log.record(now, EventKind.DUPLICATE, message.message_id, len(delays))
        post = self._scheduler.post
        for delay in delays:
            post(now + delay, self._arrive, message)
        return message.message_id

    def _drop(self, message: InFlight, reason: str) -> None:
        self.dropped += 1
        self._log.record(self._scheduler._now, EventKind.DROP, message.message_id, reason)

    def _arrive(self, message: InFlight) -> None:
        destination = message.destination
        if destination in self._down:
            self._drop(message, "destination down")
            return
        if (message.source, destination) in self._blocked:
            self._drop(message, "partitioned in flight")
            return
        self.delivered += 1
        self._log.record_deliver(self._scheduler._now, message.message_id)
        self._endpoints[destination](Incoming(message.source, message.payload))
