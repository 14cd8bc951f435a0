"""Errors for choreographies, each pointing at a line and column.

Syntax errors and well-formedness/projection errors are both invalid input
(:class:`~aura_core.errors.InvalidInput`): the protocol text is wrong and
retrying will not help. Each carries ``line`` and ``column`` (1-based; 0 when
the offending node was built in code rather than parsed) and, where one is
to blame, the ``role``.
"""

from __future__ import annotations

from aura_core.errors import InvalidInput

__all__ = ["ChoreographyError", "IllFormedChoreography", "MpstSyntaxError"]


class ChoreographyError(InvalidInput):
    """A choreography could not be accepted; the message starts with its position."""

    def __init__(
        self,
        reason: str,
        *,
        line: int = 0,
        column: int = 0,
        role: str | None = None,
        source: str | None = None,
    ) -> None:
        self.reason = reason
        self.line = line
        self.column = column
        self.role = role
        self.source = source
        where = f"line {line}, column {column}" if line else "(no position)"
        if source:
            where = f"{source}: {where}"
        super().__init__(f"{where}: {reason}")


class MpstSyntaxError(ChoreographyError):
    """The text is not in the choreography language."""


class IllFormedChoreography(ChoreographyError):
    """The protocol parses but breaks a well-formedness or projection rule."""
