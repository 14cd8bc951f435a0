"""``make demo``: Alice, Bob and Carol on one machine, as separate processes, through a relay.

Every step is a real ``aura`` command run as its own OS process (``python -m
aura_cli``), talking over loopback TCP to a relay that is itself an ``aura
relay serve`` process; long-lived device processes are ``aura sync daemon``.
Nothing is simulated and nothing is shared in memory: the only way a fact
or a message gets from one person to another is a sealed envelope in a
mailbox on the relay.

The scenario: a relay starts; Alice makes a 2-of-3 account across three
device directories, Bob and Carol make theirs; Alice invites both; Alice and
Bob open a channel and write to each other; Bob and Carol become Alice's
guardians; Alice loses a device and her guardians restore her account on a
new one; she signs and chats again under the same authority.

A step the installed agent cannot perform yet (its feature is not loaded) is
reported as SKIPPED with the reason, never faked. The demo exits 1 if any
step that ran gave a wrong outcome, 0 otherwise, and always ends with a
table of what happened and how long each step took. Every process it starts
is stopped on the way out, also on failure or Ctrl-C.

Options: ``--keep DIR`` keeps the device directories there instead of a
temporary directory; ``--json FILE`` writes the step table as JSON (the
tests read it); ``--timeout S`` bounds each network wait.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

_AURA = [sys.executable, "-m", "aura_cli"]
_CONSOLE = Console(stderr=False, highlight=False)


class StepFailed(Exception):
    """A step ran and its outcome was wrong."""


class StepSkipped(Exception):
    """The agent cannot perform this step (yet); the message says why."""


class Unsupported(Exception):
    """An ``aura`` command exited 7: the feature it needs is not loaded."""


class Demo:
    """The people, their directories, the processes started, and the steps' record."""

    def __init__(self, root: Path, timeout_s: float) -> None:
        self.root = root
        self.timeout_s = timeout_s
        self.processes: list[subprocess.Popen[str]] = []
        self.logs: dict[int, Any] = {}
        """Each started process's log file (by pid), closed when it is stopped."""
        self.daemons: dict[str, subprocess.Popen[str]] = {}
        self.steps: list[dict[str, Any]] = []
        self.relay_hint = ""
        self.facts: dict[str, Any] = {}
        self.log = (root / "demo.log").open("a", encoding="utf-8")

    # ------------------------------------------------------------------ processes

    def env(self, person: str) -> dict[str, str]:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("AURA_")}
        environ["AURA_PASSPHRASE"] = f"{person} demo passphrase"
        environ["AURA_RELAY"] = self.relay_hint
        return environ

    def home(self, name: str) -> Path:
        return self.root / name

    def aura(
        self, person: str, device: str, *args: str, expect: Sequence[int] = (0,)
    ) -> dict[str, Any]:
        """Run one ``aura`` command for ``person`` on ``device``'s directory; its JSON result."""
        command = [*_AURA, *args, "--data-dir", str(self.home(device)), "--json"]
        command += ["--timeout", str(self.timeout_s)]
        self.log.write(f"$ {person}: aura {' '.join(args)} [{device}]\n")
        done = subprocess.run(
            command,
            env=self.env(person),
            capture_output=True,
            text=True,
            timeout=self.timeout_s * 4 + 60,
            check=False,
        )
        self.log.write(done.stdout + done.stderr)
        self.log.flush()
        try:
            document = json.loads(done.stdout.splitlines()[-1]) if done.stdout.strip() else {}
        except ValueError:
            document = {}
        if done.returncode == 7:
            raise Unsupported(document.get("message", "feature not loaded"))
        if done.returncode not in expect:
            message = document.get("message") or done.stderr.strip()[-300:]
            raise StepFailed(f"'aura {' '.join(args[:2])}' exited {done.returncode}: {message}")
        return document

    def start(self, person: str, *args: str, ready_file: Path) -> subprocess.Popen[str]:
        """Start a long-running ``aura`` process and wait until it wrote ``ready_file``."""
        ready_file.unlink(missing_ok=True)
        log = (self.root / f"{ready_file.stem}.log").open("w", encoding="utf-8")
        process = subprocess.Popen(
            [*_AURA, *args, "--ready-file", str(ready_file), "--json"],
            env=self.env(person),
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.processes.append(process)
        self.logs[process.pid] = log
        deadline = time.monotonic() + self.timeout_s * 2
        while not ready_file.exists():
            if process.poll() is not None:
                raise StepFailed(f"'aura {' '.join(args[:2])}' exited {process.returncode} early")
            if time.monotonic() > deadline:
                raise StepFailed(f"'aura {' '.join(args[:2])}' did not come up in time")
            time.sleep(0.05)
        return process

    def stop(self, process: subprocess.Popen[str]) -> int:
        """SIGTERM, then SIGKILL after a grace period; returns the exit code."""
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process in self.processes:
            self.processes.remove(process)
        log = self.logs.pop(process.pid, None)
        if log is not None:
            log.close()
        return process.returncode

    def stop_all(self) -> None:
        for process in list(self.processes):
            self.stop(process)
        self.log.close()

    # ------------------------------------------------------------------ steps

    def step(self, name: str, action: Callable[[], str]) -> bool:
        """Run one step and record its outcome and duration; True when it succeeded."""
        started = time.monotonic()
        outcome, detail = "ok", ""
        with _CONSOLE.status(name):
            try:
                detail = action()
            except (StepSkipped, Unsupported) as exc:
                outcome, detail = "skipped", str(exc)
            except StepFailed as exc:
                outcome, detail = "FAILED", str(exc)
            except subprocess.TimeoutExpired as exc:
                outcome, detail = "FAILED", f"timed out: {' '.join(map(str, exc.cmd[3:6]))}"
        seconds = time.monotonic() - started
        self.steps.append({"step": name, "outcome": outcome, "seconds": seconds, "detail": detail})
        style = {"ok": "green", "skipped": "yellow"}.get(outcome, "bold red")
        _CONSOLE.print(f"[{style}]{outcome:>7}[/] {name} [dim]({seconds:.1f} s)[/] {detail}")
        return outcome == "ok"

    def skip_unless(self, condition: bool, reason: str) -> None:
        if not condition:
            raise StepSkipped(reason)

    # ------------------------------------------------------------------ conversation helpers

    def wait_until(self, done: Callable[[], bool], what: str) -> float:
        """Poll ``done()`` (each poll is an ``aura`` command) until true; returns the seconds."""
        started = time.monotonic()
        deadline = started + self.timeout_s * 4
        while not done():
            if time.monotonic() > deadline:
                raise StepFailed(f"{what} did not happen within {self.timeout_s * 4:.0f} s")
            time.sleep(0.3)
        return time.monotonic() - started

    def daemon(self, person: str, device: str, *extra: str) -> None:
        """Start ``aura sync daemon`` on ``device``: from now on its commands run in it."""
        ready = self.root / f"{device}.ready"
        self.daemons[device] = self.start(
            person, "sync", "daemon", "--data-dir", str(self.home(device)), *extra, ready_file=ready
        )

    def history(self, person: str, device: str, contact: str) -> list[dict[str, Any]]:
        return self.aura(person, device, "chat", "history", contact)["messages"]

    def has_message(self, person: str, device: str, contact: str, text: str) -> bool:
        return any(m["text"] == text for m in self.history(person, device, contact))


@contextmanager
def _workspace(keep: str | None) -> Iterator[Path]:
    if keep:
        path = Path(keep)
        path.mkdir(parents=True, exist_ok=True)
        yield path
    else:
        with tempfile.TemporaryDirectory(prefix="aura-demo-") as path:
            yield Path(path)


def run_scenario(demo: Demo) -> None:
    """The steps, in order; each later step checks what it needs from the earlier ones."""
    facts = demo.facts

    def relay() -> str:
        ready = demo.root / "relay.hint"
        demo.start(
            "relay", "relay", "serve", "--data-dir", str(demo.home("relay")), ready_file=ready
        )
        demo.relay_hint = ready.read_text(encoding="utf-8").split()[0]
        return demo.relay_hint.split("#")[0]

    if not demo.step("relay: 'aura relay serve' on a free loopback port", relay):
        return

    def alice_account() -> str:
        extra = [
            "--device-dir",
            str(demo.home("alice-2")),
            "--device-dir",
            str(demo.home("alice-3")),
        ]
        made = demo.aura(
            "alice", "alice-1", "init", "-n", "3", "-t", "2", *extra, "--nickname", "Alice"
        )
        facts["alice"] = made
        facts["alice_devices"] = len(made["devices"])
        if made["threshold"] != 2 or len(made["devices"]) != 3:
            raise StepFailed(f"got a {made['threshold']}-of-{len(made['devices'])} account")
        return f"{made['authority']} (devices in alice-1, alice-2, alice-3)"

    demo.step(
        "Alice: 'aura init -n 3 -t 2' (2-of-3 account, three device directories)", alice_account
    )
    if "alice" not in facts:
        return

    def bob_and_carol() -> str:
        for person in ("bob", "carol"):
            facts[person] = demo.aura(person, person, "init", "--nickname", person.title())
        return f"Bob {facts['bob']['authority'][:18]}…, Carol {facts['carol']['authority'][:18]}…"

    if not demo.step("Bob and Carol: 'aura init' (1-of-1 accounts)", bob_and_carol):
        return

    def daemons() -> str:
        devices = [("alice", "alice-1"), ("bob", "bob"), ("carol", "carol")]
        if facts["alice_devices"] == 3:
            devices += [("alice", "alice-2"), ("alice", "alice-3")]
        for person, device in devices:
            demo.daemon(person, device)
        return f"{len(devices)} 'aura sync daemon' processes; later commands run in them"

    if not demo.step("every device comes online ('aura sync daemon')", daemons):
        return

    def contacts() -> str:
        for friend in ("bob", "carol"):
            code = demo.aura("alice", "alice-1", "invite", "create")["code"]
            demo.aura(friend, friend, "invite", "accept", code)

        def everyone_reachable() -> bool:
            mine = demo.aura("alice", "alice-1", "contact", "list")["contacts"]
            theirs = [demo.aura(p, p, "contact", "list")["contacts"] for p in ("bob", "carol")]
            return (
                sorted(c["nickname"] or "" for c in mine) == ["Bob", "Carol"]
                and all(c["reachable"] for c in mine)
                and all(len(c) == 1 and c[0]["reachable"] for c in theirs)
            )

        seconds = demo.wait_until(everyone_reachable, "contacts becoming reachable")
        return f"Alice ↔ Bob, Alice ↔ Carol reachable {seconds:.1f} s after accepting"

    if not demo.step("contacts: 'aura invite create' / 'aura invite accept'", contacts):
        return

    def channel() -> str:
        made = demo.aura(
            "alice", "alice-1", "chat", "create", "plans", "--with", "Bob", "--topic", "Saturday"
        )
        return f"channel {made['name']} {made['channel'][:20]}…"

    demo.step("Alice and Bob: 'aura chat create plans --with Bob'", channel)

    def messages() -> str:
        there, back = "hi Bob, lunch on Saturday?", "yes! 12:30 at the usual place"
        demo.aura("alice", "alice-1", "chat", "send", "Bob", there)
        out = demo.wait_until(
            lambda: demo.has_message("bob", "bob", "Alice", there), "Alice's message reaching Bob"
        )
        demo.aura("bob", "bob", "chat", "send", "Alice", back)
        home = demo.wait_until(
            lambda: demo.has_message("alice", "alice-1", "Bob", back), "Bob's answer reaching Alice"
        )
        return f"Alice → Bob in {out:.1f} s, Bob → Alice in {home:.1f} s (via the relay)"

    if not demo.step("messages both ways: 'aura chat send' / 'aura chat history'", messages):
        return

    def signature() -> str:
        signed = demo.aura("alice", "alice-1", "threshold", "sign", "Alice's statement")
        facts["group_key"] = signed["public_key"]
        checked = demo.aura(
            "bob",
            "bob",
            "threshold",
            "verify",
            "Alice's statement",
            signed["signature"],
            "--key",
            signed["public_key"],
        )
        if not checked["valid"]:
            raise StepFailed("Bob could not verify Alice's signature")
        return (
            f"signed by {signed['threshold']} of Alice's devices, "
            f"verified by Bob with key {signed['public_key'][:16]}…"
        )

    demo.step("Alice signs with her account key, Bob verifies ('aura threshold')", signature)

    def guardians() -> str:
        demo.skip_unless(
            facts.get("alice_devices", 1) > 1,
            "seating guardians is a change decided by consensus among Alice's devices",
        )
        # Contacts are named by nickname once they exist; authority ids work regardless.
        contacts_ok = any(
            s["step"].startswith("contacts") and s["outcome"] == "ok" for s in demo.steps
        )
        names = (
            ["Bob", "Carol"] if contacts_ok else [facts[p]["authority"] for p in ("bob", "carol")]
        )
        demo.aura(
            "alice",
            "alice-1",
            "recovery",
            "guardians",
            "--set",
            names[0],
            "--set",
            names[1],
            "--threshold",
            "2",
            "--dispute-window",
            "2",
        )
        for person in ("bob", "carol"):
            demo.wait_until(
                lambda p=person: demo.aura(p, p, "recovery", "status")["invitations"],
                f"the invitation reaching {person.title()}",
            )
            demo.aura(person, person, "recovery", "accept")
        seconds = demo.wait_until(
            lambda: len(demo.aura("alice", "alice-1", "recovery", "guardians")["guardians"]) == 2,
            "guardians being seated",
        )
        for person in ("bob", "carol"):
            demo.wait_until(
                lambda p=person: (
                    facts["alice"]["authority"] in demo.aura(p, p, "recovery", "status")["wards"]
                ),
                f"{person.title()} holding a guardian share",
            )
        return (
            f"invitation signed by 2 of Alice's devices; Bob and Carol accepted and hold "
            f"guardian shares (2 needed) after {seconds:.1f} s"
        )

    have_guardians = demo.step(
        "Bob and Carol become Alice's guardians ('aura recovery guardians' / 'accept')", guardians
    )

    def recovery() -> str:
        demo.skip_unless(have_guardians, "no guardians were seated")
        authority = facts["alice"]["authority"]
        members = demo.aura("alice", "alice-1", "device", "list")["members"]
        # Her phone (alice-1, where her chats are) is lost. Its sealed copy of her
        # contacts must be with the guardians first: that is what the new phone restores.
        demo.wait_until(
            lambda: (
                (demo.aura("alice", "alice-1", "recovery", "status")["backup"] or {}).get(
                    "guardians_holding"
                )
                == 2
            ),
            "the contacts copy reaching both guardians",
        )
        lost = "alice-1"
        lost_device = demo.aura("alice", lost, "status")["device"]
        kept = [str(m["identifier"]) for m in members if m["device"] != lost_device]
        demo.stop(demo.daemons.pop(lost))  # that device is lost
        demo.daemon("alice", "alice-new", "--new-device")
        keep_args = [arg for identifier in kept for arg in ("--keep", identifier)]
        started = demo.aura(
            "alice",
            "alice-new",
            "recovery",
            "start",
            authority,
            "--guardian",
            facts["bob"]["authority"],
            "--guardian",
            facts["carol"]["authority"],
            *keep_args,
        )
        request = started["recovery"]
        for guardian in ("bob", "carol"):
            demo.wait_until(
                lambda g=guardian: any(
                    r["request"] == request
                    for r in demo.aura(g, g, "recovery", "status")["recoveries"]
                ),
                f"the request reaching {guardian.title()}",
            )
            demo.aura(guardian, guardian, "recovery", "approve", request)
        seconds = demo.wait_until(
            lambda: demo.aura("alice", "alice-new", "status")["authority"] == authority,
            "the recovery completing",
        )
        devices = demo.aura("alice", "alice-new", "device", "list")["devices"]
        if lost_device in devices or len(devices) != 3:
            raise StepFailed(f"after the recovery the account has devices {devices}")
        return (
            f"2 guardian approvals; the new device holds a share of the same key "
            f"{seconds:.1f} s after the second one (lost device removed)"
        )

    recovered = demo.step("Alice loses a device; Bob + Carol restore her on a new one", recovery)

    def chat_again() -> str:
        demo.skip_unless(recovered, "the recovery did not run")
        device = "alice-new"
        status = demo.aura("alice", device, "status")
        if status["authority"] != facts["alice"]["authority"]:
            raise StepFailed("the restored device has another authority")

        def bob_is_back() -> bool:
            contacts = demo.aura("alice", device, "contact", "list")["contacts"]
            return any(c["nickname"] == "Bob" and c["reachable"] for c in contacts)

        restored = demo.wait_until(bob_is_back, "Alice's contacts coming back from the guardians")
        earlier = "yes! 12:30 at the usual place"
        demo.wait_until(
            lambda: demo.has_message("alice", device, "Bob", earlier),
            "the chat history coming back from Bob",
        )
        text = "back on a new phone, same me"
        demo.aura("alice", device, "chat", "send", "Bob", text)
        seconds = demo.wait_until(
            lambda: demo.has_message("bob", "bob", "Alice", text),
            "the message from the restored device",
        )
        return (
            f"contacts and history restored in {restored:.1f} s; "
            f"Bob got the new message after {seconds:.1f} s, from the same authority"
        )

    demo.step("Alice chats again under the same id", chat_again)


def _table(steps: Sequence[dict[str, Any]], total_s: float) -> Table:
    table = Table(title="aura demo", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("step")
    table.add_column("outcome")
    table.add_column("seconds", justify="right")
    table.add_column("detail", overflow="fold")
    for number, step in enumerate(steps, 1):
        style = {"ok": "green", "skipped": "yellow"}.get(step["outcome"], "bold red")
        table.add_row(
            str(number),
            step["step"],
            f"[{style}]{step['outcome']}[/]",
            f"{step['seconds']:.1f}",
            step["detail"],
        )
    ran = sum(s["outcome"] == "ok" for s in steps)
    skipped = sum(s["outcome"] == "skipped" for s in steps)
    failed = sum(s["outcome"] == "FAILED" for s in steps)
    table.caption = f"{ran} ok, {skipped} skipped, {failed} failed — {total_s:.1f} s in all"
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", metavar="DIR", help="keep the device directories in DIR")
    parser.add_argument("--json", metavar="FILE", help="write the step table as JSON")
    parser.add_argument("--timeout", type=float, default=15.0, help="seconds per network wait")
    args = parser.parse_args(argv)
    started = time.monotonic()
    with _workspace(args.keep) as root:
        demo = Demo(root, args.timeout)
        previous = signal.signal(
            signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt())
        )
        try:
            run_scenario(demo)
        except KeyboardInterrupt:
            demo.steps.append(
                {"step": "interrupted", "outcome": "FAILED", "seconds": 0.0, "detail": "Ctrl-C"}
            )
        finally:
            demo.stop_all()
            signal.signal(signal.SIGTERM, previous)
    total = time.monotonic() - started
    _CONSOLE.print(_table(demo.steps, total))
    for step in demo.steps:
        if step["outcome"] == "skipped":
            _CONSOLE.print(f"[yellow]skipped:[/] {step['step']} — {step['detail']}")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"steps": demo.steps, "seconds": total}, indent=2), encoding="utf-8"
        )
    return 1 if any(s["outcome"] == "FAILED" for s in demo.steps) else 0


if __name__ == "__main__":
    sys.exit(main())
