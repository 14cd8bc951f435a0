"""``make demo`` end to end: separate ``aura`` processes over a loopback relay.

Runs ``tools/demo.py`` exactly as the Makefile does and checks the outcome of
every step from its JSON record: every step ran and succeeded, from the
relay to the recovered phone chatting again. It also checks that the demo
left no process behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

STEPS = (
    "relay: 'aura relay serve' on a free loopback port",
    "Alice: 'aura init -n 3 -t 2' (2-of-3 account, three device directories)",
    "Bob and Carol: 'aura init' (1-of-1 accounts)",
    "every device comes online ('aura sync daemon')",
    "contacts: 'aura invite create' / 'aura invite accept'",
    "Alice and Bob: 'aura chat create plans --with Bob'",
    "messages both ways: 'aura chat send' / 'aura chat history'",
    "Alice signs with her account key, Bob verifies ('aura threshold')",
    "Bob and Carol become Alice's guardians ('aura recovery guardians' / 'accept')",
    "Alice loses a device; Bob + Carol restore her on a new one",
    "Alice chats again under the same id",
)


def _aura_processes_under(root: Path) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "aura_cli" in command and str(root) in command:
            found.append(command)
    return found


@pytest.mark.slow
def test_demo_runs_every_available_step_as_separate_processes(tmp_path):
    record = tmp_path / "demo.json"
    workspace = tmp_path / "work"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AURA_")}
    done = subprocess.run(
        [sys.executable, "tools/demo.py", "--keep", str(workspace), "--json", str(record)],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    steps = json.loads(record.read_text(encoding="utf-8"))["steps"]
    assert [step["step"] for step in steps] == list(STEPS)
    for step in steps:
        assert step["outcome"] == "ok", step
    outcomes = {step["step"]: step["detail"] for step in steps}
    assert "signed by 2 of Alice's devices" in outcomes[STEPS[7]]
    assert "same authority" in outcomes[STEPS[10]]
    assert "aura demo" in done.stdout and "failed" in done.stdout
    # Every message really crossed the relay: its database holds the envelopes' mailboxes.
    assert (workspace / "relay" / "relay.sqlite").stat().st_size > 0
    assert not _aura_processes_under(workspace), "the demo left aura processes running"
