"""Agent frames and the core under hostile input: strict decoding, only documented errors."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aura_agent import (
    ConsensusFrame,
    EnvelopeFrame,
    FeaturePayload,
    PushFrame,
    ServiceFrame,
    SyncFrame,
    decode_frame,
    encode_frame,
)
from aura_agent.agent_frame import MAX_PUSHED_FACTS
from aura_agent.simulator import SimRelay, relay_deposit
from aura_core.dag_cbor import encode
from aura_core.effects import Incoming
from aura_core.errors import InvalidEncoding, InvalidInput
from aura_core.identifiers import AuthorityId, ContextId
from aura_journal import JournalNamespace

NAMESPACES = st.one_of(
    st.binary(min_size=16, max_size=16).map(
        lambda raw: JournalNamespace.authority(AuthorityId(raw))
    ),
    st.binary(min_size=16, max_size=16).map(lambda raw: JournalNamespace.context(ContextId(raw))),
)
FRAMES = st.one_of(
    st.builds(SyncFrame, NAMESPACES, st.binary(max_size=64)),
    st.builds(
        PushFrame,
        NAMESPACES,
        st.lists(st.binary(max_size=32), min_size=1, max_size=4).map(tuple),
    ),
    st.builds(ConsensusFrame, st.binary(min_size=32, max_size=32), st.binary(max_size=64)),
    st.builds(EnvelopeFrame, st.binary(max_size=64)),
    st.builds(ServiceFrame, st.sampled_from(["chat", "devices", "x_1"]), st.binary(max_size=64)),
)


@settings(max_examples=200)
@given(FRAMES)
def test_frames_round_trip(frame):
    assert decode_frame(encode_frame(frame)) == frame


@settings(max_examples=300)
@given(st.binary(max_size=200))
@example(encode({"v": 1, "k": "sync", "ns": b"\x03" + bytes(16), "b": b""}))
@example(encode({"v": 2, "k": "env", "b": b""}))
@example(encode({"v": 1, "k": "env", "b": b"", "extra": 1}))
@example(encode({"v": 1, "k": "push", "ns": b"\x01" + bytes(16), "b": []}))
@example(encode({"v": 1, "k": "cons", "g": bytes(31), "b": b""}))
@example(encode([1, 2]))
def test_arbitrary_bytes_raise_only_invalid_encoding(data):
    try:
        decode_frame(data)
    except InvalidEncoding:
        pass


def test_push_frames_are_bounded():
    namespace = JournalNamespace.context(ContextId(bytes(16)))
    with pytest.raises(InvalidInput):
        encode_frame(PushFrame(namespace, ()))
    too_many = encode(
        {"v": 1, "k": "push", "ns": namespace.to_bytes(), "b": [b""] * (MAX_PUSHED_FACTS + 1)}
    )
    with pytest.raises(InvalidEncoding, match="push frame"):
        decode_frame(too_many)


def test_feature_payload_is_strict():
    payload = FeaturePayload("notes", "ping", b"x")
    assert FeaturePayload.decode(payload.encode()) == payload
    with pytest.raises(InvalidEncoding):
        FeaturePayload.decode(encode({"f": "Notes", "t": "ping", "b": b""}))
    with pytest.raises(InvalidEncoding):
        FeaturePayload.decode(encode({"f": "notes", "t": "ping"}))


@settings(max_examples=200)
@given(st.binary(max_size=200))
@example(encode({"op": "fetch", "key": b"short"}))
@example(encode({"op": "deposit", "env": b"\x00"}))
@example(encode({"op": "ack", "key": bytes(32), "ids": "not a list"}))
@example(encode({"op": "launch"}))
def test_the_simulated_relay_drops_hostile_requests(data):
    relay = SimRelay.__new__(SimRelay)
    relay.__init__(type("Env", (), {"name": "relay"})())
    assert relay.receive(Incoming("mallory", data), 0.0) == []


def test_the_simulated_relay_refuses_a_malformed_deposit_but_keeps_serving():
    relay = SimRelay(type("Env", (), {"name": "relay"})())
    relay.receive(Incoming("mallory", encode({"op": "deposit", "env": b"junk"})), 0.0)
    assert relay.refused == 1 and relay.deposits == 0
    assert callable(relay_deposit)


def _node():
    from aura_agent import AgentNode, DeviceIdentity, build_registry
    from aura_agent.builtin_features import BUILTIN_FEATURES
    from aura_core.effect_context import ExecutionMode
    from aura_core.identifiers import DeviceId
    from aura_effects import build_effects

    device = DeviceId(bytes(range(16)))
    effects = build_effects(ExecutionMode.TESTING, device=device, seed=3)
    identity = DeviceIdentity.load_or_create(effects.storage, effects.random, device=device)
    features = [factory() for factory in BUILTIN_FEATURES]
    node = AgentNode(
        route="me",
        identity=identity,
        storage=effects.storage,
        random=effects.random,
        time=effects.time,
        order_clock=effects.order_clock,
        features=features,
        now=0.0,
        registry=build_registry(features),
    )
    node.set_peers(JournalNamespace.context(ContextId(bytes(16))), {"peer": None}, 0.0)
    return node


NODE = None


@settings(max_examples=200)
@given(st.one_of(st.binary(max_size=120), FRAMES.map(encode_frame)))
def test_the_core_never_raises_on_what_a_peer_sends(data):
    global NODE
    if NODE is None:
        NODE = _node()
    before = NODE.metrics.frames_refused + NODE.metrics.frames_received
    NODE.receive(Incoming("peer", data), 1.0)
    NODE.receive(Incoming("stranger", data), 1.0)
    after = NODE.metrics.frames_refused + NODE.metrics.frames_received
    assert after >= before  # every frame is either refused or taken; nothing escapes
