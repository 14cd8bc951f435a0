"""Canonical DAG-CBOR: the one byte form of every fact and wire message.

Hashes, signatures and content ids are taken over these bytes, so a value
must have exactly one encoding and the decoder must refuse every other
spelling of it. The rules (IPLD DAG-CBOR spec; the key order is RFC 7049's
canonical order, not RFC 8949's bytewise one):

* integers and lengths use the shortest head; no indefinite lengths;
* floats are always 64-bit and finite (NaN and ±Inf are refused);
* the only simple values are false, true and null;
* map keys are text strings, sorted length-first then bytewise, no repeats;
* the only tag is 42, a CID: a byte string holding 0x00 then the binary CID.

Data model on the Python side: ``None``, ``bool``, ``int`` (-2**64 ..
2**64-1), ``float``, ``bytes``, ``str``, ``list`` (tuples encode as lists),
``dict`` with ``str`` keys, and :class:`~aura_core.content_id.CID`.
Subclasses of these types (``IntEnum``, ``StrEnum``...), ``bytearray`` and
other ``Mapping`` types are encoded as their base value; decoding always
gives the plain types. Containers nest at most :data:`MAX_DEPTH` deep, both
ways, which also turns reference cycles into an error. ``decode`` raises
only :class:`InvalidEncoding` on any bytes (``InvalidInput`` for a non-bytes
argument).

The hot paths dispatch on the exact type, use precomputed heads and cache
the sorted, pre-encoded key list of each map shape, because every journal
write and every message goes through here.
"""

from __future__ import annotations

import itertools
import math
import struct
from collections.abc import Mapping
from typing import Any

from aura_core.content_id import CID
from aura_core.errors import InvalidEncoding, InvalidIdentifier, InvalidInput

__all__ = ["MAX_DEPTH", "decode", "encode"]

MAX_DEPTH = 256
"""Deepest nesting of arrays and maps accepted by :func:`encode` and :func:`decode`."""

_UINT_MAX = 2**64 - 1
_NEG_MIN = -(2**64)

_MAJOR_UINT = 0x00
_MAJOR_NEGINT = 0x20
_MAJOR_BYTES = 0x40
_MAJOR_TEXT = 0x60
_MAJOR_ARRAY = 0x80
_MAJOR_MAP = 0xA0

_FALSE = b"\xf4"
_TRUE = b"\xf5"
_NULL = b"\xf6"
_CID_TAG = b"\xd8\x2a"

_pack_u8 = struct.Struct(">BB").pack
_pack_u16 = struct.Struct(">BH").pack
_pack_u32 = struct.Struct(">BI").pack
_pack_u64 = struct.Struct(">BQ").pack
_pack_f64 = struct.Struct(">Bd").pack
_unpack_u16 = struct.Struct(">H").unpack_from
_unpack_u32 = struct.Struct(">I").unpack_from
_unpack_u64 = struct.Struct(">Q").unpack_from
_unpack_f64 = struct.Struct(">d").unpack_from
_isfinite = math.isfinite


def _head(major: int, n: int) -> bytes:
    """Shortest head for major type ``major`` (already shifted) and argument ``n``."""
    if n < 24:
        return bytes((major | n,))
    if n < 0x100:
        return _pack_u8(major | 24, n)
    if n < 0x10000:
        return _pack_u16(major | 25, n)
    if n < 0x100000000:
        return _pack_u32(major | 26, n)
    return _pack_u64(major | 27, n)


# Heads for arguments 0..255 of each major type, so the common case is one lookup.
_UINT_HEADS = tuple(_head(_MAJOR_UINT, n) for n in range(256))
_NEGINT_HEADS = tuple(_head(_MAJOR_NEGINT, n) for n in range(256))
_BYTES_HEADS = tuple(_head(_MAJOR_BYTES, n) for n in range(256))
_TEXT_HEADS = tuple(_head(_MAJOR_TEXT, n) for n in range(256))
_ARRAY_HEADS = tuple(_head(_MAJOR_ARRAY, n) for n in range(256))
_MAP_HEADS = tuple(_head(_MAJOR_MAP, n) for n in range(256))


