"""Drives sans-IO protocol objects over the simulated network without anyio.

Each node is built by a factory from a :class:`NodeEnvironment` (its name,
a seeded random stream, its clock and its storage). The simulation calls
``receive`` and ``on_timer`` with the node's own clock reading, sends what
they return through the faulty network, and re-arms each node's timer from
``next_timer()`` after every call. A crash forgets the protocol object and
its timer but keeps its storage; a restart calls the factory again, as a
real process restarting from disk would.

Same seed, same factories, same calls -> same :meth:`Simulation.trace_hash`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Sequence

import attrs

from aura_core.effects import Incoming, Outgoing, SansIOProtocol
from aura_core.errors import InvalidInput, NotFound
from aura_effects.simulated.event_log import EventKind, EventLog
from aura_effects.simulated.memory_storage import MemoryStorage
from aura_effects.simulated.seeded_random import SeededRandom
from aura_effects.simulated.sim_network import FaultHook, SimulatedNetwork
from aura_effects.simulated.virtual_time import (
    DEFAULT_START_US,
    Scheduler,
    TimerHandle,
    VirtualClock,
    seconds_to_us,
)

__all__ = ["NodeEnvironment", "NodeFactory", "Simulation"]


@attrs.frozen
class NodeEnvironment:
    """What a node's factory gets: stable across restarts except ``incarnation``."""

    name: str
    random: SeededRandom
    clock: VirtualClock
    storage: MemoryStorage
    incarnation: int


NodeFactory = Callable[[NodeEnvironment], SansIOProtocol]


class _Node:
    __slots__ = (
        "clock",
        "factory",
        "incarnation",
        "name",
        "protocol",
        "random",
        "storage",
        "timer",
        "timer_wanted",
    )

    def __init__(
        self,
        name: str,
        factory: NodeFactory,
        clock: VirtualClock,
        random: SeededRandom,
        storage: MemoryStorage,
    ) -> None:
        self.name = name
        self.factory = factory
        self.clock = clock
        self.random = random
        self.storage = storage
        self.incarnation = 0
        self.protocol: SansIOProtocol | None = None
        self.timer: TimerHandle | None = None
        self.timer_wanted = 0.0


