"""``aura``: parse, run the command's handler, print its result, exit with a meaningful code.

Handlers are ``async def handler(invocation) -> CommandResult`` functions in
:mod:`aura_cli.commands`; this module imports the one that runs, turns any
error into a message with advice (:func:`~aura_cli.command_failure.describe_failure`)
and returns the exit code (:class:`~aura_cli.exit_codes.ExitCode`).
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
import traceback
from collections.abc import Mapping, Sequence

import anyio

from aura_cli.command_failure import describe_failure
from aura_cli.command_line import build_parser
from aura_cli.console_output import Output
from aura_cli.exit_codes import ExitCode
from aura_cli.invocation import Invocation

__all__ = ["main", "run_command"]


def run_command(
    argv: Sequence[str], environ: Mapping[str, str], output: Output | None = None
) -> int:
    """Run one ``aura`` command line; returns the exit code (never raises for command errors)."""
    json_mode = "--json" in argv
    if output is None:
        output = Output(json_mode=json_mode)
    try:
        args = build_parser().parse_args(list(argv))
    except SystemExit as exit_request:  # --help printed its text
        return int(exit_request.code or 0)
    except Exception as exc:
        failure = describe_failure(exc)
        output.failure(failure)
        return int(failure.code)
    output.json_mode = bool(getattr(args, "json", False))
    module_name, _, function_name = args.handler.partition(":")
    invocation = Invocation(args=args, environ=environ, output=output)
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
        result = anyio.run(handler, invocation)
    except KeyboardInterrupt:
        output.note("interrupted")
        return int(ExitCode.INTERRUPTED)
    except Exception as exc:
        if environ.get("AURA_DEBUG"):
            traceback.print_exc()
        failure = describe_failure(_first_cause(exc))
        output.failure(failure)
        return int(failure.code)
    output.result(result)
    return int(result.code)


def _first_cause(error: BaseException) -> BaseException:
    """The first real error inside (possibly nested) exception groups from task groups."""
    while isinstance(error, BaseExceptionGroup):
        inner = [e for e in error.exceptions if not isinstance(e, asyncio.CancelledError)]
        if not inner:
            break
        error = inner[0]
    return error


def main(argv: Sequence[str] | None = None) -> int:
    """The ``aura`` console script."""
    return run_command(sys.argv[1:] if argv is None else argv, os.environ)


if __name__ == "__main__":
    sys.exit(main())
