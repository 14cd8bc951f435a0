"""Opening frames the live AMP endpoint does not hold: old epochs, late epochs, one's own.

The journal keeps every message as an AMP frame, and each epoch's secret
stays in its rekey fact, sealed to every member of that epoch. So a member
can open any frame of any epoch it belonged to, whenever the fact arrives:
after the epoch's grace period ended, when the rekey of an earlier epoch
arrived after a later one, after a restart, and for its own frames (AMP gives
no member a receiving chain for itself). The keys are AMP's own: a receiving
hash ratchet per (channel, epoch, sender) started from the chain seed, each
generation opened once.

Consequence, stated in ``docs/chat.md``: forward secrecy inside an epoch
holds against theft of a member's live state only; whoever holds a member's
box key can re-derive every epoch that member was in, as that member can.
"""

from __future__ import annotations

from aura_core.errors import InvalidInput
from aura_core.identifiers import ChannelId, ContextId
from aura_protocol.amp.frames import DataFrame, open_frame
from aura_protocol.amp.key_schedule import ChannelCoordinates, ack_key, chain_seed
from aura_protocol.amp.ordering import ReceivedGenerations
from aura_protocol.amp.ratchet import ReceivingChain

__all__ = ["HISTORY_WINDOW", "HistoryOpener"]

HISTORY_WINDOW = 1 << 16
"""How far ahead of the highest generation opened a frame may be (bounds key derivation)."""


class HistoryOpener:
    """Receiving chains rebuilt from epoch secrets, for frames opened outside the endpoint."""

    def __init__(self, context: ContextId) -> None:
        self.context = context
        self._chains: dict[tuple[ChannelId, int, bytes], ReceivingChain] = {}
        self._received: dict[tuple[ChannelId, int, bytes], ReceivedGenerations] = {}

    def open(self, frame: DataFrame, secret: bytes) -> bytes:
        """Authenticate and decrypt ``frame``; raises ``CryptoError`` or ``GenerationRejected``."""
        header = frame.header
        if header.context != self.context:
            raise InvalidInput("the frame belongs to another context")
        key = (header.channel, header.epoch, header.sender)
        chain = self._chains.get(key)
        if chain is None:
            where = ChannelCoordinates(self.context.raw, header.channel.raw, header.epoch)
            chain = ReceivingChain(
                where,
                header.sender,
                chain_seed(secret, where, header.sender),
                window=HISTORY_WINDOW,
            )
            self._chains[key] = chain
        prepared = chain.prepare(header.generation)
        plaintext = open_frame(frame, prepared.key)
        chain.commit(prepared)
        received = self._received.get(key)
        if received is None:
            received = self._received[key] = ReceivedGenerations()
        received.add(header.generation)
        return plaintext

    def summary(
        self, channel: ChannelId, epoch: int, sender: bytes
    ) -> tuple[int, tuple[int, ...]] | None:
        """What an acknowledgement to ``sender`` would say: (below, also), if anything opened."""
        received = self._received.get((channel, epoch, sender))
        return None if received is None else received.summary()

    def ack_key(self, channel: ChannelId, epoch: int, secret: bytes) -> bytes:
        return ack_key(secret, ChannelCoordinates(self.context.raw, channel.raw, epoch))
