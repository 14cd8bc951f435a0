"""One member's AMP endpoint: sealed channel messages with acks, retries and ordering.

:class:`AmpEndpoint` is a sans-IO protocol object (the
:class:`~aura_core.effects.SansIOProtocol` shape). The application calls
:meth:`~AmpEndpoint.install_epoch` with each channel epoch's secret and
members (from whatever agreed on them, e.g. consensus) and
:meth:`~AmpEndpoint.send` with plaintexts; the endpoint returns the frames to
put on the network, and :meth:`~AmpEndpoint.take_events` gives back what the
application should see: messages delivered in per-sender order exactly once,
losses, and deliveries given up on.

Every data frame goes to every other member of its epoch and is retried
until that member acknowledges it, so a member offline for a while gets its
backlog when it returns. A copy of a frame already opened is not opened
again (its key is gone) but answered with a fresh acknowledgement, because
its arrival means the last acknowledgement was lost.

Nothing raises on input from the network: refused frames are dropped and
recorded in :attr:`AmpEndpoint.errors`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

import attrs

from aura_core.effects import Incoming, Outgoing
from aura_core.errors import AuraError, InvalidInput, NotFound, ValidationError
from aura_core.identifiers import ChannelId, ContextId
from aura_protocol.amp.channel_keyring import ChannelKeyring, check_member_id
from aura_protocol.amp.events import AmpEvent, DeliveryFailed, MessageDelivered, MessagesLost
from aura_protocol.amp.frames import (
    AckFrame,
    DataFrame,
    decode_frame,
    encode_frame,
    make_ack,
    verify_ack,
)
from aura_protocol.amp.ordering import Delivered, ReceivedGenerations, SenderStream
from aura_protocol.amp.ratchet import DEFAULT_SKIP_WINDOW
from aura_protocol.amp.retransmission import OutboundQueue, RetryPolicy

__all__ = ["AmpConfig", "AmpEndpoint"]

_ERROR_HISTORY = 256


def _window(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not int or not 1 <= value <= 65_536:
        raise InvalidInput("AmpConfig.window must be an int in 1..65536")


def _grace(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise InvalidInput("AmpConfig.grace_s must be a non-negative number of seconds")


@attrs.frozen
class AmpConfig:
    window: int = attrs.field(default=DEFAULT_SKIP_WINDOW, validator=_window)
    """Skip window of every receiving chain (and the senders' flow window)."""
    grace_s: float = attrs.field(default=86_400.0, validator=_grace)
    """How long a replaced epoch stays readable (and its frames retried)."""
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)


class _Channel:
    __slots__ = ("addresses", "keyring", "outbound", "received", "streams")

    def __init__(self, keyring: ChannelKeyring) -> None:
        self.keyring = keyring
        self.addresses: dict[bytes, str] = {}
        self.outbound: dict[bytes, OutboundQueue] = {}
        self.streams: dict[bytes, SenderStream] = {}
        self.received: dict[tuple[bytes, int], ReceivedGenerations] = {}


