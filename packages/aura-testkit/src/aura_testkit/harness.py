"""Run sans-IO protocol objects against each other in memory.

:class:`PairHarness` is the hand-cranked version (like h11's
``ConnectionPair``): messages queue up until the test delivers, drops or
duplicates them, and time moves only through :meth:`PairHarness.advance`.
:class:`ClusterHarness` runs any number of nodes on
:class:`aura_effects.simulated.Simulation`, with its seeded faults,
partitions, crashes and clock skew, and tells a failing test how to replay.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence

from aura_core.effects import Incoming, Outgoing, SansIOProtocol
from aura_core.errors import InvalidInput, NotFound
from aura_effects.simulated import FaultHook, NodeFactory, Simulation

__all__ = ["ClusterHarness", "PairHarness", "Transit"]

Transit = tuple[str, Outgoing]
"""A queued message: ``(source, Outgoing)``."""


class PairHarness:
    """Two (or more) protocol objects with explicit, test-driven message delivery."""

    def __init__(self, nodes: Mapping[str, SansIOProtocol], *, start: float = 0.0) -> None:
        if len(nodes) < 2:
            raise InvalidInput("a pair harness needs at least two nodes")
        self.nodes = dict(nodes)
        self.now = start
        self.queue: deque[Transit] = deque()
        self.undeliverable: list[Transit] = []
        self.delivered = 0

    def _emit(self, source: str, outputs: Sequence[Outgoing]) -> None:
        for out in outputs:
            self.queue.append((source, out))

    def fire_due_timers(self) -> int:
        """Call ``on_timer`` on every node whose timer is due now; returns how many fired."""
        fired = 0
        for name, node in self.nodes.items():
            deadline = node.next_timer()
            if deadline is not None and deadline <= self.now:
                self._emit(name, node.on_timer(self.now))
                fired += 1
        return fired

    def advance(self, seconds: float) -> int:
        """Move time forward, firing timers in deadline order on the way; returns timers fired."""
        if seconds < 0:
            raise InvalidInput("time only moves forward in a PairHarness")
        end = self.now + seconds
        fired = 0
        while True:
            deadlines = [
                (d, name)
                for name, node in self.nodes.items()
                if (d := node.next_timer()) is not None and d <= end
            ]
            if not deadlines:
                break
            deadline, name = min(deadlines)
            self.now = max(self.now, deadline)
            self._emit(name, self.nodes[name].on_timer(self.now))
            fired += 1
        self.now = end
        return fired

    def deliver_one(self) -> Transit:
        """Deliver the oldest queued message and queue whatever the receiver answers."""
        if not self.queue:
            raise NotFound("no message is queued")
        source, out = self.queue.popleft()
        node = self.nodes.get(out.destination)
        if node is None:
            self.undeliverable.append((source, out))
            return source, out
        self.delivered += 1
        self._emit(out.destination, node.receive(Incoming(source, out.payload), self.now))
        return source, out

    def deliver_all(self, *, max_messages: int = 10_000) -> int:
        """Deliver until the queue is empty; returns how many were delivered."""
        count = 0
        while self.queue:
            if count >= max_messages:
                raise InvalidInput(
                    f"still busy after {max_messages} messages; the protocol may loop"
                )
            self.deliver_one()
            count += 1
        return count

    def drop_next(self) -> Transit:
        if not self.queue:
            raise NotFound("no message is queued")
        return self.queue.popleft()

    def duplicate_next(self) -> None:
        if not self.queue:
            raise NotFound("no message is queued")
        self.queue.appendleft(self.queue[0])

    def swap_next_two(self) -> None:
        if len(self.queue) < 2:
            raise NotFound("fewer than two messages are queued")
        first = self.queue.popleft()
        second = self.queue.popleft()
        self.queue.extendleft([first, second])

    def run_until_quiet(self, *, max_rounds: int = 1000) -> None:
        """Alternate delivering and firing due timers until neither has work."""
        for _ in range(max_rounds):
            if not self.queue and not self.fire_due_timers():
                return
            self.deliver_all()
        raise InvalidInput(f"not quiet after {max_rounds} rounds")


class ClusterHarness:
    """A seeded :class:`Simulation` of named nodes, with helpers for assertions and replay."""

    def __init__(
        self,
        factories: Mapping[str, NodeFactory],
        *,
        seed: int = 0,
        faults: FaultHook | None = None,
        keep_events: bool = False,
    ) -> None:
        self.seed = seed
        self.sim = Simulation(seed, faults=faults, keep_events=keep_events)
        for name, factory in factories.items():
            self.sim.add_node(name, factory)

    def protocol(self, name: str) -> SansIOProtocol:
        return self.sim.protocol(name)

    def protocols(self) -> dict[str, SansIOProtocol]:
        return {name: self.sim.protocol(name) for name in self.sim.node_names}

    def run(self, seconds: float, *, max_events: int = 1_000_000) -> int:
        return self.sim.run(for_s=seconds, max_events=max_events)

    def run_until_idle(self, *, max_events: int = 1_000_000) -> int:
        return self.sim.run_until_idle(max_events=max_events)

    def trace_hash(self) -> str:
        return self.sim.trace_hash()

    def replay_hint(self) -> str:
        """What to put in an assertion message so a failing run can be replayed exactly."""
        return f"replay with seed={self.seed!r} (trace {self.trace_hash()[:16]})"
