"""Hostile input is refused with nothing written and nothing lost.

Mallory is a member of the context and of the channel, and runs a modified
client: she can sign anything with her own key, wrap it in envelopes her
guard stack pays for, and replay what she saw.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aura_core.errors import AuraError, CryptoError, ValidationError
from aura_features.chat import (
    ChatPayload,
    MessageBody,
    MessageKind,
    MessageSent,
    MessageShown,
    PayloadKind,
)
from aura_features.chat.own_chain import OwnChains
from aura_journal.errors import AttestationInvalid
from aura_journal.facts import Fact, FactMetadata, order_time_from_entropy
from aura_protocol.amp.frames import DataFrame, encode_frame, make_ack
from aura_protocol.guards import Envelope, SendRequest


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
FACTS = ChatPayload(PayloadKind.FACTS).encode()


def _room():
    world = W.ChatWorld(["alice", "bob", "mallory"])
    channel = world["alice"].create_channel("general", world.now)
    world.settle()
    for name in ("bob", "mallory"):
        world[name].join(channel, world.now)
        world.settle()
    world["alice"].send_message(channel, "genuine", world.now)
    world.settle()
    return world, channel


def _envelope(world, sender, peer, facts=(), payload=FACTS) -> bytes:
    """An envelope ``sender``'s guard stack paid for, carrying whatever facts it likes."""
    stack = world[sender].stack
    committed = stack.sender.commit(
        SendRequest(
            context=W.CONTEXT,
            peer=world.who(peer),
            address=peer,
            payload=b"x",
            capability=W.CHAT_SEND,
        )
    )
    stack.sender.acknowledge(committed.entry_id)
    envelope = committed.envelope
    return Envelope(
        envelope.context,
        envelope.origin,
        envelope.destination,
        payload,
        tuple(f.encode() if isinstance(f, Fact) else f for f in facts),
        envelope.receipts,
    ).encode()


def _signed(world, signer, body) -> Fact:
    service = world[signer]
    metadata = FactMetadata(order_time_from_entropy(bytes(range(32))), service._time.now())
    identity = service.stack.memberships.get(W.CONTEXT).identity
    return Fact.create(body, metadata).signed_by_single_key(service.namespace, identity.signing_key)


def _frame_as(world, channel, holder, sender, text) -> DataFrame:
    """A frame on ``sender``'s chain, sealed by ``holder`` (every member can derive every chain)."""
    service = world[holder]
    epoch = service.state().channel(channel).current_epoch.epoch
    chains = OwnChains(W.CONTEXT, world.who(sender).raw)
    chains.install(channel, epoch, service._epoch_secret(channel, epoch))
    chains.fast_forward(channel, 50)  # a generation the real sender has not used
    return chains.seal(channel, MessageBody(MessageKind.TEXT, text).encode())


def _still_works(world, channel):
    world["alice"].send_message(channel, "still fine", world.now)
    world.settle()
    world["bob"].send_message(channel, "yes", world.now)
    world.settle()
    for name in ("alice", "bob"):
        texts = [m.text for m in world[name].view.history(channel)]
        assert texts.index("still fine") < texts.index("yes")


def _refused(world, target, data, error=AuraError):
    before = W.dump(world, target)
    journal = len(world[target].journal)
    with pytest.raises(error):
        world[target].receive_envelope(data, world.now)
    assert W.dump(world, target) == before
    assert len(world[target].journal) == journal


def test_a_fact_claiming_another_author_is_refused():
    world, channel = _room()
    alice = world.who("alice")
    frame = _frame_as(world, channel, "mallory", "mallory", "I am alice")
    forged = _signed(world, "mallory", MessageSent(channel, alice, 99, frame))
    _refused(world, "bob", _envelope(world, "mallory", "bob", [forged]), AttestationInvalid)
    _still_works(world, channel)


def test_a_frame_on_another_members_chain_is_refused():
    world, channel = _room()
    frame = _frame_as(world, channel, "mallory", "alice", "words for alice's mouth")
    forged = _signed(world, "mallory", MessageSent(channel, world.who("mallory"), 99, frame))
    _refused(world, "bob", _envelope(world, "mallory", "bob", [forged]), ValidationError)
    both = _signed(world, "mallory", MessageSent(channel, world.who("alice"), 99, frame))
    _refused(world, "bob", _envelope(world, "mallory", "bob", [both]), AttestationInvalid)
    assert [m.text for m in world["bob"].view.history(channel)] == ["genuine"]
    _still_works(world, channel)


