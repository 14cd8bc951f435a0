"""Time domains: validation, vector-clock laws, canonical round trip."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aura_core import (
    DeviceId,
    InvalidEncoding,
    InvalidInput,
    LogicalTime,
    OrderTime,
    PhysicalTime,
    RangeTime,
    check_semilattice_laws,
    timestamp_from_canonical,
    timestamp_to_canonical,
)

devices = st.binary(min_size=16, max_size=16).map(DeviceId)
u64 = st.integers(min_value=0, max_value=2**64 - 1)
logical_times = st.builds(
    LogicalTime.from_mapping,
    st.dictionaries(devices, st.integers(0, 1000), max_size=4),
    st.integers(0, 10_000),
)
physical_times = st.builds(PhysicalTime, u64, st.none() | st.integers(0, 10_000))
order_times = st.binary(min_size=32, max_size=32).map(OrderTime)
range_times = st.tuples(u64, u64).map(lambda pair: RangeTime(min(pair), max(pair)))
timestamps = st.one_of(physical_times, logical_times, order_times, range_times)


@given(timestamps)
def test_canonical_round_trip(stamp):
    assert timestamp_from_canonical(timestamp_to_canonical(stamp)) == stamp


@given(logical_times, logical_times, logical_times)
def test_vector_clock_merge_is_a_join(a, b, c):
    check_semilattice_laws(lambda x, y: x.merge(y), a, b, c)


@given(logical_times, devices)
def test_tick_happens_after(clock, device):
    later = clock.tick(device)
    assert clock.happened_before(later)
    assert not later.happened_before(clock)
    assert not clock.concurrent_with(later)


def test_concurrent_clocks():
    a, b = DeviceId(b"a" * 16), DeviceId(b"b" * 16)
    left, right = LogicalTime().tick(a), LogicalTime().tick(b)
    assert left.concurrent_with(right)
    assert not left.concurrent_with(left)


def test_invalid_values_rejected_with_names():
    with pytest.raises(InvalidInput, match="ts_ms"):
        PhysicalTime(-1)
    with pytest.raises(InvalidInput, match="earliest_ms"):
        RangeTime(10, 5)
    with pytest.raises(InvalidInput, match="32-byte"):
        OrderTime(b"short")
    a = DeviceId(b"a" * 16)
    with pytest.raises(InvalidInput, match="sorted"):
        LogicalTime(((a, 1), (a, 2)))


def test_range_contains_respects_uncertainty():
    window = RangeTime(100, 200)
    assert window.contains(PhysicalTime(150, 10))
    assert not window.contains(PhysicalTime(195, 10))


@pytest.mark.parametrize(
    "value",
    [
        None,
        [],
        {"domain": "lunar"},
        {"domain": "physical"},
        {"domain": "physical", "ts_ms": 1, "extra": 2},
        {"domain": "physical", "ts_ms": -5},
        {"domain": "order", "token": b"x"},
        {"domain": "range", "earliest_ms": 5, "latest_ms": 1},
        {"domain": "logical", "lamport": 0, "vector": "no"},
        {"domain": "logical", "lamport": 0, "vector": [[b"short", 1]]},
        {"domain": "logical", "lamport": 0, "vector": [[b"a" * 16]]},
    ],
)
def test_strict_decoding(value):
    with pytest.raises(InvalidEncoding):
        timestamp_from_canonical(value)
