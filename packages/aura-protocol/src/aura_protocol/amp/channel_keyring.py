"""The keys one member holds for one AMP channel: the current epoch and those in grace.

Installing an epoch derives every member's chain seed and the ack key from
the epoch secret at once and keeps none of the secret, so a later compromise
cannot re-derive keys the chains have already moved past. The epoch before
stays usable for receiving (never for sending) until ``grace_s`` after the
new one was installed: messages sealed just before a change, or retried to a
member who was offline across it, still open. After that its keys are
destroyed.

Sealing and opening go through here because the keyring knows which epoch
and chain a frame belongs to; opening authenticates before it commits the
chain, so a forged or tampered frame changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from aura_core.errors import ErrorKind, InvalidInput, ValidationError
from aura_core.identifiers import ChannelId, ContextId
from aura_protocol.amp.frames import (
    MAX_MEMBER_ID_BYTES,
    AmpHeader,
    DataFrame,
    open_frame,
    seal_frame,
)
from aura_protocol.amp.key_schedule import ChannelCoordinates, ack_key, chain_seed
from aura_protocol.amp.ratchet import DEFAULT_SKIP_WINDOW, ReceivingChain, SendingChain
from aura_protocol.amp.retransmission import TIMER_SLACK_S

__all__ = ["ChannelKeyring", "EpochUnavailable", "UnknownSender"]


class EpochUnavailable(ValidationError):
    """A frame names an epoch this member holds no keys for (not yet, or no longer)."""


class UnknownSender(ValidationError):
    """A frame's sender is not a member of the channel in that epoch."""


class _EpochKeys:
    __slots__ = ("ack_key", "epoch", "link", "members", "receiving", "retire_at", "sending")

    def __init__(
        self,
        epoch: int,
        members: frozenset[bytes],
        sending: SendingChain | None,
        receiving: dict[bytes, ReceivingChain],
        ack_key: bytes,
    ) -> None:
        self.epoch = epoch
        self.members = members
        self.sending = sending
        self.receiving = receiving
        self.ack_key = ack_key
        self.retire_at: float | None = None
        self.link: tuple[int | None, int] = (None, 0)
        """(previous epoch the local member sent in, how many it sent there)."""


def check_member_id(value: object, what: str = "member id") -> bytes:
    if type(value) is not bytes or not 0 < len(value) <= MAX_MEMBER_ID_BYTES:
        raise InvalidInput(f"{what} must be 1..{MAX_MEMBER_ID_BYTES} bytes")
    return value


