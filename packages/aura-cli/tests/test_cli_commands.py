"""The ``aura`` command through its real entry point: results, JSON, exit codes, bad input.

Each child process pays the interpreter's import time, so every test here
makes as few calls as it can and checks as much as it can per call.
"""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest

from aura_cli.exit_codes import ExitCode


@pytest.fixture
def aura(aura_process):
    return aura_process


@pytest.fixture
def run_here(aura_here):
    """(code, stdout, stderr) of the entry point run in this process."""
    return lambda *argv, **env: tuple(attrs.astuple(aura_here(*argv, **env)))


SCENARIO = Path(__file__).parents[2] / "aura-agent" / "scenarios" / "profile-partition.toml"


def test_help_lists_every_command_and_the_exit_codes(aura, run_here):
    ran = aura("--help", passphrase=None)
    assert ran.code == 0
    for command in (
        "init",
        "status",
        "device",
        "invite",
        "contact",
        "chat",
        "recovery",
        "relay",
        "sync",
        "threshold",
        "sim",
        "tui",
    ):
        assert command in ran.stdout
    assert "exit codes" in ran.stdout and "130" in ran.stdout
    assert "AURA_PASSPHRASE" in ran.stdout


def test_usage_errors_exit_2_with_json_that_parses(aura, run_here):
    ran = aura("chat", "bogus", "--json", passphrase=None)
    assert ran.code == ExitCode.USAGE
    document = ran.json()
    assert document["ok"] is False and document["error"] == "UsageError"
    assert "invalid choice" in document["message"]
    code, _out, err = run_here("init", "-n", "zero")
    assert code == ExitCode.USAGE and "not a whole number" in err
    code, _out, err = run_here("init", "-n", "2", "-t", "3")
    assert code == ExitCode.USAGE and "threshold 3 is more than the 2 devices" in err


def test_init_status_and_a_wrong_passphrase_loses_nothing(tmp_path, aura, run_here):
    home = tmp_path / "alice"
    made = aura("init", "--data-dir", home, "--nickname", "Alice", "--json")
    assert made.code == 0, made.stderr
    created = made.json()
    assert created["ok"] is True
    assert created["authority"].startswith("authority-")
    assert created["threshold"] == 1 and created["devices"] == [created["device"]]

    wrong = aura("status", "--data-dir", home, "--json", passphrase="not the passphrase")
    assert wrong.code == ExitCode.DENIED
    assert "does not unlock" in wrong.json()["message"]
    assert "AURA_PASSPHRASE" in wrong.json()["hint"]

    status = aura("status", "--json", AURA_HOME=str(home))  # AURA_HOME instead of --data-dir
    assert status.code == 0, status.stderr
    shown = status.json()
    assert shown["authority"] == created["authority"]
    assert shown["device"] == created["device"]
    assert shown["nickname"] == "Alice"
    assert {"account", "profile"} <= set(shown["features"])

    again = aura("init", "--data-dir", home, "--json")
    assert again.code == ExitCode.USAGE and "already holds a device" in again.json()["message"]


def test_missing_directory_and_missing_secret_say_what_to_do(tmp_path, aura, run_here):
    code, out, _err = run_here("status", "--data-dir", str(tmp_path / "nowhere"), "--json")
    assert code == ExitCode.NOT_FOUND
    document = json.loads(out)
    assert "no device directory" in document["message"] and "aura init" in document["hint"]
    code, out, _err = run_here("init", "--data-dir", str(tmp_path / "new"), "--json")
    assert code == ExitCode.USAGE
    assert "AURA_PASSPHRASE" in json.loads(out)["message"]
    assert not (tmp_path / "new" / "agent.sqlite").exists()


def test_threshold_sign_and_verify(tmp_path, aura, run_here):
    home = str(tmp_path / "signer")
    key = "11" * 32
    assert run_here("init", "--data-dir", home, AURA_KEY=key)[0] == 0
    code, out, _ = run_here(
        "threshold", "sign", "pay Bob 5", "--data-dir", home, "--json", AURA_KEY=key
    )
    assert code == 0
    signed = json.loads(out)
    signature, public = signed["signature"], signed["public_key"]
    good = aura(
        "threshold", "verify", "pay Bob 5", signature, "--key", public, "--json", passphrase=None
    )
    assert good.code == 0 and good.json()["valid"] is True
    code, out, _ = run_here(
        "threshold", "verify", "pay Bob 500", signature, "--key", public, "--json"
    )
    assert code == ExitCode.FAILED and json.loads(out)["valid"] is False
    code, out, _ = run_here(
        "threshold", "verify", "pay Bob 5", signature, "--data-dir", home, "--json", AURA_KEY=key
    )
    assert code == 0 and json.loads(out)["authority"] == signed["authority"]
    code, _, err = run_here("threshold", "verify", "m", "zz", "--key", public)
    assert code == ExitCode.USAGE and "not hexadecimal" in err
    code, _, err = run_here("threshold", "verify", "m", "00" * 64, "--key", "00" * 31)
    assert code == ExitCode.USAGE and "32 bytes" in err


