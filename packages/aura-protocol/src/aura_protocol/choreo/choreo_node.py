"""The same participant as a sans-IO node for the deterministic simulator.

:class:`ChoreoNode` has the :class:`~aura_core.effects.SansIOProtocol`
shape. Outbox rows stay pending after they are handed to the network and are
resent every ``retry_s`` until the peer acknowledges them (the simulated
network drops, duplicates and reorders); the receiver acknowledges every
envelope it accepted, duplicates included, by its last receipt's link hash.
Acknowledgements are transport bookkeeping, like Noise's framing: they carry
no application data, only the hash of a receipt the peer already holds.
Hostile or garbled input is dropped and kept in :attr:`ChoreoNode.errors`.
"""

from __future__ import annotations

from collections.abc import Sequence

from aura_core.effects import Incoming, Outgoing
from aura_core.errors import AuraError, InvalidInput
from aura_protocol.choreo.choreo_participant import ChoreoParticipant
from aura_protocol.guards.envelope import Envelope

__all__ = ["ACK_PREFIX", "ChoreoNode"]

ACK_PREFIX = b"\x00ack"
"""Acknowledgements: this prefix and a 32-byte receipt link hash (never valid DAG-CBOR)."""


class ChoreoNode:
    def __init__(
        self, participant: ChoreoParticipant, *, now: float, retry_s: float = 0.25
    ) -> None:
        if not retry_s > 0:
            raise InvalidInput("retry_s must be positive")
        self.participant = participant
        self.retry_s = retry_s
        self.errors: list[AuraError] = []
        self._links: dict[int, bytes] = {}
        self._last_sent: dict[int, float] = {}
        self._now = now
        participant.start()

    def receive(self, message: Incoming, now: float) -> Sequence[Outgoing]:
        self._now = now
        payload = message.payload
        if payload.startswith(ACK_PREFIX):
            self._acknowledged(payload[len(ACK_PREFIX) :])
            return []
        try:
            delivery = self.participant.accept(payload)
        except AuraError as exc:
            self.errors.append(exc)
            return []
        ack = Outgoing(message.source, ACK_PREFIX + delivery.envelope.last_receipt.link_hash.raw)
        return [ack, *self._due(now)]

    def next_timer(self) -> float | None:
        pending = self.participant.stack.sender.pending()
        if not pending:
            return None
        if any(entry.entry_id not in self._last_sent for entry in pending):
            return self._now  # committed but never sent (e.g. right after start)
        return min(self._last_sent[entry.entry_id] for entry in pending) + self.retry_s

    def on_timer(self, now: float) -> Sequence[Outgoing]:
        self._now = now
        return self._due(now)

    def _due(self, now: float) -> list[Outgoing]:
        out = []
        for entry in self.participant.stack.sender.pending():
            last = self._last_sent.get(entry.entry_id)
            if last is not None and last + self.retry_s > now:
                continue
            if entry.entry_id not in self._links:
                self._links[entry.entry_id] = Envelope.decode(
                    entry.payload
                ).last_receipt.link_hash.raw
            self._last_sent[entry.entry_id] = now
            out.append(Outgoing(entry.destination, entry.payload))
        return out

    def _acknowledged(self, link: bytes) -> None:
        for entry_id, known in list(self._links.items()):
            if known == link:
                self.participant.stack.sender.acknowledge(entry_id)
                del self._links[entry_id]
                self._last_sent.pop(entry_id, None)

    @property
    def settled(self) -> bool:
        """The role ended and every envelope it committed was acknowledged."""
        return self.participant.done and not self.participant.stack.sender.pending()
