"""``aura recovery ...``: the commands' answers when nothing is waiting, and their usage errors.

The whole ceremony through daemons and a relay (invite, accept, seat,
start, approve) runs in ``make demo`` (``tests/test_demo.py``); these checks
pin what a user sees on a device with nothing in progress.
"""

from __future__ import annotations

import json

import attrs
import pytest

from aura_cli.command_line import build_parser
from aura_cli.exit_codes import ExitCode

KEY = "42" * 32
OTHER = "authority-00000000-0000-4000-8000-000000000001"


@pytest.fixture
def run_here(aura_here):
    """(code, stdout, stderr) of the entry point run in this process."""
    return lambda *argv, **env: tuple(attrs.astuple(aura_here(*argv, **env)))


def _json(out: str) -> dict:
    return json.loads(out.splitlines()[-1])


def test_a_guardian_with_nothing_waiting(tmp_path, run_here):
    home = str(tmp_path / "bob")
    assert run_here("init", "--data-dir", home, "--nickname", "Bob", AURA_KEY=KEY)[0] == 0
    code, out, _ = run_here("recovery", "status", "--data-dir", home, "--json", AURA_KEY=KEY)
    assert code == 0
    status = _json(out)
    assert status["recoveries"] == [] and status["invitations"] == [] and status["wards"] == []
    for command in ("accept", "decline", "approve", "deny"):
        code, out, _ = run_here("recovery", command, "--data-dir", home, "--json", AURA_KEY=KEY)
        assert code == ExitCode.NOT_FOUND, command
        assert "waiting" in _json(out)["message"]
    code, out, _ = run_here("recovery", "guardians", "--data-dir", home, "--json", AURA_KEY=KEY)
    assert code == 0 and _json(out)["guardians"] == []
    # 'aura init' makes a custody-managed 1-of-1 key: it can invite guardians at once.
    code, out, _ = run_here(
        "recovery", "guardians", "--set", OTHER, "--data-dir", home, "--json", AURA_KEY=KEY
    )
    assert code == 0, out
    invited = _json(out)
    assert list(invited["invited"]) == [OTHER] and invited["threshold"] == 1
    assert not invited["proposed"]  # seated only once the guardian accepts
    code, out, _ = run_here(
        "recovery", "guardians", "--set", "Nobody", "--data-dir", home, "--json", AURA_KEY=KEY
    )
    assert code == ExitCode.NOT_FOUND and "Nobody" in _json(out)["message"]


def test_usage_errors_name_the_problem(tmp_path, run_here):
    home = str(tmp_path / "new")
    code, _out, err = run_here("recovery", "start", OTHER, "--data-dir", home, AURA_KEY=KEY)
    assert code == ExitCode.USAGE and "--guardian" in err
    code, _out, err = run_here(
        "recovery", "start", OTHER, "--guardian", "bob", "--data-dir", home, AURA_KEY=KEY
    )
    assert code == ExitCode.USAGE
    code, _out, err = run_here(
        "recovery", "start", OTHER, "--guardian", OTHER, "--keep", "0", "--data-dir", home
    )
    assert code == ExitCode.USAGE and "--keep" in err
    home = str(tmp_path / "alice")
    assert run_here("init", "--data-dir", home, AURA_KEY=KEY)[0] == 0
    code, _out, err = run_here(
        "recovery",
        "guardians",
        "--set",
        OTHER,
        "--threshold",
        "2",
        "--data-dir",
        home,
        AURA_KEY=KEY,
    )
    assert code == ExitCode.USAGE and "more than the 1 guardians" in err


def test_the_parser_knows_every_recovery_command():
    parser = build_parser()
    for argv in (
        ["recovery", "guardians", "--set", "Bob", "--set", "Carol", "--threshold", "2"],
        ["recovery", "accept"],
        ["recovery", "decline", "ab" * 32],
        ["recovery", "start", OTHER, "--guardian", OTHER, "--keep", "1", "--threshold", "2"],
        ["recovery", "approve", "cd" * 16],
        ["recovery", "deny"],
        ["recovery", "status"],
        ["recovery", "dispute", "cd" * 16],
        ["sync", "daemon", "--new-device"],
    ):
        args = parser.parse_args(argv)
        assert args.handler.startswith("aura_cli.commands.")
