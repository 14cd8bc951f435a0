"""Effect interfaces: everything that touches the world goes through these.

Application and protocol code never reads the clock, draws randomness, opens
a socket or writes a file directly; it receives one :class:`Effects` bundle
and calls the interfaces below. Production handlers live in ``aura_effects``,
deterministic ones in ``aura_effects.simulated``, recording mocks in
``aura_testkit``. Swapping the bundle is what makes tests and simulations
exact.

Sync or async: work that is local and bounded (hashing, a SQLite
transaction, reading the clock) is synchronous; work that waits on a peer
(network) or on time passing (``sleep``, signal subscriptions) is async.

This module is pure: typing, small frozen value types and no I/O.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from typing import Any, Protocol, runtime_checkable

import attrs

from aura_core.effect_context import EffectContext
from aura_core.errors import InvalidInput
from aura_core.time_domains import LogicalTime, OrderTime, PhysicalTime

__all__ = [
    "AEAD_KEY_BYTES",
    "AEAD_NONCE_BYTES",
    "ChannelHandler",
    "ChannelKeys",
    "CryptoEffects",
    "Effects",
    "Incoming",
    "Listener",
    "LogicalClockEffects",
    "NetworkEffects",
    "OrderClockEffects",
    "OutboxEntry",
    "Outgoing",
    "PeerInfo",
    "PhysicalTimeEffects",
    "RandomEffects",
    "ReactiveEffects",
    "SansIOProtocol",
    "SecureChannel",
    "SignalSubscription",
    "StorageEffects",
    "StorageTransaction",
    "StoredFact",
    "TraceEffects",
    "TraceValue",
]

AEAD_KEY_BYTES = 32
"""Key length of the AEAD (XChaCha20-Poly1305) used by :class:`CryptoEffects`."""
AEAD_NONCE_BYTES = 24
"""Nonce length of XChaCha20-Poly1305: long enough to draw nonces at random."""


# --------------------------------------------------------------------------- randomness, time


@runtime_checkable
class RandomEffects(Protocol):
    """Randomness. Production draws from the OS; simulation from a seed."""

    def random_bytes(self, n: int) -> bytes:
        """``n`` uniformly random bytes (``n >= 0``)."""
        ...

    def random_u64(self) -> int:
        """A uniformly random integer in ``0..2**64-1``."""
        ...


@runtime_checkable
class PhysicalTimeEffects(Protocol):
    """Wall-clock and timer time. Simulation replaces it with a virtual clock."""

    def now(self) -> PhysicalTime:
        """The current wall-clock time (milliseconds since the Unix epoch)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards; what sans-IO timers use as ``now``."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (virtual seconds under simulation, costing no wall time)."""
        ...


@runtime_checkable
class LogicalClockEffects(Protocol):
    """This device's vector + Lamport clock for causal ordering."""

    def current(self) -> LogicalTime: ...

    def tick(self) -> LogicalTime:
        """Advance for a local event and return the new time."""
        ...

    def observe(self, remote: LogicalTime) -> LogicalTime:
        """Merge a received clock, then tick; returns the new time."""
        ...


@runtime_checkable
class OrderClockEffects(Protocol):
    """Opaque order tokens: deterministic sorting that reveals no wall-clock time."""

    def next_order(self) -> OrderTime: ...


# --------------------------------------------------------------------------- crypto


@runtime_checkable
class CryptoEffects(Protocol):
    """Signatures, key agreement, AEAD, sealed boxes and hashing.

    Seeds and private keys are 32 bytes. Malformed inputs (wrong lengths)
    raise ``InvalidInput``; failed authentication raises ``CryptoError``;
    ``ed25519_verify`` answers ``False`` for a well-formed but wrong signature.
    Operations that need randomness (``seal``) draw it from the handler's
    :class:`RandomEffects`, so simulations stay reproducible.
    """

    def hash(self, data: bytes) -> bytes:
        """BLAKE3-256 of ``data``."""
        ...

    def ed25519_public_key(self, seed: bytes) -> bytes: ...

    def ed25519_sign(self, seed: bytes, message: bytes) -> bytes: ...

    def ed25519_verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool: ...

    def x25519_public_key(self, private_key: bytes) -> bytes: ...

    def x25519_shared_secret(self, private_key: bytes, public_key: bytes) -> bytes:
        """Raw X25519; raises ``CryptoError`` for a low-order peer key (all-zero output)."""
        ...

    def aead_encrypt(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes = b"") -> bytes:
        """XChaCha20-Poly1305 (32-byte key, 24-byte nonce); output is ciphertext || tag."""
        ...

    def aead_decrypt(
        self, key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes = b""
    ) -> bytes: ...

    def seal(self, recipient_public_key: bytes, plaintext: bytes, aad: bytes = b"") -> bytes:
        """Encrypt to an X25519 public key; only the holder of its private key can open it."""
        ...

    def unseal(self, recipient_private_key: bytes, sealed: bytes, aad: bytes = b"") -> bytes: ...