class ChannelKeyring:
    """AMP keys of one channel, from the point of view of member ``local``."""

    def __init__(
        self,
        context: ContextId,
        channel: ChannelId,
        local: bytes,
        *,
        window: int = DEFAULT_SKIP_WINDOW,
        grace_s: float = 86_400.0,
    ) -> None:
        if not isinstance(context, ContextId) or not isinstance(channel, ChannelId):
            raise InvalidInput("a channel keyring needs a ContextId and a ChannelId")
        if not isinstance(grace_s, int | float) or isinstance(grace_s, bool) or grace_s < 0:
            raise InvalidInput("grace_s must be a non-negative number of seconds")
        self.context = context
        self.channel = channel
        self.local = check_member_id(local, "local member id")
        self.window = window
        self.grace_s = float(grace_s)
        self._epochs: dict[int, _EpochKeys] = {}
        self._current: _EpochKeys | None = None
        self._member_of: set[int] = set()
        self._last_sent: tuple[int, int] | None = None  # (epoch, messages sent in it)

    # ------------------------------------------------------------------ epochs

    @property
    def current_epoch(self) -> int | None:
        return None if self._current is None else self._current.epoch

    def members(self, epoch: int | None = None) -> frozenset[bytes]:
        """Members of ``epoch`` (default: the current one)."""
        keys = self._current if epoch is None else self._epochs.get(epoch)
        if keys is None:
            raise EpochUnavailable(f"no keys for epoch {epoch} of {self.channel}")
        return keys.members

    def install(self, epoch: int, secret: bytes, members: Iterable[bytes], now: float) -> None:
        """Make ``epoch`` current; the previous one is kept for receiving for ``grace_s``."""
        if type(epoch) is not int or not 0 <= epoch < 2**64:
            raise InvalidInput("epoch must be an int in 0..2**64-1")
        if self._current is not None and epoch <= self._current.epoch:
            raise InvalidInput(
                f"epoch {epoch} does not follow the current epoch {self._current.epoch}"
            )
        member_set = frozenset(check_member_id(member) for member in members)
        if not member_set:
            raise InvalidInput("a channel epoch needs at least one member")
        where = ChannelCoordinates(self.context.raw, self.channel.raw, epoch)
        local = self.local
        member = local in member_set
        # A member left out of the epoch learns that it moved on, and holds no keys of it.
        sending = SendingChain(where, local, chain_seed(secret, where, local)) if member else None
        receiving = (
            {
                other: ReceivingChain(
                    where, other, chain_seed(secret, where, other), window=self.window
                )
                for other in member_set
                if other != local
            }
            if member
            else {}
        )
        keys = _EpochKeys(
            epoch, member_set, sending, receiving, ack_key(secret, where) if member else b""
        )
        previous = self._current
        if previous is not None:
            if previous.sending is not None:
                if previous.sending.generation:
                    self._last_sent = (previous.epoch, previous.sending.generation)
                previous.sending.destroy()
                previous.sending = None
            previous.retire_at = now + self.grace_s
        if self._last_sent is not None:
            keys.link = self._last_sent
        self._epochs[epoch] = keys
        self._current = keys
        if member:
            self._member_of.add(epoch)

    def retained(self, epoch: int) -> bool:
        """Whether keys of ``epoch`` are still held (current, or retired within grace)."""
        return epoch in self._epochs

    def was_member(self, epoch: int) -> bool:
        """Whether the local member belonged to ``epoch`` (remembered after its keys go)."""
        return epoch in self._member_of

    def can_receive(self, epoch: int, sender: bytes) -> bool:
        keys = self._epochs.get(epoch)
        return keys is not None and sender in keys.receiving

    def ack_key(self, epoch: int) -> bytes | None:
        keys = self._epochs.get(epoch)
        return None if keys is None or not keys.ack_key else keys.ack_key

    def next_expiry(self) -> float | None:
        deadlines = [keys.retire_at for keys in self._epochs.values() if keys.retire_at is not None]
        return min(deadlines) if deadlines else None

    def expire(self, now: float) -> list[int]:
        """Destroy the keys of epochs whose grace ended; returns those epochs."""
        gone = [
            epoch
            for epoch, keys in self._epochs.items()
            if keys.retire_at is not None and keys.retire_at <= now + TIMER_SLACK_S
        ]
        for epoch in gone:
            for chain in self._epochs.pop(epoch).receiving.values():
                chain.destroy()
        return gone

    # ------------------------------------------------------------------ frames

    def seal(self, plaintext: bytes) -> DataFrame:
        """Seal the next message of the local member in the current epoch."""
        keys = self._current
        if keys is None or keys.sending is None:
            raise InvalidInput(f"the local member cannot send on {self.channel} in this epoch")
        prev_epoch, prev_count = keys.link
        generation, key = keys.sending.next_key()
        header = AmpHeader(
            self.context,
            self.channel,
            keys.epoch,
            self.local,
            generation,
            prev_epoch,
            prev_count,
        )
        return seal_frame(header, plaintext, key)

    def was_received(self, header: AmpHeader) -> bool:
        """Whether this exact generation was opened before (so a copy is a retry to re-ack)."""
        keys = self._epochs.get(header.epoch)
        chain = None if keys is None else keys.receiving.get(header.sender)
        return chain is not None and chain.was_used(header.generation)

    def open(self, frame: DataFrame) -> bytes:
        """Authenticate and decrypt a peer's frame, consuming its key.

        Raises :class:`EpochUnavailable` (transient for a future epoch),
        :class:`UnknownSender`, :class:`~aura_protocol.amp.ratchet.GenerationRejected`
        or :class:`~aura_core.errors.CryptoError`; the keyring is unchanged then.
        """
        header = frame.header
        if header.context != self.context or header.channel != self.channel:
            raise InvalidInput("frame belongs to another channel")
        keys = self._epochs.get(header.epoch)
        if keys is None:
            current = self.current_epoch
            if current is None or header.epoch > current:
                raise EpochUnavailable(
                    f"epoch {header.epoch} of {self.channel} is not installed yet",
                    kind=ErrorKind.TRANSIENT,
                )
            raise EpochUnavailable(f"epoch {header.epoch} of {self.channel} is no longer held")
        chain = keys.receiving.get(header.sender)
        if chain is None:
            raise UnknownSender(
                f"sender {header.sender.hex()[:32]} is not a member of epoch {header.epoch}"
            )
        prepared = chain.prepare(header.generation)
        plaintext = open_frame(frame, prepared.key)
        chain.commit(prepared)
        return plaintext
