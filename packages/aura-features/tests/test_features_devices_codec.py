"""Custody values and messages: rules, canonical forms, strict decoding, sealed shares, facts."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aura_core.crypto import ReshareShare
from aura_core.errors import CryptoError, InvalidEncoding, InvalidInput, ValidationError
from aura_core.time_domains import PhysicalTime
from aura_effects import SodiumCrypto
from aura_effects.simulated import SeededRandom
from aura_features.devices import (
    CUSTODY_CODEC,
    AttestCommitments,
    AttestRequest,
    AttestShares,
    AttestSign,
    ChangeAborted,
    ChangeComplete,
    ConsensusFrame,
    CustodyChange,
    CustodyView,
    DeviceKeys,
    DeviceMember,
    EnrollmentRequest,
    GuardianKeys,
    GuardianMember,
    KeyEpoch,
    ShareDeal,
    ShareReceived,
    TransferStart,
    add_device,
    add_guardians,
    derive_ops,
    open_share,
    remove_device,
    seal_share,
    sign_facts_in_process,
    sign_message,
)
from aura_features.recovery import (
    RECOVERY_CODEC,
    GuardianResponse,
    RecoveryAuthorization,
    RecoveryCancelled,
    RecoveryDispute,
    RecoveryRequest,
    recovery_registry,
)
from aura_journal import (
    AddLeaf,
    ChangePolicy,
    Fact,
    FactMetadata,
    Journal,
    JournalNamespace,
    RemovalReason,
    RemoveLeaf,
    RotateEpoch,
    ThresholdPolicy,
    order_time_from_entropy,
)


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
RNG = SeededRandom(5)
ACCOUNT = W.make_account(RNG, 3, 2)
KEYS = list(ACCOUNT.keys.values())
GUARDIAN = GuardianKeys.generate(RNG)


def _journal() -> Journal:
    journal = Journal(JournalNamespace.authority(ACCOUNT.account), recovery_registry())
    for fact in ACCOUNT.facts:
        journal.add(fact)
    return journal


JOURNAL = _journal()
VIEW = CustodyView(
    JOURNAL.state("commitment_tree").head, JOURNAL.state("account_custody").key_epoch, None
)
NEWCOMER = DeviceKeys.generate(RNG)
ADD = add_device(VIEW, NEWCOMER.profile, tag=b"\x01" * 16)


def _member(i: int, keys: DeviceKeys) -> DeviceMember:
    return DeviceMember(i, keys.profile)


# --------------------------------------------------------------------------- the change


def test_a_change_round_trips_and_its_hash_binds_every_field() -> None:
    data = ADD.encode()
    assert CustodyChange.decode(data) == ADD
    others = [
        attrs.evolve(ADD, tag=b"\x02" * 16),
        attrs.evolve(ADD, threshold=4),
        attrs.evolve(ADD, dispute_window_s=ADD.dispute_window_s + 1),
        attrs.evolve(ADD, parent=bytes(32)),
    ]
    assert len({ADD.hash, *(o.hash for o in others)}) == 1 + len(others)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"threshold": 1}, "1-of-4 key is refused"),
        ({"threshold": 2}, "not a majority"),
        ({"threshold": 5}, "exceeds"),
        ({"kind": "party"}, "kind must be one of"),
        ({"parent": None}, "must name the tree state"),
        ({"dispute_window_s": 0}, "dispute window"),
        ({"removals": ((2, RemovalReason.LOST),)}, "cannot also be in the roster"),
        ({"removals": ((9, "lost"),)}, "RemovalReason"),
    ],
)
def test_change_rules_refuse_with_a_message(changes: dict, message: str) -> None:
    with pytest.raises((InvalidInput, ValidationError), match=message):
        attrs.evolve(ADD, **changes)


def test_a_roster_repeating_a_key_or_a_device_is_refused() -> None:
    twin = attrs.evolve(ADD.devices[1], identifier=7)
    with pytest.raises(InvalidInput, match="one holder twice"):
        attrs.evolve(ADD, devices=(*ADD.devices, twin))
    with pytest.raises(InvalidInput, match="sorted"):
        attrs.evolve(ADD, devices=tuple(reversed(ADD.devices)))


def test_the_last_guardian_cannot_go() -> None:
    view = CustodyView(VIEW.tree, VIEW.key_epoch, None)
    seated = add_guardians(view, [GUARDIAN.profile], tag=b"\x03" * 16, guardian_threshold=1)
    assert [m.identifier for m in seated.guardians] == [4]
    with pytest.raises(ValidationError, match="last guardian"):
        attrs.evolve(seated, guardians=(), guardian_threshold=0)


@given(st.binary(max_size=300))
@settings(max_examples=200, deadline=None)
@example(b"")
@example(b"\xa0")
def test_random_bytes_never_decode_as_a_change(data: bytes) -> None:
    with pytest.raises(InvalidEncoding):
        CustodyChange.decode(data)


@given(st.integers(min_value=0), st.integers(min_value=1, max_value=255))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_a_mutated_change_is_refused_or_decodes_to_a_valid_change(position: int, xor: int) -> None:
    data = bytearray(ADD.encode())
    data[position % len(data)] ^= xor
    try:
        change = CustodyChange.decode(bytes(data))
    except InvalidEncoding:
        return
    assert change.encode() == bytes(data)


# --------------------------------------------------------------------------- tree operations


def test_derive_ops_adds_sets_policy_removes_and_rotates() -> None:
    derived = derive_ops(VIEW.tree, ADD)
    assert [type(op) for op in derived.ops] == [AddLeaf, ChangePolicy, RotateEpoch]
    assert derived.ops[1].policy == ThresholdPolicy(3, 4)
    assert derived.signers_needed == 3  # RotateEpoch under the new 3-of-4 policy
    assert [leaf.leaf_id.value for leaf in derived.final.devices()] == [1, 2, 3, 4]
    removal = remove_device(VIEW, 3, tag=b"\x04" * 16, reason=RemovalReason.LOST)
    ops = derive_ops(VIEW.tree, removal).ops
    assert [type(op) for op in ops] == [ChangePolicy, RemoveLeaf, RotateEpoch]
    assert ops[1].reason is RemovalReason.LOST


def test_derive_ops_refuses_a_stale_parent_or_a_conflicting_leaf() -> None:
    stale = attrs.evolve(ADD, parent=bytes(32))
    with pytest.raises(ValidationError, match="extends tree state"):
        derive_ops(VIEW.tree, stale)
    impostor = DeviceMember(2, NEWCOMER.profile)
    devices = tuple(m if m.identifier != 2 else impostor for m in ADD.devices[:3])
    with pytest.raises(ValidationError, match="another device"):
        derive_ops(VIEW.tree, attrs.evolve(ADD, devices=devices, threshold=2))
    unlisted = attrs.evolve(ADD, devices=ADD.devices[:2], threshold=2)
    with pytest.raises(ValidationError, match="neither kept nor removed"):
        derive_ops(VIEW.tree, unlisted)


# --------------------------------------------------------------------------- facts


def test_a_key_epoch_must_match_the_tree_and_be_signed_by_its_key() -> None:
    journal = _journal()
    epoch: KeyEpoch = journal.state("account_custody").key_epoch
    namespace = JournalNamespace.authority(ACCOUNT.account)
    wrong_roster = attrs.evolve(epoch, devices=epoch.devices)  # same, but a new fact below

    def fact(body, keys=None):
        metadata = FactMetadata(order_time_from_entropy(RNG.random_bytes(32)), PhysicalTime(1))
        return sign_facts_in_process(
            [Fact.create(body, metadata)],
            namespace,
            keys or list(ACCOUNT.key_packages.values()),
            ACCOUNT.public,
            RNG,
        )[0]

    assert journal.add(fact(wrong_roster))  # an equal roster is fine
    swapped = tuple(
        attrs.evolve(m, profile=NEWCOMER.profile) if m.identifier == 3 else m for m in epoch.devices
    )
    with pytest.raises(ValidationError, match="exactly the tree's device leaves"):
        journal.add(fact(attrs.evolve(epoch, devices=swapped)))
    other = W.make_account(RNG, 3, 2)
    forged = attrs.evolve(epoch, public_key_package=other.public)
    with pytest.raises(CryptoError):
        journal.add(
            fact(forged, list(other.key_packages.values())).with_threshold_signature(
                bytes(other.public.verifying_key), bytes(64), 3
            )
        )


# --------------------------------------------------------------------------- sealed shares


def test_a_sealed_share_opens_only_for_its_recipient_change_round_and_dealer() -> None:
    crypto = SodiumCrypto(RNG)
    recipient = DeviceKeys.generate(RNG)
    share = ReshareShare(1, 4, 12345)
    sealed = seal_share(crypto, recipient.profile.encryption_key, share, b"c" * 32, 1)
    opened = open_share(
        crypto,
        recipient.encryption_private,
        sealed,
        change_hash=b"c" * 32,
        round_=1,
        dealer=1,
        recipient=4,
    )
    assert opened == share
    wrong = [
        {"change_hash": b"d" * 32},
        {"round_": 2},
        {"dealer": 2},
        {"recipient": 5},
    ]
    base = {"change_hash": b"c" * 32, "round_": 1, "dealer": 1, "recipient": 4}
    for override in wrong:
        with pytest.raises(CryptoError):
            open_share(crypto, recipient.encryption_private, sealed, **(base | override))
    with pytest.raises(CryptoError):
        open_share(crypto, NEWCOMER.encryption_private, sealed, **base)


# --------------------------------------------------------------------------- messages


def _samples() -> list:
    profile = NEWCOMER.profile
    request = RecoveryRequest(b"r" * 16, ACCOUNT.account, profile, (2,), 2, 7)
    return [
        ConsensusFrame(b"\x01\x02"),
        sign_message(EnrollmentRequest(ACCOUNT.account, profile, 5), NEWCOMER.sign),
        TransferStart(ADD.encode(), "consensus", b"blob", "device-x", (1, 2), 1, (b"f",)),
        ShareDeal(b"h" * 32, 1, 2, b"c", ((1, b"s"), (4, b"t")), (), bytes(64)),
        ShareReceived(b"h" * 32, 1, 4, b"p", bytes(64)),
        AttestRequest(b"h" * 32, 1, (b"f1", b"f2"), (1, 2, 4), (b"r",)),
        AttestCommitments(b"h" * 32, 1, 4, (b"c1",)),
        AttestSign(b"h" * 32, 1, (b"p1",)),
        AttestShares(b"h" * 32, 1, 4, (b"s1",)),
        ChangeComplete(b"h" * 32, (b"f",)),
        ChangeAborted(b"h" * 32, 1, "timed out"),
        sign_message(request, NEWCOMER.sign),
        GuardianResponse(ACCOUNT.account, b"i" * 32, True, GUARDIAN.profile, 9, bytes(64)),
        RecoveryDispute(b"r" * 16, b"q" * 32, ACCOUNT.account, 2, "not me", bytes(64)),
        RecoveryCancelled(b"r" * 16, GUARDIAN.authority, b"d", bytes(64)),
    ]


def _codec(message):
    return RECOVERY_CODEC if message.TYPE.startswith("recovery.") else CUSTODY_CODEC


@pytest.mark.parametrize("message", _samples(), ids=lambda m: m.TYPE)
def test_every_message_round_trips_and_refuses_any_cut(message) -> None:
    codec = _codec(message)
    data = codec.encode(message)
    assert codec.decode(data) == message
    for cut in range(len(data)):
        with pytest.raises(InvalidEncoding):
            codec.decode(data[:cut])
    with pytest.raises(InvalidEncoding):
        codec.decode(data + b"\x00")


def test_signed_messages_verify_only_unaltered() -> None:
    enrollment, request = _samples()[1], _samples()[11]
    assert enrollment.verify() and request.verify()
    assert not attrs.evolve(enrollment, requested_at_ms=6).verify()
    assert not attrs.evolve(request, threshold=1).verify()


@given(st.binary(max_size=400))
@settings(max_examples=300, deadline=None)
@example(b"\xa1at\x6ecustody.enroll")
@example(b"\xa1at\x6arecovery.x")
def test_random_bytes_are_refused_by_both_codecs(data: bytes) -> None:
    for codec in (CUSTODY_CODEC, RECOVERY_CODEC):
        with pytest.raises(InvalidEncoding):
            codec.decode(data)


@given(
    st.sampled_from(range(15)), st.integers(min_value=0), st.integers(min_value=1, max_value=255)
)
@settings(max_examples=300, deadline=None)
def test_mutated_messages_are_refused_or_stay_canonical(
    which: int, position: int, xor: int
) -> None:
    message = _samples()[which]
    codec = _codec(message)
    data = bytearray(codec.encode(message))
    data[position % len(data)] ^= xor
    try:
        decoded = codec.decode(bytes(data))
    except InvalidEncoding:
        return
    assert codec.encode(decoded) == bytes(data)


def test_a_recovery_authorization_is_strict() -> None:
    blob = RecoveryAuthorization(b"req", (b"a1", b"a2")).encode()
    assert RecoveryAuthorization.decode(blob) == RecoveryAuthorization(b"req", (b"a1", b"a2"))
    for bad in (b"", blob[:-1], blob + b"\x00", b"\xa1arA\x00"):
        with pytest.raises(InvalidEncoding):
            RecoveryAuthorization.decode(bad)


def test_a_guardian_member_sits_at_its_own_identifier() -> None:
    member = GuardianMember(9, GUARDIAN.profile)
    assert GuardianMember.from_canonical(member.to_canonical()) == member
    with pytest.raises(InvalidInput):
        GuardianMember(0, GUARDIAN.profile)
    assert _member(1, KEYS[0]).profile.address.startswith("device-")
