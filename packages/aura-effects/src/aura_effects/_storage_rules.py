"""Argument rules every storage backend enforces identically (so they pass one test suite)."""

from __future__ import annotations

import re

from aura_core.errors import InvalidInput

_TABLE_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
MAX_KEY_BYTES = 1024
MAX_NAME_CHARS = 256


def check_table(table: object) -> str:
    if not isinstance(table, str) or _TABLE_NAME.fullmatch(table) is None:
        raise InvalidInput(f"table name must match [a-z][a-z0-9_]{{0,63}}, got {table!r}")
    return table


def check_key(key: object, *, what: str = "key") -> bytes:
    if type(key) is not bytes:
        raise InvalidInput(f"storage {what} must be bytes, got {type(key).__name__}")
    if len(key) > MAX_KEY_BYTES:
        raise InvalidInput(f"storage {what} is {len(key)} bytes; at most {MAX_KEY_BYTES} allowed")
    return key


def check_value(value: object, *, what: str = "value") -> bytes:
    if type(value) is not bytes:
        raise InvalidInput(f"storage {what} must be bytes, got {type(value).__name__}")
    return value


def check_name(name: object, *, what: str) -> str:
    if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME_CHARS or "\x00" in name:
        raise InvalidInput(
            f"{what} must be a non-empty string of at most {MAX_NAME_CHARS} characters without NUL, got {name!r:.80}"
        )
    return name


def check_limit(limit: object) -> int | None:
    if limit is None:
        return None
    if type(limit) is not int or limit < 0:
        raise InvalidInput(f"limit must be a non-negative int or None, got {limit!r}")
    return limit


def check_seq(seq: object, *, what: str) -> int:
    if type(seq) is not int or seq < 0:
        raise InvalidInput(f"{what} must be a non-negative int, got {seq!r}")
    return seq


def prefix_upper_bound(prefix: bytes) -> bytes | None:
    """The smallest key greater than every key starting with ``prefix`` (None: no bound)."""
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return None
    return trimmed[:-1] + bytes([trimmed[-1] + 1])
