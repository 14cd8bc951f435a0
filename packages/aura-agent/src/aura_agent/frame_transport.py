"""How a live agent's frames reach other agents: the transport seam, and an in-process one.

An :class:`~aura_agent.agent_node.AgentNode` addresses frames by route; a
:class:`FrameTransport` carries them. The relay transport
(:mod:`aura_agent.relay_transport`) is the real one: sealed envelopes in
mailboxes on untrusted relays. :class:`MemoryRouter` connects agents in one
process (tests, demos, embedding several agents in one host); it copies
bytes, so everything still crosses the frame codec.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from aura_core.errors import InvalidInput, TransportError

__all__ = ["FrameSink", "FrameTransport", "MemoryRouter"]

FrameSink = Callable[[str, bytes], None]
"""Where a transport hands an arriving frame: ``sink(source_route, frame)``."""


@runtime_checkable
class FrameTransport(Protocol):
    """Carries frames between routes. ``deliver`` raises ``TransportError`` when it cannot."""

    async def deliver(self, source: str, destination: str, frame: bytes) -> None: ...

    def attach(self, route: str, sink: FrameSink) -> None:
        """Start handing frames addressed to ``route`` to ``sink``."""
        ...

    def detach(self, route: str) -> None: ...


class MemoryRouter:
    """An in-process :class:`FrameTransport`: routes map to the sinks of attached agents."""

    def __init__(self) -> None:
        self._sinks: dict[str, FrameSink] = {}
        self.delivered = 0

    def attach(self, route: str, sink: FrameSink) -> None:
        if type(route) is not str or not route:
            raise InvalidInput("a route must be a non-empty str")
        self._sinks[route] = sink

    def detach(self, route: str) -> None:
        self._sinks.pop(route, None)

    async def deliver(self, source: str, destination: str, frame: bytes) -> None:
        sink = self._sinks.get(destination)
        if sink is None:
            raise TransportError(f"no agent is attached at route {destination!r:.80}")
        self.delivered += 1
        sink(source, bytes(frame))