class Simulation:
    """A deterministic multi-node run: scheduler + network + event log, all from one seed."""

    def __init__(
        self,
        seed: int | bytes,
        *,
        faults: FaultHook | None = None,
        start_us: int = DEFAULT_START_US,
        keep_events: bool = False,
    ) -> None:
        self.seed = seed
        self.random = SeededRandom(seed)
        self.scheduler = Scheduler(start_us)
        self.log = EventLog(keep=keep_events)
        self.network = SimulatedNetwork(
            self.scheduler, self.random.fork("network"), self.log, faults=faults
        )
        self._nodes: dict[str, _Node] = {}

    # nodes ------------------------------------------------------------------
    def add_node(self, name: str, factory: NodeFactory) -> SansIOProtocol:
        if name in self._nodes:
            raise InvalidInput(f"simulated node {name!r} already exists")
        rng = self.random.fork(f"node:{name}")
        storage = MemoryStorage(
            secrets_key=rng.fork("storage-key").random_bytes(32), random=rng.fork("storage")
        )
        node = _Node(name, factory, VirtualClock(self.scheduler), rng, storage)
        self._nodes[name] = node
        self.network.attach(name, functools.partial(self._deliver, node))
        self._start(node)
        assert node.protocol is not None
        return node.protocol

    def protocol(self, name: str) -> SansIOProtocol:
        node = self._node(name)
        if node.protocol is None:
            raise NotFound(f"simulated node {name!r} is crashed")
        return node.protocol

    def environment(self, name: str) -> NodeEnvironment:
        node = self._node(name)
        return NodeEnvironment(node.name, node.random, node.clock, node.storage, node.incarnation)

    @property
    def node_names(self) -> tuple[str, ...]:
        return tuple(self._nodes)

    def _node(self, name: str) -> _Node:
        try:
            return self._nodes[name]
        except KeyError:
            raise NotFound(f"no simulated node named {name!r}") from None

    def _start(self, node: _Node) -> None:
        node.incarnation += 1
        env = NodeEnvironment(
            node.name,
            node.random.fork(f"incarnation:{node.incarnation}"),
            node.clock,
            node.storage,
            node.incarnation,
        )
        node.protocol = node.factory(env)
        self._rearm(node)

    # faults -----------------------------------------------------------------
    def crash(self, name: str) -> None:
        node = self._node(name)
        if node.protocol is None:
            return
        node.protocol = None
        if node.timer is not None:
            node.timer.cancel()
            node.timer = None
        self.network.set_down(name)
        self.log.record(self.scheduler._now, EventKind.CRASH, name)

    def restart(self, name: str) -> SansIOProtocol:
        node = self._node(name)
        if node.protocol is not None:
            raise InvalidInput(f"simulated node {name!r} is running; crash it first")
        self.log.record(self.scheduler._now, EventKind.RESTART, name)
        self.network.attach(name, functools.partial(self._deliver, node))
        self._start(node)
        assert node.protocol is not None
        return node.protocol

    def set_clock_skew(self, name: str, seconds: float) -> None:
        """Offset a node's clock: its protocol sees ``now`` and wall time shifted by ``seconds``."""
        node = self._node(name)
        node.clock.set_skew(seconds)
        self.log.record(
            self.scheduler._now, EventKind.SKEW, name, seconds_to_us(seconds) & (2**64 - 1)
        )
        self._rearm(node)

    def partition(self, side_a: Iterable[str], side_b: Iterable[str]) -> None:
        self.network.partition(side_a, side_b)

    def heal(self) -> None:
        self.network.heal()

    # driving ----------------------------------------------------------------
    def local_now(self, name: str) -> float:
        """The node's clock in seconds (global virtual time plus its skew)."""
        node = self._node(name)
        return (self.scheduler._now + node.clock._skew_us) / 1_000_000

    def inject(self, destination: str, payload: bytes, *, source: str = "env") -> None:
        """Deliver a message from outside the cluster right now (bypasses faults)."""
        node = self._node(destination)
        self.log.record(self.scheduler._now, EventKind.NOTE, "inject", source, destination, payload)
        self._deliver(node, Incoming(source, payload))

    def run(self, *, for_s: float | None = None, max_events: int | None = None) -> int:
        """Run for ``for_s`` virtual seconds (or until idle) or ``max_events``; returns events run."""
        until = None if for_s is None else self.scheduler._now + seconds_to_us(for_s)
        return self.scheduler.run(until_us=until, max_events=max_events)

    def run_until_idle(self, *, max_events: int = 1_000_000) -> int:
        """Run until no event is pending; a protocol that keeps a timer armed never idles."""
        return self.scheduler.run(max_events=max_events)

    def trace_hash(self) -> str:
        return self.log.trace_hash()

    # internals ----------------------------------------------------------------
    def _deliver(self, node: _Node, message: Incoming) -> None:
        protocol = node.protocol
        if protocol is None:
            return
        now = (self.scheduler._now + node.clock._skew_us) / 1_000_000
        outputs = protocol.receive(message, now)
        if outputs:
            send, name = self.network.send, node.name
            for out in outputs:
                send(name, out.destination, out.payload)
        self._rearm(node)

    def _fire(self, node: _Node) -> None:
        node.timer = None
        protocol = node.protocol
        if protocol is None:
            return
        self.log.record_timer(self.scheduler._now, node.name)
        # Never hand a protocol a time earlier than the deadline it asked for:
        # microsecond rounding must not make a due timer look early.
        now = max((self.scheduler._now + node.clock._skew_us) / 1_000_000, node.timer_wanted)
        self._emit(node, protocol.on_timer(now))
        self._rearm(node)

    def _emit(self, node: _Node, outputs: Sequence[Outgoing]) -> None:
        send = self.network.send
        for out in outputs:
            send(node.name, out.destination, out.payload)

    def _rearm(self, node: _Node) -> None:
        protocol = node.protocol
        if protocol is None:
            return
        wanted = protocol.next_timer()
        current = node.timer
        if wanted is None:
            if current is not None:
                current.cancel()
                node.timer = None
            return
        deadline = math.ceil(wanted * 1_000_000) - node.clock._skew_us
        node.timer_wanted = wanted
        if current is not None:
            if current.deadline_us == max(deadline, self.scheduler._now):
                return
            current.cancel()
        node.timer = self.scheduler.call_at(deadline, self._fire, node)
