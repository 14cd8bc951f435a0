"""Where the secret that unlocks a device directory comes from, and checking it fits.

In order: ``AURA_KEY`` (64 hex digits, e.g. from an OS keychain), then
``AURA_PASSPHRASE``, then ``AURA_PASSPHRASE_FILE`` (first line), then a
prompt when standard input is a terminal. Without a terminal (CI, scripts)
a missing secret is a usage error naming the variables, never a hang.

:func:`unlock` stretches a passphrase once (Argon2id, parameters stored in
the directory), opens the storage to test the key against the directory's
key-check record, and hands the agent the raw key, so a wrong secret is
reported as such before the agent starts and the stretching is not repeated.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from aura_agent import AgentConfig, HostSecret
from aura_cli.command_failure import UsageError, WrongSecret
from aura_core.errors import ErrorKind, InvalidInput, StorageError
from aura_effects import SqliteStorage, SystemRandom

__all__ = ["KEY_ENV", "PASSPHRASE_ENV", "PASSPHRASE_FILE_ENV", "read_host_secret", "unlock"]

KEY_ENV = "AURA_KEY"
PASSPHRASE_ENV = "AURA_PASSPHRASE"
PASSPHRASE_FILE_ENV = "AURA_PASSPHRASE_FILE"
_KEY_CHECK_REFUSAL = "secrets key does not match"


def read_host_secret(
    environ: Mapping[str, str],
    *,
    confirm: bool = False,
    prompt: Callable[[str], str] | None = None,
    interactive: bool | None = None,
) -> HostSecret:
    """The host secret from the environment, or asked for (twice when ``confirm``)."""
    try:
        if environ.get(KEY_ENV):
            try:
                key = bytes.fromhex(environ[KEY_ENV].strip())
            except ValueError:
                raise UsageError(f"{KEY_ENV} must be 64 hex digits") from None
            return HostSecret.from_key(key)
        if environ.get(PASSPHRASE_ENV):
            return HostSecret.from_passphrase(environ[PASSPHRASE_ENV])
        if environ.get(PASSPHRASE_FILE_ENV):
            path = Path(environ[PASSPHRASE_FILE_ENV]).expanduser()
            try:
                line = path.read_text(encoding="utf-8").splitlines()[0]
            except (OSError, IndexError):
                raise UsageError(
                    f"{PASSPHRASE_FILE_ENV} names no readable passphrase file"
                ) from None
            return HostSecret.from_passphrase(line)
    except UsageError:
        raise
    except InvalidInput as exc:
        raise UsageError(exc.message) from None
    if interactive is None:
        interactive = sys.stdin.isatty()
    if not interactive:
        raise UsageError(
            f"no passphrase: set {PASSPHRASE_ENV} (or {PASSPHRASE_FILE_ENV}, or {KEY_ENV}) "
            "when there is no terminal to ask on"
        )
    ask = prompt if prompt is not None else getpass.getpass
    passphrase = ask("passphrase for this device: ")
    if confirm and ask("the same passphrase again: ") != passphrase:
        raise UsageError("the two passphrases differ")
    try:
        return HostSecret.from_passphrase(passphrase)
    except InvalidInput as exc:
        raise UsageError(exc.message) from None


def unlock(config: AgentConfig, secret: HostSecret) -> HostSecret:
    """The raw storage key for ``config``'s directory; ``WrongSecret`` if it does not fit."""
    config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secret.storage_key(config.key_parameters_path, SystemRandom())
    try:
        SqliteStorage(config.database_path, secrets_key=key).close()
    except StorageError as exc:
        if exc.kind is ErrorKind.PERMANENT and _KEY_CHECK_REFUSAL in exc.message:
            raise WrongSecret(f"the passphrase or key does not unlock {config.data_dir}") from None
        raise
    return HostSecret.from_key(key)
