"""Strict readers for the decoded DAG-CBOR values of receipts, envelopes and ledger rows.

Every reader raises :class:`~aura_core.errors.InvalidEncoding` naming the
field, so a decoder fed hostile bytes fails with one documented error.
"""

from __future__ import annotations

from typing import Any

from aura_core import dag_cbor
from aura_core.errors import InvalidEncoding

U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1


def decode_strict(data: object, what: str, *, max_bytes: int) -> Any:
    """Canonical DAG-CBOR (no floats) of at most ``max_bytes``."""
    if type(data) is not bytes:
        raise InvalidEncoding(f"{what} must be bytes, got {type(data).__name__}")
    if len(data) > max_bytes:
        raise InvalidEncoding(f"{what} is {len(data)} bytes, more than {max_bytes}")
    return dag_cbor.decode(data, allow_floats=False)


def read_map(value: object, what: str, keys: frozenset[str]) -> dict[str, Any]:
    if type(value) is not dict:
        raise InvalidEncoding(f"{what} must be a map, got {type(value).__name__}")
    if value.keys() != keys:
        missing = sorted(keys - value.keys())
        extra = sorted(str(k) for k in value.keys() - keys)[:5]
        raise InvalidEncoding(f"{what} fields are wrong (missing {missing}, unexpected {extra})")
    return value


def read_bytes(value: object, what: str, *, size: int | None = None, max_size: int) -> bytes:
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


def read_str(value: object, what: str, *, max_length: int) -> str:
    if type(value) is not str:
        raise InvalidEncoding(f"{what} must be a string, got {type(value).__name__}")
    if not value or len(value) > max_length:
        raise InvalidEncoding(f"{what} must be 1..{max_length} characters, got {len(value)}")
    return value


def read_list(value: object, what: str, *, max_items: int, min_items: int = 0) -> list[Any]:
    if type(value) is not list:
        raise InvalidEncoding(f"{what} must be a list, got {type(value).__name__}")
    if not min_items <= len(value) <= max_items:
        raise InvalidEncoding(f"{what} must hold {min_items}..{max_items} items, got {len(value)}")
    return value
