"""The public surface of aura_core.crypto: every exported name exists and is documented."""

from __future__ import annotations

import importlib
import pkgutil

import aura_core.crypto as crypto


def test_exported_names_resolve() -> None:
    for name in crypto.__all__:
        assert hasattr(crypto, name), name
    assert len(set(crypto.__all__)) == len(crypto.__all__)


def test_every_module_declares_and_documents_its_api() -> None:
    for info in pkgutil.iter_modules(crypto.__path__):
        module = importlib.import_module(f"aura_core.crypto.{info.name}")
        assert module.__doc__, info.name
        for name in module.__all__:
            value = getattr(module, name)
            if callable(value) and not isinstance(value, int):
                assert value.__doc__, f"{info.name}.{name} has no docstring"


def test_package_reexports_come_from_their_modules() -> None:
    for name in crypto.__all__:
        value = getattr(crypto, name)
        owner = getattr(value, "__module__", None)
        if owner is not None and owner.startswith("aura_core.crypto."):
            assert name in importlib.import_module(owner).__all__