# --------------------------------------------------------------------------- storage


@attrs.frozen
class StoredFact:
    """One fact as stored: its journal, local insertion sequence, id and encoded body.

    ``seq`` grows with every new fact in the store; it lets views resume
    incrementally ("everything after seq N") after a restart. It is local
    bookkeeping, never an ordering between replicas (that is ``OrderTime``).
    """

    journal: str
    seq: int
    fact_id: bytes
    body: bytes


@attrs.frozen
class OutboxEntry:
    """A message committed for sending, kept until the transport acknowledges it."""

    entry_id: int
    destination: str
    payload: bytes


class StorageTransaction(Protocol):
    """Everything read or written inside one atomic, durable transaction.

    Tables are named keyspaces (``[a-z][a-z0-9_]*``, at most 64 characters) of
    byte keys to byte values, ordered by key. Facts, the outbox and secrets
    have dedicated operations because every backend needs them and the guard
    chain commits them together with a budget charge.
    """

    def get(self, table: str, key: bytes) -> bytes | None: ...

    def put(self, table: str, key: bytes, value: bytes) -> None: ...

    def delete(self, table: str, key: bytes) -> bool:
        """Remove ``key``; returns whether it was present."""
        ...

    def scan(
        self, table: str, prefix: bytes = b"", *, limit: int | None = None
    ) -> list[tuple[bytes, bytes]]:
        """Entries whose key starts with ``prefix``, in ascending key order."""
        ...

    def append_fact(self, journal: str, fact_id: bytes, body: bytes) -> bool:
        """Store a fact once per ``(journal, fact_id)``; returns ``False`` if already present."""
        ...

    def append_facts(self, journal: str, facts: Sequence[tuple[bytes, bytes]]) -> int:
        """Batch form of :meth:`append_fact` for ``(fact_id, body)`` pairs; returns how many were new."""
        ...

    def scan_facts(
        self, journal: str, *, after_seq: int = 0, limit: int | None = None
    ) -> list[StoredFact]:
        """Facts of ``journal`` with ``seq > after_seq`` in insertion order."""
        ...

    def enqueue_outbox(self, destination: str, payload: bytes) -> int:
        """Queue a message; returns its entry id (increasing)."""
        ...

    def ack_outbox(self, entry_id: int) -> bool:
        """Remove a delivered entry; returns whether it was pending."""
        ...

    def pending_outbox(self, limit: int | None = None) -> list[OutboxEntry]:
        """Entries not yet acknowledged, oldest first."""
        ...

    def put_secret(self, name: str, secret: bytes) -> None:
        """Store key material, encrypted at rest with the host-provided key."""
        ...

    def get_secret(self, name: str) -> bytes | None:
        """Decrypt and return key material; ``StorageError`` if the record was tampered with."""
        ...

    def delete_secret(self, name: str) -> bool: ...


@runtime_checkable
class StorageEffects(Protocol):
    """Durable storage: all access happens inside ``with storage.transaction() as txn``.

    Leaving the block normally commits durably; an exception rolls back
    everything written in it. Transactions do not nest, and a transaction
    object must not be used after its block.
    """

    def transaction(
        self, *, readonly: bool = False
    ) -> AbstractContextManager[StorageTransaction]: ...

    def close(self) -> None: ...


# --------------------------------------------------------------------------- network


def _check_key32(name: str, value: bytes) -> None:
    if type(value) is not bytes or len(value) != 32:
        raise InvalidInput(f"ChannelKeys.{name} must be 32 bytes")


@attrs.frozen(repr=False)
class ChannelKeys:
    """Local secrets for a Noise ``IKpsk2`` channel: X25519 static key and the context PSK.

    Derive them with ``aura_effects.derive_channel_keys`` (DKD static key,
    context-bound PSK). ``repr`` never shows them.
    """

    static_private: bytes
    psk: bytes

    def __attrs_post_init__(self) -> None:
        _check_key32("static_private", self.static_private)
        _check_key32("psk", self.psk)

    def __repr__(self) -> str:
        return "ChannelKeys(<secret>)"


