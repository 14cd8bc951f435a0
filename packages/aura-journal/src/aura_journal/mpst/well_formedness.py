"""Well-formedness: the rules a global protocol must satisfy before it is used.

Structural rules (:func:`check_structure`): roles are declared once and used;
no role sends to itself; the protocol has at least one message; a choice has
at least two branches with distinct labels and a declared chooser; every
``continue`` is bound by an enclosing ``rec`` of that name and ends its
block; every ``rec`` variable is used, not shadowed, and its loop passes a
message before it repeats; no statement is unreachable. Annotation rules
(namespaced capability, non-negative cost, known observer classes) are
enforced when the annotations are built.

:func:`check_well_formed` adds the rule that needs projection: every role
affected by a choice learns which branch was taken (its projections of the
branches merge). Errors name the role, where one is to blame, and the line.
"""

from __future__ import annotations

from collections.abc import Sequence

from aura_journal.mpst.choreography_error import IllFormedChoreography
from aura_journal.mpst.global_type import (
    Choice,
    Continue,
    Message,
    Protocol,
    RecBlock,
    Statement,
)

__all__ = ["MAX_DELIVERIES", "MAX_NESTING", "check_structure", "check_well_formed"]

MAX_DELIVERIES = 200
"""Most (message, receiver) pairs in one protocol: local types are nested values, and
projection, comparison and hashing recurse along them."""
MAX_NESTING = 32
"""Deepest nesting of choice branches and rec blocks."""


def _fail(
    reason: str, node: object, role: str | None = None, source: str | None = None
) -> IllFormedChoreography:
    return IllFormedChoreography(
        reason,
        line=getattr(node, "line", 0),
        column=getattr(node, "column", 0),
        role=role,
        source=source,
    )


def falls_through(statement: Statement) -> bool:
    """Whether control can continue after ``statement`` (it does not always jump back)."""
    if isinstance(statement, Message):
        return True
    if isinstance(statement, Continue):
        return False
    if isinstance(statement, Choice):
        return any(_block_falls_through(b.body) for b in statement.branches)
    return _block_falls_through(statement.body)


def _block_falls_through(body: Sequence[Statement]) -> bool:
    return not body or falls_through(body[-1])


def _first_unguarded(
    body: Sequence[Statement], var: str, after: tuple[Sequence[Statement], ...]
) -> Continue | None:
    """A ``continue var`` reachable from the start of ``body`` without passing a message."""
    for index, statement in enumerate(body):
        rest = (body[index + 1 :], *after)
        if isinstance(statement, Message):
            return None
        if isinstance(statement, Continue):
            return statement if statement.var == var else None
        if isinstance(statement, Choice):
            for branch in statement.branches:
                found = _first_unguarded(branch.body, var, rest)
                if found is not None:
                    return found
            return None
        return _first_unguarded(statement.body, var, rest)
    if after:
        return _first_unguarded(after[0], var, after[1:])
    return None