def test_bad_input_to_contacts_and_chat_is_refused_and_changes_nothing(tmp_path, aura, run_here):
    home = str(tmp_path / "bob")
    key = "22" * 32
    assert run_here("init", "--data-dir", home, AURA_KEY=key)[0] == 0
    _, before, _ = run_here("status", "--data-dir", home, "--json", AURA_KEY=key)
    corrupt = aura(
        "invite",
        "accept",
        "aura:v1:AAAA-not-a-real-code",
        "--data-dir",
        home,
        "--json",
        AURA_KEY=key,
        passphrase=None,
    )
    assert corrupt.code == ExitCode.USAGE, corrupt.stderr
    assert corrupt.json()["error"] == "InvalidInvitationCode"
    assert "aura:v1:" in corrupt.json()["hint"]
    code, out, _ = run_here("invite", "accept", "hello", "--data-dir", home, "--json", AURA_KEY=key)
    assert code == ExitCode.USAGE and "aura:v1:" in json.loads(out)["message"]
    stranger = "authority-00000000-0000-4000-8000-000000000000"
    code, out, _ = run_here(
        "chat", "send", stranger, "hi", "--data-dir", home, "--json", AURA_KEY=key
    )
    assert code == ExitCode.NOT_FOUND and "not one of your contacts" in json.loads(out)["message"]
    code, out, _ = run_here("chat", "history", "Nobody", "--data-dir", home, "--json", AURA_KEY=key)
    assert (
        code == ExitCode.NOT_FOUND and "no contact is called 'Nobody'" in json.loads(out)["message"]
    )
    code, out, _ = run_here(
        "device", "remove", "not-a-device", "--data-dir", home, "--json", AURA_KEY=key
    )
    assert code == ExitCode.USAGE
    _, after, _ = run_here("status", "--data-dir", home, "--json", AURA_KEY=key)
    assert json.loads(after)["facts"] == json.loads(before)["facts"]


def test_relay_use_stores_hints_and_refuses_bad_ones(tmp_path, aura, run_here):
    home = str(tmp_path / "carol")
    key = "33" * 32
    assert run_here("init", "--data-dir", home, AURA_KEY=key)[0] == 0
    hint = "tcp://127.0.0.1:4000#" + "ab" * 32
    code, out, _ = run_here("relay", "use", hint, "--data-dir", home, "--json")
    assert code == 0 and json.loads(out)["relays"] == [hint]
    code, out, _ = run_here("relay", "use", "tcp://127.0.0.1:4000", "--data-dir", home, "--json")
    assert code == ExitCode.USAGE and "#<key>" in json.loads(out)["message"]
    code, out, _ = run_here("status", "--data-dir", home, "--json", AURA_KEY=key)
    assert [r["address"] for r in json.loads(out)["relays"]] == ["tcp://127.0.0.1:4000"]


def test_sim_run_reports_outcomes_and_trace(aura, run_here):
    ran = aura("sim", "run", SCENARIO, "--seed", "3", "--json", passphrase=None)
    assert ran.code == 0, ran.stderr
    document = ran.json()
    assert document["failed"] == 0 and document["seeds"] == 1
    result = document["results"][0]
    assert result["passed"] is True and len(result["trace_hash"]) == 64
    assert all(outcome["passed"] for outcome in result["outcomes"])
    code, _out, err = run_here("sim", "run", "no-such-file.toml")
    assert code == ExitCode.USAGE and "no scenario file" in err
    code, _out, err = run_here("sim", "run", str(SCENARIO), "--seeds", "5:5")
    assert code == ExitCode.USAGE and "empty" in err


def test_tui_refuses_json_and_a_missing_terminal(tmp_path, aura, run_here):
    code, _out, err = run_here("tui", "--json", "--data-dir", str(tmp_path))
    assert code == ExitCode.USAGE and "interactive" in err


@pytest.mark.parametrize("command", [("device", "list"), ("contact", "list"), ("chat", "list")])
def test_list_commands_answer_in_json(tmp_path, command, aura, run_here):
    home = str(tmp_path / "d")
    key = "44" * 32
    assert run_here("init", "--data-dir", home, AURA_KEY=key)[0] == 0
    code, out, err = run_here(*command, "--data-dir", home, "--json", AURA_KEY=key)
    assert code in (ExitCode.OK, ExitCode.UNSUPPORTED), err
    document = json.loads(out)
    assert document["ok"] is (code == ExitCode.OK)
