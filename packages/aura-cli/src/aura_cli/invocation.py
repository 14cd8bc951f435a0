"""One run of the ``aura`` command: parsed options, environment, output, device directory."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

import attrs

from aura_cli.console_output import Output
from aura_cli.device_home import DeviceHome, resolve_data_dir

__all__ = ["DEFAULT_TIMEOUT_S", "RELAY_ENV", "Invocation"]

DEFAULT_TIMEOUT_S = 15.0
RELAY_ENV = "AURA_RELAY"


@attrs.frozen
class Invocation:
    """What a command handler gets: its options, the environment and where to print."""

    args: argparse.Namespace
    environ: Mapping[str, str]
    output: Output
    agent: Any = None
    """The running agent of ``aura sync daemon`` when the command came through its socket."""

    def option(self, name: str, default: Any = None) -> Any:
        return getattr(self.args, name, default)

    @property
    def home(self) -> DeviceHome:
        return DeviceHome(resolve_data_dir(self.option("data_dir"), self.environ))

    @property
    def timeout_s(self) -> float:
        value = self.option("timeout")
        return DEFAULT_TIMEOUT_S if value is None else max(0.0, float(value))

    def relay_override(self) -> tuple[Any, ...] | None:
        """Relays given with ``--relay`` or ``AURA_RELAY`` (``None``: use the stored ones)."""
        from aura_cli.relay_hints import parse_hint

        given = self.option("relay")
        if given:
            return tuple(parse_hint(text) for text in given)
        from_env = self.environ.get(RELAY_ENV, "").strip()
        if from_env:
            return tuple(parse_hint(text) for text in from_env.split(",") if text.strip())
        return None

    def secret(self, *, confirm: bool = False) -> Any:
        """The host secret (environment or prompt; see :mod:`aura_cli.host_secret_source`)."""
        from aura_cli.host_secret_source import read_host_secret

        return read_host_secret(self.environ, confirm=confirm)
