"""The four time domains and the ``TimeStamp`` that holds one of them.

Different jobs need different notions of time: physical time (with an
uncertainty) for expiry, logical time (vector + Lamport) for causality, an
opaque order token for deterministic ordering without leaking when something
happened, and a range for validity windows. Facts sort by ``OrderTime``,
never by wall-clock time. Each value converts to and from a canonical
(DAG-CBOR-ready) form with strict checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from aura_core.errors import InvalidEncoding, InvalidInput
from aura_core.identifiers import DeviceId

__all__ = [
    "LogicalTime",
    "OrderTime",
    "PhysicalTime",
    "RangeTime",
    "TimeStamp",
    "timestamp_from_canonical",
    "timestamp_to_canonical",
]

_U64_MAX = 2**64 - 1


def _check_u64(name: str, value: object) -> None:
    if type(value) is not int or not 0 <= value <= _U64_MAX:
        raise InvalidInput(f"{name} must be an integer in 0..2**64-1, got {value!r}")


@attrs.frozen(order=True)
class PhysicalTime:
    """Wall-clock milliseconds since the Unix epoch, with an optional uncertainty bound."""

    ts_ms: int
    uncertainty_ms: int | None = None

    def __attrs_post_init__(self) -> None:
        _check_u64("PhysicalTime.ts_ms", self.ts_ms)
        if self.uncertainty_ms is not None:
            _check_u64("PhysicalTime.uncertainty_ms", self.uncertainty_ms)

    @property
    def earliest_ms(self) -> int:
        return max(0, self.ts_ms - (self.uncertainty_ms or 0))

    @property
    def latest_ms(self) -> int:
        return self.ts_ms + (self.uncertainty_ms or 0)


@attrs.frozen
class LogicalTime:
    """A vector clock (per device) plus a Lamport counter for a total causal order.

    ``vector`` is kept as a tuple of ``(DeviceId, counter)`` sorted by device so
    equal clocks are equal values and encode to equal bytes.
    """

    vector: tuple[tuple[DeviceId, int], ...] = ()
    lamport: int = 0

    def __attrs_post_init__(self) -> None:
        _check_u64("LogicalTime.lamport", self.lamport)
        previous: DeviceId | None = None
        for entry in self.vector:
            if not (
                isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], DeviceId)
            ):
                raise InvalidInput(
                    f"LogicalTime.vector entries must be (DeviceId, int), got {entry!r}"
                )
            device, counter = entry
            _check_u64(f"LogicalTime counter of {device}", counter)
            if previous is not None and not previous < device:
                raise InvalidInput("LogicalTime.vector must be sorted by device with no duplicates")
            previous = device

    @classmethod
    def from_mapping(cls, counters: Mapping[DeviceId, int], lamport: int = 0) -> LogicalTime:
        return cls(tuple(sorted(counters.items())), lamport)

    def counters(self) -> dict[DeviceId, int]:
        return dict(self.vector)

    def tick(self, device: DeviceId) -> LogicalTime:
        """The clock after a local event on ``device``."""
        counters = self.counters()
        counters[device] = counters.get(device, 0) + 1
        return LogicalTime.from_mapping(counters, self.lamport + 1)

    def merge(self, other: LogicalTime) -> LogicalTime:
        """Pointwise maximum (the join of vector clocks); Lamport takes the maximum."""
        counters = self.counters()
        for device, counter in other.vector:
            counters[device] = max(counters.get(device, 0), counter)
        return LogicalTime.from_mapping(counters, max(self.lamport, other.lamport))

    def happened_before(self, other: LogicalTime) -> bool:
        """True if every counter is <= the other's and at least one is smaller."""
        mine, theirs = self.counters(), other.counters()
        devices = mine.keys() | theirs.keys()
        not_after = all(mine.get(d, 0) <= theirs.get(d, 0) for d in devices)
        return not_after and any(mine.get(d, 0) < theirs.get(d, 0) for d in devices)

    def concurrent_with(self, other: LogicalTime) -> bool:
        mine, theirs = self.counters(), other.counters()
        devices = mine.keys() | theirs.keys()
        same = all(mine.get(d, 0) == theirs.get(d, 0) for d in devices)
        return not same and not self.happened_before(other) and not other.happened_before(self)


