"""Commands for a device whose ``aura sync daemon`` is running go to that daemon.

Only one process may run a device's agent (its journals live in memory), and
some state exists only while the agent runs (a message waiting for its
channel's keys, a consensus round in progress). So while ``aura sync daemon``
holds a directory it listens on ``aura.sock`` there (a Unix socket, mode
0600 inside the 0700 directory: only the same user can connect, as with
ssh-agent), and an ``aura`` command for that directory sends its command line
there instead of starting a second agent. The daemon runs it against its own
agent and sends back the exit code and what the command printed; the
command's process only relays them, so it needs no passphrase and starts
without loading the agent at all.

Wire: one JSON object per direction, newline-terminated, at most 64 KiB
request and 16 MiB answer; the daemon runs one forwarded command at a time.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import anyio
import anyio.abc

__all__ = ["FORWARDED_COMMANDS", "forward_to_daemon", "forwardable", "serve_control_socket"]

FORWARDED_COMMANDS = frozenset(
    {
        "status",
        "device",
        "invite",
        "contact",
        "chat",
        "recovery",
        "sync once",
        "threshold",
    }
)
"""Commands a daemon runs for its directory (others never need the device's agent)."""

_MAX_REQUEST = 64 * 1024
_MAX_ANSWER = 16 * 1024 * 1024

Runner = Callable[[list[str], bool], Awaitable[tuple[int, str, str]]]
"""``run(argv, json_mode) -> (exit code, stdout, stderr)`` inside the daemon."""


def forwardable(argv: Sequence[str]) -> bool:
    words = [a for a in argv if not a.startswith("-")]
    if not words:
        return False
    return words[0] in FORWARDED_COMMANDS or " ".join(words[:2]) in FORWARDED_COMMANDS


def forward_to_daemon(
    socket_path: Path, argv: Sequence[str], *, json_mode: bool, timeout_s: float
) -> tuple[int, str, str] | None:
    """Run ``argv`` in the daemon listening at ``socket_path``; ``None`` if none is listening."""
    if not socket_path.exists():
        return None
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        client.settimeout(2.0)
        try:
            client.connect(str(socket_path))
        except OSError:
            return None  # a stale socket: no daemon behind it
        client.settimeout(timeout_s)
        request = json.dumps({"argv": list(argv), "json": json_mode}).encode("utf-8") + b"\n"
        client.sendall(request)
        answer = b""
        while not answer.endswith(b"\n"):
            chunk = client.recv(65536)
            if not chunk:
                break
            answer += chunk
            if len(answer) > _MAX_ANSWER:
                break
    finally:
        client.close()
    try:
        document = json.loads(answer)
        return int(document["code"]), str(document["stdout"]), str(document["stderr"])
    except (ValueError, KeyError, TypeError):
        return 6, "", "error: the daemon's answer was cut short or malformed\n"


async def serve_control_socket(
    socket_path: Path,
    run: Runner,
    *,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Accept forwarded commands on ``socket_path`` until cancelled; removes the socket after."""
    socket_path.unlink(missing_ok=True)
    lock = anyio.Lock()
    listener = await anyio.create_unix_listener(socket_path)
    socket_path.chmod(0o600)

    async def handle(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            request = b""
            try:
                while not request.endswith(b"\n"):
                    request += await stream.receive(65536)
                    if len(request) > _MAX_REQUEST:
                        return
                document = json.loads(request)
                argv = [str(a) for a in document["argv"]]
                json_mode = bool(document["json"])
            except (anyio.EndOfStream, anyio.BrokenResourceError, ValueError, KeyError, TypeError):
                return
            async with lock:
                code, out, err = await run(argv, json_mode)
            answer = json.dumps({"code": code, "stdout": out, "stderr": err}) + "\n"
            try:
                await stream.send(answer.encode("utf-8"))
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                return

    try:
        async with listener:
            task_status.started()
            await listener.serve(handle)
    finally:
        socket_path.unlink(missing_ok=True)
