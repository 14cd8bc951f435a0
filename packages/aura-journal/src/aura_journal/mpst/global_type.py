"""The global-type AST: a protocol as seen from above.

A protocol body is a sequence of statements: messages (possibly to several
receivers), choices made by one role among labelled branches, recursion
blocks and ``continue`` jumps. Statements after a choice or a ``rec`` block
run when a branch (or the loop body) ends without ``continue``.

Nodes record where they were parsed (``line``, ``column``) for error
messages, but positions take no part in equality: ``parse(print(ast)) ==
ast`` compares structure only.
"""

from __future__ import annotations

import re

import attrs

from aura_core.errors import InvalidInput
from aura_journal.authorization.capability import Capability

__all__ = [
    "KEYWORDS",
    "OBSERVER_CLASSES",
    "Annotations",
    "Choice",
    "ChoiceBranch",
    "Continue",
    "Field",
    "Message",
    "Protocol",
    "RecBlock",
    "Statement",
]

KEYWORDS = frozenset({"choreography", "protocol", "roles", "choice", "at", "rec", "continue"})
"""Words that cannot name a role, message, branch or recursion variable."""

OBSERVER_CLASSES = ("external", "neighbor", "in_group")
"""Who may observe a send, for the leakage budget (``leak`` annotation)."""

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TYPE = re.compile(r"[A-Za-z_][A-Za-z0-9_<>, ]*")
_FACT_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9_:.]{0,63}")


def _identifier(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not str or not _IDENT.fullmatch(value) or value in KEYWORDS:
        raise InvalidInput(f"{attribute.name} must be a non-keyword identifier, got {value!r:.60}")


def _identifiers(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not tuple:
        raise InvalidInput(f"{attribute.name} must be a tuple")
    for item in value:
        if type(item) is not str or not _IDENT.fullmatch(item) or item in KEYWORDS:
            raise InvalidInput(
                f"{attribute.name} must hold non-keyword identifiers, got {item!r:.60}"
            )


def _position() -> attrs.Attribute:
    return attrs.field(default=0, eq=False, repr=False, kw_only=True)


@attrs.frozen
class Field:
    """One payload field: ``name: Type``."""

    name: str = attrs.field(validator=_identifier)
    type: str = attrs.field()

    @type.validator
    def _check_type(self, _attribute: attrs.Attribute, value: object) -> None:
        if type(value) is not str or not _TYPE.fullmatch(value):
            raise InvalidInput(f"field type must be a type name, got {value!r:.60}")


def _flow_cost(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if value is None:
        return
    if type(value) is not int or value < 0:
        raise InvalidInput(f"flow_cost must be a non-negative integer, got {value!r:.60}")


def _journal_facts(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not tuple:
        raise InvalidInput("journal_facts must be a tuple of fact type names")
    for item in value:
        if type(item) is not str or not _FACT_TYPE.fullmatch(item):
            raise InvalidInput(f"journal_facts entry {item!r:.60} is not a fact type name")
    if len(set(value)) != len(value):
        raise InvalidInput("journal_facts lists a fact type twice")


def _leak(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not tuple:
        raise InvalidInput("leak must be a tuple of observer classes")
    for item in value:
        if item not in OBSERVER_CLASSES:
            raise InvalidInput(
                f"leak entry {item!r:.60} is not an observer class ({', '.join(OBSERVER_CLASSES)})"
            )
    if len(set(value)) != len(value):
        raise InvalidInput("leak lists an observer class twice")


@attrs.frozen
class Annotations:
    """What the guard chain needs for a send.

    ``guard_capability`` is the capability the sender must hold (always
    namespaced), ``flow_cost`` the budget charge per send, ``journal_facts``
    the fact types committed with the send, ``leak`` the observer classes
    that learn of it.
    """

    guard_capability: Capability | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(Capability))
    )
    flow_cost: int | None = attrs.field(default=None, validator=_flow_cost)
    journal_facts: tuple[str, ...] = attrs.field(default=(), validator=_journal_facts)
    leak: tuple[str, ...] = attrs.field(default=(), validator=_leak)

    @property
    def empty(self) -> bool:
        return self == Annotations()


@attrs.frozen
class Message:
    """``Sender[annotations] -> R1, R2: Label(fields);``"""

    sender: str = attrs.field(validator=_identifier)
    receivers: tuple[str, ...] = attrs.field(validator=_identifiers)
    label: str = attrs.field(validator=_identifier)
    fields: tuple[Field, ...] = attrs.field(default=())
    annotations: Annotations = attrs.field(factory=Annotations)
    line: int = _position()
    column: int = _position()

    def __attrs_post_init__(self) -> None:
        if not self.receivers:
            raise InvalidInput("a message needs at least one receiver")
        if not all(isinstance(f, Field) for f in self.fields):
            raise InvalidInput("message fields must be Field values")
        if not isinstance(self.annotations, Annotations):
            raise InvalidInput("message annotations must be an Annotations value")


@attrs.frozen
class ChoiceBranch:
    """One labelled branch of a choice."""

    label: str = attrs.field(validator=_identifier)
    body: tuple[Statement, ...] = attrs.field(default=())
    line: int = _position()
    column: int = _position()


@attrs.frozen
class Choice:
    """``choice at Role { label: { ... } ... }``: ``role`` decides which branch runs."""

    role: str = attrs.field(validator=_identifier)
    branches: tuple[ChoiceBranch, ...] = attrs.field()
    line: int = _position()
    column: int = _position()

    def __attrs_post_init__(self) -> None:
        if not all(isinstance(b, ChoiceBranch) for b in self.branches):
            raise InvalidInput("choice branches must be ChoiceBranch values")


@attrs.frozen
class RecBlock:
    """``rec X { ... }``: a loop; ``continue X;`` jumps back to its start."""

    var: str = attrs.field(validator=_identifier)
    body: tuple[Statement, ...] = attrs.field(default=())
    line: int = _position()
    column: int = _position()


@attrs.frozen
class Continue:
    """``continue X;``: jump back to the start of the enclosing ``rec X``."""

    var: str = attrs.field(validator=_identifier)
    line: int = _position()
    column: int = _position()


Statement = Message | Choice | RecBlock | Continue
"""Any statement of a protocol body."""

_NAMESPACE = re.compile(r"[a-z][a-z0-9_]{0,31}")


def _namespace(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if value is not None and (type(value) is not str or not _NAMESPACE.fullmatch(value)):
        raise InvalidInput(
            f"namespace must match [a-z][a-z0-9_]{{0,31}} (a capability namespace), got {value!r:.60}"
        )


@attrs.frozen
class Protocol:
    """A whole global protocol: name, optional namespace, roles, body."""

    name: str = attrs.field(validator=_identifier)
    roles: tuple[str, ...] = attrs.field(validator=_identifiers)
    body: tuple[Statement, ...] = attrs.field(default=())
    namespace: str | None = attrs.field(default=None, validator=_namespace)
    line: int = _position()
    column: int = _position()
