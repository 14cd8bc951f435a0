"""A Byzantine witness for simulations: it signs every operation it sees.

It is built from honest parts — one :class:`Witness` "brain" per operation,
all holding the same credentials and sharing one fast-path nonce pool — so
each brain follows the protocol for its own operation while together they
vote, offer and sign for every operation of an instance. On first contact
with an instance it also forges a conflicting operation and gossips its own
vote for it, to split the honest witnesses.

This is the adversary of the campaign's agreement check, not production
code: with ``2t - n`` or more such witnesses two operations can commit,
with fewer they cannot (see :mod:`aura_protocol.consensus.witness_set`).
"""

from __future__ import annotations

from aura_core.crypto import RandomSource
from aura_core.effects import Incoming, Outgoing
from aura_core.errors import AuraError, ProtocolViolation
from aura_protocol.consensus.binding import encode_operation
from aura_protocol.consensus.config import TIMER_SLACK_S, ConsensusConfig
from aura_protocol.consensus.events import ConsensusEvent
from aura_protocol.consensus.messages import (
    CommitRequest,
    Execute,
    Gossip,
    decode_message,
    encode_message,
)
from aura_protocol.consensus.nonce_pool import NoncePool
from aura_protocol.consensus.witness import OperationCheck, Witness
from aura_protocol.consensus.witness_set import WitnessCredentials, WitnessSet

__all__ = ["EquivocatingWitness"]


def _only(operation: bytes | None) -> OperationCheck:
    def check(candidate: bytes) -> None:
        if candidate != operation:
            raise ProtocolViolation("this brain votes for one operation only")

    return check


class EquivocatingWitness:
    """Sans-IO like :class:`Witness`, but votes for every operation (and forges one)."""

    def __init__(
        self,
        *,
        address: str,
        credentials: WitnessCredentials,
        witnesses: WitnessSet,
        prestate_hash: bytes,
        rng: RandomSource,
        config: ConsensusConfig | None = None,
        forge: bool = True,
    ) -> None:
        self._args = {
            "address": address,
            "credentials": credentials,
            "witnesses": witnesses,
            "prestate_hash": prestate_hash,
            "rng": rng,
            "config": config,
        }
        self._witnesses = witnesses
        self._identifier = credentials.identifier
        self._forge = forge
        self._pool = NoncePool(credentials.key_package, rng)
        self._default = self._brain(None)
        self._brains: dict[bytes, Witness] = {}
        self._forged: set[tuple[object, bytes]] = set()

    def _brain(self, operation: bytes | None) -> Witness:
        return Witness(
            **self._args,  # type: ignore[arg-type]
            operation_check=_only(operation),
            nonce_pool=self._pool,
        )

    def _brain_for(self, operation: bytes) -> Witness:
        brain = self._brains.get(operation)
        if brain is None:
            brain = self._brain(operation)
            self._brains[operation] = brain
        return brain

    @property
    def brains(self) -> tuple[Witness, ...]:
        return (self._default, *self._brains.values())

    def take_events(self) -> list[ConsensusEvent]:
        events: list[ConsensusEvent] = []
        for brain in self.brains:
            events += brain.take_events()
        return events

    def receive(self, message: Incoming, now: float) -> list[Outgoing]:
        try:
            decoded = decode_message(message.payload)
        except AuraError:
            return []
        out: list[Outgoing] = []
        if isinstance(decoded, CommitRequest):
            return self._default.receive(message, now)
        if isinstance(decoded, Execute | Gossip):
            out += self._forge_for(decoded, now)
            operations = (
                (decoded.operation,) if isinstance(decoded, Execute) else decoded.operations
            )
            for operation in operations:
                self._brain_for(operation)
            if isinstance(decoded, Execute):
                return out + self._brain_for(decoded.operation).receive(message, now)
        for brain in list(self._brains.values()):
            out += brain.receive(message, now)
        return out

    def _forge_for(self, message: Execute | Gossip, now: float) -> list[Outgoing]:
        key = (message.consensus_id, message.prestate_hash)
        if not self._forge or key in self._forged:
            return []
        self._forged.add(key)
        forged = encode_operation({"forged_by": self._identifier, "instance": key[0].raw})
        nudge = Gossip(key[0], key[1], self._witnesses.epoch, (forged,), ())
        address = str(self._args["address"])
        return self._brain_for(forged).receive(Incoming(address, encode_message(nudge)), now)

    def next_timer(self) -> float | None:
        times = [t for t in (b.next_timer() for b in self.brains) if t is not None]
        return min(times) if times else None

    def on_timer(self, now: float) -> list[Outgoing]:
        out: list[Outgoing] = []
        for brain in self.brains:
            if (deadline := brain.next_timer()) is not None and deadline <= now + TIMER_SLACK_S:
                out += brain.on_timer(now)
        return out
