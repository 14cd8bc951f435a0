"""``aura sync daemon``: holds the directory, runs forwarded commands, stops cleanly."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from aura_cli.exit_codes import ExitCode


@pytest.mark.slow
def test_commands_for_a_daemons_directory_run_in_the_daemon(
    tmp_path, aura_process, aura_here, aura_environment
):
    home = tmp_path / "d"
    key = "55" * 32
    assert aura_here("init", "--data-dir", home, "--nickname", "Dee", AURA_KEY=key).code == 0
    ready = tmp_path / "ready"
    environ = {"AURA_KEY": key}
    daemon = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aura_cli",
            "sync",
            "daemon",
            "--data-dir",
            str(home),
            "--ready-file",
            str(ready),
            "--json",
        ],
        env=aura_environment(**environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert daemon.poll() is None, daemon.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        # No secret at all: the daemon's agent answers.
        status = aura_process("status", "--data-dir", home, "--json", passphrase=None)
        assert status.code == 0, status.stderr
        assert status.json()["nickname"] == "Dee"
        assert (home / "aura.sock").exists()
        # Without the daemon's help a second agent is refused, and says why.
        local = aura_here("status", "--data-dir", home, "--json", AURA_KEY=key, AURA_NO_DAEMON="1")
        assert local.code == ExitCode.TRANSIENT
        assert "in use" in local.json()["message"]
        # Errors come back with their codes.
        missing = aura_here("chat", "send", "Nobody", "hi", "--data-dir", home, "--json")
        assert missing.code == ExitCode.NOT_FOUND
        assert "no contact is called 'Nobody'" in missing.json()["message"]
        # --relay cannot change a running daemon's relays, so it runs locally (and is refused).
        hint = "tcp://127.0.0.1:9#" + "00" * 32
        relayed = aura_here("status", "--data-dir", home, "--relay", hint, "--json", AURA_KEY=key)
        assert relayed.code == ExitCode.TRANSIENT
    finally:
        daemon.send_signal(signal.SIGTERM)
        out, _err = daemon.communicate(timeout=30)
    assert daemon.returncode == 0
    events = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert events[0]["event"] == "running" and events[-1]["ok"] is True
    assert not (home / "aura.sock").exists()
    assert aura_here("status", "--data-dir", home, "--json", AURA_KEY=key).code == 0
