"""Strict readers for decoded canonical values.

Fact bodies arrive as plain DAG-CBOR values (maps, lists, ints, bytes). These
readers check shape and range field by field and raise ``InvalidEncoding``
naming the field, so every typed body decoder rejects hostile input with one
error type and a message that says what was wrong.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aura_core.content_id import CID
from aura_core.errors import InvalidEncoding, InvalidInput

U64_MAX = 2**64 - 1
U32_MAX = 2**32 - 1
_KEY_SETS: dict[tuple[str, ...], frozenset[str]] = {}


def read_map(
    value: object, what: str, required: Iterable[str], optional: Iterable[str] = ()
) -> dict[str, Any]:
    """``value`` as a map holding every ``required`` key, only ``optional`` others."""
    if type(value) is not dict:
        raise InvalidEncoding(f"{what} must be a map, got {type(value).__name__}")
    if not optional and type(required) is tuple:
        expected = _KEY_SETS.get(required)
        if expected is None:
            expected = _KEY_SETS[required] = frozenset(required)
        if value.keys() == expected:
            return value  # the common case: exactly the required fields
    required_keys = set(required)
    keys = value.keys()
    missing = required_keys - keys
    if missing:
        raise InvalidEncoding(f"{what} is missing field(s) {sorted(missing)}")
    extra = keys - required_keys - set(optional)
    if extra:
        raise InvalidEncoding(f"{what} has unexpected field(s) {sorted(extra)[:5]}")
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


def read_uint(value: object, what: str, *, maximum: int = U64_MAX, minimum: int = 0) -> int:
    if type(value) is not int:
        raise InvalidEncoding(f"{what} must be an integer, got {type(value).__name__}")
    if not minimum <= value <= maximum:
        raise InvalidEncoding(f"{what} must be in {minimum}..{maximum}, got {value}")
    return value


def read_str(value: object, what: str, *, max_length: int = 256) -> str:
    if type(value) is not str:
        raise InvalidEncoding(f"{what} must be a text string, got {type(value).__name__}")
    if len(value) > max_length:
        raise InvalidEncoding(f"{what} is longer than {max_length} characters")
    return value


def read_list(value: object, what: str, *, max_items: int = 1 << 20) -> list[Any]:
    if type(value) is not list:
        raise InvalidEncoding(f"{what} must be a list, got {type(value).__name__}")
    if len(value) > max_items:
        raise InvalidEncoding(f"{what} has {len(value)} items, more than {max_items}")
    return value


def read_cid(value: object, what: str) -> CID:
    if not isinstance(value, CID):
        raise InvalidEncoding(f"{what} must be a CID link, got {type(value).__name__}")
    return value


def read_enum(value: object, what: str, choices: Iterable[str]) -> str:
    allowed = tuple(choices)
    if type(value) is not str or value not in allowed:
        raise InvalidEncoding(f"{what} must be one of {list(allowed)}, got {value!r:.60}")
    return value


def of_type(*types: type) -> Any:
    """An attrs validator like ``instance_of`` that raises ``InvalidInput`` (our error family)."""
    names = " or ".join(t.__name__ for t in types)

    def check(instance: object, attribute: Any, value: object) -> None:
        if not isinstance(value, types):
            raise InvalidInput(
                f"{type(instance).__name__}.{attribute.name} must be {names}, got {type(value).__name__}"
            )

    return check
