"""Properties of projection and printing over random global types.

Soundness is checked by execution: the projected local types run as
asynchronous processes with one FIFO queue per ordered pair of roles; every
receive must find exactly the message the protocol says, nothing may deadlock
or be left unread, and the messages on each channel must be the ones the
global protocol produces, in the same order, for the same choices.
"""

from __future__ import annotations

import itertools
import random
from collections import deque

from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st

from aura_journal.authorization import Capability
from aura_journal.mpst import (
    Annotations,
    Branch,
    Choice,
    ChoiceBranch,
    Continue,
    End,
    Field,
    IllFormedChoreography,
    LocalType,
    Message,
    Protocol,
    Rec,
    RecBlock,
    Receive,
    Select,
    Send,
    Var,
    check_well_formed,
    format_protocol,
    parse_choreography,
    project_all,
)
from aura_journal.mpst.well_formedness import MAX_DELIVERIES

ROLE_POOL = ("Alice", "Bob", "Carol", "Dave")
TYPES = ("u32", "bool", "Bytes", "Vec<u8>", "Option<HashMap<String, u64>>")

annotations = st.builds(
    Annotations,
    guard_capability=st.none()
    | st.sampled_from([Capability.parse("chat:send"), Capability.parse("tree:rotate")]),
    flow_cost=st.none() | st.integers(0, 1000),
    journal_facts=st.sampled_from([(), ("ChatMessage",), ("Receipt", "FlowCharge")]),
    leak=st.sampled_from([(), ("external",), ("neighbor", "in_group")]),
)
fields = st.lists(
    st.builds(Field, st.sampled_from(["data", "vote", "n", "key"]), st.sampled_from(TYPES)),
    max_size=2,
    unique_by=lambda f: f.name,
).map(tuple)


class _Builder:
    """Draws a random protocol; ``inform`` makes every choice tell every role at once."""

    def __init__(self, draw, roles: tuple[str, ...], inform: bool) -> None:
        self.draw = draw
        self.roles = roles
        self.inform = inform
        self.labels = itertools.count()
        self.vars = itertools.count()

    def label(self) -> str:
        return f"M{next(self.labels)}"

    def message(
        self, sender: str | None = None, receivers: tuple[str, ...] | None = None
    ) -> Message:
        draw = self.draw
        sender = sender or draw(st.sampled_from(self.roles))
        others = [r for r in self.roles if r != sender]
        if receivers is None:
            receivers = tuple(
                draw(st.lists(st.sampled_from(others), min_size=1, max_size=2, unique=True))
            )
        return Message(sender, receivers, self.label(), draw(fields), draw(annotations))

    def block(self, depth: int, loops: tuple[str, ...], minimum: int = 0) -> list:
        draw = self.draw
        kinds = ["message", "message", "message"] + (["choice", "rec"] if depth < 2 else [])
        body: list = []
        for _ in range(draw(st.integers(minimum, 3))):
            kind = draw(st.sampled_from(kinds))
            if kind == "message":
                body.append(self.message())
            elif kind == "choice":
                body.append(self.choice(depth, loops, allow_continue=False))
            else:
                body.append(self.rec(depth, loops))
        return body

    def informing(self, chooser: str) -> list[Message]:
        if self.inform:
            return [self.message(chooser, (r,)) for r in self.roles if r != chooser]
        return [self.message(chooser)]

    def choice(
        self, depth: int, loops: tuple[str, ...], *, allow_continue: bool, exit_needed: bool = False
    ) -> Choice:
        draw = self.draw
        chooser = draw(st.sampled_from(self.roles))
        count = draw(st.integers(2, 3))
        branches = []
        for index in range(count):
            body = self.informing(chooser) + self.block(depth + 1, loops)
            # the last branch of a loop's choice exits; the others may jump back
            may_jump = allow_continue and loops and not (exit_needed and index == count - 1)
            if may_jump and (draw(st.booleans()) or (exit_needed and index == 0)):
                body.append(Continue(draw(st.sampled_from(loops))))
            branches.append(ChoiceBranch(f"b{index}", tuple(body)))
        return Choice(chooser, tuple(branches))

    def rec(self, depth: int, loops: tuple[str, ...]) -> RecBlock:
        var = f"L{next(self.vars)}"
        inner = (*loops, var)
        body = [self.message(), *self.block(depth + 1, inner)]
        loop_choice = self.choice(depth + 1, inner, allow_continue=True, exit_needed=True)
        # the first branch must repeat this loop so the variable is used
        first = loop_choice.branches[0]
        if not first.body or not isinstance(first.body[-1], Continue):
            first = ChoiceBranch(first.label, (*first.body, Continue(var)))
        elif first.body[-1].var != var:
            first = ChoiceBranch(first.label, (*first.body[:-1], Continue(var)))
        loop_choice = Choice(loop_choice.role, (first, *loop_choice.branches[1:]))
        return RecBlock(var, (*body, loop_choice))

    def protocol(self) -> Protocol:
        body = self.block(0, (), minimum=1)
        used = _used_roles(body)
        for role in self.roles:
            if role not in used:
                other = next(r for r in self.roles if r != role)
                body.append(self.message(other, (role,)))
        return Protocol("Random", self.roles, tuple(body), "demo")


