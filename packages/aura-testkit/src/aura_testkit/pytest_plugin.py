"""pytest plugin for the Aura workspace, registered through the ``pytest11`` entry point.

Installing ``aura-testkit`` (``uv sync --all-packages``) makes these fixtures
available to every test in the workspace with no conftest and no import,
which also sidesteps conftest name clashes under ``--import-mode=importlib``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aura_core.effect_context import ExecutionMode
from aura_core.effects import Effects, StorageEffects
from aura_core.identifiers import DeviceId
from aura_effects import SqliteStorage, build_effects
from aura_effects.simulated import MemoryStorage, SeededRandom, Simulation
from aura_testkit.mocks import RecordingEffects, recording_effects

TEST_SECRETS_KEY = bytes(range(32))
TEST_DEVICE = DeviceId(b"\x00" * 15 + b"\x01")


@pytest.fixture
def anyio_backend() -> str:
    """Run ``@pytest.mark.anyio`` tests on asyncio only (the backend the handlers are measured on)."""
    return "asyncio"


@pytest.fixture
def seeded_random() -> SeededRandom:
    return SeededRandom(0)


@pytest.fixture
def simulation() -> Simulation:
    """An empty simulation with seed 0 and no faults."""
    return Simulation(0)


@pytest.fixture
def testing_effects() -> Effects:
    """A complete in-memory, seeded handler set (real clock)."""
    return build_effects(ExecutionMode.TESTING, device=TEST_DEVICE, seed=0)


@pytest.fixture
def recorded_effects() -> RecordingEffects:
    """Like ``testing_effects`` but every handler records its calls."""
    return recording_effects(TEST_DEVICE)


@pytest.fixture(params=["sqlite", "memory"])
def any_storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StorageEffects]:
    """Each storage backend in turn: a test using it runs against SQLite and in-memory."""
    store: StorageEffects
    if request.param == "sqlite":
        store = SqliteStorage(tmp_path / "aura.db", secrets_key=TEST_SECRETS_KEY)
    else:
        store = MemoryStorage(secrets_key=TEST_SECRETS_KEY, random=SeededRandom(0))
    yield store
    store.close()
