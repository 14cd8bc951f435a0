"""Wire messages of a reconciliation session, with strict canonical encoding.

A session exchanges three kinds of message, each one canonical DAG-CBOR map:

* :class:`RangesMessage` — a partition of the whole id space into ranges, in
  order, each saying what the sender wants done with it (see the range
  classes). The last range is unbounded above.
* :class:`EndMessage` — the sender has nothing left to reconcile.
* :class:`FactsMessage` — facts pushed to the peer, as opaque bytes keyed by
  their content id.

Ranges and end messages carry ``pushed``, how many facts the sender has
pushed in this session so far, so the receiver knows when every fact owed to
it has arrived. Decoding checks the size before parsing and every field after,
and raises :class:`~aura_core.errors.InvalidEncoding` naming what was wrong.
"""

from __future__ import annotations

from typing import Any

import attrs

from aura_core.content_id import CID
from aura_core.dag_cbor import decode, encode
from aura_core.errors import InvalidEncoding, InvalidIdentifier, InvalidInput
from aura_protocol.anti_entropy.fingerprint_index import FINGERPRINT_SIZE, MAX_ID_BYTES

__all__ = [
    "MAX_FACTS_PER_MESSAGE",
    "MAX_FACT_BYTES",
    "MAX_IDS_PER_RANGE",
    "MAX_MESSAGE_BYTES",
    "MAX_RANGES",
    "MAX_ROUNDS",
    "SESSION_ID_SIZE",
    "EndMessage",
    "FactsMessage",
    "FingerprintRange",
    "IdListRange",
    "NeedRange",
    "Range",
    "RangesMessage",
    "SkipRange",
    "SyncMessage",
    "TransferredFact",
    "decode_sync_message",
    "encode_sync_message",
    "encoded_range_size",
]

SESSION_ID_SIZE = 16
MAX_RANGES = 1 << 17
"""Most ranges one message may list."""
MAX_IDS_PER_RANGE = 1024
"""Most ids an id-list range may carry (senders list a range only when it is small)."""
MAX_FACT_BYTES = 8 * 1024 * 1024
"""Largest fact carried (the journal's own limit)."""
MAX_FACTS_PER_MESSAGE = 1 << 16
MAX_MESSAGE_BYTES = MAX_FACT_BYTES + (1 << 16)
"""Hard cap on an encoded message, checked before decoding: one maximal fact plus framing."""
MAX_ROUNDS = 128
"""Rounds after which a session is abandoned (an honest one needs ~2 log16(n) + 3)."""

_U63 = (1 << 63) - 1
_MODE_SKIP = 0
_MODE_FINGERPRINT = 1
_MODE_ID_LIST = 2
_MODE_NEED = 3


# Range values are built by the hundred thousand per session, so they carry no
# validators: the encoder checks every field it writes, the decoder every field it reads.


@attrs.frozen
class SkipRange:
    """Nothing to do below ``upper`` (since the previous bound)."""

    upper: bytes | None


@attrs.frozen
class FingerprintRange:
    """The sender's fingerprint of its ids in the range: compare, and split if different."""

    upper: bytes | None
    fingerprint: bytes


@attrs.frozen
class IdListRange:
    """Every id the sender holds in the range, ascending: the receiver works out the difference."""

    upper: bytes | None
    ids: tuple[bytes, ...] = attrs.field(converter=tuple)


@attrs.frozen
class NeedRange:
    """Answer to an id list: bit ``i`` (LSB first) set means "send me the i-th id you listed"."""

    upper: bytes | None
    bits: bytes


Range = SkipRange | FingerprintRange | IdListRange | NeedRange


@attrs.frozen
class RangesMessage:
    session: bytes
    round: int
    pushed: int
    ranges: tuple[Range, ...] = attrs.field(converter=tuple)


@attrs.frozen
class EndMessage:
    session: bytes
    round: int
    pushed: int


@attrs.frozen
class TransferredFact:
    """One fact as the sender encoded it; the receiver checks ``cid`` against ``data``."""

    cid: CID
    data: bytes


@attrs.frozen
class FactsMessage:
    session: bytes
    facts: tuple[TransferredFact, ...] = attrs.field(converter=tuple)


SyncMessage = RangesMessage | EndMessage | FactsMessage


# --------------------------------------------------------------------------- sizes


def _head_size(n: int) -> int:
    if n < 24:
        return 1
    if n < 0x100:
        return 2
    if n < 0x10000:
        return 3
    if n < 0x100000000:
        return 5
    return 9