# ---------------------------------------------------------------------------
# Encoding


class _EncodeError(Exception):
    """Internal: an unencodable value; collects the path while unwinding."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path: list[str] = []


_PLAN_CACHE_LIMIT = 4096
_PLAN_MAX_KEYS = 64
_plans: dict[tuple[Any, ...], tuple[tuple[Any, bytes], ...]] = {}
"""Map shape (keys in insertion order) -> keys in canonical order with their encodings."""


def _map_plan(value: Mapping[Any, Any]) -> tuple[tuple[Any, bytes], ...]:
    """Keys of ``value`` in DAG-CBOR order, each with its encoded form."""
    entries = []
    for key in value:
        if type(key) is str:
            text = key
        elif isinstance(key, str):
            text = str.__str__(key)
        else:
            raise _EncodeError(f"map key {key!r:.60} is a {type(key).__name__}, keys must be str")
        try:
            raw = text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise _EncodeError(f"map key {key!r:.60} is not valid Unicode ({exc.reason})") from None
        n = len(raw)
        entries.append((n, raw, key, (_TEXT_HEADS[n] if n < 256 else _head(_MAJOR_TEXT, n)) + raw))
    entries.sort(key=lambda entry: (entry[0], entry[1]))
    for previous, current in itertools.pairwise(entries):
        if previous[1] == current[1]:
            raise _EncodeError(f"two map keys encode to the same string {current[2]!r:.60}")
    return tuple((entry[2], entry[3]) for entry in entries)


def _encode_item(value: Any, append: Any, depth: int) -> None:
    t = type(value)
    if t is bytes:
        n = len(value)
        append(_BYTES_HEADS[n] if n < 256 else _head(_MAJOR_BYTES, n))
        append(value)
    elif t is str:
        try:
            raw = value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise _EncodeError(f"string is not valid Unicode ({exc.reason})") from None
        n = len(raw)
        append(_TEXT_HEADS[n] if n < 256 else _head(_MAJOR_TEXT, n))
        append(raw)
    elif t is int:
        if value >= 0:
            if value < 256:
                append(_UINT_HEADS[value])
            elif value <= _UINT_MAX:
                append(_head(_MAJOR_UINT, value))
            else:
                raise _EncodeError(
                    f"a {value.bit_length()}-bit integer is above the CBOR range (max 2**64-1)"
                )
        else:
            n = -1 - value
            if n < 256:
                append(_NEGINT_HEADS[n])
            elif n <= _UINT_MAX:
                append(_head(_MAJOR_NEGINT, n))
            else:
                raise _EncodeError(
                    f"a {value.bit_length()}-bit negative integer is below the CBOR range (min -2**64)"
                )
    elif t is dict:
        if depth >= MAX_DEPTH:
            raise _EncodeError(f"nesting deeper than {MAX_DEPTH} (or a reference cycle)")
        n = len(value)
        if n == 0:
            append(b"\xa0")
            return
        shape = tuple(value)
        plan = _plans.get(shape)
        if plan is None:
            plan = _map_plan(value)
            if n <= _PLAN_MAX_KEYS and len(_plans) < _PLAN_CACHE_LIMIT:
                _plans[shape] = plan
        append(_MAP_HEADS[n] if n < 256 else _head(_MAJOR_MAP, n))
        depth += 1
        for key, encoded_key in plan:
            append(encoded_key)
            try:
                _encode_item(value[key], append, depth)
            except _EncodeError as exc:
                exc.path.append(str(key))
                raise
    elif t is list or t is tuple:
        if depth >= MAX_DEPTH:
            raise _EncodeError(f"nesting deeper than {MAX_DEPTH} (or a reference cycle)")
        n = len(value)
        append(_ARRAY_HEADS[n] if n < 256 else _head(_MAJOR_ARRAY, n))
        depth += 1
        for index, item in enumerate(value):
            try:
                _encode_item(item, append, depth)
            except _EncodeError as exc:
                exc.path.append(str(index))
                raise
    elif value is None:
        append(_NULL)
    elif value is True:
        append(_TRUE)
    elif value is False:
        append(_FALSE)
    elif t is float:
        if not _isfinite(value):
            raise _EncodeError(f"float {value} is not finite; DAG-CBOR has no NaN or infinity")
        append(_pack_f64(0xFB, value))
    elif t is CID:
        raw = b"\x00" + value.raw
        n = len(raw)
        append(_CID_TAG)
        append(_BYTES_HEADS[n] if n < 256 else _head(_MAJOR_BYTES, n))
        append(raw)
    else:
        _encode_item(_base_value(value), append, depth)


def _base_value(value: Any) -> Any:
    """The plain data-model value behind a subclass or a look-alike type."""
    if isinstance(value, CID):
        return CID(value.raw)
    if isinstance(value, int):  # IntEnum and friends; bool cannot be subclassed
        return int.__int__(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    raise _EncodeError(f"cannot encode a {type(value).__qualname__} as DAG-CBOR")


def encode(value: object) -> bytes:
    """The canonical DAG-CBOR bytes of ``value``.

    Raises :class:`InvalidInput` naming the offending type or value and its
    path (``/key/0/...``) if ``value`` is outside the data model.
    """
    out: list[bytes] = []
    try:
        _encode_item(value, out.append, 0)
    except _EncodeError as exc:
        path = "/" + "/".join(reversed(exc.path))
        raise InvalidInput(f"cannot encode value at {path}: {exc.reason}") from None
    except RecursionError:
        raise InvalidInput("value nests too deeply for the interpreter stack") from None
    return b"".join(out)


# ---------------------------------------------------------------------------
# Decoding


def _fail(reason: str, offset: int) -> InvalidEncoding:
    return InvalidEncoding(f"invalid DAG-CBOR at byte {offset}: {reason}")


def _long_argument(data: bytes, pos: int, info: int, start: int) -> tuple[int, int]:
    """Argument of a head whose additional info is >= 24; return (value, next position).

    ``pos`` is just past the initial byte, ``start`` is the initial byte's offset.
    """
    if info == 24:
        if pos >= len(data):
            raise _fail("truncated head (needs 1 more byte)", start)
        arg = data[pos]
        if arg < 24:
            raise _fail(f"non-minimal encoding: {arg} fits in the initial byte", start)
        return arg, pos + 1
    if info == 25:
        if pos + 2 > len(data):
            raise _fail("truncated head (needs 2 more bytes)", start)
        arg = _unpack_u16(data, pos)[0]
        if arg < 0x100:
            raise _fail(f"non-minimal encoding: {arg} fits in 1 byte but uses 2", start)
        return arg, pos + 2
    if info == 26:
        if pos + 4 > len(data):
            raise _fail("truncated head (needs 4 more bytes)", start)
        arg = _unpack_u32(data, pos)[0]
        if arg < 0x10000:
            raise _fail(f"non-minimal encoding: {arg} fits in 2 bytes but uses 4", start)
        return arg, pos + 4
    if info == 27:
        if pos + 8 > len(data):
            raise _fail("truncated head (needs 8 more bytes)", start)
        arg = _unpack_u64(data, pos)[0]
        if arg < 0x100000000:
            raise _fail(f"non-minimal encoding: {arg} fits in 4 bytes but uses 8", start)
        return arg, pos + 8
    if info == 31:
        raise _fail("indefinite-length items are not allowed", start)
    raise _fail(f"reserved additional information {info}", start)


_KEY_CACHE_LIMIT = 4096
_KEY_CACHE_MAX_LEN = 64
_keys: dict[bytes, str] = {}
"""Encoded map key -> decoded key: skips UTF-8 decoding and shares key strings."""


def _decode_item(data: bytes, pos: int, depth: int, floats: bool) -> tuple[Any, int]:
    """Decode one item starting at ``pos``; return (value, next position)."""
    start = pos
    try:
        initial = data[pos]
    except IndexError:
        raise _fail("truncated input (expected another item)", start) from None
    major = initial >> 5
    info = initial & 0x1F
    pos += 1
    if major == 2 or major == 3:
        if info < 24:
            n = info
        elif info == 24 and pos < len(data) and data[pos] >= 24:
            n = data[pos]
            pos += 1
        else:
            n, pos = _long_argument(data, pos, info, start)
        end = pos + n
        if end > len(data):
            raise _fail(f"truncated string: declares {n} bytes, {len(data) - pos} remain", start)
        if major == 2:
            return data[pos:end], end
        try:
            return data[pos:end].decode("utf-8"), end
        except UnicodeDecodeError as exc:
            raise _fail(f"text string is not valid UTF-8 ({exc.reason})", start) from None
    if major == 0:
        if info < 24:
            return info, pos
        return _long_argument(data, pos, info, start)
    if major == 5:
        if info < 24:
            n = info
        else:
            n, pos = _long_argument(data, pos, info, start)
        if depth >= MAX_DEPTH:
            raise _fail(f"nesting deeper than {MAX_DEPTH}", start)
        if 2 * n > len(data) - pos:
            raise _fail(
                f"truncated map: declares {n} entries, {len(data) - pos} bytes remain", start
            )
        return _decode_map(data, pos, n, depth + 1, floats)
    if major == 4:
        if info < 24:
            n = info
        else:
            n, pos = _long_argument(data, pos, info, start)
        if depth >= MAX_DEPTH:
            raise _fail(f"nesting deeper than {MAX_DEPTH}", start)
        if n > len(data) - pos:
            raise _fail(
                f"truncated array: declares {n} items, {len(data) - pos} bytes remain", start
            )
        depth += 1
        items = []
        append = items.append
        for _ in range(n):
            item, pos = _decode_item(data, pos, depth, floats)
            append(item)
        return items, pos
    if major == 1:
        if info < 24:
            return -1 - info, pos
        n, pos = _long_argument(data, pos, info, start)
        return -1 - n, pos
    if major == 7:
        if info == 20:
            return False, pos
        if info == 21:
            return True, pos
        if info == 22:
            return None, pos
        if info == 27:
            if not floats:
                raise _fail("floats are not allowed here", start)
            if pos + 8 > len(data):
                raise _fail("truncated float64", start)
            number = _unpack_f64(data, pos)[0]
            if not _isfinite(number):
                raise _fail(
                    f"float {number} is not allowed (NaN and infinities are refused)", start
                )
            return number, pos + 8
        if info == 25 or info == 26:
            raise _fail(
                f"float{16 if info == 25 else 32} is not allowed; DAG-CBOR floats are 64-bit", start
            )
        if info == 23:
            raise _fail("undefined is not allowed", start)
        if info == 31:
            raise _fail("unexpected break code (indefinite lengths are not allowed)", start)
        if info < 24:
            raise _fail(f"simple value {info} is not allowed (only false, true, null)", start)
        if info == 24:
            raise _fail("one-byte simple values are not allowed (only false, true, null)", start)
        raise _fail(f"reserved additional information {info}", start)
    # major 6: tags
    if info == 24 and pos < len(data) and data[pos] == 42:
        pos += 1
    else:
        tag = info if info < 24 else _long_argument(data, pos, info, start)[0]
        raise _fail(f"tag {tag} is not allowed (only tag 42, a CID)", start)
    content_start = pos
    if pos >= len(data):
        raise _fail("truncated CID (tag 42 without content)", start)
    content_initial = data[pos]
    if content_initial >> 5 != 2:
        raise _fail("tag 42 must wrap a byte string", content_start)
    info = content_initial & 0x1F
    pos += 1
    if info < 24:
        n = info
    else:
        n, pos = _long_argument(data, pos, info, content_start)
    end = pos + n
    if end > len(data):
        raise _fail(f"truncated CID: declares {n} bytes, {len(data) - pos} remain", content_start)
    if n == 0 or data[pos] != 0:
        raise _fail("CID bytes must start with the 0x00 multibase prefix", content_start)
    try:
        return CID(data[pos + 1 : end]), end
    except InvalidIdentifier as exc:
        raise _fail(f"malformed CID in tag 42: {exc.message}", content_start) from None


def _decode_map(data: bytes, pos: int, n: int, depth: int, floats: bool) -> tuple[Any, int]:
    """Decode ``n`` map entries from ``pos``, checking key type, order and uniqueness."""
    size = len(data)
    result = {}
    previous = b""
    previous_len = -1
    for _ in range(n):
        if pos >= size:
            raise _fail("truncated map (expected another key)", pos)
        key_start = pos
        key_initial = data[pos]
        if 0x60 <= key_initial < 0x78:  # text string shorter than 24 bytes
            klen = key_initial - 0x60
            pos += 1
        elif key_initial >> 5 == 3:
            klen, pos = _long_argument(data, pos + 1, key_initial & 0x1F, key_start)
        else:
            raise _fail(f"map key is major type {key_initial >> 5}, keys must be text", pos)
        end = pos + klen
        if end > size:
            raise _fail(f"truncated map key: declares {klen} bytes", key_start)
        key_raw = data[pos:end]
        if klen <= previous_len and (klen < previous_len or key_raw <= previous):
            if key_raw == previous:
                raise _fail(f"duplicate map key {_show_key(key_raw)}", key_start)
            raise _fail(
                f"map key {_show_key(key_raw)} is out of order (keys sort length-first, then "
                f"bytewise; it follows {_show_key(previous)})",
                key_start,
            )
        previous = key_raw
        previous_len = klen
        key = _keys.get(key_raw)
        if key is None:
            try:
                key = key_raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise _fail(f"map key is not valid UTF-8 ({exc.reason})", key_start) from None
            if len(_keys) < _KEY_CACHE_LIMIT and klen <= _KEY_CACHE_MAX_LEN:
                _keys[key_raw] = key
        # Inline the commonest values (small uints, 24..255-byte byte strings); the rest recurse.
        if end < size:
            value_initial = data[end]
            if value_initial < 24:
                result[key] = value_initial
                pos = end + 1
                continue
            if value_initial == 0x58 and end + 1 < size:
                length = data[end + 1]
                pos = end + 2 + length
                if length >= 24 and pos <= size:
                    result[key] = data[end + 2 : pos]
                    continue
        result[key], pos = _decode_item(data, end, depth, floats)
    return result, pos


def _show_key(raw: bytes) -> str:
    try:
        text = repr(raw.decode("utf-8"))
    except UnicodeDecodeError:
        text = f"0x{raw.hex()}"
    return text if len(text) <= 60 else text[:57] + "..."


def decode(data: bytes, *, allow_floats: bool = True) -> Any:
    """Decode exactly one canonical DAG-CBOR item, refusing any other encoding.

    Every refusal is an :class:`InvalidEncoding` whose message names the rule
    broken and the byte offset. ``allow_floats=False`` also refuses floats
    (for formats, like facts, where floats have no business).
    """
    if type(data) is not bytes:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidInput(f"decode needs bytes, got {type(data).__name__}")
        data = bytes(data)
    try:
        value, end = _decode_item(data, 0, 0, allow_floats)
    except RecursionError:
        raise InvalidEncoding(
            "invalid DAG-CBOR: nests too deeply for the interpreter stack"
        ) from None
    if end != len(data):
        raise _fail(f"trailing data: {len(data) - end} bytes after the item", end)
    return value
