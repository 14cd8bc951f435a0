"""aura_cli — the interface layer (layer 7): the ``aura`` command and its terminal UI.

* :func:`main` / :func:`run_command`: the command line (:mod:`aura_cli.command_line`),
  with exit codes (:class:`ExitCode`) and advice for every failure (:func:`describe_failure`);
* device directories, secrets and relays (:class:`DeviceHome`, :func:`read_host_secret`,
  :func:`parse_hint`); the daemon's control socket (:mod:`aura_cli.daemon_link`);
* :mod:`aura_cli.tui`: the textual chat screen.

Names are imported on first use, so ``aura --help`` and commands handed to a
running daemon start without loading the agent.
"""

from __future__ import annotations

import importlib
from typing import Any

_LOCATIONS = {
    "CEREMONY_OPERATIONS": "device_ceremony",
    "create_spread_account": "device_ceremony",
    "ActivityFigures": "agent_activity",
    "CONTROL_SOCKET": "device_home",
    "CliSettings": "device_home",
    "CommandFailure": "command_failure",
    "CommandResult": "console_output",
    "DATABASE_FILE": "device_home",
    "DEFAULT_TIMEOUT_S": "invocation",
    "DeviceHome": "device_home",
    "EXIT_CODE_MEANINGS": "exit_codes",
    "ExitCode": "exit_codes",
    "FORWARDED_COMMANDS": "daemon_link",
    "HOME_ENV": "device_home",
    "Invocation": "invocation",
    "KEY_ENV": "host_secret_source",
    "NotInitialized": "command_failure",
    "Output": "console_output",
    "PASSPHRASE_ENV": "host_secret_source",
    "PASSPHRASE_FILE_ENV": "host_secret_source",
    "RELAY_ENV": "invocation",
    "SETTINGS_FILE": "device_home",
    "UnsupportedOperation": "command_failure",
    "UsageError": "command_failure",
    "WrongSecret": "command_failure",
    "ask": "agent_session",
    "build_parser": "command_line",
    "contact_rows": "contact_names",
    "contacts_of_agent": "contact_names",
    "describe_failure": "command_failure",
    "drain_outbox": "agent_session",
    "fields_table": "console_output",
    "format_hint": "relay_hints",
    "forward_to_daemon": "daemon_link",
    "forwardable": "daemon_link",
    "main": "main",
    "parse_hint": "relay_hints",
    "read_host_secret": "host_secret_source",
    "require_feature": "agent_session",
    "require_operation": "agent_session",
    "resolve_contact": "contact_names",
    "resolve_data_dir": "device_home",
    "rows_table": "console_output",
    "run_command": "main",
    "run_in_daemon": "main",
    "running_agent": "agent_session",
    "serve_control_socket": "daemon_link",
    "settle": "agent_activity",
    "unlock": "host_secret_source",
    "commands": "",
    "tui": "",
}

__all__ = sorted(_LOCATIONS)


def __getattr__(name: str) -> Any:
    module = _LOCATIONS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if not module:
        return importlib.import_module(f"{__name__}.{name}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
