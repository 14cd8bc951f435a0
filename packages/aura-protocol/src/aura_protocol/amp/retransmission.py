"""Sender side of reliable delivery: retry with exponential backoff until acknowledged.

One :class:`OutboundQueue` per recipient holds the sealed frames that
recipient has not acknowledged. Each frame is retried after
``initial_s * factor**attempt`` seconds (capped at ``max_s``, with a little
deterministic jitter so a backlog does not retry in lockstep). An
acknowledgement from the recipient removes what it names and, since it
proves the recipient is reachable again, resends at once every frame that
has not been sent in the last ``initial_s`` — a peer back from a long
absence gets its backlog without waiting out the backoff.

Flow control keeps the receiver's skip window safe: a frame of generation
``g`` goes out only while ``g`` is less than the oldest unacknowledged
generation of its epoch plus ``window``. Everything below that oldest one
has arrived, so the receiver's highest generation is close enough that it
never refuses the frame nor evicts the key of one still in flight.
"""

from __future__ import annotations

import attrs
import blake3

from aura_core.errors import InvalidInput

__all__ = ["TIMER_SLACK_S", "OutboundQueue", "RetryPolicy"]

TIMER_SLACK_S = 1e-6
"""Timers within this of ``now`` count as due: drivers round deadlines to microseconds."""


def _seconds(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value <= 86_400:
        raise InvalidInput(f"RetryPolicy.{attribute.name} must be seconds in (0, 86400]")


def _attempts(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if value is not None and (type(value) is not int or value < 1):
        raise InvalidInput("RetryPolicy.max_attempts must be None or a positive int")


@attrs.frozen
class RetryPolicy:
    initial_s: float = attrs.field(default=1.0, validator=_seconds)
    max_s: float = attrs.field(default=60.0, validator=_seconds)
    factor: float = attrs.field(default=2.0)
    jitter: float = attrs.field(default=0.1)
    """Fraction of a delay added or taken away, chosen per frame and attempt."""
    max_attempts: int | None = attrs.field(default=None, validator=_attempts)
    """Give up after this many sends (``None``: keep trying while the epoch lasts)."""

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.factor, int | float) or not 1.0 <= self.factor <= 16.0:
            raise InvalidInput("RetryPolicy.factor must be in [1, 16]")
        if not isinstance(self.jitter, int | float) or not 0.0 <= self.jitter < 1.0:
            raise InvalidInput("RetryPolicy.jitter must be in [0, 1)")
        if self.max_s < self.initial_s:
            raise InvalidInput("RetryPolicy.max_s must be at least initial_s")

    def delay(self, attempt: int, salt: bytes) -> float:
        """Seconds to wait after send number ``attempt`` (1-based)."""
        base = min(self.max_s, self.initial_s * self.factor ** min(attempt - 1, 64))
        if not self.jitter:
            return base
        spread = blake3.blake3(salt + attempt.to_bytes(4, "big")).digest(length=4)
        fraction = int.from_bytes(spread, "big") / 2**32 * 2 - 1
        return base * (1 + self.jitter * fraction)


class _Pending:
    __slots__ = ("attempts", "due", "last_sent", "payload", "salt")

    def __init__(self, payload: bytes, salt: bytes) -> None:
        self.payload = payload
        self.salt = salt
        self.attempts = 0
        self.due: float | None = None  # None: held back by the flow window
        self.last_sent: float | None = None


class OutboundQueue:
    """Unacknowledged frames for one recipient, keyed by (epoch, generation)."""

    __slots__ = ("_held", "_pending", "policy", "window")

    def __init__(self, policy: RetryPolicy, window: int) -> None:
        self.policy = policy
        self.window = window
        self._pending: dict[tuple[int, int], _Pending] = {}
        self._held = 0

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, key: object) -> bool:
        return key in self._pending

    def add(self, epoch: int, generation: int, payload: bytes, now: float) -> list[bytes]:
        """Queue a new frame; returns it if the flow window lets it go now."""
        salt = epoch.to_bytes(8, "big") + generation.to_bytes(8, "big")
        self._pending[(epoch, generation)] = _Pending(payload, salt)
        self._held += 1
        return self._release(now)

    def acknowledge(self, epoch: int, below: int, also: tuple[int, ...], now: float) -> list[bytes]:
        """Drop what the recipient has; resend what is eligible and not sent just now."""
        pending = self._pending
        gone = [key for key in pending if key[0] == epoch and key[1] < below]
        gone += [(epoch, generation) for generation in also if (epoch, generation) in pending]
        for key in gone:
            if pending.pop(key).due is None:
                self._held -= 1
        out = self._release(now)
        recent = now - self.policy.initial_s
        for item in pending.values():
            if item.due is not None and item.last_sent is not None and item.last_sent <= recent:
                out.append(self._send(item, now))
        return out

    def due(self, now: float) -> tuple[list[bytes], list[tuple[int, int]]]:
        """Frames whose retry time came, and the (epoch, generation) of those given up on."""
        out: list[bytes] = []
        failed: list[tuple[int, int]] = []
        limit = self.policy.max_attempts
        for key, item in list(self._pending.items()):
            if item.due is None or item.due > now + TIMER_SLACK_S:
                continue
            if limit is not None and item.attempts >= limit:
                del self._pending[key]  # sent at least once, so it was not held
                failed.append(key)
            else:
                out.append(self._send(item, now))
        return out, failed

    def next_due(self) -> float | None:
        times = [item.due for item in self._pending.values() if item.due is not None]
        return min(times) if times else None

    def drop_epoch(self, epoch: int) -> list[tuple[int, int]]:
        """Forget every frame of ``epoch`` (its keys are gone); returns what was dropped."""
        keys = [key for key in self._pending if key[0] == epoch]
        for key in keys:
            if self._pending.pop(key).due is None:
                self._held -= 1
        return keys

    def _release(self, now: float) -> list[bytes]:
        """Send held frames the flow window now admits."""
        if not self._held:
            return []
        oldest: dict[int, int] = {}
        for epoch, generation in self._pending:
            if generation < oldest.get(epoch, generation + 1):
                oldest[epoch] = generation
        out = []
        for (epoch, generation), item in self._pending.items():
            if item.due is None and generation < oldest[epoch] + self.window:
                self._held -= 1
                out.append(self._send(item, now))
        return out

    def _send(self, item: _Pending, now: float) -> bytes:
        item.attempts += 1
        item.last_sent = now
        item.due = now + self.policy.delay(item.attempts, item.salt)
        return item.payload