def test_tampered_envelopes_are_refused_byte_by_byte():
    world, channel = _room()
    world["alice"].send_message(channel, "tamper with me", world.now)
    world.collect()
    (_source, _destination, data) = next(item for item in world.wire if item[1] == "bob")
    world.wire.clear()
    for position in range(0, len(data), max(1, len(data) // 60)):
        tampered = bytearray(data)
        tampered[position] ^= 0x01
        _refused(world, "bob", bytes(tampered))
    world["bob"].receive_envelope(data, world.now)  # the genuine one still goes in
    assert [m.text for m in world["bob"].view.history(channel)][-1] == "tamper with me"


def test_a_member_sealing_garbage_only_hides_its_own_message():
    world, channel = _room()
    frame = _frame_as(world, channel, "mallory", "mallory", "fine text")
    broken = DataFrame(frame.header, frame.ciphertext[:-1] + bytes([frame.ciphertext[-1] ^ 1]))
    fact = _signed(world, "mallory", MessageSent(channel, world.who("mallory"), 99, broken))
    world["bob"].receive_envelope(_envelope(world, "mallory", "bob", [fact]), world.now)
    assert [m.text for m in world["bob"].view.history(channel)] == ["genuine", None]
    assert any(isinstance(error, CryptoError) for _where, error in world["bob"].errors)
    _still_works(world, channel)


def test_replayed_envelopes_and_facts_change_nothing():
    world, channel = _room()
    world["alice"].send_message(channel, "once", world.now)
    world.collect()
    to_bob = [item for item in world.wire if item[1] == "bob"]
    world.settle()
    world["bob"].take_updates()
    before = W.dump(world, "bob")
    for item in to_bob * 3:
        assert world["bob"].receive_envelope(item[2], world.now).duplicate
    assert W.dump(world, "bob") == before
    # the same fact re-wrapped by mallory in a fresh envelope: known already
    fact = world["alice"].journal.facts_of_type(MessageSent.TYPE_ID)[-1]
    world["bob"].receive_envelope(_envelope(world, "mallory", "bob", [fact]), world.now)
    assert not [u for u in world["bob"].take_updates() if isinstance(u, MessageShown)]
    assert [m.text for m in world["bob"].view.history(channel)] == ["genuine", "once"]


def test_forged_and_misdirected_acks_are_refused():
    world, channel = _room()
    message = world["alice"].send_message(channel, "ack me", world.now)
    world.settle(down={"bob"})  # lost, so alice waits for bob's ack
    epoch = world["alice"].state().channel(channel).current_epoch.epoch
    # mallory acks "for bob" under the real ack key (she holds it as a member)
    key = world["mallory"].amp.keyring(W.CONTEXT, channel).ack_key(epoch)
    fake = make_ack(
        key, W.CONTEXT, channel, epoch, world.who("bob").raw, world.who("alice").raw, 99, ()
    )
    payload = ChatPayload(PayloadKind.ACK, encode_frame(fake)).encode()
    _refused(world, "alice", _envelope(world, "mallory", "alice", (), payload), ValidationError)
    # an ack under a wrong key
    bad = make_ack(
        bytes(32),
        W.CONTEXT,
        channel,
        epoch,
        world.who("mallory").raw,
        world.who("alice").raw,
        9,
        (),
    )
    payload = ChatPayload(PayloadKind.ACK, encode_frame(bad)).encode()
    _refused(world, "alice", _envelope(world, "mallory", "alice", (), payload), CryptoError)
    assert world["alice"]._retries[(channel, world.who("bob"))].__len__() == 1
    world.advance(70.0)
    assert world["bob"].view.message(message).text == "ack me"


def test_malformed_input_is_refused():
    world, channel = _room()
    receipt_fact = next(f for f in world["bob"].stack.registry.type_ids if f.startswith("guard."))
    assert receipt_fact
    garbage_fact = b"\xa1\x61x\x01"
    cases = [
        b"",
        b"\x00" * 10,
        _envelope(world, "mallory", "bob", (), b"not cbor"),
        _envelope(world, "mallory", "bob", (), ChatPayload(PayloadKind.ACK, b"\x01").encode()),
        _envelope(world, "mallory", "bob", [garbage_fact]),
        _envelope(world, "mallory", "alice"),  # addressed to alice, handed to bob
    ]
    for data in cases:
        _refused(world, "bob", data)
    # a fact of another feature in a chat envelope
    other = world["mallory"].stack.sender
    committed = other.commit(
        SendRequest(context=W.CONTEXT, peer=world.who("bob"), address="bob", payload=FACTS)
    )
    other.acknowledge(committed.entry_id)
    receipt = committed.envelope.receipts[-1]
    from aura_protocol.guards import receipt_fact as to_fact

    _refused(
        world,
        "bob",
        _envelope(world, "mallory", "bob", [to_fact(receipt)]),
        ValidationError,
    )
    _still_works(world, channel)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=300))
@example(b"\x01")
@example(b"\xa7")
def test_arbitrary_bytes_raise_only_documented_errors(data):
    world = _FUZZ_WORLD
    with pytest.raises(AuraError):
        world["bob"].receive_envelope(data, world.now)


_FUZZ_WORLD = W.ChatWorld(["alice", "bob"])
