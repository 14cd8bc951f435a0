"""A replica's anti-entropy loop as a sans-IO protocol object.

:class:`AntiEntropyNode` holds one fact store and a list of peers. Every
``interval_s`` it opens a reconciliation session with the next peer in turn,
answers sessions peers open with it, and drops sessions that stall past
``session_timeout_s`` (a message lost on the way; the next round simply tries
again, which is safe because reconciliation is idempotent). It has the
:class:`~aura_core.effects.SansIOProtocol` shape, so the anyio runtime and
the deterministic simulator drive the same object.

Hostile or garbled input never escapes as an exception: the message is
dropped, the session it belonged to is abandoned, and the error is kept in
:attr:`AntiEntropyNode.errors` for inspection.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Sequence

import attrs

from aura_core.effects import Incoming, Outgoing
from aura_core.errors import AuraError, InvalidInput, ProtocolViolation
from aura_core.hashing import tagged_hash
from aura_protocol.anti_entropy.fact_store import FactStore
from aura_protocol.anti_entropy.messages import (
    SESSION_ID_SIZE,
    RangesMessage,
    SyncMessage,
    decode_sync_message,
    encode_sync_message,
)
from aura_protocol.anti_entropy.session import (
    ReconciliationConfig,
    ReconciliationSession,
    SessionOutcome,
)

__all__ = ["AntiEntropyConfig", "AntiEntropyNode", "PeerOutcome"]

_SESSION_DOMAIN = "AURA_ANTI_ENTROPY_SESSION_V1"
_TIMER_SLACK_S = 1e-6  # drivers round deadlines to microseconds
_HISTORY = 256
_FINISHED_MEMORY = 1024


def _seconds(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value < 86_400:
        raise InvalidInput(f"AntiEntropyConfig.{attribute.name} must be seconds in (0, 86400)")


def _count(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not int or value < 1:
        raise InvalidInput(f"AntiEntropyConfig.{attribute.name} must be a positive int")


@attrs.frozen
class AntiEntropyConfig:
    interval_s: float = attrs.field(default=5.0, validator=_seconds)
    """Time between two sessions this node opens (one peer per tick, round robin)."""
    session_timeout_s: float = attrs.field(default=10.0, validator=_seconds)
    """A session with no message for this long is abandoned."""
    max_sessions_per_peer: int = attrs.field(default=4, validator=_count)
    """Sessions a peer may have open with this node at once (as responder)."""
    reconciliation: ReconciliationConfig = attrs.field(factory=ReconciliationConfig)


@attrs.frozen
class PeerOutcome:
    """A finished session and the peer it ran with."""

    peer: str
    initiator: bool
    outcome: SessionOutcome


class _Active:
    __slots__ = ("deadline", "peer", "session")

    def __init__(self, peer: str, session: ReconciliationSession, deadline: float) -> None:
        self.peer = peer
        self.session = session
        self.deadline = deadline


class AntiEntropyNode:
    """Periodic reconciliation of one store with a set of peers (by network name)."""

    def __init__(
        self,
        store: FactStore,
        peers: Sequence[str],
        *,
        session_seed: bytes,
        config: AntiEntropyConfig | None = None,
        first_sync_at: float = 0.0,
    ) -> None:
        if not isinstance(store, FactStore):
            raise InvalidInput(f"store must implement FactStore, got {type(store).__name__}")
        peer_list = list(peers)
        if any(type(peer) is not str or not peer for peer in peer_list):
            raise InvalidInput("peers must be non-empty network names (str)")
        if len(set(peer_list)) != len(peer_list):
            raise InvalidInput("peers must not repeat")
        if type(session_seed) is not bytes or len(session_seed) < 16:
            raise InvalidInput("session_seed must be at least 16 random bytes")
        self._store = store
        self._peers = peer_list
        self._seed = session_seed
        self._config = config if config is not None else AntiEntropyConfig()
        self._next_sync: float | None = float(first_sync_at) if peer_list else None
        self._turn = 0
        self._counter = 0
        self._sessions: dict[tuple[str, bytes], _Active] = {}
        self._finished: OrderedDict[tuple[str, bytes], None] = OrderedDict()
        self.outcomes: deque[PeerOutcome] = deque(maxlen=_HISTORY)
        """Recently finished sessions, oldest first."""
        self.errors: deque[tuple[str, AuraError]] = deque(maxlen=_HISTORY)
        """Recent refusals: (peer, error)."""
        self.bytes_sent = 0
        self.bytes_received = 0

    @property
    def store(self) -> FactStore:
        return self._store

    @property
    def active_sessions(self) -> int:
        return len(self._sessions)

    # ------------------------------------------------------------------ SansIOProtocol

    def receive(self, message: Incoming, now: float) -> list[Outgoing]:
        peer = message.source
        self.bytes_received += len(message.payload)
        try:
            decoded = decode_sync_message(message.payload)
        except AuraError as exc:
            self.errors.append((peer, exc))
            return []
        key = (peer, decoded.session)
        active = self._sessions.get(key)
        if active is None:
            active = self._open_responder(peer, decoded, now)
            if active is None:
                return []
        try:
            replies = active.session.receive(decoded)
        except AuraError as exc:
            self.errors.append((peer, exc))
            self._close(key)
            return []
        active.deadline = now + self._config.session_timeout_s
        self._settle(key, active)
        return self._send(peer, replies)

    def next_timer(self) -> float | None:
        deadlines = [active.deadline for active in self._sessions.values()]
        if self._next_sync is not None:
            deadlines.append(self._next_sync)
        return min(deadlines) if deadlines else None

    def on_timer(self, now: float) -> list[Outgoing]:
        for key, active in list(self._sessions.items()):
            if active.deadline <= now + _TIMER_SLACK_S:
                self._close(key)
        if self._next_sync is None or now + _TIMER_SLACK_S < self._next_sync:
            return []
        self._next_sync = now + self._config.interval_s
        peer = self._peers[self._turn % len(self._peers)]
        self._turn += 1
        return self.sync_now(peer, now)

    # ------------------------------------------------------------------ control

    def sync_now(self, peer: str, now: float) -> list[Outgoing]:
        """Open a session with ``peer`` right away (unless one this node opened is running)."""
        if peer not in self._peers:
            raise InvalidInput(f"{peer!r} is not one of this node's peers")
        if any(a.peer == peer and a.session.initiator for a in self._sessions.values()):
            return []
        self._counter += 1
        session_id = tagged_hash(_SESSION_DOMAIN, self._seed, self._counter.to_bytes(8, "big"))[
            :SESSION_ID_SIZE
        ]
        session = ReconciliationSession(
            self._store, session_id, initiator=True, config=self._config.reconciliation
        )
        key = (peer, session_id)
        self._sessions[key] = _Active(peer, session, now + self._config.session_timeout_s)
        return self._send(peer, session.start())

    # ------------------------------------------------------------------ internals

    def _open_responder(self, peer: str, message: SyncMessage, now: float) -> _Active | None:
        key = (peer, message.session)
        if key in self._finished:
            return None  # a late duplicate of a finished session
        if not isinstance(message, RangesMessage) or message.round != 0:
            return None  # belongs to a session this node no longer (or never) had
        open_with_peer = sum(
            1 for a in self._sessions.values() if a.peer == peer and not a.session.initiator
        )
        if open_with_peer >= self._config.max_sessions_per_peer:
            self.errors.append((peer, ProtocolViolation("too many open sessions from this peer")))
            return None
        session = ReconciliationSession(
            self._store, message.session, initiator=False, config=self._config.reconciliation
        )
        active = _Active(peer, session, now + self._config.session_timeout_s)
        self._sessions[key] = active
        return active

    def _settle(self, key: tuple[str, bytes], active: _Active) -> None:
        outcome = active.session.outcome
        if outcome is not None:
            self.outcomes.append(PeerOutcome(active.peer, active.session.initiator, outcome))
            self._close(key)

    def _close(self, key: tuple[str, bytes]) -> None:
        self._sessions.pop(key, None)
        self._finished[key] = None
        if len(self._finished) > _FINISHED_MEMORY:
            self._finished.popitem(last=False)

    def _send(self, peer: str, messages: list[SyncMessage]) -> list[Outgoing]:
        out = []
        for message in messages:
            payload = encode_sync_message(message)
            self.bytes_sent += len(payload)
            out.append(Outgoing(peer, payload))
        return out
