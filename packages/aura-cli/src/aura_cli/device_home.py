"""The directory one device lives in, and the CLI's own settings kept beside the agent's data.

``--data-dir`` wins, then ``AURA_HOME``, then ``~/.aura``. The agent keeps its
SQLite database and key-derivation parameters there; the CLI adds
``aura-cli.json`` (relays to use: public, so plain JSON) and a lock file so
two ``aura`` processes never run an agent on the same directory at once
(each would hold its own copy of the journals in memory).
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from aura_agent import AgentConfig
    from aura_features.rendezvous import RelayHint

from aura_cli.command_failure import NotInitialized
from aura_core.errors import ErrorKind, InvalidInput, StorageError

__all__ = [
    "CONTROL_SOCKET",
    "DATABASE_FILE",
    "HOME_ENV",
    "SETTINGS_FILE",
    "CliSettings",
    "DeviceHome",
    "resolve_data_dir",
]

HOME_ENV = "AURA_HOME"
SETTINGS_FILE = "aura-cli.json"
_LOCK_FILE = "aura.lock"
DATABASE_FILE = "agent.sqlite"
"""The agent's database name (``AgentConfig.database_path``), checked without importing it."""
CONTROL_SOCKET = "aura.sock"


def resolve_data_dir(flag: str | None, environ: Mapping[str, str]) -> Path:
    """``--data-dir``, else ``$AURA_HOME``, else ``~/.aura``."""
    chosen = flag or environ.get(HOME_ENV) or str(Path.home() / ".aura")
    return Path(chosen).expanduser()


@attrs.frozen
class CliSettings:
    """What the CLI remembers per device directory: the relays its agent uses."""

    relays: tuple[RelayHint, ...] = ()

    def to_json(self) -> str:
        from aura_cli.relay_hints import format_hint

        return json.dumps({"relays": [format_hint(h) for h in self.relays]}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> CliSettings:
        try:
            fields = json.loads(text)
        except ValueError:
            raise StorageError(
                f"{SETTINGS_FILE} is not valid JSON", kind=ErrorKind.SYSTEM
            ) from None
        if not isinstance(fields, dict) or set(fields) != {"relays"}:
            raise StorageError(f"{SETTINGS_FILE} must hold exactly a 'relays' list")
        from aura_cli.relay_hints import parse_hint

        relays = fields["relays"]
        if not isinstance(relays, list):
            raise StorageError(f"{SETTINGS_FILE}: 'relays' must be a list of relay hints")
        try:
            return cls(tuple(parse_hint(h) for h in relays))
        except InvalidInput as exc:
            raise StorageError(f"{SETTINGS_FILE}: {exc.message}") from None


@attrs.frozen
class DeviceHome:
    """One device directory as the CLI sees it."""

    path: Path

    @property
    def settings_path(self) -> Path:
        return self.path / SETTINGS_FILE

    def agent_config(
        self, *, relays: tuple[RelayHint, ...] | None = None, **options: object
    ) -> AgentConfig:
        """The agent's configuration: this directory, and the stored relays unless overridden."""
        from aura_agent import AgentConfig

        chosen = self.settings().relays if relays is None else relays
        return AgentConfig(data_dir=self.path, relays=chosen, **options)  # type: ignore[arg-type]

    @property
    def initialized(self) -> bool:
        return (self.path / DATABASE_FILE).exists()

    @property
    def control_socket(self) -> Path:
        """Where a running ``aura sync daemon`` takes commands (see :mod:`aura_cli.daemon_link`)."""
        return self.path / CONTROL_SOCKET

    def require_initialized(self) -> None:
        if not self.path.is_dir():
            raise NotInitialized(f"no device directory at {self.path}")
        if not self.initialized:
            raise NotInitialized(f"{self.path} holds no aura device (no agent database)")

    def settings(self) -> CliSettings:
        try:
            text = self.settings_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return CliSettings()
        except OSError as exc:
            raise StorageError(f"cannot read {SETTINGS_FILE}: {exc.strerror}") from None
        return CliSettings.from_json(text)

    def save_settings(self, settings: CliSettings) -> None:
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self.settings_path.with_suffix(".tmp")
        temporary.write_text(settings.to_json(), encoding="utf-8")
        temporary.replace(self.settings_path)

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold this directory's lock for the block; refuse if another aura process holds it."""
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock_path = self.path / _LOCK_FILE
        handle = open(lock_path, "a+", encoding="utf-8")  # noqa: SIM115 (held for the block)
        try:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                raise StorageError(
                    f"{self.path} is in use by {holder} (an 'aura sync daemon' or 'aura tui'?); "
                    "stop it or wait for it to finish",
                    kind=ErrorKind.TRANSIENT,
                ) from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"aura pid {os.getpid()}")
            handle.flush()
            yield
        finally:
            handle.close()
