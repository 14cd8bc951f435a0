"""Sorted ids with prefix sums, so the fingerprint of any id range costs O(log n).

Range-based set reconciliation asks, over and over, "what is the fingerprint
of my ids between these two bounds?". Each id maps to a 256-bit integer
(BLAKE3 of a domain tag and the id); a range's fingerprint hashes the sum of
those integers modulo 2**256 together with the range's size. Sums are
additive, so one array of prefix sums over the sorted ids answers any range
with two bisections and one subtraction.

Inserting ids keeps the list sorted; the prefix sums are rebuilt lazily, once,
before the next fingerprint (a linear pass in C over the sorted ids), so a
batch of arrivals costs one rebuild, not one per id.

The sum modulo 2**256 is an incremental (AdHash-style) hash: fine for honest
replicas and for ids that are content hashes, which nobody can choose
freely. Someone able to mint many facts could in principle search for two
different id sets with equal sums (generalised birthday); the consequence is
a range treated as equal, i.e. a fact that spreads more slowly, never a
wrong fact accepted.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator
from itertools import accumulate

import blake3

from aura_core.errors import InvalidInput

__all__ = [
    "FINGERPRINT_SIZE",
    "MAX_ID_BYTES",
    "FingerprintIndex",
    "check_id",
    "fingerprint_of",
    "separating_bound",
]

FINGERPRINT_SIZE = 16
"""Bytes of a range fingerprint on the wire."""

MAX_ID_BYTES = 64
"""Longest id accepted (a CIDv1 with a 32-byte digest is 36 bytes)."""

_MASK = (1 << 256) - 1
_ITEM_TAG = b"\x17AURA_ANTI_ENTROPY_ID_V1"
_FINGERPRINT_TAG = b"\x17AURA_ANTI_ENTROPY_FP_V1"
_new_blake3 = blake3.blake3
_from_bytes = int.from_bytes


def _item_value(item: bytes) -> int:
    return _from_bytes(_new_blake3(_ITEM_TAG + item).digest(), "little")


def fingerprint_of(total: int, count: int) -> bytes:
    """The wire fingerprint of a range whose item values sum to ``total`` over ``count`` ids."""
    material = (
        _FINGERPRINT_TAG + (total & _MASK).to_bytes(32, "little") + count.to_bytes(8, "little")
    )
    return _new_blake3(material).digest(length=FINGERPRINT_SIZE)


def separating_bound(below: bytes, above: bytes) -> bytes:
    """The shortest prefix ``p`` of ``above`` with ``below < p <= above``.

    Used as a range boundary: every id up to ``below`` sorts before it and
    ``above`` does not, and it is usually far shorter than a whole id.
    """
    limit = min(len(below), len(above))
    index = 0
    while index < limit and below[index] == above[index]:
        index += 1
    return above[: index + 1]


def check_id(item: object) -> bytes:
    """Return ``item`` if it is a usable id (1..64 bytes), else raise :class:`InvalidInput`."""
    if type(item) is not bytes:
        raise InvalidInput(f"ids must be bytes, got {type(item).__name__}")
    if not 0 < len(item) <= MAX_ID_BYTES:
        raise InvalidInput(f"ids must be 1..{MAX_ID_BYTES} bytes, got {len(item)}")
    return item


class FingerprintIndex:
    """A growing set of byte-string ids in sorted order, with range fingerprints.

    Ids are compared as byte strings. ``None`` as a bound means "past every
    id"; the empty byte string is the lowest bound.

    Sums come from two layers: prefix sums over the ids present at the last
    rebuild, and prefix sums over the (few) ids added since. A range's sum is
    one lookup in each, so facts arriving during a session do not force a
    linear rebuild before the next fingerprint; the recent layer is folded
    into the base once it grows past ``max(1024, n / 32)``.
    """

    __slots__ = ("_base", "_base_prefix", "_ids", "_recent", "_recent_prefix", "_values")

    def __init__(self, ids: Iterable[bytes] = ()) -> None:
        self._values: dict[bytes, int] = {}
        self._ids: list[bytes] = []
        self._base: list[bytes] = []
        self._base_prefix: list[int] | None = None
        self._recent: list[bytes] = []
        self._recent_prefix: list[int] | None = [0]
        self.add_many(ids)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, item: object) -> bool:
        return item in self._values

    def __iter__(self) -> Iterator[bytes]:
        return iter(list(self._ids))

    def add(self, item: bytes) -> bool:
        """Insert one id; returns ``False`` if it was already present."""
        check_id(item)
        if item in self._values:
            return False
        self._values[item] = _item_value(item)
        insort(self._ids, item)
        self._note_recent((item,))
        return True

    def add_many(self, items: Iterable[bytes]) -> int:
        """Insert ids in one batch (one sort); returns how many were new."""
        values = self._values
        fresh = {
            check_id(item): None for item in items if type(item) is not bytes or item not in values
        }
        if not fresh:
            return 0
        for item in fresh:
            values[item] = _item_value(item)
        if len(fresh) * 16 < len(self._ids):
            for item in fresh:
                insort(self._ids, item)
        else:
            self._ids.extend(fresh)
            self._ids.sort()
        self._note_recent(fresh)
        return len(fresh)

    def _note_recent(self, items: Iterable[bytes]) -> None:
        if self._base_prefix is None:
            return  # nothing folded yet: the next read builds the base from everything
        recent = self._recent
        for item in items:
            insort(recent, item)
        if len(recent) > max(1024, len(self._ids) >> 5):
            self._base_prefix = None  # fold on the next read
        else:
            self._recent_prefix = None

    # ------------------------------------------------------------------ ranges

    def position(self, bound: bytes | None) -> int:
        """Index of the first id ``>= bound`` (``len(self)`` for ``None``)."""
        if bound is None:
            return len(self._ids)
        return bisect_left(self._ids, bound)

    def id_at(self, index: int) -> bytes:
        return self._ids[index]

    def ids(self, start: int, stop: int) -> list[bytes]:
        """Ids at sorted positions ``start .. stop-1``."""
        return self._ids[start:stop]

    def fingerprint(self, start: int, stop: int) -> bytes:
        """Fingerprint of the ids at sorted positions ``start .. stop-1``."""
        return fingerprint_of(self._sum(start, stop), stop - start)

    def split(self, start: int, stop: int, parts: int) -> list[tuple[int, bytes | None, bytes]]:
        """Cut positions ``start .. stop-1`` into ``parts`` near-equal runs.

        Returns ``(stop, bound, fingerprint)`` per run, where ``bound`` is the
        shortest separator between the run's last id and the next run's first
        (``None`` for the final run: the caller knows its upper bound).
        """
        ids = self._ids
        count = stop - start
        out: list[tuple[int, bytes | None, bytes]] = []
        run_start = start
        for part in range(1, parts + 1):
            if part == parts:
                run_stop, bound = stop, None
            else:
                run_stop = start + count * part // parts
                bound = separating_bound(ids[run_stop - 1], ids[run_stop])
            total = self._sum(run_start, run_stop)
            out.append((run_stop, bound, fingerprint_of(total, run_stop - run_start)))
            run_start = run_stop
        return out

    def digest(self) -> bytes:
        """Fingerprint of the whole set."""
        return self.fingerprint(0, len(self._ids))

    def _sum(self, start: int, stop: int) -> int:
        """Sum of item values at merged positions ``start .. stop-1`` (not reduced)."""
        base_prefix = self._base_prefix
        if base_prefix is None:
            base_prefix = self._fold()
        recent = self._recent
        if not recent:
            return base_prefix[stop] - base_prefix[start]
        recent_prefix = self._recent_prefix
        if recent_prefix is None:
            values = self._values
            recent_prefix = list(accumulate(map(values.__getitem__, recent), initial=0))
            self._recent_prefix = recent_prefix
        ids, base = self._ids, self._base
        length = len(ids)
        if start >= stop:
            return 0
        low = ids[start]
        base_low, recent_low = bisect_left(base, low), bisect_left(recent, low)
        if stop >= length:
            base_high, recent_high = len(base), len(recent)
        else:
            high = ids[stop]
            base_high, recent_high = bisect_left(base, high), bisect_left(recent, high)
        return (
            base_prefix[base_high]
            - base_prefix[base_low]
            + recent_prefix[recent_high]
            - recent_prefix[recent_low]
        )

    def _fold(self) -> list[int]:
        values = self._values
        self._base = list(self._ids)
        prefix = list(accumulate(map(values.__getitem__, self._base), initial=0))
        self._base_prefix = prefix
        self._recent = []
        self._recent_prefix = [0]
        return prefix
