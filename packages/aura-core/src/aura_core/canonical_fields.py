"""Strict readers for decoded canonical (DAG-CBOR) values.

Facts, wire messages and stored rows all arrive as plain decoded data (maps,
lists, ints, bytes, text). Every layer checks such data field by field with
these readers, which raise :class:`~aura_core.errors.InvalidEncoding` naming
the field and the rule it broke — so every typed decoder rejects hostile
input with one documented error and a message that says what was wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from aura_core import dag_cbor
from aura_core.content_id import CID
from aura_core.errors import InvalidEncoding, InvalidInput
from aura_core.identifiers import AuthorityId, ContextId, Hash32

__all__ = [
    "U16_MAX",
    "U32_MAX",
    "U64_MAX",
    "as_encoding_error",
    "check_text",
    "decode_canonical",
    "of_type",
    "read_authority",
    "read_bool",
    "read_bytes",
    "read_choice",
    "read_cid",
    "read_context",
    "read_hash",
    "read_list",
    "read_map",
    "read_str",
    "read_text",
    "read_uint",
]

U16_MAX = 2**16 - 1
U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1
_KEY_SETS: dict[tuple[str, ...], frozenset[str]] = {}


def decode_canonical(data: object, what: str, *, max_bytes: int) -> Any:
    """One canonical DAG-CBOR item (no floats) of at most ``max_bytes`` bytes."""
    if type(data) is not bytes:
        raise InvalidEncoding(f"{what} must be bytes, got {type(data).__name__}")
    if len(data) > max_bytes:
        raise InvalidEncoding(f"{what} is {len(data)} bytes, more than {max_bytes}")
    try:
        return dag_cbor.decode(data, allow_floats=False)
    except InvalidEncoding as exc:
        raise InvalidEncoding(f"{what} is not canonical DAG-CBOR: {exc.message}") from None


def read_map(
    value: object, what: str, required: Iterable[str], optional: Iterable[str] = ()
) -> dict[str, Any]:
    """``value`` as a map holding every ``required`` key and no keys beyond ``optional``."""
    if type(value) is not dict:
        raise InvalidEncoding(f"{what} must be a map, got {type(value).__name__}")
    if not optional:
        if type(required) is tuple:
            expected = _KEY_SETS.get(required)
            if expected is None:
                expected = _KEY_SETS[required] = frozenset(required)
        elif type(required) is frozenset:
            expected = required
        else:
            expected = None
        if expected is not None and value.keys() == expected:
            return value  # the common case: exactly the required fields
    required_keys = set(required)
    missing = required_keys - value.keys()
    if missing:
        raise InvalidEncoding(f"{what} is missing field(s) {sorted(missing)}")
    extra = value.keys() - required_keys - set(optional)
    if extra:
        raise InvalidEncoding(f"{what} has unexpected field(s) {sorted(map(str, extra))[:5]}")
    return value


def read_bytes(
    value: object, what: str, *, size: int | None = None, max_size: int = 1 << 20
) -> bytes:
    if type(value) is not bytes:
        raise InvalidEncoding(f"{what} must be bytes, got {type(value).__name__}")
    if size is not None and len(value) != size:
        raise InvalidEncoding(f"{what} must be {size} bytes, got {len(value)}")
    if len(value) > max_size:
        raise InvalidEncoding(f"{what} is {len(value)} bytes, more than {max_size}")
    return value


def read_uint(value: object, what: str, *, minimum: int = 0, maximum: int = U64_MAX) -> int:
    if type(value) is not int:
        raise InvalidEncoding(f"{what} must be an integer, got {type(value).__name__}")
    if not minimum <= value <= maximum:
        raise InvalidEncoding(f"{what} must be in {minimum}..{maximum}, got {value}")
    return value


def read_bool(value: object, what: str) -> bool:
    if type(value) is not bool:
        raise InvalidEncoding(f"{what} must be a boolean, got {type(value).__name__}")
    return value


def read_str(value: object, what: str, *, max_length: int = 256, min_length: int = 0) -> str:
    if type(value) is not str:
        raise InvalidEncoding(f"{what} must be a text string, got {type(value).__name__}")
    if not min_length <= len(value) <= max_length:
        raise InvalidEncoding(
            f"{what} must be {min_length}..{max_length} characters, got {len(value)}"
        )
    return value


def read_text(value: object, what: str, *, max_length: int, min_length: int = 0) -> str:
    """Human-readable text: no control characters (they could spoof a user interface)."""
    text = read_str(value, what, max_length=max_length, min_length=min_length)
    if any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in text):
        raise InvalidEncoding(f"{what} contains control characters")
    return text


def check_text(value: object, what: str, *, max_length: int, min_length: int = 0) -> str:
    """The rule of :func:`read_text` for a caller's argument (raises ``InvalidInput``)."""
    try:
        return read_text(value, what, max_length=max_length, min_length=min_length)
    except InvalidEncoding as exc:
        raise InvalidInput(exc.message) from None


def read_choice(value: object, what: str, choices: Iterable[str]) -> str:
    allowed = tuple(choices)
    if type(value) is not str or value not in allowed:
        raise InvalidEncoding(f"{what} must be one of {list(allowed)}, got {value!r:.60}")
    return value


def read_list(
    value: object, what: str, *, max_items: int = 1 << 20, min_items: int = 0
) -> list[Any]:
    if type(value) is not list:
        raise InvalidEncoding(f"{what} must be a list, got {type(value).__name__}")
    if not min_items <= len(value) <= max_items:
        raise InvalidEncoding(f"{what} must hold {min_items}..{max_items} items, got {len(value)}")
    return value


def read_cid(value: object, what: str) -> CID:
    if not isinstance(value, CID):
        raise InvalidEncoding(f"{what} must be a CID link, got {type(value).__name__}")
    return value


def read_authority(value: object, what: str) -> AuthorityId:
    return AuthorityId(read_bytes(value, what, size=16))


def read_context(value: object, what: str) -> ContextId:
    return ContextId(read_bytes(value, what, size=16))


def read_hash(value: object, what: str, kind: type[Hash32] = Hash32) -> Hash32:
    return kind(read_bytes(value, what, size=32))


def as_encoding_error(what: str, exc: InvalidInput) -> InvalidEncoding:
    """A constructor's ``InvalidInput`` for a decoded value, as the decoder's ``InvalidEncoding``."""
    if isinstance(exc, InvalidEncoding):
        return exc
    return InvalidEncoding(f"{what}: {exc.message}")


def of_type(*types: type) -> Callable[[object, Any, object], None]:
    """An attrs validator like ``instance_of`` that raises ``InvalidInput`` (our error family)."""
    names = " or ".join(t.__name__ for t in types)

    def check(instance: object, attribute: Any, value: object) -> None:
        if not isinstance(value, types):
            raise InvalidInput(
                f"{type(instance).__name__}.{attribute.name} must be {names}, got {type(value).__name__}"
            )

    return check
