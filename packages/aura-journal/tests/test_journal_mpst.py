"""The choreography language: parsing, well-formedness, projection, printing."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aura_core.errors import InvalidInput
from aura_journal.authorization import Capability
from aura_journal.mpst import (
    Annotations,
    Branch,
    ChoreographyError,
    End,
    Field,
    IllFormedChoreography,
    Message,
    MpstSyntaxError,
    Protocol,
    Rec,
    Receive,
    Select,
    Send,
    Var,
    check_well_formed,
    format_local,
    format_protocol,
    parse_choreography,
    parse_choreography_file,
    project,
    project_all,
)

CHOREO = Path(__file__).parent / "choreo"

SEED = """choreography! {
#[namespace = "key_rotation"]
protocol KeyRotation {
roles: Initiator, Witness1, Witness2;
Initiator[guard_capability = "rotate", flow_cost = 10] -> Witness1, Witness2: Proposal(data: RotationData);
Witness1[flow_cost = 5] -> Initiator: Vote(vote: bool);
Witness2[flow_cost = 5] -> Initiator: Vote(vote: bool);
}
}
"""


def ill_formed(text: str) -> IllFormedChoreography:
    with pytest.raises(IllFormedChoreography) as info:
        parse_choreography(text)
    return info.value


def syntax_error(text: str) -> MpstSyntaxError:
    with pytest.raises(MpstSyntaxError) as info:
        parse_choreography(text)
    return info.value


def body(*lines: str, roles: str = "A, B, C", namespace: str | None = "demo") -> str:
    header = f'#[namespace = "{namespace}"] ' if namespace else ""
    return header + "protocol P {\n    roles: " + roles + ";\n" + "\n".join(lines) + "\n}\n"


# --- the seed example --------------------------------------------------------------------


def test_seed_example_parses_as_written():
    protocol = parse_choreography(SEED)
    assert protocol.name == "KeyRotation"
    assert protocol.namespace == "key_rotation"
    assert protocol.roles == ("Initiator", "Witness1", "Witness2")
    proposal, vote1, vote2 = protocol.body
    assert isinstance(proposal, Message)
    assert proposal.receivers == ("Witness1", "Witness2")
    assert proposal.fields == (Field("data", "RotationData"),)
    # "rotate" is qualified with the protocol's namespace attribute
    assert proposal.annotations == Annotations(Capability("key_rotation", "rotate"), 10)
    assert (proposal.line, proposal.column) == (5, 1)
    assert vote1.annotations.flow_cost == 5 and vote2.sender == "Witness2"


def test_seed_example_with_and_without_wrapper_and_free_whitespace():
    unwrapped = SEED.strip()[len("choreography! {") : -1]
    one_line = " ".join(SEED.split())
    spaced = SEED.replace(" ", "\n  ").replace("choreography!\n", "choreography !")
    commented = "// key rotation\n/* from the seed */\n" + SEED.replace(";", "; // end\n")
    reference = parse_choreography(SEED)
    for text in (unwrapped, one_line, spaced, commented):
        assert parse_choreography(text) == reference
    assert parse_choreography_file(CHOREO / "key_rotation.choreo") == reference


def test_seed_projection_carries_annotations_on_sends():
    locals_ = project_all(parse_choreography(SEED))
    rotate = Annotations(Capability.parse("key_rotation:rotate"), 10)
    data = (Field("data", "RotationData"),)
    vote = (Field("vote", "bool"),)
    five = Annotations(flow_cost=5)
    assert locals_["Initiator"] == Send(
        "Witness1",
        "Proposal",
        data,
        rotate,
        Send(
            "Witness2",
            "Proposal",
            data,
            rotate,
            Receive("Witness1", "Vote", vote, Receive("Witness2", "Vote", vote, End())),
        ),
    )
    assert locals_["Witness1"] == Receive(
        "Initiator", "Proposal", data, Send("Initiator", "Vote", vote, five, End())
    )
    assert project(parse_choreography(SEED), "Witness2") == Receive(
        "Initiator", "Proposal", data, Send("Initiator", "Vote", vote, five, End())
    )


# --- annotations ---------------------------------------------------------------------------


def test_unnamespaced_capability_needs_a_namespace_attribute():
    error = ill_formed(
        body('    A[guard_capability = "send"] -> B: M();', roles="A, B", namespace=None)
    )
    assert (error.line, error.role) == (3, "A")
    assert "not namespaced" in error.message and "line 3" in error.message
    qualified = parse_choreography(
        body('    A[guard_capability = "chat:send"] -> B: M();', roles="A, B", namespace=None)
    )
    assert qualified.body[0].annotations.guard_capability == Capability.parse("chat:send")


def test_annotation_values_and_their_errors():
    protocol = parse_choreography(
        body(
            '    A[journal_facts = ["ChatMessage", "Receipt"], leak = [external, "neighbor"], flow_cost = 0] -> B: M();',
            '    B[leak = in_group, journal_facts = "Seen"] -> A: N();',
            roles="A, B",
        )
    )
    first, second = protocol.body
    assert first.annotations == Annotations(
        None, 0, ("ChatMessage", "Receipt"), ("external", "neighbor")
    )
    assert second.annotations == Annotations(None, None, ("Seen",), ("in_group",))
    cases = {
        "    A[flow_cost = -1] -> B: M();": "non-negative",
        '    A[flow_cost = "ten"] -> B: M();': "non-negative",
        "    A[leak = [everyone]] -> B: M();": "observer class",
        "    A[colour = 1] -> B: M();": "unknown annotation",
        "    A[flow_cost = 1, flow_cost = 2] -> B: M();": "twice",
        '    A[guard_capability = "Bad Cap"] -> B: M();': "guard_capability",
        '    A[journal_facts = ["a b"]] -> B: M();': "journal_facts",
    }
    for line, expected in cases.items():
        error = ill_formed(body(line, roles="A, B"))
        assert expected in error.message, (line, error.message)
        assert (error.line, error.role) == (3, "A")


# --- syntax errors carry positions --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "column", "fragment"),
    [
        ("protocol P {\n  roles: A, B;\n  A -> B: M()\n}", 4, 1, "';' after the message"),
        ("protocol P {\n  roles: A, B;\n  A -> B: M() $;\n}", 3, 15, "unexpected character '$'"),
        ('protocol P {\n  roles: A, B;\n  A["x] -> B: M();\n}', 3, 5, "string"),
        ("protocol P {\n  roles: A, B;\n  /* never closed\n}", 3, 3, "unterminated /* comment"),
        ("protocol P {\n  roles: rec, B;\n}", 2, 10, "keyword"),
        (
            "choreography! {\nprotocol P {\n  roles: A, B;\n  A -> B: M();\n}\n",
            6,
            1,
            "closing 'choreography! {'",
        ),
        ('#[colour = "red"]\nprotocol P { roles: A, B; A -> B: M(); }', 1, 3, "unknown attribute"),
        ('#[namespace = "Key"]\nprotocol P { roles: A, B; A -> B: M(); }', 1, 15, "namespace"),
        ("protocol P { roles: A, B; A -> B: M(); } extra", 1, 42, "after the protocol"),
        ("protocol P { roles: A, B; choice at A { } }", 1, 41, "needs branches"),
        ("protocol P { roles: A, B; A -> B: M(x: Vec<u8); }", 1, 46, "'>'"),
    ],
)
def test_syntax_errors_have_line_and_column(text, line, column, fragment):
    error = syntax_error(text)
    assert (error.line, error.column) == (line, column), error.message
    assert fragment in error.message
    assert error.message.startswith(f"line {line}, column {column}: ")
    assert isinstance(error, ChoreographyError) and isinstance(error, InvalidInput)


@settings(max_examples=300)
@given(
    st.text(
        alphabet=st.sampled_from(
            list('AB->:;(){}[]#=,"/* \nprotocolroleschoiceatrec continue0123')
        ),
        max_size=80,
    )
)
def test_arbitrary_text_only_raises_choreography_errors(text):
    try:
        parse_choreography(text)
    except ChoreographyError as error:
        assert error.line >= 0 and error.column >= 0


# --- well-formedness: each rule names the role and the line ------------------------------


@pytest.mark.parametrize(
    ("lines", "roles", "line", "role", "fragment"),
    [
        (["    A -> D: M();"], "A, B", 3, "D", "not declared"),
        (["    D -> A: M();"], "A, B", 3, "D", "not declared"),
        (["    A -> A: M();"], "A, B", 3, "A", "to itself"),
        (["    A -> B, B: M();"], "A, B", 3, "B", "twice"),
        (["    A -> B: M();"], "A, B, C", 1, "C", "never sends"),
        ([], "A, B", 1, None, "no messages"),
        (["    A -> B: M();"], "A, B, A", 1, "A", "declared twice"),
        (["    A -> B: M();"], "A", 1, None, "at least two roles"),
        (
            [
                "    choice at A {",
                "        x: { A -> B: M(); }",
                "        x: { A -> B: N(); }",
                "    }",
            ],
            "A, B",
            5,
            "A",
            "two branches labelled 'x'",
        ),
        (
            ["    choice at A {", "        x: { A -> B: M(); }", "    }"],
            "A, B",
            3,
            "A",
            "at least two branches",
        ),
        (
            [
                "    choice at C {",
                "        x: { A -> B: M(); }",
                "        y: { A -> B: N(); }",
                "    }",
            ],
            "A, B",
            3,
            "C",
            "not declared",
        ),
        (["    A -> B: M();", "    continue X;"], "A, B", 4, None, "no enclosing 'rec X'"),
        (["    rec X {", "        A -> B: M();", "    }"], "A, B", 3, None, "never used"),
        (
            [
                "    rec X {",
                "        A -> B: M();",
                "        rec X { B -> A: N(); continue X; }",
                "    }",
            ],
            "A, B",
            5,
            None,
            "already bound",
        ),
        (
            [
                "    rec X {",
                "        choice at A {",
                "            again: { continue X; }",
                "            stop: { A -> B: M(); }",
                "        }",
                "    }",
            ],
            "A, B",
            5,
            None,
            "unguarded",
        ),
        (
            [
                "    rec X {",
                "        A -> B: M();",
                "        continue X;",
                "        B -> A: N();",
                "    }",
            ],
            "A, B",
            6,
            "B",
            "unreachable",
        ),
        (["    rec X { }", "    A -> B: M();"], "A, B", 3, None, "empty body"),
        (
            # C must react differently but nobody tells it which branch A chose.
            [
                "    choice at A {",
                "        yes: { A -> B: Yes(); B -> C: Go(); }",
                "        no: { A -> B: No(); A -> C: Stop(); }",
                "    }",
            ],
            "A, B, C",
            3,
            "C",
            "cannot learn which branch of the choice at 'A'",
        ),
        (
            # B would have to send different things without having been told.
            [
                "    choice at A {",
                "        yes: { B -> C: Yes(); }",
                "        no: { B -> C: No(); }",
                "    }",
                "    A -> B: Done();",
            ],
            "A, B, C",
            3,
            "B",
            "sends 'Yes' to 'C' in one branch but sends 'No' to 'C'",
        ),
        (
            # C waits after the loop, but cannot tell the loop's exits apart.
            [
                "    rec X {",
                "        A -> B: Ping();",
                "        choice at A {",
                "            more: { A -> B: More(); continue X; }",
                "            done: { A -> B: Done(); A -> C: Result(); }",
                "        }",
                "    }",
            ],
            "A, B, C",
            5,
            "C",
            "cannot learn",
        ),
    ],
)
def test_ill_formed_protocols_are_rejected_naming_role_and_line(lines, roles, line, role, fragment):
    error = ill_formed(body(*lines, roles=roles))
    assert fragment in error.message, error.message
    assert error.line == line, error.message
    assert error.role == role
    assert f"line {line}," in error.message
    if role is not None:
        assert repr(role) in error.message


def test_errors_name_the_file():
    with pytest.raises(IllFormedChoreography, match=r"^bad.choreo: line 3, column 5: "):
        parse_choreography(body("    A -> A: M();", roles="A, B"), source="bad.choreo")


# --- projection ---------------------------------------------------------------------------


def test_choice_projects_to_select_branch_and_merge():
    protocol = parse_choreography(
        body(
            "    A -> B: Start();",
            "    choice at A {",
            "        yes: { A -> B: Yes(); B -> C: Go(n: u32); }",
            "        no: { A -> B: No(); B -> C: Stop(); }",
            "    }",
            "    C -> A: Done();",
        )
    )
    locals_ = project_all(protocol)
    done_a = Receive("C", "Done", (), End())
    assert locals_["A"] == Send(
        "B",
        "Start",
        (),
        Annotations(),
        Select(
            (
                ("yes", Send("B", "Yes", (), Annotations(), done_a)),
                ("no", Send("B", "No", (), Annotations(), done_a)),
            )
        ),
    )
    done_c = Send("A", "Done", (), Annotations(), End())
    assert locals_["C"] == Branch("B", (("Go", (Field("n", "u32"),), done_c), ("Stop", (), done_c)))
    b = locals_["B"]
    assert isinstance(b, Receive) and isinstance(b.cont, Branch) and b.cont.sender == "A"


def test_identical_branches_merge_for_uninvolved_roles():
    protocol = parse_choreography(
        body(
            "    choice at A {",
            "        fast: { A -> B: Fast(); C -> B: Note(); }",
            "        slow: { A -> B: Slow(); C -> B: Note(); }",
            "    }",
        )
    )
    assert project(protocol, "C") == Send("B", "Note", (), Annotations(), End())


def test_recursion_projects_to_rec_and_var_and_uninvolved_roles_skip_the_loop():
    protocol = parse_choreography(
        body(
            "    rec Loop {",
            "        A -> B: Ping();",
            "        choice at A {",
            "            again: { A -> B: Again(); continue Loop; }",
            "            stop: { A -> B: Stop(); }",
            "        }",
            "    }",
            "    B -> C: Result();",
        )
    )
    locals_ = project_all(protocol)
    a = locals_["A"]
    assert isinstance(a, Rec) and a.name == "Loop"
    select = a.body.cont
    assert isinstance(select, Select)
    assert select.branch("again") == Send("B", "Again", (), Annotations(), Var("Loop"))
    assert locals_["C"] == Receive("B", "Result", (), End())
    assert "continue Loop;" in format_local(locals_["B"])


def test_project_rejects_an_unknown_role():
    with pytest.raises(InvalidInput, match="not a role"):
        project(parse_choreography(SEED), "Mallory")


def test_programmatic_protocols_are_checked_too():
    protocol = Protocol("P", ("A", "B"), (Message("A", ("A",), "M"),))
    with pytest.raises(IllFormedChoreography, match="to itself"):
        check_well_formed(protocol)
    with pytest.raises(IllFormedChoreography, match="to itself"):
        project_all(protocol)
    with pytest.raises(InvalidInput):
        Message("A", (), "M")
    with pytest.raises(InvalidInput):
        Annotations(flow_cost=-3)
    with pytest.raises(InvalidInput):
        Message("rec", ("B",), "M")


# --- examples and printing -----------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(CHOREO.glob("*.choreo")), ids=lambda p: p.name)
def test_example_files_round_trip_and_project(path):
    protocol = parse_choreography_file(path)
    text = format_protocol(protocol)
    assert parse_choreography(text) == protocol
    assert format_protocol(parse_choreography(text)) == text
    locals_ = project_all(protocol)
    assert set(locals_) == set(protocol.roles)


def test_public_api_is_exported():
    import aura_journal
    import aura_journal.mpst as package

    assert aura_journal.mpst is package
    for name in package.__all__:
        assert getattr(package, name) is not None, name
    assert sorted(package.__all__) == sorted(set(package.__all__))


def test_size_limits_reject_instead_of_overflowing_the_stack():
    from aura_journal.mpst.well_formedness import MAX_DELIVERIES, MAX_NESTING

    sends = " ".join(f"A -> B, C: M{i}();" for i in range(MAX_DELIVERIES // 2 - 2))
    choice = "choice at A { x: { A -> B: X(); A -> C: X(); } y: { A -> B: Y(); A -> C: Y(); } }"
    largest = parse_choreography(f"protocol P {{ roles: A, B, C; {choice} {sends} }}")
    locals_ = project_all(largest)
    assert hash(locals_["B"]) == hash(project(largest, "B"))
    error = ill_formed(
        f"protocol P {{ roles: A, B, C; {choice} {sends} A -> B, C: Last(); A -> B: One(); }}"
    )
    assert "message deliveries" in error.message and error.role == "A"

    nested = "A -> B: M();"
    for depth in range(MAX_NESTING + 2):
        nested = f"choice at A {{ x{depth}: {{ {nested} }} y{depth}: {{ A -> B: N{depth}(); }} }}"
    error = ill_formed(f"protocol P {{ roles: A, B; {nested} }}")
    assert "nest deeper" in error.message
    with pytest.raises(MpstSyntaxError, match="nest deeper"):
        parse_choreography("protocol P { roles: A, B; " + "rec X { " * 70 + "} " * 70 + "}")
