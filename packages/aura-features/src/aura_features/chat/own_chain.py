"""This member's AMP sending chains, driven directly so each sealed frame can go into a fact.

:class:`~aura_protocol.amp.AmpEndpoint` seals a message and hands the frame
only to the network (and holds frames back under flow control). Chat needs
the frame itself, inside the ``chat.message_sent`` fact it commits through
the guard chain, so the sending side uses AMP's own primitives — the
per-member hash ratchet (:class:`~aura_protocol.amp.SendingChain`), headers
with the previous-epoch link that receivers' ordering relies on, and
XChaCha20-Poly1305 sealing — while receiving goes through the endpoint.

After a restart the chains are rebuilt from the journal: the epoch secret is
re-opened from the rekey fact and the chain is stepped past every generation
this member already used (a generation whose frame never got committed was
never sent, so using it again exposes nothing).
"""

from __future__ import annotations

from aura_core.errors import InvalidInput
from aura_core.identifiers import ChannelId, ContextId
from aura_protocol.amp.frames import AmpHeader, DataFrame, seal_frame
from aura_protocol.amp.key_schedule import ChannelCoordinates, chain_seed
from aura_protocol.amp.ratchet import SendingChain

__all__ = ["OwnChains"]


class _ChannelChains:
    __slots__ = ("counts", "current", "epoch")

    def __init__(self) -> None:
        self.epoch: int | None = None
        self.current: SendingChain | None = None
        self.counts: dict[int, int] = {}


class OwnChains:
    """The local member's sending chain in each channel's current epoch."""

    def __init__(self, context: ContextId, local: bytes) -> None:
        self.context = context
        self.local = local
        self._channels: dict[ChannelId, _ChannelChains] = {}

    def install(self, channel: ChannelId, epoch: int, secret: bytes | None) -> None:
        """Move ``channel`` to ``epoch``; ``secret`` is ``None`` when this member is not in it."""
        state = self._channels.setdefault(channel, _ChannelChains())
        if state.epoch is not None and epoch <= state.epoch:
            raise InvalidInput(f"epoch {epoch} does not follow epoch {state.epoch} of {channel}")
        if state.current is not None:
            state.current.destroy()
        state.epoch = epoch
        state.current = None
        if secret is not None:
            where = ChannelCoordinates(self.context.raw, channel.raw, epoch)
            state.current = SendingChain(where, self.local, chain_seed(secret, where, self.local))

    def fast_forward(self, channel: ChannelId, used: int) -> None:
        """Step the current chain past ``used`` generations already spent (restart)."""
        state = self._state(channel)
        chain = state.current
        if chain is None:
            raise InvalidInput(f"this member holds no sending chain in {channel}")
        while chain.generation < used:
            chain.next_key()
        assert state.epoch is not None
        state.counts[state.epoch] = max(state.counts.get(state.epoch, 0), used)

    def reset(self, channel: ChannelId, epoch: int, secret: bytes | None, used: int) -> None:
        """Rebuild the chain of ``epoch`` from its secret, past ``used`` generations.

        For when a sealed frame was never committed: its generation is free again.
        """
        state = self._channels.get(channel)
        counts = {} if state is None else dict(state.counts)
        self._channels.pop(channel, None)
        self.install(channel, epoch, secret)
        fresh = self._channels[channel]
        fresh.counts = {e: c for e, c in counts.items() if e < epoch}
        if secret is not None and used:
            self.fast_forward(channel, used)

    def can_send(self, channel: ChannelId) -> bool:
        state = self._channels.get(channel)
        return state is not None and state.current is not None

    def current_epoch(self, channel: ChannelId) -> int | None:
        state = self._channels.get(channel)
        return None if state is None else state.epoch

    def next_generation(self, channel: ChannelId) -> int:
        chain = self._state(channel).current
        if chain is None:
            raise InvalidInput(f"this member holds no sending chain in {channel}")
        return chain.generation

    def seal(self, channel: ChannelId, plaintext: bytes) -> DataFrame:
        """Seal the next message of this member on ``channel`` in its current epoch."""
        state = self._state(channel)
        chain = state.current
        if chain is None or state.epoch is None:
            raise InvalidInput(f"this member holds no sending chain in {channel}")
        epoch = state.epoch
        earlier = [e for e, count in state.counts.items() if e < epoch and count > 0]
        prev_epoch = max(earlier) if earlier else None
        prev_count = state.counts[prev_epoch] if prev_epoch is not None else 0
        generation, key = chain.next_key()
        header = AmpHeader(
            self.context, channel, epoch, self.local, generation, prev_epoch, prev_count
        )
        state.counts[epoch] = generation + 1
        return seal_frame(header, plaintext, key)

    def _state(self, channel: ChannelId) -> _ChannelChains:
        state = self._channels.get(channel)
        if state is None:
            raise InvalidInput(f"no epoch of {channel} is installed")
        return state
