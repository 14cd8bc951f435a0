"""The public API of ``aura_features.devices`` and ``aura_features.recovery`` is explicit."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import aura_features
from aura_features import devices, recovery


@pytest.mark.parametrize("package", [devices, recovery], ids=lambda p: p.__name__)
def test_every_exported_name_exists_and_public_names_are_exported(package) -> None:
    assert sorted(package.__all__) == sorted(set(package.__all__))
    for name in package.__all__:
        assert hasattr(package, name), name
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for name in getattr(module, "__all__", ()):
            if not info.name.startswith("_") and name in vars(package):
                continue
            assert name in package.__all__ or info.name.startswith("_"), (info.name, name)


@pytest.mark.parametrize("package", [devices, recovery], ids=lambda p: p.__name__)
def test_operation_categories_are_declared(package) -> None:
    categories = package.OPERATION_CATEGORIES
    assert categories and set(categories.values()) <= {"A", "B", "C"}
    assert all(name.split(".")[0] == package.__name__.split(".")[-1] for name in categories)


def test_membership_changes_and_recovery_block_on_consensus() -> None:
    assert devices.OPERATION_CATEGORIES["devices.add"] == "C"
    assert devices.OPERATION_CATEGORIES["devices.remove"] == "C"
    assert recovery.OPERATION_CATEGORIES["recovery.recover"] == "C"
    assert recovery.OPERATION_CATEGORIES["recovery.guardian_change"] == "C"
    assert {"devices", "recovery"} <= set(aura_features.__all__)
