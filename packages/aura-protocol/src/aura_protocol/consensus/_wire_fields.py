"""Strict readers for the consensus-specific parts of decoded messages and facts.

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

from aura_core.canonical_fields import read_bytes, read_list, read_uint
from aura_core.crypto import SigningCommitments
from aura_core.crypto.ed25519_group import Element, deserialize_element
from aura_core.errors import AuraError, InvalidEncoding


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