class _Checker:
    def __init__(self, protocol: Protocol, source: str | None) -> None:
        self.protocol = protocol
        self.source = source
        self.roles = set(protocol.roles)
        self.used: set[str] = set()
        self.messages = 0
        self.deliveries = 0
        self.depth = 0

    def fail(self, reason: str, node: object, role: str | None = None) -> IllFormedChoreography:
        return _fail(reason, node, role, self.source)

    def role(self, name: str, node: object, what: str) -> None:
        if name not in self.roles:
            raise self.fail(f"role {name!r} ({what}) is not declared in 'roles:'", node, name)
        self.used.add(name)

    def block(self, body: Sequence[Statement], bound: tuple[str, ...]) -> set[str]:
        """Check a statement sequence; return the recursion variables it continues."""
        self.depth += 1
        try:
            return self._block(body, bound)
        finally:
            self.depth -= 1

    def _block(self, body: Sequence[Statement], bound: tuple[str, ...]) -> set[str]:
        if self.depth > MAX_NESTING + 1:
            raise self.fail(f"blocks nest deeper than {MAX_NESTING}", body[0] if body else None)
        continued: set[str] = set()
        for index, statement in enumerate(body):
            if index and not falls_through(body[index - 1]):
                blame = statement.sender if isinstance(statement, Message) else None
                what = (
                    f"{blame!r} sending {statement.label!r}"
                    if isinstance(statement, Message)
                    else "statement"
                )
                raise self.fail(
                    f"unreachable {what}: the statement before it always jumps back "
                    "with 'continue'",
                    statement,
                    blame,
                )
            continued |= self.statement(statement, bound)
        return continued

    def statement(self, statement: Statement, bound: tuple[str, ...]) -> set[str]:
        if isinstance(statement, Message):
            self.message(statement)
            return set()
        if isinstance(statement, Continue):
            if statement.var not in bound:
                raise self.fail(
                    f"'continue {statement.var}' has no enclosing 'rec {statement.var}'", statement
                )
            return {statement.var}
        if isinstance(statement, Choice):
            return self.choice(statement, bound)
        if isinstance(statement, RecBlock):
            return self.rec(statement, bound)
        raise self.fail(f"unknown statement {type(statement).__name__}", statement)

    def message(self, message: Message) -> None:
        self.messages += 1
        self.deliveries += len(message.receivers)
        if self.deliveries > MAX_DELIVERIES:
            raise self.fail(
                f"protocol has more than {MAX_DELIVERIES} message deliveries; split it",
                message,
                message.sender,
            )
        self.role(message.sender, message, "sender")
        seen: set[str] = set()
        for receiver in message.receivers:
            self.role(receiver, message, "receiver")
            if receiver == message.sender:
                raise self.fail(
                    f"role {receiver!r} sends {message.label!r} to itself", message, receiver
                )
            if receiver in seen:
                raise self.fail(
                    f"role {receiver!r} is listed twice as a receiver of {message.label!r}",
                    message,
                    receiver,
                )
            seen.add(receiver)

    def choice(self, choice: Choice, bound: tuple[str, ...]) -> set[str]:
        self.role(choice.role, choice, "chooser")
        if len(choice.branches) < 2:
            raise self.fail(
                f"the choice at {choice.role!r} needs at least two branches", choice, choice.role
            )
        labels: set[str] = set()
        continued: set[str] = set()
        for branch in choice.branches:
            if branch.label in labels:
                raise self.fail(
                    f"the choice at {choice.role!r} has two branches labelled {branch.label!r}",
                    branch,
                    choice.role,
                )
            labels.add(branch.label)
            continued |= self.block(branch.body, bound)
        return continued

    def rec(self, rec: RecBlock, bound: tuple[str, ...]) -> set[str]:
        if rec.var in bound:
            raise self.fail(f"recursion variable {rec.var!r} is already bound by an outer rec", rec)
        if not rec.body:
            raise self.fail(f"'rec {rec.var}' has an empty body", rec)
        continued = self.block(rec.body, (*bound, rec.var))
        if rec.var not in continued:
            raise self.fail(
                f"recursion variable {rec.var!r} is never used ('continue {rec.var};' missing)", rec
            )
        unguarded = _first_unguarded(rec.body, rec.var, ())
        if unguarded is not None:
            raise self.fail(
                f"'continue {rec.var}' can be reached without any message since 'rec {rec.var}' "
                "(unguarded recursion)",
                unguarded,
            )
        return continued - {rec.var}

    def run(self) -> None:
        protocol = self.protocol
        seen: set[str] = set()
        for role in protocol.roles:
            if role in seen:
                raise self.fail(f"role {role!r} is declared twice", protocol, role)
            seen.add(role)
        if len(protocol.roles) < 2:
            raise self.fail("a protocol needs at least two roles", protocol)
        self.block(protocol.body, ())
        if self.messages == 0:
            raise self.fail(f"protocol {protocol.name!r} has no messages", protocol)
        for role in protocol.roles:
            if role not in self.used:
                raise self.fail(
                    f"role {role!r} is declared but never sends, receives or chooses",
                    protocol,
                    role,
                )


def check_structure(protocol: Protocol, *, source: str | None = None) -> None:
    """The structural rules; raise :class:`IllFormedChoreography` on the first violation."""
    if not isinstance(protocol, Protocol):
        raise IllFormedChoreography(f"expected a Protocol, got {type(protocol).__name__}")
    _Checker(protocol, source).run()


def check_well_formed(protocol: Protocol, *, source: str | None = None) -> None:
    """All rules, including that every role can follow every choice (by projecting it)."""
    from aura_journal.mpst.projection import project_unchecked  # projection needs this module

    check_structure(protocol, source=source)
    project_unchecked(protocol, source=source)