def _used_roles(body) -> set[str]:
    used: set[str] = set()
    for statement in body:
        if isinstance(statement, Message):
            used.add(statement.sender)
            used.update(statement.receivers)
        elif isinstance(statement, Choice):
            used.add(statement.role)
            for branch in statement.branches:
                used |= _used_roles(branch.body)
        elif isinstance(statement, RecBlock):
            used |= _used_roles(statement.body)
    return used


def _deliveries(body) -> int:
    total = 0
    for statement in body:
        if isinstance(statement, Message):
            total += len(statement.receivers)
        elif isinstance(statement, Choice):
            total += sum(_deliveries(b.body) for b in statement.branches)
        elif isinstance(statement, RecBlock):
            total += _deliveries(statement.body)
    return total


@st.composite
def protocols(draw, inform: bool = True) -> Protocol:
    count = draw(st.integers(2, 4))
    protocol = _Builder(draw, ROLE_POOL[:count], inform).protocol()
    assume(_deliveries(protocol.body) <= MAX_DELIVERIES)
    return protocol


# --- executing local types -----------------------------------------------------------------


class Stop(Exception):
    pass


class Jump(Exception):
    def __init__(self, var: str) -> None:
        self.var = var


def global_trace(
    protocol: Protocol, decisions: dict[str, list[str]], limit: int
) -> tuple[dict, bool]:
    """Messages per channel that the global protocol produces for these choices."""
    channels: dict[tuple[str, str], list[str]] = {}
    pending = {role: deque(labels) for role, labels in decisions.items()}
    emitted = 0

    def run(body) -> None:
        nonlocal emitted
        for statement in body:
            if isinstance(statement, Message):
                for receiver in statement.receivers:
                    if emitted >= limit:
                        raise Stop
                    channels.setdefault((statement.sender, receiver), []).append(statement.label)
                    emitted += 1
            elif isinstance(statement, Choice):
                queue = pending.get(statement.role)
                label = queue.popleft() if queue else statement.branches[0].label
                run(next(b for b in statement.branches if b.label == label).body)
            elif isinstance(statement, Continue):
                raise Jump(statement.var)
            else:
                while True:
                    try:
                        run(statement.body)
                        break
                    except Jump as jump:
                        if jump.var != statement.var:
                            raise

    try:
        run(protocol.body)
    except Stop:
        return channels, False
    return channels, True


def _unfold(local: LocalType, env: dict[str, Rec]) -> tuple[LocalType, dict[str, Rec]]:
    for _ in range(100):
        if isinstance(local, Rec):
            env = {**env, local.name: local}
            local = local.body
        elif isinstance(local, Var):
            local = env[local.name]
        else:
            return local, env
    raise AssertionError("local type loops without any action")


def execute(
    locals_: dict[str, LocalType], rng: random.Random, max_steps: int, bias: str = "random"
):
    """Run the local types together; return (channels, decisions, finished).

    ``bias`` makes every ``Select`` take its first or last branch, or a random one.
    """
    state = {role: _unfold(local, {}) for role, local in locals_.items()}
    queues: dict[tuple[str, str], deque[str]] = {}
    channels: dict[tuple[str, str], list[str]] = {}
    decisions: dict[str, list[str]] = {}
    for _ in range(max_steps):
        enabled = []
        for role, (local, _env) in state.items():
            if isinstance(local, Send | Select) or (
                isinstance(local, Receive | Branch) and queues.get((local.sender, role))
            ):
                enabled.append(role)
        if not enabled:
            stuck = {
                role: local for role, (local, _) in state.items() if not isinstance(local, End)
            }
            assert not stuck, f"deadlock: {stuck}"
            leftover = {channel: list(q) for channel, q in queues.items() if q}
            assert not leftover, f"messages never received: {leftover}"
            return channels, decisions, True
        role = rng.choice(sorted(enabled))
        local, env = state[role]
        if isinstance(local, Send):
            queues.setdefault((role, local.to), deque()).append(local.label)
            channels.setdefault((role, local.to), []).append(local.label)
            nxt = local.cont
        elif isinstance(local, Select):
            options = local.branches
            pick = {"first": options[0], "last": options[-1]}.get(bias) or rng.choice(options)
            label, nxt = pick
            decisions.setdefault(role, []).append(label)
        elif isinstance(local, Receive):
            got = queues[(local.sender, role)].popleft()
            assert got == local.label, (
                f"{role} expected {local.label} from {local.sender}, got {got}"
            )
            nxt = local.cont
        else:
            got = queues[(local.sender, role)].popleft()
            labels = [b[0] for b in local.branches]
            assert got in labels, f"{role} expected one of {labels} from {local.sender}, got {got}"
            nxt = local.branch(got)[1]
        state[role] = _unfold(nxt, env)
    return channels, decisions, False