def _bytes_size(value: bytes) -> int:
    return _head_size(len(value)) + len(value)


def encoded_range_size(entry: Range) -> int:
    """Exact bytes ``entry`` adds to an encoded :class:`RangesMessage`."""
    upper = 1 if entry.upper is None else _bytes_size(entry.upper)
    if type(entry) is SkipRange:
        return 1 + upper + 1
    if type(entry) is FingerprintRange:
        return 1 + upper + 1 + 1 + FINGERPRINT_SIZE
    if type(entry) is IdListRange:
        return 1 + upper + 1 + _head_size(len(entry.ids)) + sum(map(_bytes_size, entry.ids))
    assert type(entry) is NeedRange
    return 1 + upper + 1 + _bytes_size(entry.bits)


# --------------------------------------------------------------------------- encoding


def _head(major: int, value: int) -> bytes:
    if value < 24:
        return bytes((major | value,))
    if value < 0x100:
        return bytes((major | 24, value))
    if value < 0x10000:
        return bytes((major | 25,)) + value.to_bytes(2, "big")
    if value < 0x100000000:
        return bytes((major | 26,)) + value.to_bytes(4, "big")
    return bytes((major | 27,)) + value.to_bytes(8, "big")


def _id_item(value: object, what: str) -> bytes:
    if type(value) is not bytes or not 0 < len(value) <= MAX_ID_BYTES:
        raise InvalidInput(f"{what} must be 1..{MAX_ID_BYTES} bytes")
    return _head(0x40, len(value)) + value


_NULL = b"\xf6"
_FINGERPRINT_HEAD = bytes((0x40 | FINGERPRINT_SIZE,))


def _range_item(entry: Range) -> bytes:
    """One range as a CBOR array ``[upper, mode(, payload)]``, fields checked."""
    upper = entry.upper
    head = _NULL if upper is None else _id_item(upper, "a range bound")
    kind = type(entry)
    if kind is SkipRange:
        return b"\x82" + head + b"\x00"
    if kind is FingerprintRange:
        fingerprint = entry.fingerprint
        if type(fingerprint) is not bytes or len(fingerprint) != FINGERPRINT_SIZE:
            raise InvalidInput(f"a range fingerprint must be {FINGERPRINT_SIZE} bytes")
        return b"\x83" + head + b"\x01" + _FINGERPRINT_HEAD + fingerprint
    if kind is IdListRange:
        ids = entry.ids
        if len(ids) > MAX_IDS_PER_RANGE:
            raise InvalidInput(f"an id list holds at most {MAX_IDS_PER_RANGE} ids")
        items = b"".join(_id_item(item, "a listed id") for item in ids)
        return b"\x83" + head + b"\x02" + _head(0x80, len(ids)) + items
    if kind is NeedRange:
        bits = entry.bits
        if type(bits) is not bytes or not bits:
            raise InvalidInput("need bits must be non-empty bytes")
        return b"\x83" + head + b"\x03" + _head(0x40, len(bits)) + bits
    raise InvalidInput(f"not a range: {kind.__name__}")


def _header_fields(message: RangesMessage | EndMessage) -> tuple[bytes, bytes, bytes]:
    if type(message.session) is not bytes or len(message.session) != SESSION_ID_SIZE:
        raise InvalidInput(f"session id must be {SESSION_ID_SIZE} bytes")
    if type(message.round) is not int or not 0 <= message.round <= MAX_ROUNDS:
        raise InvalidInput(f"round must be an int in 0..{MAX_ROUNDS}")
    if type(message.pushed) is not int or not 0 <= message.pushed <= _U63:
        raise InvalidInput("pushed must be a non-negative int")
    return (
        _head(0x00, message.round),
        _head(0x00, message.pushed),
        _head(0x40, SESSION_ID_SIZE) + message.session,
    )


def _encode_ranges(message: RangesMessage) -> bytes:
    """The canonical encoding written directly: keys "n" "p" "r" "s" "t" in canonical order."""
    round_item, pushed_item, session_item = _header_fields(message)
    ranges = message.ranges
    return b"".join(
        (
            b"\xa5\x61n",
            round_item,
            b"\x61p",
            pushed_item,
            b"\x61r",
            _head(0x80, len(ranges)),
            *map(_range_item, ranges),
            b"\x61s",
            session_item,
            b"\x61t\x66ranges",
        )
    )


