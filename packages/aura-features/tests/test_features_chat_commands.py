"""The chat command parser: typed commands out, clear errors for everything else."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aura_core.errors import InvalidInput
from aura_features.chat import (
    COMMAND_USAGE,
    Ban,
    Invite,
    Join,
    Kick,
    Leave,
    Me,
    Msg,
    Mute,
    Nick,
    SendText,
    Topic,
    Unban,
    Unmute,
    parse_command,
)


@pytest.mark.parametrize(
    ("line", "command"),
    [
        ("hello world", SendText("hello world")),
        ("//not a command", SendText("/not a command")),
        ("  leading spaces kept", SendText("  leading spaces kept")),
        ("/msg #general hi all", Msg("#general", "hi all")),
        ("/msg bob  see you  later", Msg("bob", "see you  later")),
        ("/me waves hello", Me("waves hello")),
        ("/nick Zoë", Nick("Zoë")),
        ("/join #rust-lang", Join("rust-lang")),
        ("/join general", Join("general")),
        ("/leave", Leave(None)),
        ("/leave #general", Leave("general")),
        ("/topic Release on Friday!", Topic("Release on Friday!")),
        ("/invite carol", Invite("carol")),
        ("/kick mallory", Kick("mallory", "")),
        ("/kick mallory flooding the channel", Kick("mallory", "flooding the channel")),
        ("/ban mallory spam", Ban("mallory", "spam")),
        ("/mute bob too loud", Mute("bob", "too loud")),
        ("/unmute bob", Unmute("bob")),
        (
            "/unban authority-3ba3ccf8-1cd1-2aed-5516-eee42391aa0e",
            Unban("authority-3ba3ccf8-1cd1-2aed-5516-eee42391aa0e"),
        ),
        ("/ME shouts", Me("shouts")),
        ("hello\n", SendText("hello")),
    ],
)
def test_commands_parse_to_typed_values(line, command):
    assert parse_command(line) == command


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("/", "unknown command"),
        ("/dance", "unknown command /dance"),
        ("/msg", "/msg: a target is required"),
        ("/msg bob", "/msg: a message is required"),
        ("/msg #Bad!Name hi", "/msg: a channel name"),
        ("/me", "/me: an action is required"),
        ("/nick", "/nick: a name is required"),
        ("/nick two words", "unexpected"),
        ("/nick " + "x" * 40, "nickname"),
        ("/nick a\u200bb", "visible"),
        ("/join", "/join: a channel is required"),
        ("/join #no spaces", "unexpected"),
        ("/join #UPPER", "channel name"),
        ("/leave #a #b", "unexpected"),
        ("/topic", "/topic: a topic is required"),
        ("/topic " + "t" * 300, "at most 256"),
        ("/invite", "/invite: a member is required"),
        ("/invite bob carol", "unexpected"),
        ("/kick", "/kick: a member is required"),
        ("/ban", "/ban: a member is required"),
        ("/mute", "/mute: a member is required"),
        ("/unmute bob now", "unexpected"),
        ("bell\x07", "control characters"),
        ("x" * 5000, "1..4000"),
        ("y" * 9000, "at most 8192"),
    ],
)
def test_bad_lines_are_refused_with_a_message_that_says_why(line, message):
    with pytest.raises(InvalidInput) as caught:
        parse_command(line)
    assert message in str(caught.value)


def test_every_usage_error_shows_the_usage():
    for name, usage in COMMAND_USAGE.items():
        if name == "leave":
            continue  # /leave has no required argument
        with pytest.raises(InvalidInput) as caught:
            parse_command(f"/{name}")
        assert usage in str(caught.value)


def test_unknown_commands_list_the_known_ones():
    with pytest.raises(InvalidInput) as caught:
        parse_command("/quit")
    assert all(f"/{name}" in str(caught.value) for name in COMMAND_USAGE)


def test_a_line_must_be_text():
    with pytest.raises(InvalidInput, match="text"):
        parse_command(b"/msg bob hi")  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120) | st.builds(lambda s: "/" + s, st.text(max_size=60)))
@example("/msg # x")
@example("/kick \x00")
@example("/nick \u200b")
def test_any_line_parses_or_is_refused_with_invalid_input(line):
    try:
        command = parse_command(line)
    except InvalidInput as exc:
        assert str(exc)
        return
    assert isinstance(
        command,
        SendText
        | Msg
        | Me
        | Nick
        | Join
        | Leave
        | Topic
        | Invite
        | Kick
        | Ban
        | Mute
        | Unmute
        | Unban,
    )
