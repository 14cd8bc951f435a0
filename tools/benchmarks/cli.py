"""CLI figures: what one ``aura`` command costs a user, cold and through a running daemon.

Each figure runs the real entry point as a child process (``python -m
aura_cli``), as a shell or script would: interpreter start-up and imports are
part of what a user waits for. "cold" opens the device directory itself
(Argon2id stretching of the passphrase, storage, agent start); "daemon"
hands the same command to the directory's ``aura sync daemon`` over its
Unix socket.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOALS = {
    "help_ms": "<= 1500: 'aura --help' (start-up and parser; the agent is not loaded)",
    "status_cold_ms": "<= 4000: 'aura status' opening the directory (passphrase, storage, agent)",
    "status_daemon_ms": "<= 1500: 'aura status' answered by the directory's running daemon",
    "daemon_speedup": "cold / daemon; no goal",
}

_AURA = [sys.executable, "-m", "aura_cli"]


def _environment() -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AURA_")}
    environ["AURA_PASSPHRASE"] = "benchmark passphrase"
    return environ


def _timed(args: list[str], environ: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([*_AURA, *args], env=environ, capture_output=True, check=True)
    return (time.perf_counter() - started) * 1000


def _median(args: list[str], environ: dict[str, str], times: int) -> float:
    return round(statistics.median(_timed(args, environ) for _ in range(times)), 1)


def run(quick: bool) -> dict[str, float | int | str]:
    times = 3 if quick else 7
    environ = _environment()
    with tempfile.TemporaryDirectory(prefix="aura-bench-cli-") as root:
        home = str(Path(root) / "device")
        subprocess.run(
            [*_AURA, "init", "--data-dir", home], env=environ, capture_output=True, check=True
        )
        help_ms = _median(["--help"], environ, times)
        cold = _median(["status", "--data-dir", home, "--json"], environ, times)
        ready = Path(root) / "ready"
        daemon = subprocess.Popen(
            [*_AURA, "sync", "daemon", "--data-dir", home, "--ready-file", str(ready)],
            env=environ,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while not ready.exists():
                if daemon.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the sync daemon did not start")
                time.sleep(0.05)
            warm = _median(["status", "--data-dir", home, "--json"], environ, times)
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=30)
    return {
        "help_ms": help_ms,
        "status_cold_ms": cold,
        "status_daemon_ms": warm,
        "daemon_speedup": round(cold / warm, 2),
    }
