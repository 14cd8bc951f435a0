"""The commands chat users type, parsed into typed values.

``parse_command(line)`` turns one input line into a :class:`ChatCommand`:
plain text is a message to the current channel (``//text`` sends a literal
``/text``); ``/msg``, ``/me``, ``/nick``, ``/join``, ``/leave``, ``/topic``,
``/invite``, ``/kick``, ``/ban``, ``/mute`` (and ``/unmute``, ``/unban``)
are what IRC users expect. The parser only checks shape (arguments present,
names well formed); whether the member may do it is the service's business.
Every refusal is ``InvalidInput`` whose message names the command and shows
its usage.
"""

from __future__ import annotations

import attrs

from aura_core.errors import AuraError, InvalidInput
from aura_features.chat.chat_facts import (
    MAX_REASON_CHARS,
    MAX_TOPIC_CHARS,
    check_channel_name,
    check_nick,
)
from aura_features.chat.message_body import check_message_text

__all__ = [
    "COMMAND_USAGE",
    "Ban",
    "ChatCommand",
    "Invite",
    "Join",
    "Kick",
    "Leave",
    "Me",
    "Msg",
    "Mute",
    "Nick",
    "SendText",
    "Topic",
    "Unban",
    "Unmute",
    "parse_command",
]

_MAX_LINE = 8192


@attrs.frozen
class SendText:
    """An ordinary message to the current channel."""

    text: str


@attrs.frozen
class Msg:
    """``/msg <target> <text>``: to ``#channel`` or, for a member, their direct channel."""

    target: str
    text: str


@attrs.frozen
class Me:
    """``/me <action>``: an action message (``* alice waves``)."""

    text: str


@attrs.frozen
class Nick:
    nick: str


@attrs.frozen
class Join:
    channel: str
    """The channel name without ``#``."""


@attrs.frozen
class Leave:
    channel: str | None
    """``None``: the current channel."""


@attrs.frozen
class Topic:
    topic: str


@attrs.frozen
class Invite:
    member: str


@attrs.frozen
class Kick:
    member: str
    reason: str = ""


@attrs.frozen
class Ban:
    member: str
    reason: str = ""


@attrs.frozen
class Mute:
    member: str
    reason: str = ""


@attrs.frozen
class Unmute:
    member: str


@attrs.frozen
class Unban:
    member: str


ChatCommand = (
    SendText | Msg | Me | Nick | Join | Leave | Topic | Invite | Kick | Ban | Mute | Unmute | Unban
)

COMMAND_USAGE = {
    "msg": "/msg <#channel|member> <text>",
    "me": "/me <action>",
    "nick": "/nick <name>",
    "join": "/join #<channel>",
    "leave": "/leave [#<channel>]",
    "topic": "/topic <text>",
    "invite": "/invite <member>",
    "kick": "/kick <member> [reason]",
    "ban": "/ban <member> [reason]",
    "mute": "/mute <member> [reason]",
    "unmute": "/unmute <member>",
    "unban": "/unban <member>",
}
"""Every command and how to call it."""


def _usage(command: str, problem: str) -> InvalidInput:
    return InvalidInput(f"/{command}: {problem} (usage: {COMMAND_USAGE[command]})")


def _split(rest: str) -> tuple[str, str]:
    head, _sep, tail = rest.strip().partition(" ")
    return head, tail.strip()


def _member(command: str, name: str) -> str:
    if not name:
        raise _usage(command, "a member is required")
    if any(ch.isspace() or ord(ch) < 0x20 for ch in name) or len(name) > 64:
        raise _usage(command, f"{name[:40]!r} is not a member name")
    return name


def _channel(command: str, name: str) -> str:
    if not name:
        raise _usage(command, "a channel is required")
    bare = name[1:] if name.startswith("#") else name
    try:
        return check_channel_name(bare)
    except InvalidInput as exc:
        raise _usage(command, exc.message) from None


def _text(command: str, text: str, what: str = "text") -> str:
    if not text:
        raise _usage(command, f"{what} is required")
    try:
        return check_message_text(text)
    except InvalidInput as exc:
        raise _usage(command, exc.message) from None


def _reason(command: str, text: str) -> str:
    if len(text) > MAX_REASON_CHARS or any(ord(ch) < 0x20 for ch in text):
        raise _usage(command, f"a reason is at most {MAX_REASON_CHARS} printable characters")
    return text


def _only(command: str, extra: str) -> None:
    if extra:
        raise _usage(command, f"unexpected {extra[:40]!r}")


def parse_command(line: str) -> ChatCommand:
    """One typed input line as a command; ``InvalidInput`` names what is wrong."""
    if type(line) is not str:
        raise InvalidInput(f"a command line is text, got {type(line).__name__}")
    if len(line) > _MAX_LINE:
        raise InvalidInput(f"a command line is at most {_MAX_LINE} characters")
    text = line.rstrip("\r\n")
    if not text.startswith("/") or text.startswith("//"):
        body = text[1:] if text.startswith("//") else text
        if not body.strip():
            raise InvalidInput("nothing to send: the line is empty")
        try:
            return SendText(check_message_text(body))
        except AuraError as exc:
            raise InvalidInput(f"cannot send this line: {exc.message}") from None
    name, rest = _split(text[1:])
    command = name.lower()
    if command not in COMMAND_USAGE:
        known = ", ".join(f"/{c}" for c in COMMAND_USAGE)
        raise InvalidInput(
            f"unknown command /{name[:32]} (known: {known}; '//' sends a literal '/')"
        )
    if command == "msg":
        target, message = _split(rest)
        if not target:
            raise _usage(command, "a target is required")
        if target.startswith("#"):
            target = "#" + _channel(command, target)
        else:
            target = _member(command, target)
        return Msg(target, _text(command, message, "a message"))
    if command == "me":
        return Me(_text(command, rest.strip(), "an action"))
    if command == "nick":
        nick, extra = _split(rest)
        _only(command, extra)
        if not nick:
            raise _usage(command, "a name is required")
        try:
            return Nick(check_nick(nick))
        except InvalidInput as exc:
            raise _usage(command, exc.message) from None
    if command == "join":
        channel, extra = _split(rest)
        _only(command, extra)
        return Join(_channel(command, channel))
    if command == "leave":
        channel, extra = _split(rest)
        _only(command, extra)
        return Leave(_channel(command, channel) if channel else None)
    if command == "topic":
        topic = rest.strip()
        if not topic:
            raise _usage(command, "a topic is required")
        if len(topic) > MAX_TOPIC_CHARS or any(ord(ch) < 0x20 for ch in topic):
            raise _usage(command, f"a topic is at most {MAX_TOPIC_CHARS} printable characters")
        return Topic(topic)
    member, extra = _split(rest)
    member = _member(command, member)
    if command == "invite":
        _only(command, extra)
        return Invite(member)
    if command in ("unmute", "unban"):
        _only(command, extra)
        return Unmute(member) if command == "unmute" else Unban(member)
    reason = _reason(command, extra)
    if command == "kick":
        return Kick(member, reason)
    if command == "ban":
        return Ban(member, reason)
    return Mute(member, reason)
