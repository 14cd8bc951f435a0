"""Guardians and recovery in the deterministic simulator.

Guardians accept or decline; seated guardians hold a 2-of-3 sharing of the
account key. A phone is lost and two guardians restore the account to a new
phone and the laptop: same AuthorityId, same group key, working shares.
Duplicate approvals count once, forged ones are refused, a dispute by a
device cancels, a guardian approves one recovery at a time, the last
guardian cannot be removed and a removed guardian's share stops working.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import attrs
import pytest

from aura_core.crypto import InvalidSignatureShares, sign_single, verify_signature
from aura_core.effects import Incoming
from aura_core.errors import ValidationError
from aura_features.devices import (
    ChangeCompleted,
    GuardianKeys,
    MessageRejected,
    ShareErased,
    add_device,
    message_type,
    remove_device,
    remove_guardian,
    sign_message,
)
from aura_features.recovery import (
    RECOVERY_CODEC,
    GuardianAnswered,
    GuardianInvited,
    GuardianShareActivated,
    GuardianShareErased,
    RecoveryApproval,
    RecoveryApprovalCounted,
    RecoveryAuthorization,
    RecoveryCompleted,
    RecoveryDisputed,
    RecoveryFailed,
    RecoveryNotified,
    RecoveryReleased,
    RecoveryRequested,
    authorize_recovery,
    recovery_change,
)
from aura_journal import LeafRole, RemovalReason


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
GUARDIANS = ["g1", "g2", "g3"]


def _guarded_world(seed: int, *, window_s: int = 60):
    world = W.CustodyWorld(seed, devices=2, threshold=2)
    world.seat_guardians(GUARDIANS, threshold=2, window_s=window_s)
    return world


def _lose_phone_and_ask(world, *, kept=(2,)):
    world.sim.crash(world.names["d1"])
    coordinator = world.add_recovering_device("phone2", guardians=GUARDIANS, kept=kept, threshold=2)
    world.do("phone2", lambda _m, now: coordinator.start(now))
    world.run(1)
    return coordinator


def _approve(world, guardian: str, recovery_id: bytes) -> None:
    world.do(guardian, lambda g, now: g.approve_recovery(recovery_id, now))


def test_guardians_accept_or_decline_and_the_accepted_ones_hold_a_threshold_sharing() -> None:
    world = W.CustodyWorld(31, devices=2, threshold=2)
    keys = world.add_guardian("g0")
    signed = world.guardian_invite(["d1", "d2"])
    watch = world.watch("d1")
    world.do("d1", lambda _m, now: watch.invite_guardian(signed, keys.profile.address, now))
    world.run(1)
    (invited,) = world.nodes["g0"].take(GuardianInvited)
    assert invited.account == world.account
    world.do("g0", lambda g, now: g.decline(signed.invitation_id.raw, now))
    world.run(1)
    (answer,) = world.nodes["d1"].take(GuardianAnswered)
    assert not answer.response.accepted
    assert watch.accepted_guardians() == ()
    assert world.guardian("g0").accounts == ()

    world.seat_guardians(GUARDIANS, threshold=2)
    manager = world.manager("d2")
    guardian_set = manager.guardian_set
    assert [m.profile.authority for m in guardian_set.guardians] == [
        world.guardian(g).profile.authority for g in GUARDIANS
    ]
    assert guardian_set.guardian_threshold == 2
    assert [leaf.role for leaf in manager.tree.leaves()] == [LeafRole.DEVICE] * 2 + [
        LeafRole.GUARDIAN
    ] * 3
    shares = [world.guardian(g).share_for(world.account) for g in GUARDIANS]
    assert all(s is not None and s.min_signers == 2 for s in shares)
    # any two guardians' shares sign for the account; one alone is not a key
    signature = W.frost_sign(shares[:2], guardian_set.guardian_package, b"g", world.rng)
    assert verify_signature(world.group_key, b"g", signature)
    assert bytes(shares[0].verifying_share) != world.group_key
    # the devices' own shares were not touched
    assert manager.key_package == world.nodes["d2"].inner.key_package
    assert manager.group_key == world.group_key


def test_a_lost_phone_is_restored_by_two_of_three_guardians() -> None:
    world = _guarded_world(32)
    coordinator = _lose_phone_and_ask(world)
    assert len(world.nodes["g1"].take(RecoveryRequested)) == 1
    _approve(world, "g1", coordinator.recovery_id)
    _approve(world, "g3", coordinator.recovery_id)
    world.run(5)
    assert coordinator.approvals() == 2
    assert len(world.nodes["d2"].take(RecoveryNotified)) == 2
    assert not world.nodes["g1"].take(RecoveryReleased)  # the dispute window is running
    world.run(70)
    assert coordinator.outcome == "completed", world.nodes["phone2"].events
    assert world.nodes["phone2"].take(RecoveryCompleted)
    phone, laptop = world.manager("phone2"), world.manager("d2")
    assert phone.is_member and laptop.is_member
    assert phone.account == world.account
    assert phone.group_key == laptop.group_key == world.group_key
    assert phone.tree == laptop.tree
    assert [leaf.leaf_id.value for leaf in phone.tree.devices()] == [2, 6]
    assert len(phone.tree.guardians()) == 3
    # the new phone signs with the laptop under the unchanged group key
    signature = W.frost_sign(
        [phone.key_package, laptop.key_package],
        phone.key_epoch.public_key_package,
        b"hi",
        world.rng,
    )
    assert verify_signature(world.group_key, b"hi", signature)
    # the guardians' copies of the journal followed; only the two dealers released
    assert {g for g in GUARDIANS if world.nodes[g].take(RecoveryReleased)} == {"g1", "g3"}
    for g in GUARDIANS:
        assert (
            world.guardian(g).journal_for(world.account).state("commitment_tree").head == phone.tree
        )
    # and the account works as before: the new phone can add a device
    tablet = world.add_new_device("tablet")
    change = add_device(phone.view, tablet.profile, tag=world.tag())
    world.do("phone2", lambda m, now: m.propose(change, now))
    world.run(10)
    assert world.manager("tablet").is_member


def test_a_one_device_account_seats_guardians_and_is_restored_on_a_new_phone() -> None:
    """The phone alone decides (its key's signature authorizes); losing it loses nothing."""
    world = W.CustodyWorld(35, devices=1, threshold=1)
    world.seat_guardians(GUARDIANS, threshold=2, window_s=1, signers=("d1",))
    assert world.manager("d1").guardian_set is not None
    for g in GUARDIANS:
        assert world.guardian(g).share_for(world.account) is not None
    world.sim.crash(world.names["d1"])
    coordinator = world.add_recovering_device("phone2", guardians=GUARDIANS, kept=(), threshold=1)
    world.do("phone2", lambda _m, now: coordinator.start(now))
    world.run(1)
    _approve(world, "g2", coordinator.recovery_id)
    _approve(world, "g3", coordinator.recovery_id)
    world.run(70)
    assert coordinator.outcome == "completed", world.nodes["phone2"].events
    phone = world.manager("phone2")
    assert phone.is_member and phone.account == world.account
    assert phone.group_key == world.group_key
    assert phone.key_package is not None
    assert verify_signature(world.group_key, b"hi", sign_single(phone.key_package, b"hi"))


def test_duplicate_approvals_count_once() -> None:
    world = _guarded_world(33)
    coordinator = _lose_phone_and_ask(world)
    approvals: list[bytes] = []
    phone2 = world.names["phone2"]

    def copy_approvals(message, rng):
        if message.destination == phone2 and message_type(message.payload) == RecoveryApproval.TYPE:
            approvals.append(message.payload)
        return [1000, 2000, 3000]  # every message arrives three times

    world.sim.network.set_faults(copy_approvals)
    _approve(world, "g2", coordinator.recovery_id)
    world.run(2)
    for payload in approvals:  # and once more, replayed by someone else
        world.do("phone2", lambda m, now, p=payload: m.receive(Incoming("mallory", p), now))
    world.run(100)
    counted = world.nodes["phone2"].take(RecoveryApprovalCounted)
    assert [e.count for e in counted] == [1]
    assert coordinator.approvals() == 1
    assert coordinator.outcome is None and not world.manager("phone2").is_member
    # a second guardian makes two, and the recovery goes ahead
    _approve(world, "g1", coordinator.recovery_id)
    world.run(100)
    assert coordinator.outcome == "completed"


def test_forged_approvals_are_refused() -> None:
    world = _guarded_world(34)
    coordinator = _lose_phone_and_ask(world)
    captured: list[bytes] = []
    phone2 = world.names["phone2"]

    def capture(message, rng):
        if message.destination == phone2 and message_type(message.payload) == RecoveryApproval.TYPE:
            captured.append(message.payload)
        return [1000]

    world.sim.network.set_faults(capture)
    _approve(world, "g1", coordinator.recovery_id)
    world.run(2)
    genuine = RECOVERY_CODEC.decode_as(captured[0], RecoveryApproval)
    outsider = GuardianKeys.generate(world.rng)
    forgeries = [
        attrs.evolve(genuine, signature=bytes(64)),
        # g2's name on g1's signature
        attrs.evolve(genuine, guardian=world.guardian("g2").profile.authority),
        # signed, but by an authority that is not a guardian of the account
        sign_message(attrs.evolve(genuine, guardian=outsider.authority), outsider.sign),
        attrs.evolve(genuine, approved_at_ms=genuine.approved_at_ms + 1),
    ]
    for forged in forgeries:
        payload = RECOVERY_CODEC.encode(forged)
        world.do("phone2", lambda m, now, p=payload: m.receive(Incoming("mallory", p), now))
    world.run(100)
    rejected = world.nodes["phone2"].take(MessageRejected)
    assert len(rejected) == len(forgeries), rejected
    assert coordinator.approvals() == 1
    assert not world.manager("phone2").is_member


def test_a_dispute_by_a_device_cancels_the_recovery() -> None:
    world = _guarded_world(35)
    world.sim.crash(world.names["d1"])
    coordinator = world.add_recovering_device("thief", guardians=GUARDIANS, kept=(), threshold=1)
    world.do("thief", lambda _m, now: coordinator.start(now))
    world.run(1)
    # the request is well formed: but a lone new device cannot sign a 2-of-2 tree update
    rejected = [e.reason for e in world.nodes["g1"].take(MessageRejected)]
    assert any("could not sign the tree update" in r for r in rejected)

    coordinator = _lose_phone_and_ask(world)
    _approve(world, "g1", coordinator.recovery_id)
    _approve(world, "g2", coordinator.recovery_id)
    world.run(5)
    notified = world.nodes["d2"].take(RecoveryNotified)
    assert {e.request.recovery_id for e in notified} == {coordinator.recovery_id}
    watch = world.watch("d2")
    world.do("d2", lambda _m, now: watch.dispute(coordinator.recovery_id, now, "not me"))
    world.run(100)
    assert coordinator.outcome is not None and "disputed" in coordinator.outcome
    assert world.nodes["phone2"].take(RecoveryDisputed)
    assert world.nodes["phone2"].take(RecoveryFailed)
    assert not any(world.nodes[g].take(RecoveryReleased) for g in GUARDIANS)
    assert not world.manager("phone2").is_member
    assert world.manager("d2").key_epoch.epoch == 0
    assert [leaf.leaf_id.value for leaf in world.manager("d2").tree.devices()] == [1, 2]


def test_a_guardian_approves_one_open_recovery_per_account() -> None:
    world = _guarded_world(36)
    first = _lose_phone_and_ask(world)
    second = world.add_recovering_device("rival", guardians=GUARDIANS, kept=(2,), threshold=2)
    world.do("rival", lambda _m, now: second.start(now))
    world.run(1)
    world.guardian("g1").approve_recovery(first.recovery_id, 1e9 + 1)
    with pytest.raises(ValidationError, match="one at a time"):
        world.guardian("g1").approve_recovery(second.recovery_id, 1e9 + 2)


def test_removing_the_last_guardian_fails_and_a_removed_guardian_loses_its_share() -> None:
    world = W.CustodyWorld(37, devices=2, threshold=2)
    world.seat_guardians(["g1"], threshold=1)
    with pytest.raises(ValidationError, match="last guardian"):
        remove_guardian(
            world.manager("d1").view, world.guardian("g1").profile.authority, tag=world.tag()
        )

    world.seat_guardians(["g2", "g3"], threshold=2)
    before = {g: world.guardian(g).share_for(world.account) for g in ("g1", "g2", "g3")}
    old_package = world.manager("d1").guardian_set.guardian_package
    change = remove_guardian(
        world.manager("d1").view, world.guardian("g3").profile.authority, tag=world.tag()
    )
    world.do("d1", lambda m, now: m.propose(change, now))
    world.run(10)
    guardian_set = world.manager("d2").guardian_set
    assert [m.identifier for m in guardian_set.guardians] == [3, 4]
    assert world.nodes["g3"].take(GuardianShareErased)
    assert world.guardian("g3").share_for(world.account) is None
    assert len(world.nodes["g1"].take(GuardianShareActivated)) == 3
    new = [world.guardian(g).share_for(world.account) for g in ("g1", "g2")]
    assert verify_signature(
        world.group_key, b"m", W.frost_sign(new, guardian_set.guardian_package, b"m", world.rng)
    )
    with pytest.raises(InvalidSignatureShares):
        W.frost_sign([new[0], before["g3"]], old_package, b"m", world.rng)


def test_a_device_change_updates_the_guardians_roster() -> None:
    world = _guarded_world(38)
    tablet = world.add_new_device("tablet")
    change = add_device(world.manager("d1").view, tablet.profile, tag=world.tag())
    world.do("d1", lambda m, now: m.propose(change, now))
    world.run(10)
    for g in GUARDIANS:
        held = world.guardian(g).guardian_set_for(world.account)
        assert [m.identifier for m in held.devices] == [1, 2, 6]
    # a removed device can no longer dispute
    removal = remove_device(
        world.manager("d1").view, 6, tag=world.tag(), reason=RemovalReason.REVOKED
    )
    world.do("d1", lambda m, now: m.propose(removal, now))
    world.run(10)
    assert [m.identifier for m in world.guardian("g1").guardian_set_for(world.account).devices] == [
        1,
        2,
    ]
    assert world.nodes["tablet"].take(ChangeCompleted)


def test_hostile_recovery_messages_are_refused_and_change_nothing() -> None:
    world = _guarded_world(39)
    coordinator = _lose_phone_and_ask(world)
    guardian = world.guardian("g1")
    before = (guardian.share_for(world.account), len(guardian.journal_for(world.account)))
    hostile = [
        b"",
        b"\xa1at\x70recovery.request",
        b"\xa1at\x71recovery.approval",
        RECOVERY_CODEC.encode(
            attrs.evolve(coordinator.request, threshold=1, signature=coordinator.request.signature)
        ),
        b"\xff" * 64,
    ]
    for payload in hostile:
        guardian.receive(Incoming("mallory", payload), 1e9)
        world.manager("phone2").receive(Incoming("mallory", payload), 1e9)
        world.manager("d2").receive(Incoming("mallory", payload), 1e9)
    for node in (guardian, world.manager("phone2"), world.manager("d2")):
        events = node.take_events()
        assert len(events) == len(hostile) and all(isinstance(e, MessageRejected) for e in events)
    assert (guardian.share_for(world.account), len(guardian.journal_for(world.account))) == before
    _approve(world, "g1", coordinator.recovery_id)
    _approve(world, "g2", coordinator.recovery_id)
    world.run(100)
    assert coordinator.outcome == "completed"


def test_an_emergency_rotation_renews_every_share_at_once_and_keeps_the_key() -> None:
    world = W.CustodyWorld(40, devices=3, threshold=2)
    world.seat_guardians(GUARDIANS, threshold=2, window_s=3600)
    stolen_device = world.manager("d1").key_package
    stolen_guardian = world.guardian("g1").share_for(world.account)
    old_devices = world.manager("d2").key_epoch.public_key_package
    old_guardians = world.manager("d2").guardian_set.guardian_package
    world.do("d2", lambda m, now: m.propose_emergency_rotation(now, revoke=1))
    world.run(20)  # well inside the hour-long dispute window: rotation has none
    d2, d3 = world.manager("d2"), world.manager("d3")
    assert not world.manager("d1").is_member and world.nodes["d1"].take(ShareErased)
    assert [m.identifier for m in d2.key_epoch.devices] == [2, 3]
    assert d2.group_key == d3.group_key == world.group_key
    guardian_set = d3.guardian_set
    assert guardian_set.guardian_package != old_guardians
    assert [m.identifier for m in guardian_set.devices] == [2, 3]
    for g in GUARDIANS:
        assert len(world.nodes[g].take(GuardianShareActivated)) == 2
    assert verify_signature(
        world.group_key,
        b"e",
        W.frost_sign(
            [d2.key_package, d3.key_package], d2.key_epoch.public_key_package, b"e", world.rng
        ),
    )
    fresh = [world.guardian(g).share_for(world.account) for g in ("g2", "g3")]
    assert verify_signature(
        world.group_key,
        b"e",
        W.frost_sign(fresh, guardian_set.guardian_package, b"e", world.rng),
    )
    # what the thief holds no longer combines with anything current
    with pytest.raises(InvalidSignatureShares):
        W.frost_sign([stolen_device, d2.key_package], old_devices, b"e", world.rng)
    with pytest.raises(InvalidSignatureShares):
        W.frost_sign([stolen_guardian, fresh[0]], old_guardians, b"e", world.rng)
    kinds = [e.change.kind for e in world.nodes["d2"].take(ChangeCompleted)]
    assert kinds[-2:] == ["rotate", "guardians"]


def test_every_device_lost_two_new_devices_are_restored_together() -> None:
    world = _guarded_world(42)
    for name in ("d1", "d2"):
        world.sim.crash(world.names[name])
    alone = world.add_recovering_device("solo", guardians=GUARDIANS, kept=(), threshold=1)
    world.do("solo", lambda _m, now: alone.start(now))
    world.run(1)
    # one new device could not sign the 2-of-2 tree update: the guardians refuse
    assert all(not world.nodes[g].take(RecoveryRequested) for g in GUARDIANS)
    world.add_companion("laptop2")
    coordinator = world.add_recovering_device(
        "phone2", guardians=GUARDIANS, kept=(), threshold=2, companions=("laptop2",)
    )
    world.do("phone2", lambda _m, now: coordinator.start(now))
    world.run(1)
    _approve(world, "g2", coordinator.recovery_id)
    _approve(world, "g3", coordinator.recovery_id)
    world.run(100)
    assert coordinator.outcome == "completed", world.nodes["phone2"].events
    phone, laptop = world.manager("phone2"), world.manager("laptop2")
    assert phone.is_member and laptop.is_member
    assert phone.group_key == laptop.group_key == world.group_key
    assert [leaf.leaf_id.value for leaf in laptop.tree.devices()] == [6, 7]
    assert world.nodes["laptop2"].take(RecoveryCompleted)
    assert verify_signature(
        world.group_key,
        b"z",
        W.frost_sign(
            [phone.key_package, laptop.key_package],
            phone.key_epoch.public_key_package,
            b"z",
            world.rng,
        ),
    )


def test_a_release_needs_the_threshold_of_distinct_valid_approvals() -> None:
    world = _guarded_world(43)
    coordinator = _lose_phone_and_ask(world)
    captured: list[bytes] = []
    phone2 = world.names["phone2"]

    def capture(message, rng):
        if message.destination == phone2 and message_type(message.payload) == RecoveryApproval.TYPE:
            captured.append(message.payload)
        return [1000]

    world.sim.network.set_faults(capture)
    _approve(world, "g1", coordinator.recovery_id)
    world.run(1)
    guardian_set = world.manager("d2").guardian_set
    change = recovery_change(coordinator.request, guardian_set)
    request = RECOVERY_CODEC.encode(coordinator.request)
    doubled = RecoveryAuthorization(request, (captured[0], captured[0])).encode()
    with pytest.raises(ValidationError, match="1 valid guardian approval"):
        authorize_recovery(doubled, change, guardian_set)
    _approve(world, "g2", coordinator.recovery_id)
    world.run(1)
    enough = RecoveryAuthorization(request, tuple(captured[:2])).encode()
    authorized = authorize_recovery(enough, change, guardian_set)
    assert sorted(authorized.dealer_keys) == [3, 4]
    with pytest.raises(ValidationError, match="disputed"):
        authorize_recovery(enough, change, guardian_set, disputed=frozenset({change.tag}))
    other = attrs.evolve(change, threshold=1, devices=change.devices[:1])
    with pytest.raises(ValidationError, match="not the one the recovery request implies"):
        authorize_recovery(enough, other, guardian_set)
