"""What a host tells an agent: where its data lives, how it is reached, what it loads.

An :class:`AgentConfig` is a plain frozen value so a host program (or the
CLI) can build it from flags or a file and hand it to
:class:`~aura_agent.runtime.Agent`. Validation happens here, once, with
messages naming the field, so a bad config fails before anything touches disk.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable
from pathlib import Path

import attrs

from aura_core.errors import InvalidInput
from aura_effects.noise_network import parse_address
from aura_features.rendezvous import RelayHint

__all__ = ["AgentConfig", "check_loopback_address"]


def _path(value: object) -> Path:
    if not isinstance(value, str | os.PathLike):
        raise InvalidInput(f"AgentConfig.data_dir must be a path, got {type(value).__name__}")
    return Path(value)


def _relays(value: object) -> tuple[RelayHint, ...]:
    if isinstance(value, RelayHint):
        return (value,)
    try:
        relays = tuple(value)  # type: ignore[arg-type]
    except TypeError:
        raise InvalidInput("AgentConfig.relays must be a sequence of RelayHint") from None
    for relay in relays:
        if not isinstance(relay, RelayHint):
            raise InvalidInput(
                f"AgentConfig.relays must hold RelayHint values, got {type(relay).__name__}"
            )
    if len(set(relays)) != len(relays):
        raise InvalidInput("AgentConfig.relays lists a relay twice")
    return relays


def _listen(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if value is None:
        return
    if type(value) is not str:
        raise InvalidInput("AgentConfig.listen_address must be an address string or None")
    parsed = parse_address(value)
    if parsed.scheme != "tcp" or parsed.port != 0:
        raise InvalidInput(
            "AgentConfig.listen_address must be 'tcp://HOST:0': each relational context "
            "gets its own listener (its own Noise key), on a port the system picks"
        )


def _names(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        raise InvalidInput("AgentConfig.features must be a sequence of feature names, not a str")
    names = tuple(value)  # type: ignore[arg-type]
    for name in names:
        if type(name) is not str or not name:
            raise InvalidInput("AgentConfig.features must hold non-empty feature names")
    return names


def _seconds(low: float, high: float) -> Callable[[object, attrs.Attribute, object], None]:
    def check(_instance: object, attribute: attrs.Attribute, value: object) -> None:
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or not low <= value <= high
        ):
            raise InvalidInput(f"AgentConfig.{attribute.name} must be seconds in [{low}, {high}]")

    return check


def check_loopback_address(value: object, what: str = "metrics_address") -> tuple[str, int]:
    """``host:port`` on a loopback address (``127.0.0.0/8`` or ``::1``); the metrics endpoint
    is for local scrapers only, so anything else is refused."""
    if type(value) is not str or ":" not in value:
        raise InvalidInput(f"{what} must be 'host:port' on a loopback address")
    host, _, port_text = value.rpartition(":")
    host = host.strip("[]")
    try:
        address = ipaddress.ip_address("127.0.0.1" if host == "localhost" else host)
    except ValueError:
        raise InvalidInput(f"{what}: {host!r} is not an IP address") from None
    if not address.is_loopback:
        raise InvalidInput(f"{what}: {host} is not a loopback address")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise InvalidInput(f"{what}: port {port_text!r} is not in 0..65535")
    return str(address), int(port_text)


def _metrics(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if value is not None:
        check_loopback_address(value)


@attrs.frozen
class AgentConfig:
    """Everything an agent needs from its host, except the secret that unlocks its key material.

    The secret (a passphrase or a 32-byte key from the host's keychain) is
    passed to :class:`~aura_agent.runtime.Agent` separately so a config can
    be printed, stored or logged without it.
    """

    data_dir: Path = attrs.field(converter=_path)
    """Directory holding the SQLite database and the key-derivation parameters."""
    relays: tuple[RelayHint, ...] = attrs.field(default=(), converter=_relays)
    """Relays this agent keeps its mailboxes on and deposits to (first one preferred)."""
    listen_address: str | None = attrs.field(default=None, validator=_listen)
    """Host on which the agent accepts direct Noise links from contacts (``tcp://HOST:0``).

    One listener per relational context (each with the context's own key);
    the bound address is advertised in the agent's descriptor there. ``None``:
    contacts are reached through relays only."""
    features: tuple[str, ...] | None = attrs.field(default=None, converter=_names)
    """Feature names to load; ``None`` loads every built-in and discovered feature."""
    signal_batch_s: float = attrs.field(default=0.02, validator=_seconds(0.0, 5.0))
    """How long signal updates are gathered before subscribers are woken (batching)."""
    sync_interval_s: float = attrs.field(default=2.0, validator=_seconds(0.01, 3600.0))
    """Anti-entropy period per peer."""
    relay_poll_s: float = attrs.field(default=0.5, validator=_seconds(0.01, 3600.0))
    """How often mailboxes are fetched from the relays."""
    metrics_address: str | None = attrs.field(default=None, validator=_metrics)
    """``127.0.0.1:PORT`` to serve ``/metrics`` (Prometheus text) on; ``None``: no endpoint."""

    @property
    def database_path(self) -> Path:
        return self.data_dir / "agent.sqlite"

    @property
    def key_parameters_path(self) -> Path:
        return self.data_dir / "key-derivation.json"
