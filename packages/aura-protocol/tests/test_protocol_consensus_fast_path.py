"""Fast path: one round trip in steady state, two on first contact or after an epoch change."""

from __future__ import annotations

import pytest

from aura_core.errors import InvalidInput
from aura_protocol.consensus.fast_path_probe import measure_round_trips


@pytest.mark.parametrize(("size", "threshold"), [(3, 2), (4, 3), (5, 3), (5, 4)])
def test_steady_state_is_one_round_trip(size: int, threshold: int) -> None:
    run = measure_round_trips(size=size, threshold=threshold, proposals=4)
    assert run.round_trips == (2.0, 1.0, 1.0, 1.0)
    assert all(run.fast_path)


def test_epoch_change_costs_one_extra_round_trip_once() -> None:
    run = measure_round_trips(proposals=6, epoch_changes_before=[2, 4])
    assert run.round_trips == (2.0, 1.0, 2.0, 1.0, 2.0, 1.0)
    assert all(run.fast_path)


def test_round_trips_scale_with_latency_not_with_seed() -> None:
    slow = measure_round_trips(latency_s=0.08, proposals=3, seed=7)
    fast = measure_round_trips(latency_s=0.001, proposals=3, seed=8)
    assert slow.round_trips == fast.round_trips == (2.0, 1.0, 1.0)


def test_probe_rejects_bad_arguments() -> None:
    with pytest.raises(InvalidInput):
        measure_round_trips(proposals=0)
    with pytest.raises(InvalidInput):
        measure_round_trips(proposals=2, epoch_changes_before=[5])