def encode_sync_message(message: SyncMessage) -> bytes:
    """Canonical DAG-CBOR of a session message."""
    if isinstance(message, RangesMessage):
        return _encode_ranges(message)
    if isinstance(message, EndMessage):
        _header_fields(message)
        value: dict[str, Any] = {
            "t": "end",
            "s": message.session,
            "n": message.round,
            "p": message.pushed,
        }
    elif isinstance(message, FactsMessage):
        if type(message.session) is not bytes or len(message.session) != SESSION_ID_SIZE:
            raise InvalidInput(f"session id must be {SESSION_ID_SIZE} bytes")
        for fact in message.facts:
            if not isinstance(fact, TransferredFact) or not isinstance(fact.cid, CID):
                raise InvalidInput("a facts message carries TransferredFact values")
            if type(fact.data) is not bytes or not 0 < len(fact.data) <= MAX_FACT_BYTES:
                raise InvalidInput(f"a transferred fact is 1..{MAX_FACT_BYTES} bytes")
        value = {
            "t": "facts",
            "s": message.session,
            "f": [[fact.cid.raw, fact.data] for fact in message.facts],
        }
    else:
        raise InvalidInput(f"not a sync message: {type(message).__name__}")
    return encode(value)


# --------------------------------------------------------------------------- strict decoding


def _fields(value: Any, keys: frozenset[str], what: str) -> dict[str, Any]:
    if type(value) is not dict:
        raise InvalidEncoding(f"{what} must be a map, got {type(value).__name__}")
    if value.keys() != keys:
        missing = sorted(keys - value.keys())
        extra = sorted(value.keys() - keys)[:5]
        raise InvalidEncoding(f"{what} fields wrong: missing {missing}, unexpected {extra}")
    return value


def _uint(value: Any, what: str, maximum: int) -> int:
    if type(value) is not int or not 0 <= value <= maximum:
        raise InvalidEncoding(f"{what} must be an integer in 0..{maximum}")
    return value


def _session(value: Any) -> bytes:
    if type(value) is not bytes or len(value) != SESSION_ID_SIZE:
        raise InvalidEncoding(f"session id must be {SESSION_ID_SIZE} bytes")
    return value


def _id(value: Any, what: str) -> bytes:
    if type(value) is not bytes or not 0 < len(value) <= MAX_ID_BYTES:
        raise InvalidEncoding(f"{what} must be 1..{MAX_ID_BYTES} bytes")
    return value


def _decode_ranges(value: Any) -> tuple[Range, ...]:
    if type(value) is not list:
        raise InvalidEncoding("ranges must be a list")
    if not value:
        raise InvalidEncoding("a ranges message lists at least one range (send 'end' instead)")
    if len(value) > MAX_RANGES:
        raise InvalidEncoding(f"a ranges message lists {len(value)} ranges, more than {MAX_RANGES}")
    out: list[Range] = []
    lower = b""
    previous_skip = False
    last = len(value) - 1
    for index, item in enumerate(value):
        where = f"range {index}"
        if type(item) is not list or len(item) not in (2, 3):
            raise InvalidEncoding(f"{where} must be a list [upper, mode(, payload)]")
        upper = item[0]
        if index == last:
            if upper is not None:
                raise InvalidEncoding("the last range must be unbounded above (upper = null)")
        else:
            upper = _id(upper, f"{where} upper bound")
            if upper <= lower:
                raise InvalidEncoding(f"{where} upper bound does not increase")
        mode = item[1]
        if type(mode) is not int:
            raise InvalidEncoding(f"{where} mode must be an integer")
        if mode == _MODE_SKIP:
            if len(item) != 2:
                raise InvalidEncoding(f"{where}: a skip range has no payload")
            if previous_skip:
                raise InvalidEncoding(f"{where}: adjacent skip ranges must be merged")
            out.append(SkipRange(upper))
            previous_skip = True
        else:
            if len(item) != 3:
                raise InvalidEncoding(f"{where}: mode {mode} needs a payload")
            payload = item[2]
            if mode == _MODE_FINGERPRINT:
                if type(payload) is not bytes or len(payload) != FINGERPRINT_SIZE:
                    raise InvalidEncoding(f"{where} fingerprint must be {FINGERPRINT_SIZE} bytes")
                out.append(FingerprintRange(upper, payload))
            elif mode == _MODE_ID_LIST:
                out.append(IdListRange(upper, _decode_id_list(payload, lower, upper, where)))
            elif mode == _MODE_NEED:
                if type(payload) is not bytes or not payload or payload[-1] == 0:
                    raise InvalidEncoding(
                        f"{where} need bits must be non-empty bytes without trailing zero bytes"
                    )
                if len(payload) * 8 > MAX_IDS_PER_RANGE + 7:
                    raise InvalidEncoding(f"{where} need bits are longer than any id list")
                out.append(NeedRange(upper, payload))
            else:
                raise InvalidEncoding(f"{where} has unknown mode {mode}")
            previous_skip = False
        lower = upper if upper is not None else lower
    if all(type(entry) is SkipRange for entry in out):
        raise InvalidEncoding("a ranges message of only skips must be sent as 'end'")
    return tuple(out)


