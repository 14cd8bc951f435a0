"""Receipts: signed, hash-chained per hop, epoch-bound, strictly encoded; relays check chains."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import attrs
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aura_core import dag_cbor
from aura_core.errors import (
    AuraError,
    CryptoError,
    ErrorKind,
    InvalidEncoding,
    ValidationError,
)
from aura_core.identifiers import ContextId, Epoch, Hash32
from aura_protocol.guards import (
    MAX_RECEIPT_HOPS,
    Envelope,
    Receipt,
    SendRequest,
    verify_receipt_chain,
)


def _load_world():
    name = "aura_protocol_test_guard_world"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("protocol_guard_world.py")
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


W = _load_world()
CTX = ContextId(bytes(range(16)))
OTHER = ContextId(bytes(range(1, 17)))
NAMES = ["alice", "relay", "bob", "mallory"]


@pytest.fixture(scope="module")
def world():
    world = W.GuardWorld(NAMES)
    world.context(CTX, ["alice", "relay", "bob"])
    world.context(OTHER, ["mallory", "bob"])
    return world


def _issue(
    world,
    src: str,
    dst: str,
    *,
    prev: Receipt | None = None,
    ctx=CTX,
    epoch=0,
    signer: str | None = None,
    nonce: bytes = b"n" * 16,
) -> Receipt:
    unsigned = Receipt(
        ctx,
        world[src].authority,
        world[dst].authority,
        Epoch(epoch),
        7,
        nonce,
        prev.link_hash if prev is not None else Hash32.zero(),
    )
    identity = world[signer or src].identity(ctx, Epoch(epoch))
    return unsigned.signed(identity.sign(unsigned.signing_message()))


def _verify(world, chain, recipient="bob", ctx=CTX):
    verify_receipt_chain(chain, roster=world.rosters[ctx], recipient=world[recipient].authority)


def test_a_valid_chain_is_accepted(world) -> None:
    first = _issue(world, "alice", "relay")
    second = _issue(world, "relay", "bob", prev=first)
    _verify(world, [first, second])
    _verify(world, [_issue(world, "alice", "bob")])


def test_a_forged_signature_is_rejected(world) -> None:
    receipt = _issue(world, "alice", "bob")
    tampered = receipt.signed(bytes([receipt.sig[0] ^ 1]) + receipt.sig[1:])
    with pytest.raises(CryptoError, match="does not verify"):
        _verify(world, [tampered])
    other_signer = _issue(world, "alice", "bob", signer="relay")  # claims alice, signed by relay
    with pytest.raises(CryptoError, match="does not verify"):
        _verify(world, [other_signer])
    altered = attrs.evolve(receipt, cost=1)  # a field changed after signing
    with pytest.raises(CryptoError):
        _verify(world, [altered])


def test_a_broken_chain_is_rejected(world) -> None:
    first = _issue(world, "alice", "relay")
    unlinked = _issue(world, "relay", "bob", prev=_issue(world, "alice", "relay", nonce=b"x" * 16))
    with pytest.raises(ValidationError, match="broken at hop 1: prev"):
        _verify(world, [first, unlinked])
    with pytest.raises(ValidationError, match="first hop must have a zero prev"):
        _verify(world, [_issue(world, "alice", "bob", prev=first)])
    detour = _issue(world, "alice", "bob", prev=first)  # hop 1 not sent by hop 0's receiver
    with pytest.raises(ValidationError, match="sent by"):
        _verify(world, [first, detour])
    with pytest.raises(ValidationError, match="no receipt"):
        _verify(world, [])
    with pytest.raises(ValidationError, match="ends at"):
        _verify(world, [first])
    loop = _issue(world, "relay", "alice", prev=first)
    back = _issue(world, "alice", "bob", prev=loop)
    with pytest.raises(ValidationError, match="loops"):
        _verify(world, [first, loop, back])
    too_long = [first] * (MAX_RECEIPT_HOPS + 1)
    with pytest.raises(ValidationError, match="hops"):
        _verify(world, too_long)


def test_stale_and_future_epochs_are_rejected() -> None:
    world = W.GuardWorld(["alice", "bob"])
    world.context(CTX, ["alice", "bob"], epoch=Epoch(3))
    with pytest.raises(ValidationError, match="stale") as stale:
        _verify(world, [_issue(world, "alice", "bob", epoch=2)])
    assert stale.value.kind is ErrorKind.PERMANENT
    with pytest.raises(ValidationError, match="ahead") as ahead:
        _verify(world, [_issue(world, "alice", "bob", epoch=4)])
    assert ahead.value.kind is ErrorKind.TRANSIENT
    _verify(world, [_issue(world, "alice", "bob", epoch=3)])


def test_a_chain_of_another_context_is_rejected(world) -> None:
    mallory_to_bob = _issue(world, "mallory", "bob", ctx=OTHER)
    with pytest.raises(ValidationError, match="belongs to"):
        _verify(world, [mallory_to_bob], ctx=CTX)
    with pytest.raises(ValidationError, match="not a member"):
        _verify(world, [_issue(world, "alice", "bob")], recipient="mallory")
    outsider = _issue(world, "mallory", "bob", ctx=CTX, signer="mallory")
    with pytest.raises(ValidationError, match="not a member"):
        _verify(world, [outsider])


def test_receivers_reject_envelopes_of_other_contexts_and_forged_hops(world) -> None:
    alice, bob = world["alice"], world["bob"]
    committed = alice.sender.commit(
        SendRequest(
            context=CTX,
            peer=bob.authority,
            address="mem://bob",
            payload=b"p",
            capability=W.SEND,
            cost=1,
        )
    )
    data = committed.envelope.encode()
    with pytest.raises(ValidationError, match="arrived on a channel of"):
        bob.receiver.accept(data, context=OTHER)
    with pytest.raises(ValidationError, match="not a member"):
        world["mallory"].receiver.accept(data)
    forged = attrs.evolve(
        committed.envelope, receipts=(_issue(world, "alice", "bob", signer="relay"),)
    )
    with pytest.raises(CryptoError):
        bob.receiver.accept(forged.encode())
    wrong_origin = attrs.evolve(committed.envelope, origin=world["relay"].authority)
    with pytest.raises(ValidationError, match="origin"):
        bob.receiver.accept(wrong_origin.encode())
    assert bob.receiver.accept(data, context=CTX).duplicate is False


def test_a_relay_forwards_only_with_a_valid_chain_and_pays_its_own_hop(world) -> None:
    alice, relay, bob = world["alice"], world["relay"], world["bob"]
    note = W.note_fact(CTX, "via relay")
    committed = alice.sender.commit(
        SendRequest(
            context=CTX,
            peer=relay.authority,
            address="mem://relay",
            payload=b"relayed",
            capability=W.SEND,
            cost=2,
            facts=(note,),
            destination=bob.authority,
        )
    )
    arrived = relay.receiver.accept(committed.envelope.encode(), context=CTX)
    assert not arrived.for_me
    hop = SendRequest(
        context=CTX, peer=bob.authority, address="mem://bob", payload=b"", capability=W.SEND, cost=3
    )
    forwarded = relay.sender.forward(arrived.envelope, next_hop=hop)
    assert [r.src for r in forwarded.envelope.receipts] == [alice.authority, relay.authority]
    delivery = bob.receiver.accept(forwarded.envelope.encode(), context=CTX)
    assert delivery.for_me and delivery.payload == b"relayed" and delivery.origin == alice.authority
    assert delivery.facts == (note,)
    with pytest.raises(ValidationError, match="ends at"):  # a chain not addressed to the relay
        relay.sender.forward(forwarded.envelope, next_hop=hop)
    broken = attrs.evolve(
        committed.envelope,
        receipts=(_issue(world, "alice", "relay", prev=_issue(world, "alice", "relay")),),
    )
    with pytest.raises(ValidationError, match="zero prev"):
        relay.sender.forward(broken, next_hop=hop)


def test_receipts_round_trip_strictly(world) -> None:
    receipt = _issue(world, "alice", "bob")
    assert Receipt.decode(receipt.encode()) == receipt
    value = receipt.to_canonical()
    for broken in (
        {**value, "extra": 1},
        {k: v for k, v in value.items() if k != "nonce"},
        {**value, "nonce": b"short"},
        {**value, "cost": -1},
        {**value, "epoch": "0"},
        {**value, "sig": b"\x00" * 63},
    ):
        with pytest.raises(InvalidEncoding):
            Receipt.decode(dag_cbor.encode(broken))
    with pytest.raises(InvalidEncoding):
        Receipt.decode(receipt.encode() + b"\x00")


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=600))
@example(b"\xa0")
@example(dag_cbor.encode({"v": 1}))
def test_hostile_bytes_raise_only_invalid_encoding(data: bytes) -> None:
    for decode in (Receipt.decode, Envelope.decode):
        try:
            decode(data)
        except InvalidEncoding:
            pass
        except AuraError as exc:  # pragma: no cover - would be a bug
            raise AssertionError(f"{decode.__qualname__} raised {exc!r}") from exc
