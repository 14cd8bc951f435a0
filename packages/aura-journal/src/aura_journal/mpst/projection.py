"""Projection: from the global protocol to each role's local type.

The projection of a message is a ``Send`` for its sender (one per receiver,
in the listed order), a ``Receive`` for each receiver, and nothing for other
roles. At a choice the chooser gets a ``Select`` over the branch labels;
every other role gets the *merge* of its projections of the branches: equal
behaviour merges to itself, and receptions from the same sender merge into a
``Branch`` keyed by message label when the labels tell the branches apart.
Anything else (a role that would have to send differently, or wait for
different senders, without having been told the choice) cannot be merged
and the protocol is rejected, naming that role and the choice's line.

A role that takes no part in a ``rec`` block skips it: its projection is the
merge of what it does at the loop's exits (statements after the block, or
an outer ``continue``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from aura_core.errors import InvalidInput
from aura_journal.mpst.choreography_error import IllFormedChoreography
from aura_journal.mpst.global_type import (
    Choice,
    Continue,
    Message,
    Protocol,
    RecBlock,
    Statement,
)
from aura_journal.mpst.local_type import (
    Branch,
    End,
    LocalType,
    Rec,
    Receive,
    Select,
    Send,
    Var,
)
from aura_journal.mpst.well_formedness import check_structure

__all__ = ["merge", "project", "project_all", "project_unchecked"]


class MergeFailure(Exception):
    """Internal: two local types cannot be merged; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _describe(local: LocalType) -> str:
    if isinstance(local, Send):
        return f"sends {local.label!r} to {local.to!r}"
    if isinstance(local, Receive):
        return f"receives {local.label!r} from {local.sender!r}"
    if isinstance(local, Branch):
        return (
            f"receives one of {', '.join(repr(b[0]) for b in local.branches)} from {local.sender!r}"
        )
    if isinstance(local, Select):
        return "makes its own choice"
    if isinstance(local, Rec):
        return f"starts loop {local.name!r}"
    if isinstance(local, Var):
        return f"repeats loop {local.name!r}"
    return "ends"


def _options(local: Receive | Branch) -> Iterable[tuple[str, tuple, LocalType]]:
    if isinstance(local, Receive):
        return ((local.label, local.fields, local.cont),)
    return local.branches


def merge(left: LocalType, right: LocalType) -> LocalType:
    """The merge of two projections of one role, or :class:`MergeFailure`."""
    if left is right or left == right:
        return left
    if isinstance(left, Receive | Branch) and isinstance(right, Receive | Branch):
        if left.sender != right.sender:
            raise MergeFailure(
                f"it waits for {left.sender!r} in one branch and for {right.sender!r} in another"
            )
        options: dict[str, tuple[tuple, LocalType]] = {}
        for label, fields, cont in (*_options(left), *_options(right)):
            if label in options:
                known_fields, known_cont = options[label]
                if known_fields != fields:
                    raise MergeFailure(f"message {label!r} has different payloads in the branches")
                options[label] = (fields, merge(known_cont, cont))
            else:
                options[label] = (fields, cont)
        if len(options) == 1:
            ((label, (fields, cont)),) = options.items()
            return Receive(left.sender, label, fields, cont)
        return Branch(
            left.sender, tuple((label, fields, cont) for label, (fields, cont) in options.items())
        )
    if isinstance(left, Send) and isinstance(right, Send):
        if (left.to, left.label, left.fields, left.annotations) != (
            right.to,
            right.label,
            right.fields,
            right.annotations,
        ):
            raise MergeFailure(
                f"it {_describe(left)} in one branch but {_describe(right)} in another"
            )
        return Send(
            left.to, left.label, left.fields, left.annotations, merge(left.cont, right.cont)
        )
    if isinstance(left, Select) and isinstance(right, Select):
        if [b[0] for b in left.branches] != [b[0] for b in right.branches]:
            raise MergeFailure("its own choices differ between the branches")
        return Select(
            tuple(
                (label, merge(a, b))
                for (label, a), (_, b) in zip(left.branches, right.branches, strict=True)
            )
        )
    if isinstance(left, Rec) and isinstance(right, Rec) and left.name == right.name:
        return Rec(left.name, merge(left.body, right.body))
    raise MergeFailure(f"it {_describe(left)} in one branch but {_describe(right)} in another")


def _mentions(local: LocalType, name: str) -> bool:
    """Whether ``Var(name)`` occurs in ``local`` (shared subterms visited once)."""
    seen: set[int] = set()
    stack = [local]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, Var):
            if node.name == name:
                return True
        elif isinstance(node, Send | Receive):
            stack.append(node.cont)
        elif isinstance(node, Select):
            stack.extend(cont for _, cont in node.branches)
        elif isinstance(node, Branch):
            stack.extend(cont for _, _, cont in node.branches)
        elif isinstance(node, Rec):
            stack.append(node.body)
    return False


