"""Guardians and a recovery with ``aura`` processes only: daemons, one relay, nothing shared.

The same helpers ``make demo`` uses (``tools/demo.py``) start a relay, the
devices' ``aura sync daemon`` processes and each one-shot command as its own
OS process; the only path between them is the relay.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_DEMO = Path(__file__).resolve().parents[3] / "tools" / "demo.py"


def _demo_module():
    spec = importlib.util.spec_from_file_location("aura_demo_tool", _DEMO)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_guardians_seated_and_a_lost_device_recovered_through_daemons(tmp_path):
    tool = _demo_module()
    demo = tool.Demo(tmp_path, timeout_s=15.0)
    try:
        ready = tmp_path / "relay.hint"
        demo.start(
            "relay", "relay", "serve", "--data-dir", str(tmp_path / "relay"), ready_file=ready
        )
        demo.relay_hint = ready.read_text(encoding="utf-8").split()[0]
        alice = demo.aura(
            "alice",
            "alice-1",
            "init",
            "-n",
            "3",
            "-t",
            "2",
            "--device-dir",
            str(demo.home("alice-2")),
            "--device-dir",
            str(demo.home("alice-3")),
        )
        assert (alice["threshold"], len(alice["devices"])) == (2, 3)
        bob = demo.aura("bob", "bob", "init")["authority"]
        carol = demo.aura("carol", "carol", "init")["authority"]
        for person, device in (("alice", "alice-1"), ("alice", "alice-2"), ("alice", "alice-3")):
            demo.daemon(person, device)
        demo.daemon("bob", "bob")
        demo.daemon("carol", "carol")

        invited = demo.aura(
            "alice",
            "alice-1",
            "recovery",
            "guardians",
            "--set",
            bob,
            "--set",
            carol,
            "--threshold",
            "2",
            "--dispute-window",
            "1",
        )
        assert set(invited["invited"]) == {bob, carol} and not invited["proposed"]
        for person in ("bob", "carol"):
            demo.wait_until(
                lambda p=person: demo.aura(p, p, "recovery", "status")["invitations"],
                "an invitation",
            )
            accepted = demo.aura(person, person, "recovery", "accept")
            assert len(accepted["invitation"]) == 64
        demo.wait_until(
            lambda: len(demo.aura("alice", "alice-2", "recovery", "guardians")["guardians"]) == 2,
            "the guardians seated on every device",
        )
        demo.wait_until(
            lambda: demo.aura("bob", "bob", "recovery", "status")["wards"] == [alice["authority"]],
            "Bob holding a share",
        )

        members = demo.aura("alice", "alice-1", "device", "list")["members"]
        lost = demo.aura("alice", "alice-3", "status")["device"]
        keep = [a for m in members if m["device"] != lost for a in ("--keep", str(m["identifier"]))]
        demo.stop(demo.daemons.pop("alice-3"))
        demo.daemon("alice", "alice-new", "--new-device")
        started = demo.aura(
            "alice",
            "alice-new",
            "recovery",
            "start",
            alice["authority"],
            "--guardian",
            bob,
            "--guardian",
            carol,
            *keep,
        )
        request = started["recovery"]
        for person in ("bob", "carol"):
            demo.wait_until(
                lambda p=person: (
                    [r["request"] for r in demo.aura(p, p, "recovery", "status")["recoveries"]]
                    == [request]
                ),
                "the request",
            )
            assert demo.aura(person, person, "recovery", "approve")["recovery"] == request
        demo.wait_until(
            lambda: demo.aura("alice", "alice-new", "status")["authority"] == alice["authority"],
            "the recovery",
        )
        devices = demo.aura("alice", "alice-new", "device", "list")["devices"]
        assert lost not in devices and len(devices) == 3
        signed = demo.aura("alice", "alice-new", "threshold", "sign", "still me")
        # The new device signs with the key the kept devices hold: same account key.
        checked = demo.aura(
            "alice", "alice-1", "threshold", "verify", "still me", signed["signature"]
        )
        assert checked["valid"] and checked["public_key"] == signed["public_key"]
        checked = demo.aura(
            "bob",
            "bob",
            "threshold",
            "verify",
            "still me",
            signed["signature"],
            "--key",
            signed["public_key"],
        )
        assert checked["valid"]
    finally:
        demo.stop_all()
