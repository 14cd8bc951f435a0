"""Strict readers for decoded consensus messages and facts.

Every wire value arrives as plain DAG-CBOR data (maps, lists, ints, bytes).
These readers check shape and range field by field and raise
:class:`~aura_core.errors.InvalidEncoding` naming the field, so every decoder
in the package rejects hostile input with one error type and a useful message.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable
from typing import Any

from aura_core.crypto import SigningCommitments
from aura_core.crypto.ed25519_group import Element, deserialize_element
from aura_core.errors import AuraError, InvalidEncoding

U64_MAX = 2**64 - 1


def read_map(
    value: object, what: str, required: Iterable[str], optional: Iterable[str] = ()
) -> dict[str, Any]:
    """``value`` as a map holding every ``required`` key and no keys but ``optional`` others."""
    if type(value) is not dict:
        raise InvalidEncoding(f"{what} must be a map, got {type(value).__name__}")
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


def read_str(value: object, what: str, choices: Iterable[str]) -> str:
    options = tuple(choices)
    if type(value) is not str or value not in options:
        raise InvalidEncoding(f"{what} must be one of {list(options)}, got {value!r:.40}")
    return value


def read_list(value: object, what: str, *, max_items: int) -> list[Any]:
    if type(value) is not list:
        raise InvalidEncoding(f"{what} must be a list, got {type(value).__name__}")
    if len(value) > max_items:
        raise InvalidEncoding(f"{what} has {len(value)} items, more than {max_items}")
    return value


def read_ids(value: object, what: str, *, max_items: int) -> tuple[int, ...]:
    """A strictly ascending list of participant identifiers (1..65535)."""
    items = read_list(value, what, max_items=max_items)
    ids = tuple(read_uint(item, f"{what} entry", minimum=1, maximum=65535) for item in items)
    for previous, current in itertools.pairwise(ids):
        if current <= previous:
            raise InvalidEncoding(
                f"{what} must be strictly ascending, got {previous} then {current}"
            )
    return ids


def commitments_to_canonical(commitments: Iterable[SigningCommitments]) -> list[list[Any]]:
    return [[c.identifier, bytes(c.hiding), bytes(c.binding)] for c in commitments]


@functools.lru_cache(maxsize=8192)
def _valid_element(raw: bytes) -> Element:
    """Validate a point encoding once: gossip repeats the same commitments many times,
    and the prime-order check costs a scalar multiplication. Failures are not cached."""
    return deserialize_element(raw, name="point")


def _element(value: object, what: str) -> Element:
    raw = read_bytes(value, what, size=32)
    try:
        return _valid_element(raw)
    except InvalidEncoding as exc:
        raise InvalidEncoding(f"{what}: {exc.message}") from None


def read_commitment(value: object, what: str) -> SigningCommitments:
    """``[identifier, hiding, binding]`` with both points valid prime-order encodings."""
    items = read_list(value, what, max_items=3)
    if len(items) != 3:
        raise InvalidEncoding(f"{what} must be [identifier, hiding, binding]")
    identifier = read_uint(items[0], f"{what} identifier", minimum=1, maximum=65535)
    hiding = _element(items[1], f"{what} hiding")
    binding = _element(items[2], f"{what} binding")
    try:
        return SigningCommitments(identifier, hiding, binding)
    except InvalidEncoding:
        raise
    except AuraError as exc:
        raise InvalidEncoding(f"{what}: {exc.message}") from None


def read_commitment_list(
    value: object, what: str, *, max_items: int
) -> tuple[SigningCommitments, ...]:
    """A list of commitments strictly ascending by identifier (a signing package's order)."""
    items = read_list(value, what, max_items=max_items)
    out = tuple(read_commitment(item, f"{what} entry") for item in items)
    for previous, current in itertools.pairwise(out):
        if current.identifier <= previous.identifier:
            raise InvalidEncoding(f"{what} must be sorted by identifier without repeats")
    return out
