"""The async driver: a role runs over anyio, its envelopes through a transport.

:func:`run_role` starts the participant, flushes the outbox, then waits for
envelopes on its inbox until the role's local type ends, flushing after each
(under a deadline: a session that stalls raises ``TimeoutError``).
:class:`MemoryEnvelopeHub` is an in-process transport for whole sessions in
one event loop; a channel-backed transport plugs in the same way.
"""

from __future__ import annotations

import anyio
from anyio.abc import ObjectReceiveStream, ObjectSendStream

from aura_core.errors import InvalidInput, TransportError
from aura_protocol.choreo.choreo_participant import ChoreoParticipant
from aura_protocol.guards.guarded_sender import EnvelopeTransport

__all__ = ["MemoryEnvelopeHub", "run_role"]


class MemoryEnvelopeHub:
    """Addresses to in-memory inboxes (an :class:`EnvelopeTransport` for one event loop)."""

    def __init__(self, *, capacity: int = 1024) -> None:
        self._capacity = capacity
        self._inboxes: dict[str, ObjectSendStream[bytes]] = {}
        self._receivers: list[ObjectReceiveStream[bytes]] = []

    def inbox(self, address: str) -> ObjectReceiveStream[bytes]:
        if address in self._inboxes:
            raise InvalidInput(f"{address} already has an inbox")
        send, receive = anyio.create_memory_object_stream[bytes](self._capacity)
        self._inboxes[address] = send
        self._receivers.append(receive)
        return receive

    async def aclose(self) -> None:
        """Close every inbox (use the hub as ``async with``)."""
        for stream in (*self._inboxes.values(), *self._receivers):
            await stream.aclose()

    async def __aenter__(self) -> MemoryEnvelopeHub:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def send(self, address: str, envelope: bytes) -> None:
        inbox = self._inboxes.get(address)
        if inbox is None:
            raise TransportError(f"nothing receives at {address}")
        await inbox.send(envelope)


async def run_role(
    participant: ChoreoParticipant,
    inbox: ObjectReceiveStream[bytes],
    transport: EnvelopeTransport,
    *,
    timeout_s: float = 10.0,
) -> None:
    """Run one role to the end of its local type."""
    sender = participant.stack.sender
    with anyio.fail_after(timeout_s):
        participant.start()
        await sender.flush(transport)
        while not participant.done:
            envelope = await inbox.receive()
            participant.accept(envelope)
            await sender.flush(transport)