@attrs.frozen
class PeerInfo:
    """Who is on the other end: transport address and authenticated Noise static key."""

    address: str
    static_public: bytes


@runtime_checkable
class SecureChannel(Protocol):
    """An authenticated, encrypted, ordered channel of whole messages.

    Tampered, replayed, truncated or oversized input closes the channel and
    raises ``TransportError``; so does using it after it closed.
    """

    @property
    def peer(self) -> PeerInfo: ...

    async def send(self, message: bytes) -> None: ...

    async def recv(self) -> bytes:
        """The next whole message; ``TransportError`` when the channel ends or fails."""
        ...

    async def aclose(self) -> None: ...


ChannelHandler = Callable[[SecureChannel], Awaitable[None]]
"""Serves one accepted channel; the channel closes when it returns."""


@runtime_checkable
class Listener(Protocol):
    """A bound listener. ``address`` is the actual address (with the real port)."""

    @property
    def address(self) -> str: ...

    @property
    def static_public(self) -> bytes:
        """The listener's Noise static public key, which initiators must know (IK pattern)."""
        ...


@runtime_checkable
class NetworkEffects(Protocol):
    """Opening secure channels to peers. Addresses are strings such as ``tcp://host:port``.

    Both calls are async context managers: the channel (or the listener and
    every connection it serves) lives exactly as long as the ``async with``
    block, which is how background work stays inside structured concurrency.
    """

    def connect(
        self, address: str, keys: ChannelKeys, *, remote_static: bytes
    ) -> AbstractAsyncContextManager[SecureChannel]: ...

    def listen(
        self,
        address: str,
        keys: ChannelKeys,
        handler: ChannelHandler,
        *,
        accept_peer: Callable[[bytes], bool] | None = None,
    ) -> AbstractAsyncContextManager[Listener]:
        """Serve ``handler`` for each peer; ``accept_peer`` vets the initiator's static key."""
        ...


# --------------------------------------------------------------------------- trace, reactive

TraceValue = str | int | float | bool | None
"""Field values a trace event may carry. Bytes are not allowed: they tend to be secrets."""


@runtime_checkable
class TraceEffects(Protocol):
    """Structured, non-secret events, each tagged with the operation's :class:`EffectContext`."""

    def event(self, ctx: EffectContext, name: str, /, **fields: TraceValue) -> None: ...


class SignalSubscription(Protocol):
    """An async iterator over a signal's values that always yields the latest one.

    Values emitted while the subscriber is busy are coalesced: it sees the
    newest, never a backlog.
    """

    def __aiter__(self) -> AsyncIterator[Any]: ...

    async def __anext__(self) -> Any: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class ReactiveEffects(Protocol):
    """Signals: named latest-value cells that UI and feature code observe."""

    def emit(self, signal: str, value: Any) -> None:
        """Set the signal's value; never blocks."""
        ...

    def latest(self, signal: str, default: Any = None) -> Any: ...

    def subscribe(self, signal: str) -> SignalSubscription: ...


# --------------------------------------------------------------------------- sans-IO driving contract


@attrs.frozen
class Incoming:
    """A message delivered to a sans-IO protocol object."""

    source: str
    payload: bytes


@attrs.frozen
class Outgoing:
    """A message a sans-IO protocol object wants sent."""

    destination: str
    payload: bytes


class SansIOProtocol(Protocol):
    """The shape every protocol core has, so one object runs under anyio or the simulator.

    ``now`` is the node's monotonic time in seconds. The object never reads a
    clock, sleeps or touches a socket; it only returns messages to send.
    """

    def receive(self, message: Incoming, now: float) -> Sequence[Outgoing]: ...

    def next_timer(self) -> float | None:
        """When :meth:`on_timer` wants to be called next (same clock as ``now``), if at all."""
        ...

    def on_timer(self, now: float) -> Sequence[Outgoing]: ...


# --------------------------------------------------------------------------- the bundle


@attrs.frozen
class Effects:
    """Every effect handler an agent needs, passed explicitly (no globals)."""

    random: RandomEffects
    time: PhysicalTimeEffects
    logical_clock: LogicalClockEffects
    order_clock: OrderClockEffects
    crypto: CryptoEffects
    storage: StorageEffects
    network: NetworkEffects
    trace: TraceEffects
    reactive: ReactiveEffects
