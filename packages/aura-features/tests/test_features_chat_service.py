"""Chat between members wired by hand: channels, messages both ways, edits, reads, restarts."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from aura_core.errors import AuthorizationDenied, InvalidInput, NotFound
from aura_effects.simulated import MemoryStorage, SeededRandom
from aura_features.chat import (
    ChannelChanged,
    ChannelMode,
    ChatService,
    DeliveryState,
    MemberStatus,
    MessageBody,
    MessageKind,
    MessageSent,
    MessageShown,
    parse_command,
)
from aura_features.chat.epoch_secret import BOX_KEY_SECRET_PREFIX


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


def _channel(world, members=("bob",), *, name="general", mode=ChannelMode.OPEN):
    alice = world["alice"]
    channel = alice.create_channel(name, world.now, topic="welcome", mode=mode)
    world.settle()
    for member in members:
        if mode is ChannelMode.INVITE:
            alice.invite(channel, world.who(member), world.now)
            world.settle()
        world[member].join(channel, world.now)
        world.settle()
    return channel


def test_two_members_chat_both_ways_and_see_the_same_history():
    world = W.ChatWorld(["alice", "bob"])
    channel = _channel(world)
    world["alice"].send_message(channel, "hello bob", world.now)
    world["bob"].send_message(channel, "hi alice", world.now)
    world["alice"].send_message(channel, "how are you?", world.now)
    world.settle()
    world["bob"].send_message(channel, "fine", world.now)
    world.settle()
    histories = {
        name: [m.text for m in world[name].view.history(channel)] for name in world.services
    }
    assert histories["alice"] == histories["bob"]
    # "hello bob" and "hi alice" were concurrent (a tie broken by author); the rest is causal
    assert set(histories["alice"][:2]) == {"hello bob", "hi alice"}
    assert histories["alice"][2:] == ["how are you?", "fine"]
    assert world.refused == []
    assert not world["alice"].errors and not world["bob"].errors


def test_three_members_each_message_reaches_everyone_once():
    world = W.ChatWorld(["alice", "bob", "carol"])
    channel = _channel(world, ("bob", "carol"))
    for round_ in range(3):
        for name in ("alice", "bob", "carol"):
            world[name].send_message(channel, f"{name} {round_}", world.now)
        world.settle()
    views = {name: [m.text for m in world[name].view.history(channel)] for name in world.services}
    assert views["alice"] == views["bob"] == views["carol"]
    assert sorted(views["alice"]) == sorted(
        f"{n} {r}" for n in ("alice", "bob", "carol") for r in range(3)
    )
    shown = [u for u in world["carol"].take_updates() if isinstance(u, MessageShown)]
    assert len(shown) == len({u.message for u in shown}) == 9  # each message shown exactly once


def test_history_is_causal_a_reply_sorts_after_what_it_answers():
    world = W.ChatWorld(["alice", "bob"])
    channel = _channel(world)
    first = world["alice"].send_message(channel, "question", world.now)
    world.settle()
    reply = world["bob"].send_message(channel, "answer", world.now)
    world.settle()
    ids = [m.id for m in world["alice"].view.history(channel)]
    assert ids.index(first) < ids.index(reply)


def test_the_journal_holds_ciphertext_only():
    world = W.ChatWorld(["alice", "bob"])
    channel = _channel(world)
    world["alice"].send_message(channel, "the secret plan is tuesday", world.now)
    world.settle()
    for name in ("alice", "bob"):
        with world.storages[name].transaction(readonly=True) as txn:
            stored = b"".join(item.body for item in txn.scan_facts(str(world[name].namespace)))
        assert b"secret plan" not in stored
        assert b"tuesday" not in stored


def test_membership_is_pending_until_the_creator_rekeys():
    config = W.ChatConfig(ack_delay_s=0.0, auto_approve=False)
    world = W.ChatWorld(["alice", "bob"], config=config)
    alice, bob = world["alice"], world["bob"]
    channel = alice.create_channel("general", world.now)
    world.settle()
    bob.join(channel, world.now)
    world.settle()
    assert alice.view.channel(channel).my_status == MemberStatus.MEMBER
    assert {m.name: m.status for m in alice.view.members(channel)}[
        alice.view.display_name(world.who("bob"))
    ] == MemberStatus.PENDING_JOIN
    with pytest.raises(InvalidInput, match="pending join"):
        bob.send_message(channel, "too early", world.now)
    assert alice.approve_pending(channel, world.now) == 2
    world.settle()
    assert bob.view.channel(channel).my_status == MemberStatus.MEMBER
    assert alice.approve_pending(channel, world.now) is None  # nothing pending any more
    bob.send_message(channel, "now I can talk", world.now)
    world.settle()
    assert [m.text for m in alice.view.history(channel)] == ["now I can talk"]


def test_a_member_who_joins_later_reads_from_its_first_epoch_only():
    world = W.ChatWorld(["alice", "bob", "carol"])
    channel = _channel(world, ("bob",))
    world["alice"].send_message(channel, "before carol", world.now)
    world.settle()
    world["carol"].join(channel, world.now)
    world.settle()
    world["bob"].send_message(channel, "after carol", world.now)
    world.settle()
    assert [m.text for m in world["carol"].view.history(channel)] == ["after carol"]
    assert [m.text for m in world["bob"].view.history(channel)] == ["before carol", "after carol"]


def test_leaving_ends_access_at_the_next_epoch():
    world = W.ChatWorld(["alice", "bob", "carol"])
    channel = _channel(world, ("bob", "carol"))
    world["carol"].leave(channel, world.now)
    world.settle()
    assert world["carol"].view.channel(channel).my_status == MemberStatus.OUTSIDE
    world["alice"].send_message(channel, "carol is gone", world.now)
    world.settle()
    assert [m.text for m in world["bob"].view.history(channel)] == ["carol is gone"]
    assert world["carol"].view.history(channel) == []  # the fact may arrive; the text never opens
    with pytest.raises(InvalidInput):
        world["carol"].send_message(channel, "let me back", world.now)
    with pytest.raises(InvalidInput, match="creator does not leave"):
        world["alice"].leave(channel, world.now)


def test_invite_only_channels_need_an_invitation():
    world = W.ChatWorld(["alice", "bob", "carol"])
    alice = world["alice"]
    channel = alice.create_channel("secret", world.now, mode=ChannelMode.INVITE)
    world.settle()
    with pytest.raises(NotFound):
        world["bob"].join(channel, world.now)  # not announced: bob does not know it
    alice.invite(channel, world.who("bob"), world.now)
    world.settle()
    world["bob"].join(channel, world.now)
    world.settle()
    assert world["bob"].view.channel(channel).my_status == MemberStatus.MEMBER
    # carol never heard of it
    with pytest.raises(NotFound):
        world["carol"].view.channel(channel)


def test_edits_and_deletes_show_everywhere():
    world = W.ChatWorld(["alice", "bob"])
    channel = _channel(world)
    alice = world["alice"]
    message = alice.send_message(channel, "helo", world.now)
    world.settle()
    alice.edit_message(message, "hello", world.now)
    world.settle()
    alice.edit_message(message, "hello!", world.now)
    world.settle()
    for name in ("alice", "bob"):
        view = world[name].view.message(message)
        assert (view.text, view.edited, view.deleted) == ("hello!", True, False)
    with pytest.raises(AuthorizationDenied):
        world["bob"].edit_message(message, "hijacked", world.now)
    with pytest.raises(AuthorizationDenied):
        world["bob"].delete_message(message, world.now)
    alice.delete_message(message, world.now)
    world.settle()
    for name in ("alice", "bob"):
        view = world[name].view.message(message)
        assert (view.text, view.deleted) == (None, True)
    with pytest.raises(InvalidInput, match="deleted"):
        alice.edit_message(message, "again", world.now)


def test_delivery_states_go_sent_delivered_read():
    world = W.ChatWorld(["alice", "bob"])
    channel = _channel(world)
    alice, bob = world["alice"], world["bob"]
    message = alice.send_message(channel, "did you get this?", world.now)
    assert alice.view.message(message).state is DeliveryState.SENT
    world.settle()
    assert alice.view.message(message).state is DeliveryState.DELIVERED
    assert bob.view.unread(channel) == 1
    assert bob.mark_read(channel, world.now) is True
    assert bob.mark_read(channel, world.now) is False  # already read that far
    world.settle()
    assert alice.view.message(message).state is DeliveryState.READ
    assert bob.view.unread(channel) == 0


def test_acknowledgements_are_coalesced():
    world = W.ChatWorld(["alice", "bob"], config=W.ChatConfig(ack_delay_s=0.05))
    channel = _channel(world)
    for i in range(5):
        world["alice"].send_message(channel, f"burst {i}", world.now)
    world.settle()
    before = len(world["alice"].journal)
    world.advance(0.1)
    delivered = [
        m for m in world["alice"].view.history(channel) if m.state is DeliveryState.DELIVERED
    ]
    assert len(delivered) == 5
    assert len(world["alice"].journal) == before + 1  # one delivery fact for the five


def test_nick_topic_and_close():
    world = W.ChatWorld(["alice", "bob"])
    channel = _channel(world)
    world["bob"].set_nickname("bobby", world.now)
    world["alice"].set_topic(channel, "release day", world.now)
    world.settle()
    assert world["alice"].view.display_name(world.who("bob")) == "bobby"
    assert world["bob"].view.channel(channel).topic == "release day"
    with pytest.raises(AuthorizationDenied):
        world["bob"].set_topic(channel, "mine now", world.now)
    with pytest.raises(AuthorizationDenied):
        world["bob"].close_channel(channel, world.now)
    world["alice"].close_channel(channel, world.now)
    world.settle()
    assert world["bob"].view.channel(channel).closed
    with pytest.raises(InvalidInput, match="closed"):
        world["bob"].send_message(channel, "anyone?", world.now)


def test_commands_drive_the_service():
    world = W.ChatWorld(["alice", "bob"])
    alice, bob = world["alice"], world["bob"]
    channel = alice.create_channel("general", world.now)
    world.settle()
    bob.execute(parse_command("/nick bob"), world.now)
    world.settle()
    assert bob.execute(parse_command("/join #general"), world.now).channel == channel
    world.settle()
    alice.execute(parse_command("hello there"), world.now, channel=channel)
    world.settle()
    bob.execute(parse_command("/me waves"), world.now, channel=channel)
    alice.execute(parse_command("/topic today: chat"), world.now, channel=channel)
    world.settle()
    history = alice.view.history(channel)
    assert [(m.kind, m.text) for m in history] == [
        (MessageKind.TEXT, "hello there"),
        (MessageKind.ACTION, "waves"),
    ]
    assert bob.view.channel(channel).topic == "today: chat"
    outcome = alice.execute(parse_command("/msg #general via msg"), world.now)
    assert outcome.action == "sent"
    with pytest.raises(InvalidInput, match="none is selected"):
        alice.execute(parse_command("no channel"), world.now)
    with pytest.raises(NotFound):
        alice.execute(parse_command("/join #nowhere"), world.now)
    bob.execute(parse_command("/leave"), world.now, channel=channel)
    world.settle()
    assert bob.view.channel(channel).my_status == MemberStatus.OUTSIDE


def test_msg_to_a_member_opens_a_direct_channel_and_delivers_when_ready():
    world = W.ChatWorld(["alice", "bob"])
    alice, bob = world["alice"], world["bob"]
    bob.set_nickname("bob", world.now)
    world.settle()
    outcome = alice.execute(parse_command("/msg bob psst, just us"), world.now)
    assert outcome.action == "queued"  # bob is not in the direct channel yet
    world.settle()  # bob auto-joins, alice rekeys, the queued message goes out
    channel = outcome.channel
    assert bob.view.channel(channel).mode is ChannelMode.DIRECT
    assert [m.text for m in bob.view.history(channel)] == ["psst, just us"]
    again = alice.execute(parse_command("/msg bob second"), world.now)
    assert (again.action, again.channel) == ("sent", channel)
    world.settle()
    assert [m.text for m in bob.view.history(channel)] == ["psst, just us", "second"]
    with pytest.raises(InvalidInput, match="direct"):
        alice.invite(channel, world.who("bob"), world.now)


def test_search_and_paging_come_from_the_view():
    world = W.ChatWorld(["alice", "bob"])
    channel = _channel(world)
    ids = [
        world["alice"].send_message(channel, f"note {i} about Apples", world.now) for i in range(6)
    ]
    world["bob"].send_message(channel, "pears only", world.now)
    world.settle()
    bob = world["bob"].view
    hits = bob.search("apples")
    assert [h.id for h in hits] == list(reversed(ids))
    assert [h.text for h in bob.search("PEARS", channel=channel)] == ["pears only"]
    page = bob.history(channel, limit=2, before=ids[4])
    assert [m.id for m in page] == ids[2:4]
    with pytest.raises(InvalidInput):
        bob.search("   ")
    with pytest.raises(InvalidInput):
        bob.history(channel, limit=0)


def test_restart_rebuilds_history_keys_and_sending_position():
    world = W.ChatWorld(["alice", "bob"])
    channel = _channel(world)
    for i in range(3):
        world["alice"].send_message(channel, f"a{i}", world.now)
        world["bob"].send_message(channel, f"b{i}", world.now)
    world.settle()
    before = {
        name: [m.text for m in world[name].view.history(channel)] for name in ("alice", "bob")
    }
    for name in ("alice", "bob"):
        restarted = world.restart(name)
        assert [m.text for m in restarted.view.history(channel)] == before[name]
        assert not restarted.take_updates()  # loading reports nothing as new
    world["alice"].send_message(channel, "after restart", world.now)
    world.settle()
    world["bob"].send_message(channel, "me too", world.now)
    world.settle()
    assert world.refused == []
    for name in ("alice", "bob"):
        assert [m.text for m in world[name].view.history(channel)][-2:] == [
            "after restart",
            "me too",
        ]


def test_unacknowledged_messages_are_retried_until_the_member_returns():
    world = W.ChatWorld(["alice", "bob"])
    channel = _channel(world)
    sent = [world["alice"].send_message(channel, f"while away {i}", world.now) for i in range(4)]
    world.settle(down={"bob"})  # every envelope to bob is lost
    assert world["bob"].view.history(channel) == []
    world.advance(3.0, down={"bob"})  # retries are lost too
    world.advance(70.0)  # bob is back: the next retry gets through, the ack releases the rest
    assert [m.id for m in world["bob"].view.history(channel)] == sent
    assert all(m.state is DeliveryState.DELIVERED for m in world["alice"].view.history(channel))
    assert world["alice"].next_timer() is None or all(
        not len(q) for q in world["alice"]._retries.values()
    )


def test_updates_report_channel_changes_and_messages():
    world = W.ChatWorld(["alice", "bob"])
    channel = _channel(world)
    world["bob"].take_updates()
    world["alice"].send_message(channel, "ping", world.now)
    world.settle()
    updates = world["bob"].take_updates()
    assert any(isinstance(u, MessageShown) for u in updates)
    world["alice"].set_topic(channel, "new", world.now)
    world.settle()
    assert ChannelChanged(channel) in world["bob"].take_updates()


def test_a_burst_shares_envelopes_and_arrives_in_order():
    world = W.ChatWorld(["alice", "bob", "carol"])
    channel = _channel(world, ("bob", "carol"))
    texts = [f"line {i}" for i in range(40)]
    ids = world["alice"].send_messages(channel, texts, world.now)
    assert len(ids) == 40
    assert world.collect() == 4  # 32 + 8 facts, to each of two recipients
    world.settle()
    for name in ("alice", "bob", "carol"):
        assert [m.text for m in world[name].view.history(channel)] == texts
    shown = [u.message for u in world["bob"].take_updates() if isinstance(u, MessageShown)]
    assert shown[-40:] == ids
    assert world["alice"].send_messages(channel, [], world.now) == []


def test_a_lost_acknowledgement_is_answered_when_the_message_comes_again():
    world = W.ChatWorld(["alice", "bob"])
    channel = _channel(world)
    message = world["alice"].send_message(channel, "ack this", world.now)
    world.collect()
    world.deliver(world.wire.popleft())  # bob gets it ...
    world.collect()
    world.wire.clear()  # ... but his acknowledgement is lost
    retries = world["alice"]._retries[(channel, world.who("bob"))]
    assert len(retries) == 1
    world.advance(1.5)  # alice resends; bob answers with a fresh acknowledgement
    assert len(retries) == 0
    assert world["alice"].view.message(message).state is DeliveryState.DELIVERED
    assert [m.text for m in world["bob"].view.history(channel)] == ["ack this"]


def test_a_member_who_jumps_the_clock_to_the_end_cannot_stop_the_others():
    world = W.ChatWorld(["alice", "bob"])
    channel = _channel(world)
    bob = world["bob"]
    cs = bob.state().channel(channel)
    bob._send_sealed(
        cs,
        [
            (
                lambda frame, _clock: MessageSent(channel, world.who("bob"), 2**64 - 1, frame),
                MessageBody(MessageKind.TEXT, "far"),
            )
        ],
        world.now,
    )
    world.settle()
    world["alice"].send_message(channel, "still here", world.now)
    world.settle()
    assert sorted(m.text for m in bob.view.history(channel)) == ["far", "still here"]


def test_a_second_device_of_an_account_steps_past_frames_it_sees():
    world = W.ChatWorld(["alice", "bob"])
    channel = _channel(world)
    # a second process of bob over a copy of his storage: another device of the account
    twin_storage = MemoryStorage(secrets_key=bytes(32), random=SeededRandom(b"twin"))
    name = str(world["bob"].namespace)
    box = BOX_KEY_SECRET_PREFIX + str(W.CONTEXT)
    with world.storages["bob"].transaction(readonly=True) as source:
        facts = [(f.fact_id, f.body) for f in source.scan_facts(name)]
        box_key = source.get_secret(box)
    with twin_storage.transaction() as txn:
        txn.append_facts(name, facts)
        txn.put_secret(box, box_key)
    stack = world.cast.stack("bob", twin_storage, world.clock, SeededRandom(b"twin-rng"))
    twin = ChatService(stack=stack, context=W.CONTEXT, config=W.FAST, now=world.now)
    phone = world["bob"].send_message(channel, "from the phone", world.now)
    fact = world["bob"].journal.facts_of_type(MessageSent.TYPE_ID)[-1]
    assert twin.journal.add(fact)  # anti-entropy brings the other device's message
    twin.accept_synced([fact], world.now)
    assert [m.text for m in twin.view.history(channel)] == ["from the phone"]
    laptop = twin.send_message(channel, "from the laptop", world.now)
    assert laptop != phone  # a fresh generation, not the phone's again
    world.settle()
    assert world["bob"].state().channel(channel).equivocated == set()
