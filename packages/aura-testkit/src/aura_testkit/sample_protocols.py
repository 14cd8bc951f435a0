"""Small sans-IO protocols for exercising harnesses, simulations and benchmarks.

They follow :class:`aura_core.effects.SansIOProtocol` exactly, so they show
the shape real protocol cores take, and they keep what they saw so tests can
assert on it.
"""

from __future__ import annotations

from collections.abc import Sequence

from aura_core.effects import Incoming, Outgoing
from aura_core.errors import ProtocolViolation

__all__ = ["PingPong"]


class PingPong:
    """Sends ``ping:<n>`` to ``peer`` every ``interval`` seconds (``count`` times) and answers pings.

    A node with ``peer=None`` only answers. ``received`` keeps
    ``(source, payload, now)`` for every message; ``pongs`` the numbers answered.
    """

    def __init__(
        self, peer: str | None = None, *, interval: float = 1.0, count: int = 3, start: float = 0.0
    ) -> None:
        self.peer = peer
        self.interval = interval
        self.count = count
        self.sent = 0
        self.received: list[tuple[str, bytes, float]] = []
        self.pongs: list[int] = []
        self._next: float | None = start if peer is not None and count > 0 else None

    def receive(self, message: Incoming, now: float) -> Sequence[Outgoing]:
        self.received.append((message.source, message.payload, now))
        kind, _, number = message.payload.partition(b":")
        if not number.isdigit():
            raise ProtocolViolation(f"PingPong got a malformed message {message.payload[:32]!r}")
        if kind == b"ping":
            return [Outgoing(message.source, b"pong:" + number)]
        if kind == b"pong":
            self.pongs.append(int(number))
            return []
        raise ProtocolViolation(f"PingPong got an unknown message kind {kind[:16]!r}")

    def next_timer(self) -> float | None:
        return self._next

    def on_timer(self, now: float) -> Sequence[Outgoing]:
        if self._next is None or now < self._next or self.peer is None:
            return []
        self.sent += 1
        self._next = now + self.interval if self.sent < self.count else None
        return [Outgoing(self.peer, b"ping:%d" % self.sent)]
