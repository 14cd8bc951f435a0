"""Custody changes of an account's devices, run in the deterministic simulator.

A device is enrolled and added, then removed: the group key never changes,
the tree records each step, the new shares sign together and the removed
device's old share no longer combines with them. Thresholds change, a
one-device account grows, the witnesses refuse what their user did not
approve, and hostile input changes nothing.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aura_core.crypto import InvalidSignatureShares, verify_signature
from aura_core.effects import Incoming
from aura_core.errors import InvalidInput, ValidationError
from aura_effects.simulated import FaultPlan
from aura_features.devices import (
    CUSTODY_CODEC,
    ChangeCompleted,
    ChangeDecided,
    ChangeFailed,
    EnrollmentRequested,
    MessageRejected,
    ShareActivated,
    ShareDeal,
    ShareErased,
    add_device,
    change_threshold,
    message_type,
    remove_device,
)
from aura_journal import LeafRole, RemovalReason, RotateEpoch, ThresholdPolicy


def _load_world():
    name = "aura_features_test_custody_world"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("features_custody_world.py")
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


W = _load_world()


def _signs_together(world, names: list[str], message: bytes = b"still the same account") -> bool:
    managers = [world.manager(n) for n in names]
    public = managers[0].key_epoch.public_key_package
    signature = W.frost_sign([m.key_package for m in managers], public, message, world.rng)
    return verify_signature(world.group_key, message, signature)


def _enroll(world, new: str, sponsor: str = "d1"):
    keys = world.add_new_device(new)
    world.do(new, lambda m, now: m.request_enrollment(world.names[sponsor], now))
    world.run(1)
    (request,) = [e.request for e in world.nodes[sponsor].take(EnrollmentRequested)]
    assert request.profile == keys.profile and request.verify()
    change = add_device(world.manager(sponsor).view, request.profile, tag=world.tag())
    world.do(sponsor, lambda m, now: m.propose(change, now))
    world.run(10)
    return change


def test_a_device_is_enrolled_then_removed_and_the_group_key_never_changes() -> None:
    world = W.CustodyWorld(11, devices=2, threshold=2)
    old_packages = {n: world.manager(n).key_package for n in ("d1", "d2")}
    genesis_tree = world.manager("d1").tree

    change = _enroll(world, "tablet")
    for name in ("d1", "d2", "tablet"):
        manager = world.manager(name)
        assert manager.is_member, world.sim.trace_hash()
        assert manager.group_key == world.group_key
        assert [type(e) for e in world.nodes[name].take(ChangeCompleted)] == [ChangeCompleted]
    tree = world.manager("tablet").tree
    assert tree == world.manager("d1").tree == world.manager("d2").tree
    assert [leaf.leaf_id.value for leaf in tree.devices()] == [1, 2, 3]
    assert tree.branch(0).policy == ThresholdPolicy(2, 3)
    assert tree.branch(0).group_key == world.group_key
    assert tree.epoch == genesis_tree.epoch + 1
    assert world.manager("tablet").key_epoch.threshold == 2
    assert world.manager("d1").key_epoch.devices == change.devices
    # every pair of the new shares signs; the old shares were replaced
    for pair in (["d1", "d2"], ["d1", "tablet"], ["d2", "tablet"]):
        assert _signs_together(world, pair)
    assert world.manager("d1").key_package != old_packages["d1"]

    removal = remove_device(
        world.manager("tablet").view, 2, tag=world.tag(), reason=RemovalReason.LOST
    )
    world.do("tablet", lambda m, now: m.propose(removal, now))
    world.run(10)
    d2 = world.manager("d2")
    assert not d2.is_member and d2.key_package is None
    assert [e.identifier for e in world.nodes["d2"].take(ShareErased)] == [2]
    tree = world.manager("d1").tree
    assert [leaf.leaf_id.value for leaf in tree.devices()] == [1, 3]
    assert tree.branch(0).policy == ThresholdPolicy(2, 2)
    assert world.manager("d1").group_key == world.group_key
    assert _signs_together(world, ["d1", "tablet"])
    # the removed device's last share does not combine with a current one
    d2_share = world.nodes["d2"].take(ShareActivated)[-1].key_package
    previous_public = world.nodes["d1"].take(ShareActivated)[-2].public_key_package
    with pytest.raises(InvalidSignatureShares):
        W.frost_sign([world.manager("d1").key_package, d2_share], previous_public, b"x", world.rng)
    # nor do the genesis shares
    with pytest.raises(InvalidSignatureShares):
        W.frost_sign(
            [old_packages["d2"], world.manager("d1").key_package], world.public, b"x", world.rng
        )
    history = world.manager("d1").journal.state("commitment_tree").history
    assert len(history) == 7  # genesis, then 3 + 3 operations
    kinds = [
        op.kind
        for fact in world.manager("d1").journal.facts_of_type("tree.op")
        for op in [world.manager("d1").journal.registry.body(fact).op]
    ]
    assert sorted(kinds) == sorted(
        [
            "add_leaf",
            "change_policy",
            "rotate_epoch",
            "change_policy",
            "remove_leaf",
            "rotate_epoch",
        ]
    )


def test_the_threshold_changes_with_change_policy_and_a_reshare() -> None:
    world = W.CustodyWorld(12, devices=3, threshold=2)
    change = change_threshold(world.manager("d1").view, 3, tag=world.tag())
    world.do("d1", lambda m, now: m.propose(change, now))
    world.run(10)
    for name in ("d1", "d2", "d3"):
        assert world.manager(name).key_package.min_signers == 3
    tree = world.manager("d3").tree
    assert tree.branch(0).policy == ThresholdPolicy(3, 3)
    assert _signs_together(world, ["d1", "d2", "d3"])
    with pytest.raises(InvalidInput):  # two of the new 3-of-3 shares are not enough
        _signs_together(world, ["d1", "d2"])
    assert world.manager("d1").group_key == world.group_key


def test_a_one_device_account_adds_a_second_device_without_consensus() -> None:
    world = W.CustodyWorld(13, devices=1, threshold=1)
    assert world.manager("d1").witness is None
    _enroll(world, "laptop")
    for name in ("d1", "laptop"):
        assert world.manager(name).key_package.min_signers == 2
        assert world.manager(name).witness is not None
    assert _signs_together(world, ["d1", "laptop"])
    assert world.manager("laptop").tree.branch(0).policy == ThresholdPolicy(2, 2)


def test_witnesses_do_not_vote_for_a_change_their_user_did_not_approve() -> None:
    world = W.CustodyWorld(14, devices=3, threshold=2, approval=None)
    keys = world.add_new_device("intruder")
    change = add_device(world.manager("d1").view, keys.profile, tag=world.tag())
    world.do("d1", lambda m, now: m.propose(change, now))
    world.run(20)
    assert not world.manager("intruder").is_member
    assert world.manager("d1").key_epoch.devices == world.manager("d2").key_epoch.devices
    assert len(world.manager("d1").key_epoch.devices) == 3
    # once a second device's user approves, the change goes through
    world.manager("d2").approve(change)
    world.run(30)
    assert world.manager("intruder").is_member, world.sim.trace_hash()
    assert [type(e) for e in world.nodes["d1"].take(ChangeDecided)] == [ChangeDecided]


def test_builders_refuse_what_the_devices_could_not_sign() -> None:
    world = W.CustodyWorld(15, devices=3, threshold=3)
    view = world.manager("d1").view
    with pytest.raises(InvalidInput, match="1-of-3 key is refused"):
        change_threshold(view, 1, tag=world.tag())
    change = remove_device(view, 3, tag=world.tag(), threshold=2)
    with pytest.raises(ValidationError, match="lower the threshold"):
        world.manager("d1").propose(change, 1.0)
    with pytest.raises(InvalidInput, match="no device"):
        remove_device(view, 9, tag=world.tag())


def test_a_change_on_a_stale_tree_is_refused_by_every_holder() -> None:
    world = W.CustodyWorld(16, devices=2, threshold=2)
    stale_view = world.manager("d1").view
    _enroll(world, "tablet")
    stale = remove_device(stale_view, 2, tag=world.tag())
    with pytest.raises(ValidationError, match="extends tree state"):
        world.manager("d1").propose(stale, 1.0)


def test_hostile_messages_are_refused_and_change_nothing() -> None:
    world = W.CustodyWorld(17, devices=2, threshold=2)
    manager = world.manager("d1")
    before = (manager.tree, manager.key_package, len(manager.journal))
    hostile = [
        b"",
        b"\xa0",
        b"\x00" * 40,
        b"\xa1at\x6fcustody.unknown",
        b"\xa2ab\x41\x00at\x6bcustody.deal",
        bytes(range(256)),
    ]
    for payload in hostile:
        manager.receive(Incoming("mallory", payload), 1.0)
    events = manager.take_events()
    assert len(events) == len(hostile)
    assert all(isinstance(e, MessageRejected) for e in events)
    assert (manager.tree, manager.key_package, len(manager.journal)) == before
    # and the device still works afterwards
    _enroll(world, "tablet")
    assert world.manager("tablet").is_member


def test_a_forged_deal_is_refused_and_the_change_still_completes() -> None:
    world = W.CustodyWorld(18, devices=2, threshold=2)
    keys = world.add_new_device("tablet")
    change = add_device(world.manager("d1").view, keys.profile, tag=world.tag())
    held: list[bytes] = []
    tablet = world.names["tablet"]

    def hold_first_deal(message, rng):
        is_deal = message_type(message.payload) == ShareDeal.TYPE
        if message.destination == tablet and is_deal and not held:
            held.append(message.payload)
            return []
        return [1000]

    world.sim.network.set_faults(hold_first_deal)
    world.do("d1", lambda m, now: m.propose(change, now))
    world.run(2)
    assert held and not world.manager("tablet").is_member
    genuine = CUSTODY_CODEC.decode(held[0])
    forgeries = [
        attrs.evolve(genuine, signature=bytes(64)),
        attrs.evolve(genuine, commitment=genuine.commitment[:-1] + b"\x00"),
        attrs.evolve(genuine, dealer=3 - genuine.dealer),
        attrs.evolve(genuine, round=2),
    ]
    for forged in forgeries:
        payload = CUSTODY_CODEC.encode(forged)
        world.do("tablet", lambda m, now, p=payload: m.receive(Incoming("mallory", p), now))
    world.run(1)
    rejected = world.nodes["tablet"].take(MessageRejected)
    assert len(rejected) == len(forgeries)
    assert not world.manager("tablet").is_member
    world.do("tablet", lambda m, now: m.receive(Incoming(world.names["d1"], held[0]), now))
    world.run(5)
    assert world.manager("tablet").is_member, rejected


def test_a_silent_dealer_makes_the_coordinator_abort_and_old_shares_stay() -> None:
    world = W.CustodyWorld(19, devices=3, threshold=2)
    keys = world.add_new_device("tablet")
    change = add_device(world.manager("d1").view, keys.profile, tag=world.tag())
    old = {n: world.manager(n).key_package for n in ("d1", "d2", "d3")}

    def drop_deals(message, rng):
        return [] if message_type(message.payload) == ShareDeal.TYPE else [1000]

    world.sim.network.set_faults(drop_deals)
    world.do("d1", lambda m, now: m.propose(change, now))
    world.run(60)
    failures = world.nodes["d1"].take(ChangeFailed)
    assert failures and "timed out" in failures[-1].reason
    assert {n: world.manager(n).key_package for n in ("d1", "d2", "d3")} == old
    assert not world.manager("tablet").is_member
    assert len(world.manager("d2").tree.devices()) == 3


def test_the_same_seed_replays_the_same_run() -> None:
    hashes = []
    for _ in range(2):
        world = W.CustodyWorld(20, devices=2, threshold=2)
        _enroll(world, "tablet")
        hashes.append(world.sim.trace_hash())
    assert hashes[0] == hashes[1]


def test_rotate_epoch_and_leaf_roles_in_the_tree() -> None:
    world = W.CustodyWorld(21, devices=2, threshold=2)
    _enroll(world, "tablet")
    tree = world.manager("d1").tree
    assert all(leaf.role is LeafRole.DEVICE for leaf in tree.leaves())
    journal = world.manager("d1").journal
    ops = [journal.registry.body(f).op for f in journal.facts_of_type("tree.op")]
    assert any(isinstance(op, RotateEpoch) for op in ops)


@pytest.mark.parametrize("seed", range(3))
def test_duplicated_and_reordered_messages_are_harmless(seed: int) -> None:
    faults = FaultPlan(latency_s=0.01, jitter_s=0.05, duplicate_rate=0.3)
    world = W.CustodyWorld(100 + seed, devices=3, threshold=2, faults=faults)
    keys = world.add_new_device("tablet")
    change = add_device(world.manager("d1").view, keys.profile, tag=world.tag())
    world.do("d1", lambda m, now: m.propose(change, now))
    world.run(30)
    assert world.manager("tablet").is_member, f"replay with seed {100 + seed}"
    assert {world.manager(n).tree.commitment for n in ("d1", "d2", "d3", "tablet")} == {
        world.manager("d1").tree.commitment
    }
    assert not [e for node in world.nodes.values() for e in node.take(MessageRejected)]


@st.composite
def _plans(draw):
    return draw(st.lists(st.sampled_from(["add", "remove", "threshold"]), min_size=1, max_size=3))


@given(_plans(), st.integers(min_value=0, max_value=2**16))
@example(["add", "remove", "remove"], 0)  # 3-of-3 must lower its threshold before a removal
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_sequence_of_changes_keeps_the_key_and_one_tree(plan: list[str], seed: int) -> None:
    world = W.CustodyWorld(seed, devices=3, threshold=2)
    members = ["d1", "d2", "d3"]
    gone: list[str] = []

    def apply(change) -> None:
        world.do(members[0], lambda m, now, c=change: m.propose(c, now))
        world.run(15)

    for step, action in enumerate(plan):
        view = world.manager(members[0]).view
        if action == "remove" and view.key_epoch.threshold == len(members) > 2:
            # t-of-t: the remaining devices could not sign a removal; lower the threshold first
            apply(change_threshold(view, len(members) // 2 + 1, tag=world.tag()))
            view = world.manager(members[0]).view
        if action == "add" and len(members) < 5:
            name = f"n{step}"
            keys = world.add_new_device(name)
            change = add_device(view, keys.profile, tag=world.tag())
            members.append(name)
        elif action == "remove" and len(members) > 2:
            leaving = members[-1]
            change = remove_device(view, world.manager(leaving).identifier, tag=world.tag())
            members.remove(leaving)
            gone.append(leaving)
        else:
            count = len(view.key_epoch.devices)
            options = [t for t in range(count // 2 + 1, count + 1) if t != view.key_epoch.threshold]
            if not options:
                continue
            change = change_threshold(view, options[0], tag=world.tag())
        apply(change)
        epoch = world.manager(members[0]).key_epoch
        for name in members:
            manager = world.manager(name)
            assert manager.is_member, (plan, seed, step, name)
            assert manager.key_epoch == epoch and manager.tree == world.manager(members[0]).tree
            assert manager.group_key == world.group_key
        for name in gone:
            assert not world.manager(name).is_member
        signers = [world.manager(n) for n in members[: epoch.threshold]]
        assert verify_signature(
            world.group_key,
            b"p",
            W.frost_sign(
                [m.key_package for m in signers], epoch.public_key_package, b"p", world.rng
            ),
        )
