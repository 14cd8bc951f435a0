"""``aura``: parse, run the command's handler, print its result, exit with a meaningful code.

Handlers are ``async def handler(invocation) -> CommandResult`` functions in
:mod:`aura_cli.commands`; this module imports the one that runs, turns any
error into a message with advice (:func:`~aura_cli.command_failure.describe_failure`)
and returns the exit code (:class:`~aura_cli.exit_codes.ExitCode`). When an
``aura sync daemon`` runs on the command's directory, the command line goes
to it instead (:mod:`aura_cli.daemon_link`).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import io
import os
import sys
import traceback
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

import anyio

from aura_cli.command_failure import describe_failure
from aura_cli.command_line import build_parser
from aura_cli.console_output import CommandResult, Output
from aura_cli.daemon_link import forward_to_daemon, forwardable
from aura_cli.device_home import DeviceHome, resolve_data_dir
from aura_cli.exit_codes import ExitCode
from aura_cli.invocation import DEFAULT_TIMEOUT_S, Invocation

__all__ = ["main", "run_command", "run_in_daemon"]

_NO_DAEMON_ENV = "AURA_NO_DAEMON"


def _first_cause(error: BaseException) -> BaseException:
    """The first real error inside (possibly nested) exception groups from task groups."""
    while isinstance(error, BaseExceptionGroup):
        inner = [e for e in error.exceptions if not isinstance(e, asyncio.CancelledError)]
        if not inner:
            break
        error = inner[0]
    return error


def _parse(argv: Sequence[str], output: Output) -> argparse.Namespace | int:
    try:
        return build_parser().parse_args(list(argv))
    except SystemExit as exit_request:  # --help printed its text
        return int(exit_request.code or 0)
    except Exception as exc:
        failure = describe_failure(exc)
        output.failure(failure)
        return int(failure.code)


async def _dispatch(invocation: Invocation) -> CommandResult:
    module_name, _, function_name = invocation.args.handler.partition(":")
    handler = getattr(importlib.import_module(module_name), function_name)
    result: CommandResult = await handler(invocation)
    return result


def _report_failure(error: BaseException, output: Output, environ: Mapping[str, str]) -> int:
    if environ.get("AURA_DEBUG"):
        traceback.print_exception(error, file=output.errors.file)
    failure = describe_failure(_first_cause(error))
    output.failure(failure)
    return int(failure.code)


def _try_daemon(
    args: argparse.Namespace, argv: Sequence[str], environ: Mapping[str, str], output: Output
) -> int | None:
    """Hand the command to this directory's daemon; ``None`` when none runs (or must not)."""
    if environ.get(_NO_DAEMON_ENV) or not forwardable(argv) or getattr(args, "relay", None):
        return None
    home = DeviceHome(resolve_data_dir(getattr(args, "data_dir", None), environ).absolute())
    words = list(argv)
    if "-" in words:  # stdin belongs to this process, not the daemon's
        words[words.index("-")] = sys.stdin.read()
    timeout = getattr(args, "timeout", None) or DEFAULT_TIMEOUT_S
    answer = forward_to_daemon(
        home.control_socket,
        [*words, "--data-dir", str(home.path)],
        json_mode=output.json_mode,
        timeout_s=timeout * 4 + 30,
    )
    if answer is None:
        return None
    code, out, err = answer
    output.raw(out, err)
    return code


def run_command(
    argv: Sequence[str], environ: Mapping[str, str], output: Output | None = None
) -> int:
    """Run one ``aura`` command line; returns the exit code (never raises for command errors)."""
    if output is None:
        output = Output(json_mode="--json" in argv)
    args = _parse(argv, output)
    if isinstance(args, int):
        return args
    output.json_mode = bool(getattr(args, "json", False))
    forwarded = _try_daemon(args, argv, environ, output)
    if forwarded is not None:
        return forwarded
    invocation = Invocation(args=args, environ=environ, output=output)
    try:
        result = anyio.run(_dispatch, invocation)
    except KeyboardInterrupt:
        output.note("interrupted")
        return int(ExitCode.INTERRUPTED)
    except Exception as exc:
        return _report_failure(exc, output, environ)
    output.result(result)
    return int(result.code)


async def run_in_daemon(
    argv: Sequence[str],
    json_mode: bool,
    *,
    agent: Any,
    home: DeviceHome,
    environ: Mapping[str, str],
) -> tuple[int, str, str]:
    """Run a forwarded command line against the daemon's running ``agent``."""
    out: TextIO = io.StringIO()
    err: TextIO = io.StringIO()
    output = Output(json_mode=json_mode, stdout=out, stderr=err)
    args = _parse(argv, output)
    if isinstance(args, int):
        return args, out.getvalue(), err.getvalue()
    invocation = Invocation(args=args, environ=environ, output=output, agent=agent)
    if invocation.home.path.resolve() != home.path.resolve() or not forwardable(argv):
        output.note(f"this daemon serves {home.path} and runs device commands only")
        return int(ExitCode.USAGE), out.getvalue(), err.getvalue()
    try:
        result = await _dispatch(invocation)
    except Exception as exc:
        code = _report_failure(exc, output, environ)
        return code, out.getvalue(), err.getvalue()
    output.result(result)
    return int(result.code), out.getvalue(), err.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    """The ``aura`` console script."""
    return run_command(sys.argv[1:] if argv is None else argv, os.environ)


if __name__ == "__main__":
    sys.exit(main())
