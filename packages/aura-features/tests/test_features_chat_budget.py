"""Flow budgets stop a spammer without a server: every chat send pays through the guard chain."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from aura_core.errors import AuthorizationDenied, InsufficientBudget
from aura_features.chat import DeliveryState
from aura_protocol.guards import ContextMembership, read_flow_row


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


def _room(limit):
    world = W.ChatWorld(["alice", "bob"], limit=limit)
    channel = world["alice"].create_channel("general", world.now)
    world.settle()
    world["bob"].join(channel, world.now)
    world.settle()
    return world, channel


def _spent(world, name, peer):
    with world.storages[name].transaction(readonly=True) as txn:
        return read_flow_row(txn, W.CONTEXT, world.who(peer))[0]


def test_a_spammer_runs_out_of_budget_and_nothing_more_leaves():
    world, channel = _room(limit=12)
    spammer = world["bob"]
    already = _spent(world, "bob", "alice")  # the join cost one
    sent = 0
    with pytest.raises(InsufficientBudget):
        for i in range(100):
            spammer.send_message(channel, f"buy now {i}", world.now)
            sent += 1
    assert sent == 12 - already
    world.settle()
    assert len(world["alice"].view.history(channel)) == sent
    assert _spent(world, "bob", "alice") == 12
    for _ in range(3):  # and it stays refused, whatever bob tries
        with pytest.raises(InsufficientBudget):
            spammer.send_message(channel, "one more?", world.now)
        with pytest.raises(InsufficientBudget):
            spammer.set_nickname("spam", world.now)


def test_a_refused_send_seals_writes_and_sends_nothing():
    world, channel = _room(limit=4)
    bob = world["bob"]
    while True:
        try:
            bob.send_message(channel, "filler", world.now)
        except InsufficientBudget:
            break
    world.settle()
    before = W.dump(world, "bob")
    journal = len(bob.journal)
    generation = bob._chains.next_generation(channel)
    with pytest.raises(InsufficientBudget, match="budget"):
        bob.send_message(channel, "refused", world.now)
    assert W.dump(world, "bob") == before
    assert len(bob.journal) == journal
    assert bob._chains.next_generation(channel) == generation  # no AMP generation burned
    assert world.collect() == 0


def test_acknowledgements_are_free_so_an_exhausted_member_still_confirms_delivery():
    world, channel = _room(limit=3)
    bob = world["bob"]
    with pytest.raises(InsufficientBudget):
        for _ in range(10):
            bob.send_message(channel, "x", world.now)
    world.settle()
    message = world["alice"].send_message(channel, "did it arrive?", world.now)
    world.settle()
    assert world["alice"].view.message(message).state is DeliveryState.DELIVERED


def test_no_token_no_send():
    world, channel = _room(limit=10)
    bob = world["bob"]
    membership = bob.stack.memberships.get(W.CONTEXT)
    bob.stack.memberships.put(
        ContextMembership(identity=membership.identity, roster=membership.roster, token=None)
    )
    before = W.dump(world, "bob")
    with pytest.raises(AuthorizationDenied, match="chat:send"):
        bob.send_message(channel, "no capability", world.now)
    assert W.dump(world, "bob") == before


def test_a_burst_is_paid_per_message_and_refused_whole_when_it_does_not_fit():
    world, channel = _room(limit=20)
    bob = world["bob"]
    left = 20 - _spent(world, "bob", "alice")
    before = W.dump(world, "bob")
    with pytest.raises(InsufficientBudget):
        bob.send_messages(channel, [f"m{i}" for i in range(left + 1)], world.now)
    assert W.dump(world, "bob") == before
    assert len(bob.send_messages(channel, [f"m{i}" for i in range(left)], world.now)) == left
    assert _spent(world, "bob", "alice") == 20
