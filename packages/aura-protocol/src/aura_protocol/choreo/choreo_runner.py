"""The sans-IO core that executes one role's projected local type.

:class:`ChoreoRunner` holds the role's position in its local type. It is
driven by two calls, :meth:`~ChoreoRunner.start` and
:meth:`~ChoreoRunner.receive`, each returning the sends the role makes until
it next waits for a message (or ends). What to send and which branch to take
come from the role's :class:`RoleBehaviour` (plain application code); the
runner checks every value against the declared field types, on the way out
and on the way in. Messages from one peer are processed in their ``seq``
order whatever order they arrive in; duplicates are dropped; a message the
local type does not allow is a :class:`~aura_core.errors.ProtocolViolation`.
The runner never touches storage, the network or a clock: the drivers
(:mod:`.choreo_driver`, :mod:`.choreo_node`) pass each send through the guard
chain and the transport.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import attrs

from aura_core.errors import InvalidEncoding, InvalidInput, ProtocolViolation
from aura_core.identifiers import SessionId
from aura_journal.facts import Fact
from aura_journal.mpst import (
    Annotations,
    Branch,
    End,
    Field,
    LocalType,
    Rec,
    Receive,
    Select,
    Send,
    Var,
)
from aura_protocol.choreo.choreo_message import ChoreoMessage
from aura_protocol.choreo.payload_types import PayloadTypes

__all__ = ["ChoreoRunner", "ChoreoSend", "RoleBehaviour"]

MAX_BUFFERED_PER_PEER = 64
"""Messages held back waiting for an earlier one from the same peer."""
_MAX_STEPS = 100_000


@runtime_checkable
class RoleBehaviour(Protocol):
    """A role's application logic: payloads, choices, coupled facts, and what it learns."""

    def payload(self, to: str, label: str) -> Mapping[str, Any]:
        """The field values of ``label`` sent to ``to``."""
        ...

    def choose(self, labels: tuple[str, ...]) -> str:
        """Which branch this role takes at one of its choices."""
        ...

    def facts(self, to: str, label: str, values: Mapping[str, Any]) -> Sequence[Fact]:
        """Facts committed with the send (the types its ``journal_facts`` annotation names)."""
        ...

    def received(self, sender: str, label: str, values: Mapping[str, Any]) -> None:
        """A message arrived and was accepted."""
        ...


@attrs.frozen
class ChoreoSend:
    """One send the role makes: the message, its annotations and the facts coupled to it."""

    message: ChoreoMessage
    annotations: Annotations
    facts: tuple[Fact, ...]

    @property
    def to(self) -> str:
        return self.message.receiver


def _fields_of(local: LocalType, seen: set[int] | None = None) -> Iterable[Field]:
    stack = [local]
    while stack:
        node = stack.pop()
        if isinstance(node, Send | Receive):
            yield from node.fields
            stack.append(node.cont)
        elif isinstance(node, Select):
            stack.extend(cont for _, cont in node.branches)
        elif isinstance(node, Branch):
            for _, fields, cont in node.branches:
                yield from fields
                stack.append(cont)
        elif isinstance(node, Rec):
            stack.append(node.body)


