"""Resending this member's messages to one recipient until that recipient acknowledges them.

The schedule is AMP's (:class:`~aura_protocol.amp.RetryPolicy`: exponential
backoff with deterministic jitter, optional attempt limit; an acknowledgement
proves the recipient reachable again, so everything not sent in the last
``initial_s`` goes out at once). The structure is built for chat's volumes:
every message sent to a recipient sits here until acknowledged, so adding,
acknowledging and finding what is due cost O(log n) or O(what changes),
never a scan of everything pending. (AMP's own outbound queue also enforces
a flow window; a chat message was already sent once when it is queued here,
so there is nothing to hold back.)

A busy recipient acknowledges late. Resending everything older than
``initial_s`` whenever an acknowledgement shows up, or on a fixed first
timer, would then multiply the traffic exactly when the recipient is
slowest. So the queue measures how long acknowledgements take (smoothed, from
messages sent once only, as TCP does) and waits at least three times that
before treating a message as lost.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict, deque

from aura_protocol.amp.retransmission import TIMER_SLACK_S, RetryPolicy

__all__ = ["RetryQueue"]

Key = tuple[int, int]
"""(epoch, generation) of one of this member's messages."""


class _Entry:
    __slots__ = ("attempts", "due", "last_sent", "payload", "salt")

    def __init__(self, payload: bytes, salt: bytes) -> None:
        self.payload = payload
        self.salt = salt
        self.attempts = 0
        self.due = 0.0
        self.last_sent = 0.0


class RetryQueue:
    """Unacknowledged messages for one recipient, keyed by (epoch, generation)."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self._entries: OrderedDict[Key, _Entry] = OrderedDict()  # least recently sent first
        self._by_epoch: dict[int, deque[int]] = {}  # generations in the order they were added
        self._heap: list[tuple[float, Key]] = []
        self._srtt: float | None = None

    @property
    def timeout_s(self) -> float:
        """How long an unacknowledged message is given before it counts as lost."""
        floor = self.policy.initial_s
        return floor if self._srtt is None else min(max(floor, 3 * self._srtt), self.policy.max_s)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    @property
    def epochs(self) -> frozenset[int]:
        return frozenset(e for e, gens in self._by_epoch.items() if gens)

    def add(self, epoch: int, generation: int, payload: bytes, now: float) -> None:
        """A message was just sent: resend it on the schedule until acknowledged."""
        key = (epoch, generation)
        if key in self._entries:
            return
        entry = _Entry(payload, epoch.to_bytes(8, "big") + generation.to_bytes(8, "big"))
        self._entries[key] = entry
        self._by_epoch.setdefault(epoch, deque()).append(generation)
        self._sent(key, entry, now)

    def acknowledge(self, epoch: int, below: int, also: tuple[int, ...], now: float) -> list[bytes]:
        """Drop what the recipient holds; return what was not sent within :attr:`timeout_s`."""
        entries = self._entries
        removed: list[_Entry] = []
        generations = self._by_epoch.get(epoch)
        if generations:
            while generations and generations[0] < below:
                entry = entries.pop((epoch, generations.popleft()), None)
                if entry is not None:
                    removed.append(entry)
        for generation in also:
            entry = entries.pop((epoch, generation), None)
            if entry is not None:
                removed.append(entry)
        samples = [now - entry.last_sent for entry in removed if entry.attempts == 1]
        if samples:
            sample = min(samples)
            self._srtt = sample if self._srtt is None else 0.875 * self._srtt + 0.125 * sample
        recent = now - self.timeout_s
        again: list[bytes] = []
        while entries:
            key, entry = next(iter(entries.items()))
            if entry.last_sent > recent:
                break  # sent recently; everything after it was sent even later
            self._sent(key, entry, now)
            again.append(entry.payload)
        return again

    def due(self, now: float) -> tuple[list[bytes], list[Key]]:
        """Payloads whose retry time came, and the keys given up on (attempt limit)."""
        out: list[bytes] = []
        failed: list[Key] = []
        heap, entries, limit = self._heap, self._entries, self.policy.max_attempts
        while heap and heap[0][0] <= now + TIMER_SLACK_S:
            due, key = heapq.heappop(heap)
            entry = entries.get(key)
            if entry is None or entry.due != due:
                continue  # acknowledged, or rescheduled since
            if limit is not None and entry.attempts >= limit:
                del entries[key]
                failed.append(key)
                continue
            self._sent(key, entry, now)
            out.append(entry.payload)
        return out, failed

    def next_due(self) -> float | None:
        heap, entries = self._heap, self._entries
        while heap:
            due, key = heap[0]
            entry = entries.get(key)
            if entry is not None and entry.due == due:
                return due
            heapq.heappop(heap)
        return None

    def drop_epoch(self, epoch: int) -> list[Key]:
        """Forget every message of ``epoch`` (its keys are gone for good)."""
        dropped = []
        for generation in self._by_epoch.pop(epoch, deque()):
            if self._entries.pop((epoch, generation), None) is not None:
                dropped.append((epoch, generation))
        return dropped

    def _sent(self, key: Key, entry: _Entry, now: float) -> None:
        entry.attempts += 1
        entry.last_sent = now
        entry.due = now + max(self.policy.delay(entry.attempts, entry.salt), self.timeout_s)
        self._entries.move_to_end(key)
        heapq.heappush(self._heap, (entry.due, key))
