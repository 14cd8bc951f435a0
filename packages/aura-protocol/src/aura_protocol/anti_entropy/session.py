"""One reconciliation between two replicas: range-based set reconciliation, sans-IO.

The two sides take turns sending a partition of the id space (Meyer's
range-based set reconciliation). For each range the receiver compares the
sender's fingerprint with its own; equal ranges are done, a differing range
is split into ``branching`` sub-ranges by the receiver's own ids, and once a
side holds at most ``id_list_threshold`` ids in a differing range it lists
them. The side that receives a list knows both sets there: it pushes the facts
the lister lacks at once and answers with a bitmap of the listed ids it wants,
which the lister pushes in turn. The first message is one fingerprint of the
whole set (the digest), so replicas already equal finish in one round trip.

Bytes grow with the number of differences times the depth of the split
(~log_k n), not with the size of the set. A reply that would exceed
``frame_limit`` is cut and ends with one fingerprint of the rest, which the
peer treats like any other range, so messages stay bounded without stalling.

Facts travel as :class:`~aura_protocol.anti_entropy.messages.FactsMessage`
chunks. Every fact received must be one this side asked for, or lie in a
range it listed; its CID must match its bytes; only then does it go to the
store. The session ends, for each side, when reconciliation is over and every
fact the peer announced (``pushed``) has arrived.
"""

from __future__ import annotations

import enum
from bisect import bisect_right
from collections.abc import Iterable

import attrs

from aura_core.content_id import CID, verify_content_id
from aura_core.errors import AuraError, InvalidInput, ProtocolViolation, ValidationError
from aura_protocol.anti_entropy.fact_store import FactStore
from aura_protocol.anti_entropy.fingerprint_index import FingerprintIndex
from aura_protocol.anti_entropy.messages import (
    MAX_FACTS_PER_MESSAGE,
    MAX_IDS_PER_RANGE,
    MAX_ROUNDS,
    SESSION_ID_SIZE,
    EndMessage,
    FactsMessage,
    FingerprintRange,
    IdListRange,
    NeedRange,
    Range,
    RangesMessage,
    SkipRange,
    SyncMessage,
    TransferredFact,
    encoded_range_size,
)

__all__ = [
    "ReconciliationConfig",
    "ReconciliationSession",
    "SessionOutcome",
    "SyncStatus",
]

_MIN_FRAME_LIMIT = 64 * 1024


class SyncStatus(enum.Enum):
    """How the two replicas compared, from this side's point of view."""

    EQUAL = "equal"
    LOCAL_BEHIND = "local_behind"
    """Only this side lacked facts."""
    REMOTE_BEHIND = "remote_behind"
    """Only the peer lacked facts."""
    DIVERGED = "diverged"
    """Each side lacked facts the other had."""


