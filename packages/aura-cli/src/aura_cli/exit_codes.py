"""What the ``aura`` command's exit status means, so scripts can branch without parsing text.

The codes follow the error kinds of :mod:`aura_core.errors`: a script retries
on 5 (transient), asks the user on 4 (denied / wrong secret), fixes its
arguments on 2 and reports the rest. ``docs/cli.md`` lists them.
"""

from __future__ import annotations

import enum

__all__ = ["EXIT_CODE_MEANINGS", "ExitCode"]


class ExitCode(enum.IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    NOT_FOUND = 3
    DENIED = 4
    TRANSIENT = 5
    SYSTEM = 6
    UNSUPPORTED = 7
    INTERRUPTED = 130


EXIT_CODE_MEANINGS: dict[ExitCode, str] = {
    ExitCode.OK: "the command did what it was asked",
    ExitCode.FAILED: "the operation ran and a rule of the system refused it",
    ExitCode.USAGE: "bad flags or a malformed value (an id, an invitation code, a relay hint)",
    ExitCode.NOT_FOUND: "something named does not exist (data directory, account, context, "
    "channel, contact, invitation)",
    ExitCode.DENIED: "not allowed: wrong passphrase or key, missing capability, not a member",
    ExitCode.TRANSIENT: "network, relay, budget or timeout trouble; the same command may work later",
    ExitCode.SYSTEM: "local storage or infrastructure failed (unreadable or corrupt data, disk)",
    ExitCode.UNSUPPORTED: "this agent offers no such operation (feature not installed or disabled)",
    ExitCode.INTERRUPTED: "stopped by Ctrl-C or SIGTERM before finishing",
}