def assert_sound(protocol: Protocol, seed: int) -> None:
    locals_ = project_all(protocol)
    rng = random.Random(seed)
    for bias in ("first", "last", "random", "random"):
        channels, decisions, finished = execute(locals_, rng, max_steps=400, bias=bias)
        event("run finished" if finished else "run cut at the step bound")
        expected, complete = global_trace(protocol, decisions, limit=4000)
        if finished:
            assert complete
            assert channels == expected
        else:
            for channel, labels in channels.items():
                assert expected.get(channel, [])[: len(labels)] == labels, channel


# --- properties ------------------------------------------------------------------------------

SLOW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SLOW
@given(protocols(), st.integers(0, 2**32))
def test_random_well_formed_protocols_project_to_dual_local_types(protocol, seed):
    check_well_formed(protocol)
    assert_sound(protocol, seed)


def _text(*lines: str, roles: str = "A, B, C") -> Protocol:
    source = "protocol P {\n roles: " + roles + ";\n" + "\n".join(lines) + "\n}"
    return parse_choreography(source, check=False)


SKIPS_LOOP = _text(
    "rec X { A -> B: Ping(); choice at A {",
    "  more: { A -> B: More(); continue X; }",
    "  stop: { A -> B: Stop(); } } }",
    "B -> C: Result(); C -> A: Ack();",
)
WRONG_SENDER = _text(
    "choice at A {",
    "  yes: { A -> B: Yes(); B -> C: Go(); }",
    "  no: { A -> B: No(); A -> C: Stop(); } }",
)
UNINFORMED_SENDER = _text(
    "choice at A {",
    "  yes: { B -> C: Yes(); }",
    "  no: { B -> C: No(); } }",
    "A -> B: Done();",
)
UNINFORMED_LOOP_EXIT = _text(
    "rec X { A -> B: Ping(); choice at A {",
    "  more: { A -> B: More(); continue X; }",
    "  done: { A -> B: Done(); A -> C: Result(); } } }",
)


@SLOW
@given(protocols(inform=False), st.integers(0, 2**32))
@example(SKIPS_LOOP, 1)
@example(WRONG_SENDER, 2)
@example(UNINFORMED_SENDER, 3)
@example(UNINFORMED_LOOP_EXIT, 4)
def test_whatever_projection_accepts_is_sound(protocol, seed):
    try:
        check_well_formed(protocol)
    except IllFormedChoreography as error:
        assert error.role in protocol.roles or error.role is None
        event("rejected")
        return
    event("accepted")
    assert_sound(protocol, seed)


@SLOW
@given(protocols(inform=False))
def test_parse_print_round_trip(protocol):
    text = format_protocol(protocol)
    parsed = parse_choreography(text, check=False)
    assert parsed == protocol
    assert format_protocol(parsed) == text


@SLOW
@given(protocols(inform=False))
def test_rejections_of_printed_protocols_name_a_line_and_the_role(protocol):
    text = format_protocol(protocol)
    try:
        parse_choreography(text)
    except IllFormedChoreography as error:
        assert error.line >= 1
        assert f"line {error.line}," in error.message
        if error.role is not None:
            assert repr(error.role) in error.message
            assert error.role in text


@example(seed=7)
@given(st.integers(0, 2**32))
def test_guardian_recovery_example_executes_soundly(seed):
    from pathlib import Path

    from aura_journal.mpst import parse_choreography_file

    protocol = parse_choreography_file(
        Path(__file__).parent / "choreo" / "guardian_recovery.choreo"
    )
    assert_sound(protocol, seed)