def _participants(body: Sequence[Statement], out: set[str]) -> set[str]:
    for statement in body:
        if isinstance(statement, Message):
            out.add(statement.sender)
            out.update(statement.receivers)
        elif isinstance(statement, Choice):
            out.add(statement.role)
            for branch in statement.branches:
                _participants(branch.body, out)
        elif isinstance(statement, RecBlock):
            _participants(statement.body, out)
    return out


def _exits(body: Sequence[Statement], inner: frozenset[str]) -> tuple[bool, set[str]]:
    """How control leaves ``body``: falls through, and/or ``continue`` to outer loops."""
    outer: set[str] = set()
    for statement in body:
        if isinstance(statement, Message):
            continue
        if isinstance(statement, Continue):
            if statement.var not in inner:
                outer.add(statement.var)
            return False, outer
        if isinstance(statement, Choice):
            falls = False
            for branch in statement.branches:
                branch_falls, branch_outer = _exits(branch.body, inner)
                falls = falls or branch_falls
                outer |= branch_outer
        else:
            falls, nested = _exits(statement.body, inner | {statement.var})
            outer |= nested
        if not falls:
            return False, outer
    return True, outer


class _Projector:
    def __init__(self, protocol: Protocol, source: str | None) -> None:
        self.protocol = protocol
        self.source = source
        self.loop_participants: dict[int, set[str]] = {}

    def fail(self, reason: str, node: object, role: str) -> IllFormedChoreography:
        return IllFormedChoreography(
            reason,
            line=getattr(node, "line", 0),
            column=getattr(node, "column", 0),
            role=role,
            source=self.source,
        )

    def block(self, body: Sequence[Statement], role: str, cont: LocalType) -> LocalType:
        local = cont
        for statement in reversed(body):
            local = self.statement(statement, role, local)
        return local

    def statement(self, statement: Statement, role: str, cont: LocalType) -> LocalType:
        if isinstance(statement, Message):
            if role == statement.sender:
                local = cont
                for receiver in reversed(statement.receivers):
                    local = Send(
                        receiver, statement.label, statement.fields, statement.annotations, local
                    )
                return local
            if role in statement.receivers:
                return Receive(statement.sender, statement.label, statement.fields, cont)
            return cont
        if isinstance(statement, Continue):
            return Var(statement.var)
        if isinstance(statement, Choice):
            return self.choice(statement, role, cont)
        return self.rec(statement, role, cont)

    def choice(self, choice: Choice, role: str, cont: LocalType) -> LocalType:
        branches = [(b.label, self.block(b.body, role, cont)) for b in choice.branches]
        if role == choice.role:
            return Select(tuple(branches))
        first_label, result = branches[0]
        for label, local in branches[1:]:
            try:
                result = merge(result, local)
            except MergeFailure as failure:
                raise self.fail(
                    f"role {role!r} cannot learn which branch of the choice at {choice.role!r} "
                    f"was taken ({first_label!r} vs {label!r}): {failure.reason}",
                    choice,
                    role,
                ) from None
        return result

    def rec(self, rec: RecBlock, role: str, cont: LocalType) -> LocalType:
        participants = self.loop_participants.get(id(rec))
        if participants is None:
            participants = _participants(rec.body, set())
            self.loop_participants[id(rec)] = participants
        if role not in participants:
            falls, outer = _exits(rec.body, frozenset({rec.var}))
            exits: list[LocalType] = [Var(name) for name in sorted(outer)]
            if falls:
                exits.append(cont)
            if not exits:
                return End()
            result = exits[0]
            for local in exits[1:]:
                try:
                    result = merge(result, local)
                except MergeFailure as failure:
                    raise self.fail(
                        f"role {role!r} takes no part in 'rec {rec.var}' but what it does next "
                        f"depends on how the loop ends: {failure.reason}",
                        rec,
                        role,
                    ) from None
            return result
        body = self.block(rec.body, role, cont)
        return Rec(rec.var, body) if _mentions(body, rec.var) else body


def project_unchecked(protocol: Protocol, *, source: str | None = None) -> dict[str, LocalType]:
    """Project every role of a protocol that already passed :func:`check_structure`."""
    projector = _Projector(protocol, source)
    return {role: projector.block(protocol.body, role, End()) for role in protocol.roles}


def project(protocol: Protocol, role: str, *, source: str | None = None) -> LocalType:
    """The local type of ``role``; raises :class:`IllFormedChoreography` if it has none."""
    check_structure(protocol, source=source)
    if role not in protocol.roles:
        raise InvalidInput(f"{role!r} is not a role of protocol {protocol.name!r}")
    return _Projector(protocol, source).block(protocol.body, role, End())


def project_all(protocol: Protocol, *, source: str | None = None) -> dict[str, LocalType]:
    """The local type of every role, in declaration order."""
    check_structure(protocol, source=source)
    return project_unchecked(protocol, source=source)