@attrs.frozen(order=True, repr=False)
class OrderTime:
    """An opaque 32-byte ordering token: sorts deterministically, reveals no time."""

    token: bytes

    def __attrs_post_init__(self) -> None:
        if type(self.token) is not bytes or len(self.token) != 32:
            raise InvalidInput(
                f"OrderTime needs a 32-byte token, got {len(self.token) if isinstance(self.token, bytes) else type(self.token).__name__}"
            )

    def __repr__(self) -> str:
        return f"OrderTime({self.token.hex()[:16]}…)"


@attrs.frozen(order=True)
class RangeTime:
    """A validity window in milliseconds: ``earliest_ms <= t <= latest_ms``."""

    earliest_ms: int
    latest_ms: int

    def __attrs_post_init__(self) -> None:
        _check_u64("RangeTime.earliest_ms", self.earliest_ms)
        _check_u64("RangeTime.latest_ms", self.latest_ms)
        if self.earliest_ms > self.latest_ms:
            raise InvalidInput(
                f"RangeTime: earliest_ms {self.earliest_ms} is after latest_ms {self.latest_ms}"
            )

    def contains(self, moment: PhysicalTime) -> bool:
        """True if the moment certainly lies in the window (uncertainty included)."""
        return self.earliest_ms <= moment.earliest_ms and moment.latest_ms <= self.latest_ms


TimeStamp = PhysicalTime | LogicalTime | OrderTime | RangeTime
"""Any of the four time domains."""


def timestamp_to_canonical(stamp: TimeStamp) -> dict[str, Any]:
    """The DAG-CBOR-ready form: a map with a ``domain`` tag and the domain's fields."""
    if isinstance(stamp, PhysicalTime):
        out: dict[str, Any] = {"domain": "physical", "ts_ms": stamp.ts_ms}
        if stamp.uncertainty_ms is not None:
            out["uncertainty_ms"] = stamp.uncertainty_ms
        return out
    if isinstance(stamp, LogicalTime):
        return {
            "domain": "logical",
            "lamport": stamp.lamport,
            "vector": [[device.raw, counter] for device, counter in stamp.vector],
        }
    if isinstance(stamp, OrderTime):
        return {"domain": "order", "token": stamp.token}
    if isinstance(stamp, RangeTime):
        return {"domain": "range", "earliest_ms": stamp.earliest_ms, "latest_ms": stamp.latest_ms}
    raise InvalidInput(f"not a TimeStamp: {type(stamp).__name__}")


_FIELDS = {
    "physical": ({"domain", "ts_ms"}, {"uncertainty_ms"}),
    "logical": ({"domain", "lamport", "vector"}, set()),
    "order": ({"domain", "token"}, set()),
    "range": ({"domain", "earliest_ms", "latest_ms"}, set()),
}


def timestamp_from_canonical(value: object) -> TimeStamp:
    """Strict inverse of :func:`timestamp_to_canonical`; raises ``InvalidEncoding``."""
    if not isinstance(value, dict):
        raise InvalidEncoding(f"timestamp must be a map, got {type(value).__name__}")
    domain = value.get("domain")
    if domain not in _FIELDS:
        raise InvalidEncoding(f"timestamp has unknown domain {domain!r}")
    required, optional = _FIELDS[domain]
    keys = set(value)
    if not required <= keys or keys - required - optional:
        raise InvalidEncoding(
            f"{domain} timestamp fields must be {sorted(required)} (+ optional {sorted(optional)}), got {sorted(keys)}"
        )
    try:
        if domain == "physical":
            return PhysicalTime(value["ts_ms"], value.get("uncertainty_ms"))
        if domain == "order":
            return OrderTime(value["token"])
        if domain == "range":
            return RangeTime(value["earliest_ms"], value["latest_ms"])
        vector = value["vector"]
        if not isinstance(vector, list):
            raise InvalidEncoding("logical timestamp vector must be a list")
        entries = []
        for entry in vector:
            if not (isinstance(entry, list) and len(entry) == 2):
                raise InvalidEncoding("logical timestamp vector entries must be [device, counter]")
            entries.append((DeviceId(entry[0]), entry[1]))
        return LogicalTime(tuple(entries), value["lamport"])
    except InvalidEncoding:
        raise
    except InvalidInput as exc:
        raise InvalidEncoding(f"invalid {domain} timestamp: {exc}") from None