def _decode_id_list(payload: Any, lower: bytes, upper: bytes | None, where: str) -> list[bytes]:
    if type(payload) is not list:
        raise InvalidEncoding(f"{where} id list must be a list")
    if len(payload) > MAX_IDS_PER_RANGE:
        raise InvalidEncoding(f"{where} lists {len(payload)} ids, more than {MAX_IDS_PER_RANGE}")
    previous = None
    for position, item in enumerate(payload):
        item = _id(item, f"{where} id {position}")
        if item < lower or (upper is not None and item >= upper):
            raise InvalidEncoding(f"{where} id {position} lies outside the range")
        if previous is not None and item <= previous:
            raise InvalidEncoding(f"{where} ids must be strictly ascending")
        previous = item
    return payload


def _decode_facts(value: Any) -> tuple[TransferredFact, ...]:
    if type(value) is not list or not value:
        raise InvalidEncoding("facts must be a non-empty list")
    if len(value) > MAX_FACTS_PER_MESSAGE:
        raise InvalidEncoding(
            f"{len(value)} facts in one message, more than {MAX_FACTS_PER_MESSAGE}"
        )
    out = []
    seen: set[bytes] = set()
    for index, item in enumerate(value):
        if type(item) is not list or len(item) != 2:
            raise InvalidEncoding(f"fact {index} must be [cid, bytes]")
        raw, data = item
        raw = _id(raw, f"fact {index} cid")
        if type(data) is not bytes or not data:
            raise InvalidEncoding(f"fact {index} data must be non-empty bytes")
        if len(data) > MAX_FACT_BYTES:
            raise InvalidEncoding(f"fact {index} is {len(data)} bytes, more than {MAX_FACT_BYTES}")
        if raw in seen:
            raise InvalidEncoding(f"fact {index} repeats a cid")
        seen.add(raw)
        try:
            cid = CID(raw)
        except InvalidIdentifier as exc:
            raise InvalidEncoding(f"fact {index} cid is malformed: {exc.message}") from None
        out.append(TransferredFact(cid, data))
    return tuple(out)


_RANGES_KEYS = frozenset({"t", "s", "n", "p", "r"})
_END_KEYS = frozenset({"t", "s", "n", "p"})
_FACTS_KEYS = frozenset({"t", "s", "f"})


def decode_sync_message(data: bytes) -> SyncMessage:
    """Parse one session message, refusing anything but its canonical form.

    Raises :class:`InvalidEncoding` (or :class:`InvalidInput` for a non-bytes
    argument) and nothing else, whatever the bytes.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidInput(f"a sync message must be bytes, got {type(data).__name__}")
    if len(data) > MAX_MESSAGE_BYTES:
        raise InvalidEncoding(
            f"sync message is {len(data)} bytes, more than the {MAX_MESSAGE_BYTES}-byte cap"
        )
    value = decode(bytes(data), allow_floats=False)
    if type(value) is not dict:
        raise InvalidEncoding("a sync message must be a map")
    kind = value.get("t")
    if kind == "ranges":
        fields = _fields(value, _RANGES_KEYS, "ranges message")
        return RangesMessage(
            _session(fields["s"]),
            _uint(fields["n"], "round", MAX_ROUNDS),
            _uint(fields["p"], "pushed count", _U63),
            _decode_ranges(fields["r"]),
        )
    if kind == "end":
        fields = _fields(value, _END_KEYS, "end message")
        return EndMessage(
            _session(fields["s"]),
            _uint(fields["n"], "round", MAX_ROUNDS),
            _uint(fields["p"], "pushed count", _U63),
        )
    if kind == "facts":
        fields = _fields(value, _FACTS_KEYS, "facts message")
        return FactsMessage(_session(fields["s"]), _decode_facts(fields["f"]))
    raise InvalidEncoding(f"unknown sync message type {kind!r:.40}")