class ChoreoRunner:
    """Executes ``local`` for ``role`` in one session of ``protocol``."""

    def __init__(
        self,
        *,
        protocol: str,
        session: SessionId,
        role: str,
        roles: Iterable[str],
        local: LocalType,
        behaviour: RoleBehaviour,
        types: PayloadTypes | None = None,
    ) -> None:
        if not isinstance(session, SessionId):
            raise InvalidInput("a runner needs a SessionId")
        self.protocol = protocol
        self.session = session
        self.role = role
        self.roles = frozenset(roles)
        if role not in self.roles:
            raise InvalidInput(f"{role!r} is not one of the protocol's roles")
        self.behaviour = behaviour
        self.types = types if types is not None else PayloadTypes()
        for field in _fields_of(local):
            self.types.get(field.type)  # every field type must be known before anything runs
        self._state: LocalType = local
        self._loops: dict[str, Rec] = {}
        self._next_out: dict[str, int] = {}
        self._next_in: dict[str, int] = {}
        self._held: dict[str, dict[int, ChoreoMessage]] = {}
        self._ready: dict[str, deque[ChoreoMessage]] = {}
        self._started = False
        self.received_count = 0

    # ------------------------------------------------------------------ state

    @property
    def done(self) -> bool:
        return self._started and isinstance(self._state, End)

    @property
    def waiting_for(self) -> tuple[str, tuple[str, ...]] | None:
        """``(peer role, acceptable labels)`` while blocked on a receive."""
        state = self._state
        if isinstance(state, Receive):
            return state.sender, (state.label,)
        if isinstance(state, Branch):
            return state.sender, tuple(label for label, _, _ in state.branches)
        return None

    # ------------------------------------------------------------------ driving

    def start(self) -> list[ChoreoSend]:
        if self._started:
            raise InvalidInput("the runner was already started")
        self._started = True
        return self._advance()

    def receive(self, message: ChoreoMessage) -> list[ChoreoSend]:
        """Take one message (in any order); returns the sends it unblocks."""
        if not self._started:
            raise InvalidInput("start the runner before delivering messages")
        if not isinstance(message, ChoreoMessage):
            raise InvalidInput("receive needs a ChoreoMessage")
        if (message.protocol, message.session) != (self.protocol, self.session):
            raise ProtocolViolation(
                f"a message of {message.protocol} session {message.session} reached "
                f"{self.protocol} session {self.session}"
            )
        if message.receiver != self.role:
            raise ProtocolViolation(
                f"a message for role {message.receiver!r} reached {self.role!r}"
            )
        sender = message.sender
        if sender not in self.roles or sender == self.role:
            raise ProtocolViolation(f"{sender!r} is not a peer role of {self.protocol}")
        expected = self._next_in.get(sender, 0)
        if message.seq < expected:
            return []  # a duplicate of something already processed
        held = self._held.setdefault(sender, {})
        if message.seq in held:
            return []
        if len(held) >= MAX_BUFFERED_PER_PEER:
            raise ProtocolViolation(
                f"{sender!r} sent more than {MAX_BUFFERED_PER_PEER} messages ahead"
            )
        held[message.seq] = message
        ready = self._ready.setdefault(sender, deque())
        while expected in held:
            ready.append(held.pop(expected))
            expected += 1
        self._next_in[sender] = expected
        return self._advance()

    # ------------------------------------------------------------------ the interpreter

    def _advance(self) -> list[ChoreoSend]:
        out: list[ChoreoSend] = []
        for _ in range(_MAX_STEPS):
            state = self._state
            if isinstance(state, End):
                return out
            if isinstance(state, Rec):
                self._loops[state.name] = state
                self._state = state.body
            elif isinstance(state, Var):
                loop = self._loops.get(state.name)
                if loop is None:
                    raise InvalidInput(f"continue {state.name} outside its loop")
                self._state = loop.body
            elif isinstance(state, Send):
                out.append(self._send(state))
                self._state = state.cont
            elif isinstance(state, Select):
                labels = tuple(label for label, _ in state.branches)
                choice = self.behaviour.choose(labels)
                if choice not in labels:
                    raise InvalidInput(f"{self.role} chose {choice!r}, not one of {list(labels)}")
                self._state = state.branch(choice)
            elif isinstance(state, Receive | Branch):
                queue = self._ready.get(state.sender)
                if not queue:
                    return out
                message = queue.popleft()
                if isinstance(state, Receive):
                    if message.label != state.label:
                        raise ProtocolViolation(
                            f"{self.role} expected {state.label} from {state.sender}, "
                            f"got {message.label}"
                        )
                    fields, cont = state.fields, state.cont
                else:
                    try:
                        fields, cont = state.branch(message.label)
                    except KeyError:
                        raise ProtocolViolation(
                            f"{self.role} expected one of "
                            f"{[label for label, _, _ in state.branches]} from {state.sender}, "
                            f"got {message.label}"
                        ) from None
                values = self._read_values(message, fields)
                self.received_count += 1
                self.behaviour.received(message.sender, message.label, values)
                self._state = cont
            else:  # pragma: no cover - the local type union is closed
                raise InvalidInput(f"unknown local type {type(state).__name__}")
        raise ProtocolViolation(f"{self.role} made {_MAX_STEPS} steps without waiting")

    def _send(self, step: Send) -> ChoreoSend:
        values = dict(self.behaviour.payload(step.to, step.label))
        names = [f.name for f in step.fields]
        if sorted(values) != sorted(names):
            raise InvalidInput(
                f"{self.role} -> {step.to}: {step.label} has fields {names}, "
                f"the behaviour gave {sorted(values)}"
            )
        wire = {
            f.name: self.types.to_wire(f.type, values[f.name], f"{step.label}.{f.name}")
            for f in step.fields
        }
        seq = self._next_out.get(step.to, 0)
        self._next_out[step.to] = seq + 1
        message = ChoreoMessage(
            self.protocol, self.session, self.role, step.to, seq, step.label, wire
        )
        facts = tuple(self.behaviour.facts(step.to, step.label, values))
        return ChoreoSend(message, step.annotations, facts)

    def _read_values(self, message: ChoreoMessage, fields: tuple[Field, ...]) -> dict[str, Any]:
        names = sorted(f.name for f in fields)
        if sorted(message.values) != names:
            raise ProtocolViolation(
                f"{message.label} from {message.sender} must have fields {names}, "
                f"got {sorted(message.values)[:8]}"
            )
        try:
            return {
                f.name: self.types.from_wire(
                    f.type, message.values[f.name], f"{message.label}.{f.name}"
                )
                for f in fields
            }
        except InvalidEncoding as exc:
            raise ProtocolViolation(f"{message.sender} sent a bad value: {exc.message}") from None