def _positive(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not int or value < 1:
        raise InvalidInput(f"ReconciliationConfig.{attribute.name} must be a positive int")


@attrs.frozen
class ReconciliationConfig:
    """Tuning of a session; the two sides need not agree on it."""

    branching: int = attrs.field(default=16, validator=_positive)
    """Sub-ranges a differing range is split into."""
    id_list_threshold: int = attrs.field(default=16, validator=_positive)
    """A differing range with at most this many local ids is listed instead of split."""
    frame_limit: int = attrs.field(default=512 * 1024, validator=_positive)
    """Soft cap on an encoded ranges message (bytes)."""
    fact_chunk_bytes: int = attrs.field(default=256 * 1024, validator=_positive)
    """Target size of one facts message (a single larger fact gets its own)."""

    def __attrs_post_init__(self) -> None:
        if not 2 <= self.branching <= 256:
            raise InvalidInput("ReconciliationConfig.branching must be in 2..256")
        if self.id_list_threshold > MAX_IDS_PER_RANGE:
            raise InvalidInput(f"id_list_threshold must be at most {MAX_IDS_PER_RANGE}")
        if self.id_list_threshold < self.branching:
            raise InvalidInput("id_list_threshold must be at least branching")
        smallest = max(_MIN_FRAME_LIMIT, 2 * _reply_margin(self))
        if self.frame_limit < smallest:
            raise InvalidInput(f"frame_limit must be at least {smallest} bytes")


def _reply_margin(config: ReconciliationConfig) -> int:
    """Bytes kept free in a reply for one input range's largest answer (a split of
    ``branching`` fingerprints or a full id list), the closing fingerprint and the
    message's own fields, so a reply cut at the limit still fits the frame."""
    return max(config.branching * 90, config.id_list_threshold * 70) + 256


@attrs.frozen
class SessionOutcome:
    """What one finished session did."""

    status: SyncStatus
    received: int
    """Facts the peer sent that matched their CIDs and were handed to the store."""
    pushed: int
    """Facts sent to the peer."""
    accepted: int
    """Facts the store took in (``received`` minus refusals, deferrals and duplicates)."""
    deferred: int
    rejected: tuple[tuple[CID, AuraError], ...]
    rounds: int
    """Ranges and end messages exchanged (both directions)."""


class _Phase(enum.Enum):
    RECONCILING = "reconciling"
    AWAITING_FACTS = "awaiting_facts"
    DONE = "done"
    FAILED = "failed"


class _ListedRanges:
    """Ranges this side listed; a peer may push any fact inside one of them."""

    __slots__ = ("_lowers", "_merged", "_spans")

    def __init__(self) -> None:
        self._spans: list[tuple[bytes, bytes | None]] = []
        self._merged: list[tuple[bytes, bytes | None]] | None = []
        self._lowers: list[bytes] = []

    def add(self, lower: bytes, upper: bytes | None) -> None:
        self._spans.append((lower, upper))
        self._merged = None

    def __contains__(self, item: bytes) -> bool:
        merged = self._merged
        if merged is None:
            merged = self._merge()
        position = bisect_right(self._lowers, item) - 1
        if position < 0:
            return False
        upper = merged[position][1]
        return upper is None or item < upper

    def _merge(self) -> list[tuple[bytes, bytes | None]]:
        merged: list[tuple[bytes, bytes | None]] = []
        for lower, upper in sorted(self._spans, key=lambda span: span[0]):
            if merged:
                last_lower, last_upper = merged[-1]
                if last_upper is None:
                    continue
                if lower <= last_upper:
                    if upper is None or upper > last_upper:
                        merged[-1] = (last_lower, upper)
                    continue
            merged.append((lower, upper))
        self._merged = merged
        self._lowers = [lower for lower, _ in merged]
        return merged


def _need_bits(positions: Iterable[int]) -> bytes:
    bits = bytearray()
    for position in positions:
        byte = position >> 3
        if byte >= len(bits):
            bits.extend(bytes(byte + 1 - len(bits)))
        bits[byte] |= 1 << (position & 7)
    return bytes(bits)


def _positions(bits: bytes) -> list[int]:
    return [
        (byte_index << 3) | bit
        for byte_index, byte in enumerate(bits)
        if byte
        for bit in range(8)
        if byte >> bit & 1
    ]


class ReconciliationSession:
    """One side of one reconciliation. Feed it the peer's messages; send what it returns.

    ``start()`` (initiator only) gives the first messages; ``receive()`` gives
    the replies to one incoming message. Hostile input raises
    :class:`InvalidEncoding`, :class:`ProtocolViolation` or
    :class:`ValidationError` and fails the session; nothing was stored from
    the offending message.
    """

    def __init__(
        self,
        store: FactStore,
        session_id: bytes,
        *,
        initiator: bool,
        config: ReconciliationConfig | None = None,
    ) -> None:
        if type(session_id) is not bytes or len(session_id) != SESSION_ID_SIZE:
            raise InvalidInput(f"session id must be {SESSION_ID_SIZE} bytes")
        if not isinstance(store, FactStore):
            raise InvalidInput(f"store must implement FactStore, got {type(store).__name__}")
        self._store = store
        self._session = session_id
        self._initiator = bool(initiator)
        self._config = config if config is not None else ReconciliationConfig()
        self._phase = _Phase.RECONCILING
        self._expected_round = 1 if self._initiator else 0
        self._started = False
        self._last_lists: dict[tuple[bytes, bytes | None], list[bytes]] = {}
        self._listed = _ListedRanges()
        self._requested: set[bytes] = set()
        self._received: set[bytes] = set()
        self._pushed: set[bytes] = set()
        self._peer_pushed = 0
        self._accepted = 0
        self._deferred = 0
        self._rejected: list[tuple[CID, AuraError]] = []
        self._rounds = 0
        self._error: AuraError | None = None

    # ------------------------------------------------------------------ state

    @property
    def session_id(self) -> bytes:
        return self._session

    @property
    def initiator(self) -> bool:
        return self._initiator

    @property
    def done(self) -> bool:
        return self._phase is _Phase.DONE

    @property
    def failed(self) -> AuraError | None:
        """The error that ended the session, if one did."""
        return self._error

    @property
    def outcome(self) -> SessionOutcome | None:
        """The result once :attr:`done`; ``None`` before."""
        if self._phase is not _Phase.DONE:
            return None
        received, pushed = len(self._received), len(self._pushed)
        if received and pushed:
            status = SyncStatus.DIVERGED
        elif received:
            status = SyncStatus.LOCAL_BEHIND
        elif pushed:
            status = SyncStatus.REMOTE_BEHIND
        else:
            status = SyncStatus.EQUAL
        return SessionOutcome(
            status,
            received,
            pushed,
            self._accepted,
            self._deferred,
            tuple(self._rejected),
            self._rounds,
        )

    # ------------------------------------------------------------------ driving

    def start(self) -> list[SyncMessage]:
        """The initiator's opening message: one fingerprint of everything it holds."""
        if not self._initiator or self._started:
            raise ProtocolViolation("only the initiator starts a session, and only once")
        self._started = True
        index = self._store.id_index()
        self._rounds += 1
        opening = FingerprintRange(None, index.fingerprint(0, len(index)))
        return [RangesMessage(self._session, 0, 0, (opening,))]

    def receive(self, message: SyncMessage) -> list[SyncMessage]:
        """Process one message from the peer; returns the messages to send back."""
        if self._phase is _Phase.FAILED:
            raise ProtocolViolation("this reconciliation session already failed")
        if getattr(message, "session", None) != self._session:
            raise ProtocolViolation("message belongs to another session")
        try:
            if isinstance(message, FactsMessage):
                self._take_facts(message.facts)
                replies: list[SyncMessage] = []
            elif isinstance(message, RangesMessage | EndMessage):
                replies = self._take_turn(message)
            else:
                raise InvalidInput(f"not a sync message: {type(message).__name__}")
        except AuraError as exc:
            self._phase = _Phase.FAILED
            self._error = exc
            raise
        self._check_done()
        return replies

    # ------------------------------------------------------------------ turns

    def _take_turn(self, message: RangesMessage | EndMessage) -> list[SyncMessage]:
        if message.round < self._expected_round:
            return []  # a duplicate of a turn already answered
        if message.round > self._expected_round or self._phase is not _Phase.RECONCILING:
            raise ProtocolViolation(
                f"unexpected round {message.round} (expected {self._expected_round})"
            )
        if message.pushed < self._peer_pushed:
            raise ProtocolViolation("the peer's pushed count went down")
        self._peer_pushed = message.pushed
        self._rounds += 1
        if isinstance(message, EndMessage):
            self._phase = _Phase.AWAITING_FACTS
            self._expected_round = message.round + 1  # later copies are duplicates
            return []
        if message.round + 1 > MAX_ROUNDS:
            raise ProtocolViolation(f"reconciliation did not finish in {MAX_ROUNDS} rounds")
        ranges, pushes = self._answer(message.ranges)
        out: list[SyncMessage] = self._push(pushes)
        round_number = message.round + 1
        self._expected_round = message.round + 2
        self._rounds += 1
        if ranges:
            out.append(RangesMessage(self._session, round_number, len(self._pushed), ranges))
        else:
            self._phase = _Phase.AWAITING_FACTS
            out.append(EndMessage(self._session, round_number, len(self._pushed)))
        return out

    def _answer(self, ranges: tuple[Range, ...]) -> tuple[tuple[Range, ...], list[bytes]]:
        """Reply ranges (``()`` when all is settled) and the ids to push now."""
        index = self._store.id_index()
        config = self._config
        threshold = config.id_list_threshold
        previous_lists = self._last_lists
        lists: dict[tuple[bytes, bytes | None], list[bytes]] = {}
        out: list[Range] = []
        pushes: list[bytes] = []
        lower = b""
        limit = config.frame_limit - _reply_margin(config)
        size = 0
        progressed = False
        last = len(ranges) - 1
        for position, entry in enumerate(ranges):
            upper = entry.upper
            kind = type(entry)
            first_new = len(out)
            if kind is SkipRange:
                out.append(entry)
            elif kind is FingerprintRange:
                start, stop = index.position(lower), index.position(upper)
                if index.fingerprint(start, stop) == entry.fingerprint:
                    out.append(SkipRange(upper))
                elif stop - start <= threshold:
                    mine = index.ids(start, stop)
                    lists[(lower, upper)] = mine
                    out.append(IdListRange(upper, mine))
                else:
                    out.extend(self._split(index, start, stop, upper))
            elif kind is IdListRange:
                assert isinstance(entry, IdListRange)
                start, stop = index.position(lower), index.position(upper)
                theirs = entry.ids
                listed = set(theirs)
                pushes.extend(item for item in index.ids(start, stop) if item not in listed)
                wanted = [position for position, item in enumerate(theirs) if item not in index]
                if wanted:
                    self._requested.update(theirs[position] for position in wanted)
                    out.append(NeedRange(upper, _need_bits(wanted)))
                else:
                    out.append(SkipRange(upper))
            else:
                assert isinstance(entry, NeedRange)
                mine = previous_lists.get((lower, upper))
                if mine is None:
                    raise ProtocolViolation("need bits for a range this side did not list")
                positions = _positions(entry.bits)
                if positions[-1] >= len(mine):
                    raise ProtocolViolation("need bits name an id beyond the listed ones")
                pushes.extend(mine[bit] for bit in positions)
                out.append(SkipRange(upper))
            for new in out[first_new:]:
                size += encoded_range_size(new)
                progressed = progressed or type(new) is not SkipRange
            if upper is not None:
                lower = upper
            if size > limit and progressed and position < last:
                # Cut here: the rest of the space goes back as one fingerprint, to be
                # refined in later rounds. Nothing past the cut is processed.
                rest = index.fingerprint(index.position(lower), len(index))
                out.append(FingerprintRange(None, rest))
                break
        out = self._merge_skips(out)
        for span in lists:
            self._listed.add(*span)
        self._last_lists = lists
        return tuple(out), pushes

    def _split(
        self, index: FingerprintIndex, start: int, stop: int, upper: bytes | None
    ) -> list[Range]:
        return [
            FingerprintRange(upper if bound is None else bound, fingerprint)
            for _, bound, fingerprint in index.split(start, stop, self._config.branching)
        ]

    @staticmethod
    def _merge_skips(entries: list[Range]) -> list[Range]:
        merged: list[Range] = []
        for entry in entries:
            if type(entry) is SkipRange and merged and type(merged[-1]) is SkipRange:
                merged[-1] = entry
            else:
                merged.append(entry)
        if all(type(entry) is SkipRange for entry in merged):
            return []
        return merged

    # ------------------------------------------------------------------ facts

    def _push(self, ids: list[bytes]) -> list[SyncMessage]:
        fetch = self._store.fetch
        pushed = self._pushed
        chunk_limit = self._config.fact_chunk_bytes
        out: list[SyncMessage] = []
        chunk: list[TransferredFact] = []
        size = 0
        for raw in ids:
            if raw in pushed:
                continue
            data = fetch(raw)
            if data is None:
                continue  # only the id is kept (collected under a snapshot)
            pushed.add(raw)
            item_size = len(raw) + len(data) + 16
            if chunk and (size + item_size > chunk_limit or len(chunk) >= MAX_FACTS_PER_MESSAGE):
                out.append(FactsMessage(self._session, tuple(chunk)))
                chunk, size = [], 0
            chunk.append(TransferredFact(CID(raw), data))
            size += item_size
        if chunk:
            out.append(FactsMessage(self._session, tuple(chunk)))
        return out

    def _take_facts(self, facts: tuple[TransferredFact, ...]) -> None:
        fresh: list[TransferredFact] = []
        received = self._received
        requested = self._requested
        listed = self._listed
        for fact in facts:
            raw = fact.cid.raw
            if raw in received:
                continue  # a duplicated chunk
            if raw not in requested and raw not in listed:
                raise ProtocolViolation(f"peer pushed {fact.cid}, which this side did not ask for")
            try:
                verify_content_id(fact.cid, fact.data)
            except InvalidInput as exc:
                raise ValidationError(f"pushed fact {fact.cid}: {exc.message}") from None
            fresh.append(fact)
        if not fresh:
            return
        received.update(fact.cid.raw for fact in fresh)
        report = self._store.accept(fresh)
        self._accepted += len(report.accepted)
        self._deferred += len(report.deferred)
        self._rejected.extend(report.rejected)

    def _check_done(self) -> None:
        if self._phase is _Phase.AWAITING_FACTS and len(self._received) >= self._peer_pushed:
            self._phase = _Phase.DONE
