"""aura_testkit — test support for every layer: mocks, harnesses, strategies, fixtures.

Only tests import it. The pytest plugin (:mod:`aura_testkit.pytest_plugin`)
is loaded automatically through the ``pytest11`` entry point.
"""

from typing import Any

from aura_testkit.harness import ClusterHarness, PairHarness, Transit
from aura_testkit.mocks import (
    CallRecord,
    ManualClock,
    Recorded,
    RecordingEffects,
    ScriptedRandom,
    recording_effects,
)
from aura_testkit.sample_protocols import PingPong

__all__ = [
    "CallRecord",
    "ClusterHarness",
    "ManualClock",
    "PairHarness",
    "PingPong",
    "Recorded",
    "RecordingEffects",
    "ScriptedRandom",
    "Transit",
    "loopback_relay",
    "recording_effects",
    "strategies",
]


def __getattr__(name: str) -> Any:
    # ``strategies`` registers hypothesis type strategies when imported; hypothesis
    # forbids that while its pytest plugin initialises, so it is imported lazily.
    if name == "strategies":
        import importlib

        return importlib.import_module("aura_testkit.strategies")
    if name == "loopback_relay":
        # The relay lives in aura_features; the plugin does not load it for every test.
        from aura_testkit.local_relay import loopback_relay

        return loopback_relay
    raise AttributeError(f"module 'aura_testkit' has no attribute {name!r}")
