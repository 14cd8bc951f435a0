"""Chat facts: canonical codecs, strict decoding, the journal's rules, sealed epoch secrets."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aura_core import dag_cbor
from aura_core.errors import AuraError, CryptoError, InvalidEncoding, InvalidInput, ValidationError
from aura_core.identifiers import AuthorityId, ChannelId
from aura_effects.simulated import SeededRandom
from aura_features.chat import (
    CHAT_FACT_BODIES,
    ChannelClosed,
    ChannelCreated,
    ChannelMode,
    ChannelRekeyed,
    ChannelUpdated,
    ChatPayload,
    DeliveryUpdated,
    MemberInvited,
    MemberJoined,
    MemberLeft,
    MessageBody,
    MessageDeleted,
    MessageEdited,
    MessageId,
    MessageKind,
    MessageRead,
    MessageSent,
    Moderation,
    ModerationAction,
    NicknameSet,
    PayloadKind,
    Position,
    channel_id_for,
    direct_channel_id,
    message_id,
    open_epoch_secret,
    seal_epoch_secret,
)
from aura_features.chat.own_chain import OwnChains
from aura_journal.errors import AttestationInvalid, AttestationRequired
from aura_journal.facts import Fact, FactMetadata, order_time_from_entropy
from aura_journal.namespace import JournalNamespace


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
CTX = W.CONTEXT
ALICE = AuthorityId(bytes([1]) * 16)
BOB = AuthorityId(bytes([2]) * 16)
SALT = bytes(range(16))
CHANNEL = channel_id_for(CTX, ALICE, SALT)
TARGET = MessageId(bytes([7]) * 32)


def _frame(sender=ALICE, channel=CHANNEL, text="hi"):
    chains = OwnChains(CTX, sender.raw)
    chains.install(channel, 1, bytes(32))
    return chains.seal(channel, MessageBody(MessageKind.TEXT, text).encode())


def _samples():
    frame = _frame()
    rng = SeededRandom(b"samples")
    sealed = seal_epoch_secret(
        bytes(32), bytes([9]) * 32, context=CTX, channel=CHANNEL, epoch=1, member=ALICE, random=rng
    )
    return [
        ChannelCreated(CHANNEL, ALICE, 1, ChannelMode.OPEN, "general", "topic", bytes(32), SALT),
        ChannelCreated(
            direct_channel_id(CTX, ALICE, BOB), ALICE, 1, "direct", "", "", bytes(32), b"", BOB
        ),
        ChannelUpdated(CHANNEL, ALICE, 2, "new topic"),
        ChannelClosed(CHANNEL, ALICE, 3),
        ChannelRekeyed(CHANNEL, ALICE, 4, 1, [ALICE], [sealed]),
        MemberInvited(CHANNEL, ALICE, 5, BOB),
        MemberJoined(CHANNEL, BOB, 6, bytes([3]) * 32),
        MemberLeft(CHANNEL, BOB, 7),
        MessageSent(CHANNEL, ALICE, 8, frame),
        MessageEdited(CHANNEL, ALICE, 9, TARGET, frame),
        MessageDeleted(CHANNEL, ALICE, 10, TARGET),
        MessageRead(CHANNEL, BOB, 11, TARGET),
        DeliveryUpdated(CHANNEL, BOB, 12, ALICE, 1, 5),
        NicknameSet(BOB, 13, "bobby"),
        Moderation(CHANNEL, ALICE, 14, ModerationAction.MUTE, BOB, None, Position(1, 4), "loud"),
        Moderation(CHANNEL, ALICE, 15, "pin", None, TARGET),
    ]


SAMPLES = _samples()


def test_every_body_type_has_samples():
    assert {type(s) for s in SAMPLES} == set(CHAT_FACT_BODIES)


@pytest.mark.parametrize("body", SAMPLES, ids=lambda b: type(b).__name__)
def test_bodies_round_trip_through_canonical_bytes(body):
    encoded = dag_cbor.encode(body.to_canonical())
    assert type(body).from_canonical(dag_cbor.decode(encoded)) == body


@pytest.mark.parametrize("body", SAMPLES, ids=lambda b: type(b).__name__)
def test_missing_and_extra_fields_are_refused_by_name(body):
    value = body.to_canonical()
    for key in value:
        broken = dict(value)
        del broken[key]
        with pytest.raises(InvalidEncoding, match="missing"):
            type(body).from_canonical(broken)
    with pytest.raises(InvalidEncoding, match="unexpected"):
        type(body).from_canonical({**value, "zz": 1})


@pytest.mark.parametrize(
    ("body", "field", "value", "message"),
    [
        (SAMPLES[0], "name", "Not Valid", "channel name"),
        (SAMPLES[0], "topic", "bell\x07", "control"),
        (SAMPLES[0], "box", b"short", "box key"),
        (SAMPLES[0], "salt", b"\x00" * 17, "salt"),
        (SAMPLES[0], "mode", "secret", "mode"),
        (SAMPLES[1], "peer", None, "peer"),
        (SAMPLES[4], "members", [BOB.raw, ALICE.raw], "sorted"),
        (SAMPLES[4], "epoch", 0, "epoch"),
        (SAMPLES[4], "secrets", [b"\x00" * 10], "sealed secret"),
        (SAMPLES[8], "frame", b"\xa0", "frame"),
        (SAMPLES[8], "clk", -1, "clock"),
        (SAMPLES[8], "by", b"\x01" * 15, "author"),
        (SAMPLES[9], "target", b"\x01" * 31, "target"),
        (SAMPLES[13], "nick", "two words", "nickname"),
        (SAMPLES[14], "act", "behead", "action"),
        (SAMPLES[14], "msg", TARGET.raw, "names a member and no message"),
        (SAMPLES[14], "cut", [1], "cutoff"),
    ],
)
def test_bad_field_values_are_refused(body, field, value, message):
    broken = {**body.to_canonical(), field: value}
    with pytest.raises(InvalidEncoding, match=message):
        type(body).from_canonical(broken)


def test_a_message_fact_refuses_an_ack_frame_and_truncated_frames():
    from aura_protocol.amp.frames import encode_frame, make_ack

    ack = encode_frame(make_ack(bytes(32), CTX, CHANNEL, 1, ALICE.raw, BOB.raw, 1, ()))
    value = {**SAMPLES[8].to_canonical(), "frame": ack}
    with pytest.raises(InvalidEncoding, match="data frame"):
        MessageSent.from_canonical(value)
    frame = SAMPLES[8].to_canonical()["frame"]
    for cut in (1, len(frame) // 2, len(frame) - 1):
        with pytest.raises(InvalidEncoding):
            MessageSent.from_canonical({**SAMPLES[8].to_canonical(), "frame": frame[:cut]})


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(CHAT_FACT_BODIES),
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers(-5, 2**64)
        | st.binary(max_size=40)
        | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=6)
        ),
        max_leaves=12,
    ),
)
def test_arbitrary_values_decode_or_raise_invalid_encoding(body_type, value):
    try:
        body_type.from_canonical(value)
    except InvalidEncoding:
        pass


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(SAMPLES), st.data())
def test_mutated_fields_decode_or_raise_invalid_encoding(body, data):
    value = body.to_canonical()
    key = data.draw(st.sampled_from(sorted(value)))
    replacement = data.draw(
        st.none()
        | st.integers(-3, 2**65)
        | st.binary(max_size=70)
        | st.text(max_size=40)
        | st.lists(st.binary(max_size=33), max_size=3)
    )
    try:
        type(body).from_canonical({**value, key: replacement})
    except InvalidEncoding:
        pass


# --------------------------------------------------------------------------- identifiers


def test_ids_bind_every_coordinate():
    assert channel_id_for(CTX, ALICE, SALT) == CHANNEL
    assert channel_id_for(CTX, BOB, SALT) != CHANNEL
    assert channel_id_for(CTX, ALICE, bytes(16)) != CHANNEL
    assert direct_channel_id(CTX, ALICE, BOB) != direct_channel_id(CTX, BOB, ALICE)
    base = message_id(CTX, CHANNEL, ALICE, 1, 2)
    assert str(base).startswith("message:")
    assert (
        len(
            {
                base,
                message_id(CTX, CHANNEL, BOB, 1, 2),
                message_id(CTX, CHANNEL, ALICE, 2, 2),
                message_id(CTX, CHANNEL, ALICE, 1, 3),
            }
        )
        == 4
    )
    with pytest.raises(InvalidInput):
        direct_channel_id(CTX, ALICE, ALICE)
    with pytest.raises(InvalidInput):
        channel_id_for(CTX, ALICE, b"short")


# --------------------------------------------------------------------------- journal rules


@pytest.fixture(scope="module")
def world():
    return W.ChatWorld(["alice", "bob"])


def _fact(world, signer, body, *, attest=True):
    service = world[signer]
    metadata = FactMetadata(order_time_from_entropy(bytes(range(32))), world.clock.now())
    fact = Fact.create(body, metadata)
    if not attest:
        return fact
    key = service.stack.memberships.get(CTX).identity.signing_key
    return fact.signed_by_single_key(service.namespace, key)


def _check(world, fact, namespace=None):
    service = world["bob"]
    return service.journal.registry.check(fact, namespace or service.namespace)


def test_a_valid_fact_passes_the_journal_rules(world):
    alice = world.who("alice")
    channel = channel_id_for(CTX, alice, SALT)
    body = ChannelCreated(channel, alice, 1, ChannelMode.OPEN, "general", "", bytes(32), SALT)
    assert _check(world, _fact(world, "alice", body)) == body


def test_the_journal_rules_refuse_what_does_not_hold(world):
    alice, bob = world.who("alice"), world.who("bob")
    channel = channel_id_for(CTX, alice, SALT)
    created = ChannelCreated(channel, alice, 1, ChannelMode.OPEN, "general", "", bytes(32), SALT)
    with pytest.raises(AttestationRequired):
        _check(world, _fact(world, "alice", created, attest=False))
    with pytest.raises(AttestationInvalid, match="claims author"):
        _check(world, _fact(world, "bob", created))  # bob signs alice's creation
    stolen = ChannelCreated(channel, bob, 1, ChannelMode.OPEN, "general", "", bytes(32), SALT)
    with pytest.raises(ValidationError, match="derive"):
        _check(world, _fact(world, "bob", stolen))  # bob claims alice's channel id
    elsewhere = _frame(alice, channel_id_for(CTX, alice, bytes(16)))
    with pytest.raises(ValidationError, match="another channel"):
        _check(world, _fact(world, "alice", MessageSent(channel, alice, 2, elsewhere)))
    with pytest.raises(InvalidInput, match="authority journal"):
        _check(world, _fact(world, "alice", created), JournalNamespace.authority(alice))
    outsider = AuthorityId(bytes([5]) * 16)
    nick = NicknameSet(outsider, 1, "ghost")
    with pytest.raises(AttestationInvalid):
        _check(world, _fact(world, "alice", nick))


# --------------------------------------------------------------------------- epoch secrets


def test_epoch_secrets_open_only_for_their_member_and_coordinates():
    rng = SeededRandom(b"secrets")
    private = rng.random_bytes(32)
    from aura_features.chat.epoch_secret import box_public_key

    public = box_public_key(private)
    secret = rng.random_bytes(32)
    where = {"context": CTX, "channel": CHANNEL, "epoch": 3, "member": ALICE}
    sealed = seal_epoch_secret(secret, public, random=rng, **where)
    assert open_epoch_secret(sealed, private, **where) == secret
    for change in ({"epoch": 4}, {"member": BOB}, {"channel": ChannelId(bytes(32))}):
        with pytest.raises(CryptoError):
            open_epoch_secret(sealed, private, **{**where, **change})
    with pytest.raises(CryptoError):
        open_epoch_secret(sealed, rng.random_bytes(32), **where)
    for position in (0, 40, len(sealed) - 1):
        tampered = bytearray(sealed)
        tampered[position] ^= 1
        with pytest.raises(CryptoError):
            open_epoch_secret(bytes(tampered), private, **where)
    with pytest.raises(CryptoError):
        seal_epoch_secret(secret, bytes(32), random=rng, **where)  # low-order key
    with pytest.raises(CryptoError):
        open_epoch_secret(sealed[:-1], private, **where)
    assert seal_epoch_secret(secret, public, random=rng, **where) != sealed  # fresh ephemeral


# --------------------------------------------------------------------------- bodies and payloads


def test_message_bodies_and_payloads_are_strict():
    body = MessageBody(MessageKind.ACTION, "waves\nand smiles")
    assert MessageBody.decode(body.encode()) == body
    for bad in (
        b"",
        b"\xa0",
        dag_cbor.encode({"k": "text"}),
        dag_cbor.encode({"k": "yell", "t": "x"}),
        dag_cbor.encode({"k": "text", "t": "\x1b[2J"}),
    ):
        with pytest.raises(InvalidEncoding):
            MessageBody.decode(bad)
    with pytest.raises(InvalidInput):
        MessageBody(MessageKind.TEXT, "   ")
    ack = ChatPayload(PayloadKind.ACK, b"\x01\x02")
    assert ChatPayload.decode(ack.encode()) == ack
    assert ChatPayload.decode(ChatPayload(PayloadKind.FACTS).encode()).kind is PayloadKind.FACTS
    for bad in (
        dag_cbor.encode({"v": 1, "k": "facts", "f": b""}),
        dag_cbor.encode({"v": 2, "k": "facts"}),
        dag_cbor.encode({"v": 1, "k": "ack"}),
        dag_cbor.encode([1]),
    ):
        with pytest.raises(AuraError):
            ChatPayload.decode(bad)
