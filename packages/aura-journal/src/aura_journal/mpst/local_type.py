"""Local types: one role's view of a protocol, ready for a runtime to execute.

``Send`` and ``Receive`` exchange one message with a peer; ``Select`` is this
role's own (internal) choice among labelled continuations; ``Branch`` waits
for one of several messages from a peer (external choice); ``Rec``/``Var``
loop; ``End`` finishes. Sends carry the message's annotations so a runtime
can hand them to the guard chain. Values are frozen and hash-cached, since
projection compares and merges them often.
"""

from __future__ import annotations

import attrs

from aura_journal.mpst.global_type import Annotations, Field

__all__ = [
    "Branch",
    "End",
    "LocalType",
    "Rec",
    "Receive",
    "Select",
    "Send",
    "Var",
    "format_local",
]


@attrs.frozen(cache_hash=True)
class End:
    """Nothing left to do."""


@attrs.frozen(cache_hash=True)
class Var:
    """Jump back to the enclosing ``Rec`` of the same name."""

    name: str


@attrs.frozen(cache_hash=True)
class Rec:
    """A loop: ``Var(name)`` inside ``body`` returns here."""

    name: str
    body: LocalType


@attrs.frozen(cache_hash=True)
class Send:
    """Send ``label(fields)`` to ``to`` (through the guard chain), then ``cont``."""

    to: str
    label: str
    fields: tuple[Field, ...]
    annotations: Annotations
    cont: LocalType


@attrs.frozen(cache_hash=True)
class Receive:
    """Receive exactly ``label(fields)`` from ``sender``, then ``cont``."""

    sender: str
    label: str
    fields: tuple[Field, ...]
    cont: LocalType


@attrs.frozen(cache_hash=True)
class Select:
    """This role decides: one of the labelled continuations runs."""

    branches: tuple[tuple[str, LocalType], ...]

    def branch(self, label: str) -> LocalType:
        for name, cont in self.branches:
            if name == label:
                return cont
        raise KeyError(label)


@attrs.frozen(cache_hash=True)
class Branch:
    """Wait for one of several messages from ``sender``; its label picks the continuation."""

    sender: str
    branches: tuple[tuple[str, tuple[Field, ...], LocalType], ...]

    def branch(self, label: str) -> tuple[tuple[Field, ...], LocalType]:
        for name, fields, cont in self.branches:
            if name == label:
                return fields, cont
        raise KeyError(label)


LocalType = End | Var | Rec | Send | Receive | Select | Branch
"""Any local type."""


def _fields(fields: tuple[Field, ...]) -> str:
    return "(" + ", ".join(f"{f.name}: {f.type}" for f in fields) + ")"


def _annotations(annotations: Annotations) -> str:
    parts = []
    if annotations.guard_capability is not None:
        parts.append(f'guard_capability = "{annotations.guard_capability}"')
    if annotations.flow_cost is not None:
        parts.append(f"flow_cost = {annotations.flow_cost}")
    if annotations.journal_facts:
        parts.append(
            "journal_facts = [" + ", ".join(f'"{f}"' for f in annotations.journal_facts) + "]"
        )
    if annotations.leak:
        parts.append("leak = [" + ", ".join(annotations.leak) + "]")
    return " [" + ", ".join(parts) + "]" if parts else ""


def format_local(local: LocalType, indent: str = "") -> str:
    """A readable, indented rendering of a local type (for logs and docs)."""
    lines: list[str] = []
    _render(local, indent, lines)
    return "\n".join(lines)


def _render(local: LocalType, indent: str, out: list[str]) -> None:
    inner = indent + "  "
    while True:
        if isinstance(local, Send):
            out.append(
                f"{indent}send {local.to}: {local.label}{_fields(local.fields)}"
                f"{_annotations(local.annotations)};"
            )
            local = local.cont
        elif isinstance(local, Receive):
            out.append(f"{indent}recv {local.sender}: {local.label}{_fields(local.fields)};")
            local = local.cont
        elif isinstance(local, Select):
            out.append(f"{indent}select {{")
            for label, cont in local.branches:
                out.append(f"{inner}{label}: {{")
                _render(cont, inner + "  ", out)
                out.append(f"{inner}}}")
            out.append(f"{indent}}}")
            return
        elif isinstance(local, Branch):
            out.append(f"{indent}branch from {local.sender} {{")
            for label, fields, cont in local.branches:
                out.append(f"{inner}{label}{_fields(fields)}: {{")
                _render(cont, inner + "  ", out)
                out.append(f"{inner}}}")
            out.append(f"{indent}}}")
            return
        elif isinstance(local, Rec):
            out.append(f"{indent}rec {local.name} {{")
            _render(local.body, inner, out)
            out.append(f"{indent}}}")
            return
        elif isinstance(local, Var):
            out.append(f"{indent}continue {local.name};")
            return
        else:
            out.append(f"{indent}end;")
            return
