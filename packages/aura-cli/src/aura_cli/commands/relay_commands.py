"""``aura relay serve`` runs a rendezvous relay; ``aura relay use`` stores which relays to use.

The relay keeps its database and its static key in the data directory
(``relay.sqlite``, ``relay-key``: 32 random bytes, mode 0600, made on first
start). It prints one line, the relay hint ``ADDRESS#KEYHEX`` that clients
pass to ``--relay`` (and writes it to ``--ready-file`` once listening, so a
script that started it on port 0 learns the port), then serves until SIGINT
or SIGTERM, after which it finishes the batch it is committing and exits 0.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import anyio

from aura_cli.command_failure import UsageError
from aura_cli.console_output import CommandResult, fields_table, rows_table
from aura_cli.device_home import CliSettings
from aura_cli.invocation import Invocation
from aura_cli.relay_hints import format_hint, parse_hint
from aura_core.errors import StorageError
from aura_effects import SystemRandom
from aura_features.rendezvous import RelayEndpoint, relay_public_key, run_relay

__all__ = ["relay_key", "serve_command", "use_command"]

_KEY_FILE = "relay-key"
_DATABASE = "relay.sqlite"


def relay_key(directory: Path) -> bytes:
    """The relay's static private key, created (0600) on first use."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / _KEY_FILE
    if not path.exists():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(SystemRandom().random_bytes(32))
    key = path.read_bytes()
    if len(key) != 32:
        raise StorageError(f"{path.name} must hold exactly 32 bytes; it holds {len(key)}")
    return key


def _listen(text: str) -> tuple[str, int]:
    host, colon, port = text.rpartition(":")
    if not colon or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UsageError(f"--listen must be HOST:PORT, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


async def serve_command(invocation: Invocation) -> CommandResult:
    args = invocation.args
    host, port = _listen(args.listen)
    directory = invocation.home.path
    key = relay_key(directory)
    ready_file = Path(args.ready_file) if args.ready_file else None
    output = invocation.output
    endpoint: RelayEndpoint | None = None
    async with anyio.create_task_group() as tg:
        endpoint = await tg.start(
            lambda task_status: run_relay(
                host,
                port,
                directory / _DATABASE,
                relay_key=key,
                ws_port=args.ws_port,
                task_status=task_status,
            )
        )
        hints = [format_hint(h) for h in endpoint.hints]
        if ready_file is not None:
            temporary = ready_file.with_suffix(".tmp")
            temporary.write_text("\n".join(hints) + "\n", encoding="utf-8")
            temporary.replace(ready_file)
        output.event(
            "listening",
            "relay listening; clients use:\n  " + "\n  ".join(hints),
            hints=hints,
            public_key=endpoint.public_key.hex(),
            pid=os.getpid(),
        )
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                output.event("stopping", f"relay stopping ({signal.Signals(signum).name})")
                break
        tg.cancel_scope.cancel()
    return CommandResult(
        {"stopped": True, "public_key": relay_public_key(key).hex()},
        fields_table("relay stopped", {"data dir": directory}),
    )


async def use_command(invocation: Invocation) -> CommandResult:
    home = invocation.home
    home.require_initialized()
    hints = tuple(parse_hint(text) for text in invocation.args.hints)
    if len(set(hints)) != len(hints):
        raise UsageError("a relay is listed twice")
    home.save_settings(CliSettings(hints))
    shown = [format_hint(h) for h in hints]
    return CommandResult(
        {"relays": shown}, rows_table("relays this device uses", ("relay",), ((h,) for h in shown))
    )
