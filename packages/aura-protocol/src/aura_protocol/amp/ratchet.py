"""Hash-ratchet chains for one sender in one channel epoch, with a skip window.

A :class:`SendingChain` hands out each generation's message key once and
forgets the chain key it came from. A :class:`ReceivingChain` follows the
same chain for a peer. Messages may arrive out of order, so keys of skipped
generations are kept, but only within ``window`` generations of the highest
seen: a generation more than ``window`` beyond it is refused (it would cost
unbounded derivation and storage), as is one more than ``window`` behind it,
and one whose key was already used (a replay). Keys are deleted as soon as
they are used.

Receiving is two-phase: :meth:`ReceivingChain.prepare` works out the key and
the state that would follow without changing anything, and the caller
commits only after the message authenticated, so a forged header can neither
move the chain forward nor destroy keys.
"""

from __future__ import annotations

import attrs

from aura_core.errors import InvalidInput, ValidationError
from aura_protocol.amp.key_schedule import (
    ChannelCoordinates,
    MessageKey,
    bound_message_key,
    next_chain_key,
)

__all__ = [
    "DEFAULT_SKIP_WINDOW",
    "MAX_GENERATION",
    "GenerationRejected",
    "PreparedKey",
    "ReceivingChain",
    "SendingChain",
]

DEFAULT_SKIP_WINDOW = 1024
MAX_GENERATION = 2**32 - 1
"""A chain ends here; a channel must move to a new epoch long before."""


class GenerationRejected(ValidationError):
    """A message's generation is outside the skip window or its key was already used."""


class SendingChain:
    """This member's chain in one channel epoch."""

    __slots__ = ("_binding", "_chain_key", "_generation")

    def __init__(self, where: ChannelCoordinates, sender: bytes, seed: bytes) -> None:
        self._binding = where.binding(sender)
        self._chain_key: bytes | None = seed
        self._generation = 0

    @property
    def generation(self) -> int:
        """The generation the next message will use (= messages sent so far)."""
        return self._generation

    def next_key(self) -> tuple[int, MessageKey]:
        """The next generation and its key; the chain moves on and forgets this step."""
        chain_key = self._chain_key
        if chain_key is None or self._generation > MAX_GENERATION:
            raise InvalidInput("this sending chain is exhausted; move the channel to a new epoch")
        generation = self._generation
        key = bound_message_key(chain_key, self._binding, generation)
        self._chain_key = next_chain_key(chain_key)
        self._generation = generation + 1
        return generation, key

    def destroy(self) -> None:
        """Forget the chain key (the epoch is over for sending)."""
        self._chain_key = None


@attrs.frozen(repr=False)
class PreparedKey:
    """A message key and the receiving-chain state to adopt if the message authenticates."""

    generation: int
    key: MessageKey
    skipped: tuple[tuple[int, MessageKey], ...]
    chain_key: bytes | None
    next_generation: int


class ReceivingChain:
    """A peer's chain in one channel epoch, as this member follows it."""

    __slots__ = (
        "_binding",
        "_chain_key",
        "_highest",
        "_next_generation",
        "_skipped",
        "window",
    )

    def __init__(
        self,
        where: ChannelCoordinates,
        sender: bytes,
        seed: bytes,
        *,
        window: int = DEFAULT_SKIP_WINDOW,
    ) -> None:
        if type(window) is not int or window < 1:
            raise InvalidInput("the skip window must be a positive int")
        self._binding = where.binding(sender)
        self._chain_key: bytes | None = seed
        self._next_generation = 0
        self._highest = -1
        self._skipped: dict[int, MessageKey] = {}
        self.window = window

    @property
    def highest(self) -> int:
        """The highest generation received so far (-1 before the first)."""
        return self._highest

    @property
    def stored_keys(self) -> int:
        """Keys of skipped generations held for late messages."""
        return len(self._skipped)

    def was_used(self, generation: int) -> bool:
        """Whether ``generation`` was received already (as far as the window remembers)."""
        return (
            0 <= generation <= self._highest
            and generation not in self._skipped
            and self._highest - generation <= self.window
        )

    def prepare(self, generation: int) -> PreparedKey:
        """The key for ``generation`` without changing the chain; raises if it is refused."""
        if type(generation) is not int or not 0 <= generation <= MAX_GENERATION:
            raise InvalidInput(f"generation must be an int in 0..{MAX_GENERATION}")
        highest = self._highest
        if generation - highest > self.window:
            raise GenerationRejected(
                f"generation {generation} is more than {self.window} beyond the highest seen "
                f"({highest})"
            )
        if generation < self._next_generation:
            key = self._skipped.get(generation)
            if key is not None:
                return PreparedKey(generation, key, (), self._chain_key, self._next_generation)
            if highest - generation > self.window:
                raise GenerationRejected(
                    f"generation {generation} is more than {self.window} behind the highest "
                    f"seen ({highest})"
                )
            raise GenerationRejected(f"generation {generation} was already received (replay)")
        chain_key = self._chain_key
        if chain_key is None:
            raise GenerationRejected("this receiving chain was closed")
        skipped = []
        binding = self._binding
        for skipped_generation in range(self._next_generation, generation):
            if generation - skipped_generation <= self.window:
                skipped.append(
                    (skipped_generation, bound_message_key(chain_key, binding, skipped_generation))
                )
            chain_key = next_chain_key(chain_key)
        key = bound_message_key(chain_key, binding, generation)
        return PreparedKey(
            generation, key, tuple(skipped), next_chain_key(chain_key), generation + 1
        )

    def commit(self, prepared: PreparedKey) -> None:
        """Adopt ``prepared``: its key is used up, later keys stored, old ones evicted."""
        generation = prepared.generation
        if prepared.skipped or prepared.next_generation != self._next_generation:
            self._skipped.update(prepared.skipped)
            self._chain_key = prepared.chain_key
            self._next_generation = prepared.next_generation
        else:
            self._skipped.pop(generation, None)
        if generation > self._highest:
            self._highest = generation
            floor = generation - self.window
            for old in [g for g in self._skipped if g < floor]:
                del self._skipped[old]

    def destroy(self) -> None:
        """Forget every key (the epoch's grace period is over)."""
        self._chain_key = None
        self._skipped.clear()
