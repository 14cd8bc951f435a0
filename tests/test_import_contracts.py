"""The import contracts in `.importlinter` hold, and they really catch violations.

A copy of a package with a planted bad import is put first on PYTHONPATH, so
``lint-imports`` analyses the copy instead of the installed package.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / ".importlinter"), "--no-cache"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _plant(tmp_path: Path, package: str, source: str) -> Path:
    dist = package.replace("_", "-")
    shutil.copytree(ROOT / "packages" / dist / "src" / package, tmp_path / package)
    (tmp_path / package / "_planted_violation.py").write_text(source)
    return tmp_path


def test_contracts_hold_on_the_tree():
    result = _lint()
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("package", "source", "expected"),
    [
        ("aura_core", "import socket\n", "socket"),
        ("aura_core", "import time\n", "time"),
        ("aura_journal", "import sqlite3\n", "sqlite3"),
        ("aura_journal", "import anyio\n", "anyio"),
        ("aura_core", "import aura_cli\n", "aura_cli"),
        ("aura_journal", "from aura_effects import __all__\n", "aura_effects"),
    ],
)
def test_planted_violation_is_caught(tmp_path, package, source, expected):
    result = _lint(_plant(tmp_path, package, source))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "BROKEN" in output
    assert f"{package}._planted_violation -> {expected}" in output
