"""Moderation: who may moderate, and mutes, bans, kicks and pins enforced the same everywhere."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from aura_core.errors import AuthorizationDenied, InvalidInput
from aura_features.chat import (
    MemberStatus,
    MessageBody,
    MessageKind,
    MessageSent,
    ModerationAction,
    parse_command,
)


def _load_world():
    name = "aura_features_test_chat_world"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("test_features_chat_world.py")
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


W = _load_world()
NAMES = ("alice", "bob", "carol")


def _room():
    world = W.ChatWorld(list(NAMES))
    alice = world["alice"]
    channel = alice.create_channel("general", world.now)
    world.settle()
    for name in ("bob", "carol"):
        world[name].set_nickname(name, world.now)
        world[name].join(channel, world.now)
        world.settle()
    return world, channel


def _everywhere(world, channel, *, include_hidden=False):
    views = {
        name: [
            (m.text, m.hidden)
            for m in world[name].view.history(channel, include_hidden=include_hidden)
        ]
        for name in NAMES
    }
    assert views["alice"] == views["bob"] == views["carol"], views
    return views["alice"]


def test_only_moderators_moderate_and_only_the_creator_grants_roles():
    world, channel = _room()
    bob, carol = world.who("bob"), world.who("carol")
    with pytest.raises(AuthorizationDenied, match="only moderators"):
        world["bob"].moderate(channel, ModerationAction.MUTE, world.now, member=carol)
    with pytest.raises(AuthorizationDenied, match="only the creator"):
        world["bob"].moderate(channel, ModerationAction.GRANT_MODERATOR, world.now, member=bob)
    world["alice"].moderate(channel, ModerationAction.GRANT_MODERATOR, world.now, member=bob)
    world.settle()
    assert bob in world["carol"].view.channel(channel).moderators
    with pytest.raises(AuthorizationDenied, match="only the creator"):
        world["bob"].moderate(channel, ModerationAction.GRANT_MODERATOR, world.now, member=carol)
    with pytest.raises(AuthorizationDenied, match="cannot be"):
        world["bob"].moderate(channel, ModerationAction.BAN, world.now, member=world.who("alice"))
    world["bob"].moderate(channel, ModerationAction.MUTE, world.now, member=carol)
    world.settle()
    assert all(world[n].view.members(channel)[0] for n in NAMES)
    assert {m.authority: m.muted for m in world["alice"].view.members(channel)}[carol]


def test_a_muted_members_messages_are_refused_locally_and_hidden_everywhere():
    world, channel = _room()
    carol = world.who("carol")
    world["carol"].send_message(channel, "before the mute", world.now)
    world.settle()
    world["alice"].execute(parse_command("/mute carol spamming"), world.now, channel=channel)
    world.settle()
    with pytest.raises(AuthorizationDenied, match="muted"):
        world["carol"].send_message(channel, "let me speak", world.now)
    assert _everywhere(world, channel) == [("before the mute", None)]
    world["alice"].moderate(channel, ModerationAction.UNMUTE, world.now, member=carol)
    world.settle()
    world["carol"].send_message(channel, "thanks", world.now)
    world.settle()
    assert _everywhere(world, channel) == [("before the mute", None), ("thanks", None)]


def test_a_mute_hides_what_a_member_sent_concurrently_on_every_replica():
    world, channel = _room()
    carol = world.who("carol")
    world["carol"].send_message(channel, "visible", world.now)
    world.settle()
    # carol sends while alice mutes her, neither having seen the other's fact yet
    world["carol"].send_message(channel, "sneaky", world.now)
    world["alice"].moderate(channel, ModerationAction.MUTE, world.now, member=carol)
    world.settle()
    assert _everywhere(world, channel) == [("visible", None)]
    hidden = _everywhere(world, channel, include_hidden=True)
    assert hidden == [("visible", None), (None, "muted")]


def test_a_modified_client_that_ignores_its_mute_is_still_hidden():
    world, channel = _room()
    carol = world.who("carol")
    world["alice"].moderate(channel, ModerationAction.MUTE, world.now, member=carol)
    world.settle()
    # bypass carol's own check, as a modified client would
    cs = world["carol"].state().channel(channel)
    world["carol"]._send_sealed(
        cs,
        [
            (
                lambda frame, clock: MessageSent(channel, carol, clock, frame),
                MessageBody(MessageKind.TEXT, "I am not muted"),
            )
        ],
        world.now,
    )
    world.settle()
    assert _everywhere(world, channel) == []
    assert _everywhere(world, channel, include_hidden=True) == [(None, "muted")]


def test_ban_removes_hides_and_blocks_rejoining_until_unbanned():
    world, channel = _room()
    carol = world.who("carol")
    world["carol"].send_message(channel, "hello", world.now)
    world.settle()
    world["alice"].execute(parse_command("/ban carol trolling"), world.now, channel=channel)
    world.settle()
    statuses = {m.authority: (m.status, m.banned) for m in world["bob"].view.members(channel)}
    assert statuses[carol] == (MemberStatus.OUTSIDE, True)
    assert carol not in world["bob"].view.channel(channel).members  # rekeyed without carol
    with pytest.raises(AuthorizationDenied, match="banned"):
        world["carol"].join(channel, world.now)
    with pytest.raises(InvalidInput, match="banned"):
        world["bob"].invite(channel, carol, world.now)
    world["alice"].send_message(channel, "carol cannot read this", world.now)
    world.settle()
    assert [m.text for m in world["carol"].view.history(channel)] == ["hello"]
    world["alice"].moderate(channel, ModerationAction.UNBAN, world.now, member=carol)
    world.settle()
    world["carol"].join(channel, world.now)
    world.settle()
    assert world["carol"].view.channel(channel).my_status == MemberStatus.MEMBER


def test_kick_removes_but_the_member_may_rejoin():
    world, channel = _room()
    carol = world.who("carol")
    world["alice"].execute(parse_command("/kick carol"), world.now, channel=channel)
    world.settle()
    assert world["carol"].view.channel(channel).my_status == MemberStatus.OUTSIDE
    world["carol"].join(channel, world.now)
    world.settle()
    assert world["carol"].view.channel(channel).my_status == MemberStatus.MEMBER
    assert carol in world["alice"].view.channel(channel).members


def test_revoking_a_moderator_voids_its_actions_everywhere():
    world, channel = _room()
    bob, carol = world.who("bob"), world.who("carol")
    world["alice"].moderate(channel, ModerationAction.GRANT_MODERATOR, world.now, member=bob)
    world.settle()
    world["carol"].send_message(channel, "first", world.now)
    world.settle()
    world["bob"].moderate(channel, ModerationAction.MUTE, world.now, member=carol)
    world.settle()
    assert _everywhere(world, channel) == [("first", None)]
    world["alice"].moderate(channel, ModerationAction.REVOKE_MODERATOR, world.now, member=bob)
    world.settle()
    assert bob not in world["carol"].view.channel(channel).moderators
    world["carol"].send_message(channel, "free again", world.now)
    world.settle()
    assert _everywhere(world, channel) == [("first", None), ("free again", None)]


def test_pins_and_moderator_deletes():
    world, channel = _room()
    message = world["carol"].send_message(channel, "important", world.now)
    other = world["bob"].send_message(channel, "off topic", world.now)
    world.settle()
    with pytest.raises(AuthorizationDenied):
        world["bob"].moderate(channel, ModerationAction.PIN, world.now, message=message)
    world["alice"].moderate(channel, ModerationAction.PIN, world.now, message=message)
    world["alice"].delete_message(other, world.now)
    world.settle()
    for name in NAMES:
        assert world[name].view.message(message).pinned
        assert world[name].view.message(other).deleted
    world["alice"].moderate(channel, ModerationAction.UNPIN, world.now, message=message)
    world.settle()
    assert not world["bob"].view.message(message).pinned
