"""Per-sender ordering: deliver each message once, in send order, across epochs.

Within an epoch a sender's messages are its generations 0, 1, 2...; across
epochs each frame names the sender's previous sending epoch and how many
messages it sent there (authenticated in the header). That chain of links
tells a receiver when an epoch's messages are complete and where the next
ones continue, without any sequence number shared between members, and it
also tells a member that joined later where its view of the sender starts:
at the first epoch whose predecessor it could never read.

Arrivals out of order wait in a buffer. Messages of an epoch whose keys the
receiver no longer holds can never come, so they are reported lost and
ordering moves on. :class:`ReceivedGenerations` keeps, per sender and epoch,
what arrived, in the compact form acknowledgements carry.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from aura_core.errors import ProtocolViolation
from aura_protocol.amp.frames import MAX_SELECTIVE_ACKS

__all__ = ["Delivered", "Lost", "ReceivedGenerations", "SenderStream"]


@attrs.frozen
class Delivered:
    epoch: int
    generation: int
    plaintext: bytes


@attrs.frozen
class Lost:
    epoch: int
    first_generation: int
    count: int


class SenderStream:
    """Orders one sender's messages on one channel, as one receiver sees them."""

    __slots__ = ("_buffer", "_links", "_next_of", "_position")

    def __init__(self) -> None:
        self._links: dict[int, tuple[int | None, int]] = {}
        self._next_of: dict[int, int] = {}
        self._buffer: dict[tuple[int, int], bytes] = {}
        self._position: tuple[int, int] | None = None

    @property
    def position(self) -> tuple[int, int] | None:
        """(epoch, generation) of the next message to deliver, once known."""
        return self._position

    @property
    def waiting(self) -> int:
        """Messages received but held back for an earlier one."""
        return len(self._buffer)

    def add(
        self, epoch: int, generation: int, prev_epoch: int | None, prev_count: int, plaintext: bytes
    ) -> bool:
        """Buffer an authenticated message; ``False`` if it is older than what was delivered."""
        if self._position is not None and (epoch, generation) < self._position:
            return False
        link = (prev_epoch, prev_count)
        known = self._links.get(epoch)
        if known is None:
            if prev_epoch is not None:
                other = self._next_of.get(prev_epoch)
                if other is not None and other != epoch:
                    raise ProtocolViolation(
                        f"sender names epoch {prev_epoch} as previous to both {other} and {epoch}"
                    )
                self._next_of[prev_epoch] = epoch
            self._links[epoch] = link
        elif known != link:
            raise ProtocolViolation(f"sender gave two different histories for epoch {epoch}")
        self._buffer[(epoch, generation)] = plaintext
        return True

    def drain(
        self, readable: Callable[[int], bool], was_member: Callable[[int], bool]
    ) -> list[Delivered | Lost]:
        """Everything now deliverable, in order.

        ``readable(epoch)``: the receiver still holds this sender's keys for it;
        ``was_member(epoch)``: the receiver belonged to that epoch at all.
        """
        out: list[Delivered | Lost] = []
        while True:
            if self._position is None:
                if not self._links:
                    return out
                first = min(self._links)
                prev_epoch, prev_count = self._links[first]
                if prev_epoch is not None and readable(prev_epoch):
                    return out  # the sender's earlier messages are still on their way
                if prev_epoch is not None and was_member(prev_epoch):
                    out.append(Lost(prev_epoch, 0, prev_count))
                self._position = (first, 0)
            epoch, generation = self._position
            plaintext = self._buffer.pop((epoch, generation), None)
            if plaintext is not None:
                out.append(Delivered(epoch, generation, plaintext))
                self._position = (epoch, generation + 1)
                continue
            following = self._next_of.get(epoch)
            if following is None:
                return out
            count = self._links[following][1]
            if generation < count:
                if readable(epoch):
                    return out
                out.append(Lost(epoch, generation, count - generation))
            self._forget(epoch)
            self._position = (following, 0)

    def _forget(self, epoch: int) -> None:
        for key in [key for key in self._buffer if key[0] == epoch]:
            del self._buffer[key]
        self._next_of.pop(epoch, None)
        for old in [old for old in self._links if old <= epoch]:
            del self._links[old]


class ReceivedGenerations:
    """Generations of one sender's epoch that arrived: all below ``below``, plus ``above``."""

    __slots__ = ("above", "below")

    def __init__(self) -> None:
        self.below = 0
        self.above: set[int] = set()

    def add(self, generation: int) -> None:
        if generation < self.below:
            return
        self.above.add(generation)
        while self.below in self.above:
            self.above.discard(self.below)
            self.below += 1

    def __contains__(self, generation: object) -> bool:
        return isinstance(generation, int) and (generation < self.below or generation in self.above)

    def summary(self) -> tuple[int, tuple[int, ...]]:
        """(received_below, received_also) for an ack (at most the lowest 256 extras)."""
        return self.below, tuple(sorted(self.above)[:MAX_SELECTIVE_ACKS])
