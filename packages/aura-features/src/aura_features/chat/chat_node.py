"""A chat service as a sans-IO network node: guarded envelopes plus anti-entropy.

:class:`ChatNode` has the :class:`~aura_core.effects.SansIOProtocol` shape,
so the deterministic simulator (and a runtime) can drive a member directly.
It multiplexes two kinds of traffic by a leading byte: guarded envelopes
(everything the chat service sends, taken from the guard stack's outbox as
soon as it is committed) and anti-entropy messages (range-based
reconciliation of the chat facts with the other members, every
``interval_s``). Envelopes are handed to the network once: messages are
retried end to end by AMP acknowledgements and everything else is repaired
by anti-entropy, so nothing depends on a link being reliable.

Input the service refuses is dropped and kept in :attr:`ChatNode.errors`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from aura_core.effects import Incoming, Outgoing
from aura_core.errors import AuraError
from aura_features.chat.chat_fact_store import ChatFactStore
from aura_features.chat.chat_service import ChatService
from aura_protocol.anti_entropy.node import AntiEntropyConfig, AntiEntropyNode

__all__ = ["ENVELOPE_TAG", "SYNC_TAG", "ChatNode"]

ENVELOPE_TAG = b"\x01"
SYNC_TAG = b"\x02"
_HISTORY = 256


class ChatNode:
    """Drives one :class:`ChatService` and its anti-entropy with the given peers."""

    def __init__(
        self,
        service: ChatService,
        *,
        peers: Sequence[str],
        session_seed: bytes,
        now: float,
        sync: AntiEntropyConfig | None = None,
    ) -> None:
        self.service = service
        self._now = now
        self.store = ChatFactStore(service, lambda: self._now)
        self.sync = AntiEntropyNode(
            self.store,
            list(peers),
            session_seed=session_seed,
            config=sync,
            first_sync_at=now + (sync.interval_s if sync is not None else 5.0),
        )
        self.errors: deque[tuple[str, AuraError]] = deque(maxlen=_HISTORY)

    def receive(self, message: Incoming, now: float) -> Sequence[Outgoing]:
        self._now = now
        payload = message.payload
        tag, body = payload[:1], payload[1:]
        out: list[Outgoing] = []
        if tag == ENVELOPE_TAG:
            try:
                self.service.receive_envelope(body, now)
            except AuraError as exc:
                self.errors.append((message.source, exc))
        elif tag == SYNC_TAG:
            out = self._wrap(self.sync.receive(Incoming(message.source, body), now))
        return [*out, *self._drain()]

    def next_timer(self) -> float | None:
        times = [t for t in (self.service.next_timer(), self.sync.next_timer()) if t is not None]
        return min(times) if times else None

    def on_timer(self, now: float) -> Sequence[Outgoing]:
        self._now = now
        self.service.on_timer(now)
        out = self._wrap(self.sync.on_timer(now))
        return [*out, *self._drain()]

    def flush(self) -> list[Outgoing]:
        """Envelopes the service committed outside a network call (after a user operation)."""
        return self._drain()

    def _wrap(self, outputs: Sequence[Outgoing]) -> list[Outgoing]:
        return [Outgoing(o.destination, SYNC_TAG + o.payload) for o in outputs]

    def _drain(self) -> list[Outgoing]:
        """Hand every committed envelope to the network; drop their rows in one transaction."""
        sender = self.service.stack.sender
        entries = sender.pending()
        if not entries:
            return []
        with sender.storage.transaction() as txn:
            for entry in entries:
                txn.ack_outbox(entry.entry_id)
        return [Outgoing(e.destination, ENVELOPE_TAG + e.payload) for e in entries]
