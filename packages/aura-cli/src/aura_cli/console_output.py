"""How results reach the user: rich tables and panels for people, one JSON document for scripts.

A command returns a :class:`CommandResult` (data plus, optionally, a rich
renderable); :class:`Output` prints the renderable, or with ``--json`` the
data as one JSON object on standard output (``{"ok": true, ...}``). Progress
bars and notes go to standard error and only when it is a terminal, so
``--json`` output always parses. Long-running commands (``relay serve``,
``sync daemon``) print events as they happen, one JSON object per line.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

import attrs
from rich.console import Console, RenderableType
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from aura_cli.command_failure import CommandFailure
from aura_cli.exit_codes import ExitCode

__all__ = ["CommandResult", "Output", "fields_table", "rows_table"]


@attrs.frozen
class CommandResult:
    """What a command produced: JSON-able ``data`` and how to show it to a person."""

    data: Mapping[str, Any]
    view: RenderableType | None = None
    code: ExitCode = ExitCode.OK
    """Non-zero when the command ran but its outcome was negative (a failed scenario, say)."""


def rows_table(
    title: str, columns: Sequence[str], rows: Iterable[Sequence[object]], *, empty: str = "none"
) -> RenderableType:
    """A table of ``rows``; an empty list shows ``empty`` instead of an empty frame."""
    table = Table(title=title, title_justify="left", show_lines=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    count = 0
    for row in rows:
        table.add_row(*("" if cell is None else str(cell) for cell in row))
        count += 1
    if count == 0:
        table.caption = f"({empty})"
    return table


def fields_table(title: str, fields: Mapping[str, object]) -> RenderableType:
    """Name/value pairs, one per line."""
    table = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2))
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for name, value in fields.items():
        table.add_row(name, "-" if value is None else str(value))
    return table


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


class Output:
    """Standard output for results, standard error for progress and errors."""

    def __init__(
        self, *, json_mode: bool, stdout: TextIO | None = None, stderr: TextIO | None = None
    ) -> None:
        self.json_mode = json_mode
        self._stdout = stdout if stdout is not None else sys.stdout
        self.console = Console(file=self._stdout, highlight=False, soft_wrap=False)
        self.errors = Console(
            file=stderr if stderr is not None else sys.stderr, highlight=False, soft_wrap=True
        )

    def result(self, result: CommandResult) -> None:
        if self.json_mode:
            self.json({"ok": result.code is ExitCode.OK, **result.data})
        elif result.view is not None:
            self.console.print(result.view)

    def json(self, document: Mapping[str, Any]) -> None:
        self._stdout.write(json.dumps(_jsonable(document), sort_keys=True) + "\n")
        self._stdout.flush()

    def raw(self, stdout: str, stderr: str) -> None:
        """Pass on what a command printed elsewhere (a daemon ran it)."""
        self._stdout.write(stdout)
        self._stdout.flush()
        self.errors.file.write(stderr)
        self.errors.file.flush()

    def event(self, kind: str, text: str, **data: Any) -> None:
        """One event of a long-running command (a JSON line with ``--json``)."""
        if self.json_mode:
            self.json({"event": kind, **data})
        else:
            self.console.print(text)

    def note(self, text: str) -> None:
        """A remark for a person (standard error; silent with ``--json``)."""
        if not self.json_mode:
            self.errors.print(text)

    def failure(self, failure: CommandFailure) -> None:
        if self.json_mode:
            self.json(failure.to_json())
        self.errors.print(
            f"[bold red]error:[/] {escape(failure.message)}", markup=True, highlight=False
        )
        self.errors.print(f"[dim]hint:[/] {escape(failure.hint)}", markup=True, highlight=False)

    @contextmanager
    def progress(self, description: str, total: float | None = None) -> Iterator[_Step]:
        """A progress bar (or spinner without ``total``) on a terminal; silent otherwise."""
        bar = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=self.errors,
            transient=True,
            disable=self.json_mode or not self.errors.is_terminal,
        )
        with bar:
            task = bar.add_task(description, total=total)
            yield _Step(bar, task)


class _Step:
    """The handle a command advances its progress bar with."""

    def __init__(self, bar: Progress, task: Any) -> None:
        self._bar = bar
        self._task = task

    def advance(self, amount: float = 1.0, description: str | None = None) -> None:
        if description is None:
            self._bar.advance(self._task, amount)
        else:
            self._bar.update(self._task, advance=amount, description=description)
