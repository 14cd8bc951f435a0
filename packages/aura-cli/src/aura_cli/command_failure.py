"""From an exception to what the user reads and the exit status a script sees.

Every error a command can meet is an :class:`~aura_core.errors.AuraError`
(or one of the few CLI conditions below, which are too). :func:`describe_failure`
picks the exit code from the error's class and kind and adds one line of
advice saying what to do next. Messages come from the errors themselves,
which never carry secrets; anything that is not an ``AuraError`` is a bug and
is reported as such without its arguments.
"""

from __future__ import annotations

import attrs

from aura_cli.exit_codes import ExitCode
from aura_core.errors import (
    AuraError,
    AuthorizationDenied,
    ConsensusError,
    CryptoError,
    ErrorKind,
    InsufficientBudget,
    InvalidInput,
    LeakageBudgetExceeded,
    NotFound,
    StorageError,
    TransportError,
    ValidationError,
)

__all__ = [
    "CommandFailure",
    "NotInitialized",
    "UnsupportedOperation",
    "UsageError",
    "WrongSecret",
    "describe_failure",
]


class UsageError(InvalidInput):
    """The command line itself is wrong (missing secret, conflicting flags)."""


class NotInitialized(NotFound):
    """The data directory holds no device yet."""


class UnsupportedOperation(NotFound):
    """No loaded feature offers the operation a command needs."""


class WrongSecret(AuraError):
    """The passphrase or key does not unlock this data directory."""


@attrs.frozen
class CommandFailure:
    """What a failed command reports: exit code, error name, message and advice."""

    code: ExitCode
    error: str
    message: str
    hint: str

    def to_json(self) -> dict[str, object]:
        return {
            "ok": False,
            "exit_code": int(self.code),
            "error": self.error,
            "message": self.message,
            "hint": self.hint,
        }


def _code_of(error: AuraError) -> ExitCode:
    if isinstance(error, UnsupportedOperation):
        return ExitCode.UNSUPPORTED
    if isinstance(error, NotFound):
        return ExitCode.NOT_FOUND
    if isinstance(error, WrongSecret | AuthorizationDenied):
        return ExitCode.DENIED
    if isinstance(error, InvalidInput):
        return ExitCode.USAGE
    if error.kind is ErrorKind.TRANSIENT:
        return ExitCode.TRANSIENT
    if error.kind is ErrorKind.SYSTEM:
        return ExitCode.SYSTEM
    return ExitCode.FAILED


def _hint_of(error: AuraError) -> str:
    if isinstance(error, NotInitialized):
        return (
            "run 'aura init' first, or point --data-dir (or AURA_HOME) at an existing device "
            "directory"
        )
    if isinstance(error, UnsupportedOperation):
        return "see 'aura status' for the features this agent loads"
    if isinstance(error, WrongSecret):
        return (
            "set AURA_PASSPHRASE (or AURA_KEY) to the secret this data directory was created with"
        )
    if isinstance(error, UsageError):
        return "see 'aura --help' or 'aura COMMAND --help'"
    from aura_features.invitation import InvalidInvitationCode  # only needed on failure

    if isinstance(error, InvalidInvitationCode):
        return "paste the whole code exactly as the inviter sent it (it starts with aura:v1:)"
    if isinstance(error, NotFound):
        return "check the id or name (list commands show what exists: 'aura chat list', ...)"
    if isinstance(error, AuthorizationDenied):
        return "this device or account lacks the right for that; check membership and capability"
    if isinstance(error, InsufficientBudget | LeakageBudgetExceeded):
        return "the budget for this period is used up; wait for the next epoch and retry"
    if isinstance(error, ConsensusError):
        return "not enough devices or witnesses answered; bring them online ('aura sync daemon') and retry"
    if isinstance(error, TransportError):
        return "is the relay running and reachable? check with 'aura status' and retry"
    if isinstance(error, StorageError) and error.kind is ErrorKind.SYSTEM:
        return (
            "the data directory may be damaged or in use by another process; copy it before repairs"
        )
    if isinstance(error, CryptoError):
        return "a signature or key did not check out: the input was tampered with or is for someone else"
    if isinstance(error, InvalidInput):
        return "fix the value named above and run the command again"
    if isinstance(error, ValidationError):
        return "the input is well-formed but breaks a rule of the system (see the message)"
    if error.kind is ErrorKind.TRANSIENT:
        return "this may work if you try again later"
    return "nothing was changed by the failed step; see the message for the cause"


def describe_failure(error: BaseException) -> CommandFailure:
    """The report for ``error`` (an ``AuraError``, or anything else as an internal error)."""
    if isinstance(error, AuraError):
        return CommandFailure(_code_of(error), type(error).__name__, error.message, _hint_of(error))
    return CommandFailure(
        ExitCode.SYSTEM,
        "InternalError",
        f"unexpected {type(error).__name__} inside aura (a bug; please report it)",
        "run again with AURA_DEBUG=1 to see the traceback",
    )
