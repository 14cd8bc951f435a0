"""Fixtures that run the real ``aura`` entry point.

``aura`` runs ``python -m aura_cli`` as a child process (the whole entry
point, interpreter start-up included); ``aura_here`` runs the same
``run_command`` in this process, which is much faster for the many checks
that do not depend on process boundaries.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest

from aura_cli.console_output import Output
from aura_cli.main import run_command

PASSPHRASE = "correct horse battery staple"


@attrs.frozen
class Ran:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def clean_environment(**extra: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AURA_")}
    environ.update(extra)
    return environ


def aura(
    *args: str | Path,
    passphrase: str | None = PASSPHRASE,
    stdin: str | None = None,
    timeout: float = 60.0,
    **extra: str,
) -> Ran:
    environ = clean_environment(**extra)
    if passphrase is not None:
        environ["AURA_PASSPHRASE"] = passphrase
    done = subprocess.run(
        [sys.executable, "-m", "aura_cli", *map(str, args)],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        env=environ,
        timeout=timeout,
        check=False,
    )
    return Ran(done.returncode, done.stdout, done.stderr)


def _run_here(*argv: str | Path, **environ: str) -> Ran:
    out, err = io.StringIO(), io.StringIO()
    args = [str(a) for a in argv]
    code = run_command(
        args,
        clean_environment(**environ),
        Output(json_mode="--json" in args, stdout=out, stderr=err),
    )
    return Ran(code, out.getvalue(), err.getvalue())


@pytest.fixture
def aura_process():
    return aura


@pytest.fixture
def aura_here():
    return _run_here


@pytest.fixture
def aura_environment():
    """The test process's environment without AURA_* variables, plus the given ones."""
    return clean_environment
