"""Every package states its public API in ``__all__`` and every listed name exists."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

PACKAGES = [
    "aura_core",
    "aura_journal",
    "aura_effects",
    "aura_protocol",
    "aura_features",
    "aura_agent",
    "aura_cli",
    "aura_testkit",
]


def _public_modules(package_name: str) -> list[str]:
    package = importlib.import_module(package_name)
    names = [package_name]
    for info in pkgutil.walk_packages(package.__path__, prefix=package_name + "."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return names


@pytest.mark.parametrize("package_name", PACKAGES)
def test_all_lists_existing_unique_names(package_name):
    for module_name in _public_modules(package_name):
        module = importlib.import_module(module_name)
        exported = getattr(module, "__all__", None)
        if module_name == package_name:
            assert exported is not None, f"{module_name} has no __all__"
        if exported is None:
            continue
        assert len(exported) == len(set(exported)), f"{module_name}.__all__ has duplicates"
        missing = [name for name in exported if not hasattr(module, name)]
        assert not missing, f"{module_name}.__all__ names missing attributes: {missing}"


@pytest.mark.parametrize("package_name", PACKAGES)
def test_package_reexports_its_public_modules(package_name):
    """A name a top-level public module exports is reachable from the package itself.

    Sub-packages (``aura_core.crypto``) may keep lower-level helpers in their
    modules; the package then exports the sub-package as a namespace.
    """
    for module_name in _public_modules(package_name):
        if module_name.count(".") != 1:
            continue
        module = importlib.import_module(module_name)
        parent_name = module_name.rpartition(".")[0]
        if not parent_name or not hasattr(module, "__all__"):
            continue
        parent = importlib.import_module(parent_name)
        parent_all = set(getattr(parent, "__all__", ()))
        if module_name.rpartition(".")[2] in parent_all:
            continue  # the parent exports the module itself as a namespace
        missing = [name for name in module.__all__ if name not in parent_all]
        assert not missing, f"{parent_name}.__all__ does not re-export {module_name}: {missing}"