class AmpEndpoint:
    """The AMP side of one member (``local``: its member id, e.g. a device id's bytes)."""

    def __init__(self, local: bytes, *, config: AmpConfig | None = None) -> None:
        self.local = check_member_id(local, "local member id")
        self.config = config if config is not None else AmpConfig()
        self._channels: dict[tuple[ContextId, ChannelId], _Channel] = {}
        self._events: list[AmpEvent] = []
        self.errors: deque[tuple[str, AuraError]] = deque(maxlen=_ERROR_HISTORY)
        """Recent refusals of network input: (source, error)."""

    # ------------------------------------------------------------------ application side

    def install_epoch(
        self,
        context: ContextId,
        channel: ChannelId,
        epoch: int,
        secret: bytes,
        members: Mapping[bytes, str],
        now: float,
    ) -> None:
        """Start (or move) ``channel`` to ``epoch``: its secret and members with their addresses."""
        if not isinstance(members, Mapping) or not all(
            type(address) is str and address for address in members.values()
        ):
            raise InvalidInput("members must map member ids to network names")
        key = (context, channel)
        state = self._channels.get(key)
        if state is None:
            keyring = ChannelKeyring(
                context,
                channel,
                self.local,
                window=self.config.window,
                grace_s=self.config.grace_s,
            )
            state = _Channel(keyring)
        state.keyring.install(epoch, secret, members.keys(), now)
        self._channels[key] = state
        state.addresses.update(members)
        for member in members:
            if member != self.local and member not in state.outbound:
                state.outbound[member] = OutboundQueue(self.config.retry, self.config.window)

    def send(
        self, context: ContextId, channel: ChannelId, plaintext: bytes, now: float
    ) -> list[Outgoing]:
        """Seal ``plaintext`` in the channel's current epoch and send it to every other member."""
        state = self._channel(context, channel)
        keyring = state.keyring
        frame = keyring.seal(plaintext)
        payload = encode_frame(frame)
        epoch, generation = frame.header.epoch, frame.header.generation
        out = []
        for member in sorted(keyring.members()):
            if member == self.local:
                continue
            address = state.addresses[member]
            for ready in state.outbound[member].add(epoch, generation, payload, now):
                out.append(Outgoing(address, ready))
        return out

    def take_events(self) -> list[AmpEvent]:
        """Events since the last call, oldest first."""
        events, self._events = self._events, []
        return events

    def pending(self, context: ContextId, channel: ChannelId) -> dict[bytes, int]:
        """Unacknowledged frames per recipient."""
        state = self._channel(context, channel)
        return {member: len(queue) for member, queue in state.outbound.items() if len(queue)}

    def keyring(self, context: ContextId, channel: ChannelId) -> ChannelKeyring:
        return self._channel(context, channel).keyring

    def _channel(self, context: ContextId, channel: ChannelId) -> _Channel:
        state = self._channels.get((context, channel))
        if state is None:
            raise NotFound(f"no AMP channel {channel} in {context} on this endpoint")
        return state

    # ------------------------------------------------------------------ SansIOProtocol

    def receive(self, message: Incoming, now: float) -> list[Outgoing]:
        try:
            frame = decode_frame(message.payload)
            where = frame.header if isinstance(frame, DataFrame) else frame
            state = self._channels.get((where.context, where.channel))
            if state is None:
                raise NotFound(f"frame for unknown channel {where.channel}")
            if isinstance(frame, DataFrame):
                return self._on_data(state, frame)
            return self._on_ack(state, frame, now)
        except AuraError as exc:
            self.errors.append((message.source, exc))
            return []

    def next_timer(self) -> float | None:
        times = []
        for state in self._channels.values():
            expiry = state.keyring.next_expiry()
            if expiry is not None:
                times.append(expiry)
            for queue in state.outbound.values():
                due = queue.next_due()
                if due is not None:
                    times.append(due)
        return min(times) if times else None

    def on_timer(self, now: float) -> list[Outgoing]:
        out: list[Outgoing] = []
        for state in self._channels.values():
            keyring = state.keyring
            for epoch in keyring.expire(now):
                self._retire(state, epoch)
            for member, queue in state.outbound.items():
                payloads, failed = queue.due(now)
                out.extend(Outgoing(state.addresses[member], payload) for payload in payloads)
                for epoch, generation in failed:
                    self._events.append(
                        DeliveryFailed(
                            keyring.context,
                            keyring.channel,
                            member,
                            epoch,
                            generation,
                            "retry limit reached",
                        )
                    )
        return out

    # ------------------------------------------------------------------ internals

    def _on_data(self, state: _Channel, frame: DataFrame) -> list[Outgoing]:
        header = frame.header
        keyring = state.keyring
        sender, epoch = header.sender, header.epoch
        if not keyring.was_received(header):
            plaintext = keyring.open(frame)
            received = state.received.get((sender, epoch))
            if received is None:
                received = state.received[(sender, epoch)] = ReceivedGenerations()
            received.add(header.generation)
            stream = state.streams.get(sender)
            if stream is None:
                stream = state.streams[sender] = SenderStream()
            stream.add(epoch, header.generation, header.prev_epoch, header.prev_count, plaintext)
            self._drain(state, sender, stream)
        return self._ack(state, sender, epoch)

    def _on_ack(self, state: _Channel, frame: AckFrame, now: float) -> list[Outgoing]:
        keyring = state.keyring
        if frame.sender != self.local:
            raise ValidationError("ack addressed to another member")
        key = keyring.ack_key(frame.epoch)
        if key is None:
            raise ValidationError(f"ack for epoch {frame.epoch}, whose keys this member lacks")
        verify_ack(frame, key)
        if frame.acker not in keyring.members(frame.epoch):
            raise ValidationError("ack from a member outside that epoch")
        queue = state.outbound.get(frame.acker)
        if queue is None:
            return []
        address = state.addresses[frame.acker]
        payloads = queue.acknowledge(frame.epoch, frame.received_below, frame.received_also, now)
        return [Outgoing(address, payload) for payload in payloads]

    def _ack(self, state: _Channel, sender: bytes, epoch: int) -> list[Outgoing]:
        received = state.received.get((sender, epoch))
        key = state.keyring.ack_key(epoch)
        address = state.addresses.get(sender)
        if received is None or key is None or address is None:
            return []
        below, also = received.summary()
        keyring = state.keyring
        ack = make_ack(
            key, keyring.context, keyring.channel, epoch, self.local, sender, below, also
        )
        return [Outgoing(address, encode_frame(ack))]

    def _drain(self, state: _Channel, sender: bytes, stream: SenderStream) -> None:
        keyring = state.keyring
        for item in stream.drain(lambda e: keyring.can_receive(e, sender), keyring.was_member):
            if isinstance(item, Delivered):
                self._events.append(
                    MessageDelivered(
                        keyring.context,
                        keyring.channel,
                        sender,
                        item.epoch,
                        item.generation,
                        item.plaintext,
                    )
                )
            else:
                self._events.append(
                    MessagesLost(
                        keyring.context,
                        keyring.channel,
                        sender,
                        item.epoch,
                        item.first_generation,
                        item.count,
                    )
                )

    def _retire(self, state: _Channel, epoch: int) -> None:
        """An epoch's grace ended: stop retrying its frames, let ordering skip past it."""
        keyring = state.keyring
        for member, queue in state.outbound.items():
            for dropped_epoch, generation in queue.drop_epoch(epoch):
                self._events.append(
                    DeliveryFailed(
                        keyring.context,
                        keyring.channel,
                        member,
                        dropped_epoch,
                        generation,
                        "epoch grace period ended",
                    )
                )
        for key in [key for key in state.received if key[1] == epoch]:
            del state.received[key]
        for sender, stream in state.streams.items():
            self._drain(state, sender, stream)
