"""Strategies generate valid values; the plugin's fixtures work without any conftest."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aura_core.effects import Effects, StorageEffects
from aura_core.errors import NotFound
from aura_core.identifiers import AuthorityId, Epoch
from aura_core.time_domains import (
    LogicalTime,
    RangeTime,
    timestamp_from_canonical,
    timestamp_to_canonical,
)
from aura_effects.simulated import SeededRandom, Simulation
from aura_testkit import strategies as aura_st


@settings(max_examples=50)
@given(stamp=aura_st.timestamps())
def test_timestamps_round_trip_through_canonical_form(stamp) -> None:
    assert timestamp_from_canonical(timestamp_to_canonical(stamp)) == stamp


@settings(max_examples=30)
@given(
    authority=st.from_type(AuthorityId), epoch=st.from_type(Epoch), window=st.from_type(RangeTime)
)
def test_type_strategies_are_registered(authority, epoch, window) -> None:
    assert AuthorityId.parse(str(authority)) == authority
    assert Epoch.parse(str(epoch)) == epoch
    assert window.earliest_ms <= window.latest_ms


@settings(max_examples=30)
@given(clock=aura_st.logical_times(), table=aura_st.table_names(), key=aura_st.byte_keys())
def test_value_strategies(clock, table, key) -> None:
    assert isinstance(clock, LogicalTime)
    assert table[0].isalpha() and len(key) <= 64


def test_unregistered_types_name_the_extension_point() -> None:
    class Fact:
        pass

    with pytest.raises(NotFound, match="register_strategy"):
        aura_st.strategy_for(Fact)
    aura_st.register_strategy(Fact, st.builds(Fact))
    assert aura_st.strategy_for(Fact) is not None


def test_plugin_fixtures(
    testing_effects, recorded_effects, seeded_random, simulation, anyio_backend
) -> None:
    assert isinstance(testing_effects, Effects)
    assert isinstance(recorded_effects.effects, Effects)
    assert isinstance(seeded_random, SeededRandom)
    assert isinstance(simulation, Simulation)
    assert anyio_backend == "asyncio"


def test_any_storage_runs_per_backend(any_storage) -> None:
    assert isinstance(any_storage, StorageEffects)
    with any_storage.transaction() as txn:
        txn.append_fact("j", b"id", b"body")
        assert [f.body for f in txn.scan_facts("j")] == [b"body"]
