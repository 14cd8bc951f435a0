"""Pretty-printer for global protocols: canonical text that parses back to the same AST.

The output uses the bare form (no ``choreography! { }`` wrapper), four-space
indentation, qualified capabilities (so no namespace lookup is needed to read
them back) and annotations in a fixed order.
"""

from __future__ import annotations

from aura_journal.mpst.global_type import (
    Annotations,
    Choice,
    Continue,
    Message,
    Protocol,
    RecBlock,
    Statement,
)

__all__ = ["format_protocol"]

_INDENT = "    "


def _string(text: str) -> str:
    escaped = (
        text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    )
    return f'"{escaped}"'


def format_annotations(annotations: Annotations) -> str:
    """``[key = value, ...]`` or the empty string."""
    parts = []
    if annotations.guard_capability is not None:
        parts.append(f"guard_capability = {_string(str(annotations.guard_capability))}")
    if annotations.flow_cost is not None:
        parts.append(f"flow_cost = {annotations.flow_cost}")
    if annotations.journal_facts:
        parts.append(
            "journal_facts = [" + ", ".join(_string(f) for f in annotations.journal_facts) + "]"
        )
    if annotations.leak:
        parts.append("leak = [" + ", ".join(annotations.leak) + "]")
    return "[" + ", ".join(parts) + "]" if parts else ""


def _message(message: Message) -> str:
    fields = ", ".join(f"{f.name}: {f.type}" for f in message.fields)
    return (
        f"{message.sender}{format_annotations(message.annotations)} -> "
        f"{', '.join(message.receivers)}: {message.label}({fields});"
    )


def _block(body: tuple[Statement, ...], depth: int, out: list[str]) -> None:
    pad = _INDENT * depth
    for statement in body:
        if isinstance(statement, Message):
            out.append(pad + _message(statement))
        elif isinstance(statement, Continue):
            out.append(f"{pad}continue {statement.var};")
        elif isinstance(statement, Choice):
            out.append(f"{pad}choice at {statement.role} {{")
            for branch in statement.branches:
                out.append(f"{pad}{_INDENT}{branch.label}: {{")
                _block(branch.body, depth + 2, out)
                out.append(f"{pad}{_INDENT}}}")
            out.append(f"{pad}}}")
        elif isinstance(statement, RecBlock):
            out.append(f"{pad}rec {statement.var} {{")
            _block(statement.body, depth + 1, out)
            out.append(f"{pad}}}")


def format_protocol(protocol: Protocol) -> str:
    """Canonical source text for ``protocol``."""
    out: list[str] = []
    if protocol.namespace is not None:
        out.append(f"#[namespace = {_string(protocol.namespace)}]")
    out.append(f"protocol {protocol.name} {{")
    out.append(f"{_INDENT}roles: {', '.join(protocol.roles)};")
    _block(protocol.body, 1, out)
    out.append("}")
    return "\n".join(out) + "\n"
