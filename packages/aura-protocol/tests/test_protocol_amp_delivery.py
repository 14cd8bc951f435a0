"""AMP delivery: ordering across epochs, retries with backoff, acks, offline members."""

from __future__ import annotations

import random

import attrs
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aura_core.dag_cbor import decode, encode
from aura_core.effects import Incoming, Outgoing
from aura_core.errors import CryptoError, InvalidInput, ProtocolViolation
from aura_core.identifiers import ChannelId, ContextId
from aura_effects.simulated import FaultPlan, Simulation
from aura_protocol.amp import (
    AckFrame,
    AmpConfig,
    AmpEndpoint,
    DeliveryFailed,
    MessageDelivered,
    MessagesLost,
    OutboundQueue,
    ReceivedGenerations,
    RetryPolicy,
    SenderStream,
    decode_frame,
    encode_frame,
)
from aura_protocol.amp.ordering import Delivered, Lost

CONTEXT = ContextId(b"\x01" * 16)
CHANNEL = ChannelId(b"\x02" * 32)
ALICE, BOB, CAROL, DAVE = b"alice", b"bob", b"carol", b"dave"
ADDRESSES = {ALICE: "alice", BOB: "bob", CAROL: "carol", DAVE: "dave"}
SECRETS = {epoch: bytes([epoch]) * 32 for epoch in range(1, 6)}


def members(*ids: bytes) -> dict[bytes, str]:
    return {member: ADDRESSES[member] for member in ids}


# --------------------------------------------------------------------------- ordering


def test_stream_delivers_in_order_across_epochs_and_holds_back_gaps():
    stream = SenderStream()
    always = lambda epoch: True  # noqa: E731
    stream.add(2, 0, 1, 2, b"e2g0")  # epoch 2 first: epoch 1 (2 messages) must come first
    assert stream.drain(always, always) == []
    stream.add(1, 1, None, 0, b"e1g1")
    assert stream.drain(always, always) == []
    stream.add(1, 0, None, 0, b"e1g0")
    assert [d.plaintext for d in stream.drain(always, always)] == [b"e1g0", b"e1g1", b"e2g0"]
    assert not stream.add(1, 0, None, 0, b"again")  # older than what was delivered
    with pytest.raises(ProtocolViolation, match="two different histories"):
        stream.add(2, 1, 1, 3, b"lies")


def test_stream_reports_messages_of_an_unreadable_epoch_as_lost():
    stream = SenderStream()
    readable = {1: True, 2: True}
    stream.add(1, 0, None, 0, b"a")
    stream.add(2, 0, 1, 3, b"c")
    assert stream.drain(readable.__getitem__, lambda e: True) == [Delivered(1, 0, b"a")]
    readable[1] = False  # epoch 1's keys expired: generations 1 and 2 can never come
    assert stream.drain(readable.__getitem__, lambda e: True) == [
        Lost(1, 1, 2),
        Delivered(2, 0, b"c"),
    ]


def test_a_member_that_joined_later_starts_where_its_membership_starts():
    stream = SenderStream()
    # The sender sent 5 messages in epoch 3, which this receiver never belonged to.
    stream.add(4, 0, 3, 5, b"first one for me")
    assert stream.drain(lambda e: e == 4, lambda e: e == 4) == [
        Delivered(4, 0, b"first one for me")
    ]
    other = SenderStream()
    other.add(4, 0, 3, 5, b"x")  # but a member of epoch 3 whose keys expired lost 5 messages
    assert other.drain(lambda e: e == 4, lambda e: True) == [Lost(3, 0, 5), Delivered(4, 0, b"x")]


@given(st.lists(st.integers(0, 200), max_size=60))
def test_received_generations_summarise_what_arrived(generations):
    received = ReceivedGenerations()
    for generation in generations:
        received.add(generation)
    below, also = received.summary()
    arrived = set(generations)
    assert all(g in arrived for g in range(below)) and below not in arrived
    assert set(also) <= arrived and all(g > below for g in also)
    assert all((g in received) == (g in arrived) for g in range(210))


# --------------------------------------------------------------------------- retries


def test_backoff_doubles_up_to_the_cap_and_the_retry_limit_gives_up():
    policy = RetryPolicy(initial_s=1.0, max_s=8.0, jitter=0.0, max_attempts=5)
    queue = OutboundQueue(policy, window=1024)
    assert queue.add(1, 0, b"frame", now=0.0) == [b"frame"]
    sends = [0.0]
    now = 0.0
    while True:
        now = queue.next_due()
        _, failed = queue.due(now)
        if failed:
            assert failed == [(1, 0)] and len(queue) == 0
            break
        sends.append(now)
    assert sends == [0.0, 1.0, 3.0, 7.0, 15.0]  # gaps 1, 2, 4, 8 (capped at 8)
    assert now == 23.0


def test_jitter_stays_within_its_fraction():
    policy = RetryPolicy(initial_s=10.0, max_s=10.0, jitter=0.1)
    delays = {policy.delay(1, bytes([salt])) for salt in range(50)}
    assert all(9.0 <= d <= 11.0 for d in delays) and len(delays) > 40
    with pytest.raises(InvalidInput):
        RetryPolicy(initial_s=5.0, max_s=1.0)
    with pytest.raises(InvalidInput):
        RetryPolicy(max_attempts=0)


def test_flow_window_holds_frames_until_acks_move_it():
    queue = OutboundQueue(RetryPolicy(jitter=0.0), window=4)
    sent = [p for g in range(10) for p in queue.add(1, g, b"g%d" % g, now=0.0)]
    assert sent == [b"g0", b"g1", b"g2", b"g3"]
    released = queue.acknowledge(1, 2, (), now=0.1)  # 0 and 1 arrived
    assert released == [b"g4", b"g5"]  # the window slides; 2 and 3 were sent just now
    released = queue.acknowledge(1, 2, (3,), now=5.0)
    # Still waiting for 2: the window stays at 2..5; the peer is alive, so 2, 4, 5 go again.
    assert sorted(released) == [b"g2", b"g4", b"g5"]
    assert queue.drop_epoch(1) == [(1, g) for g in (2, 4, 5, 6, 7, 8, 9)]


# --------------------------------------------------------------------------- endpoints


def endpoint(member: bytes, ids=(ALICE, BOB), *, config: AmpConfig | None = None) -> AmpEndpoint:
    node = AmpEndpoint(member, config=config)
    node.install_epoch(CONTEXT, CHANNEL, 1, SECRETS[1], members(*ids), 0.0)
    return node


def deliver(outgoing: list[Outgoing], nodes: dict[str, AmpEndpoint], now: float, source: str):
    """Deliver a batch and everything it causes, breadth first; returns messages moved."""
    queue = [(source, out) for out in outgoing]
    moved = 0
    while queue:
        origin, out = queue.pop(0)
        moved += 1
        replies = nodes[out.destination].receive(Incoming(origin, out.payload), now)
        queue.extend((out.destination, reply) for reply in replies)
    return moved


def texts(node: AmpEndpoint) -> list[bytes]:
    return [e.plaintext for e in node.take_events() if isinstance(e, MessageDelivered)]


def test_a_message_is_delivered_acknowledged_and_not_retried():
    alice, bob = endpoint(ALICE), endpoint(BOB)
    out = alice.send(CONTEXT, CHANNEL, b"hello", 0.0)
    assert [o.destination for o in out] == ["bob"]
    assert alice.pending(CONTEXT, CHANNEL) == {BOB: 1}
    deliver(out, {"alice": alice, "bob": bob}, 0.1, "alice")
    assert texts(bob) == [b"hello"]
    assert alice.pending(CONTEXT, CHANNEL) == {}
    assert alice.next_timer() is None
    assert not alice.errors and not bob.errors


def test_a_retry_of_an_opened_frame_is_acknowledged_again_not_delivered_again():
    alice, bob = endpoint(ALICE), endpoint(BOB)
    frame = alice.send(CONTEXT, CHANNEL, b"once", 0.0)[0]
    first_ack = bob.receive(Incoming("alice", frame.payload), 0.1)  # this ack is lost
    assert texts(bob) == [b"once"] and len(first_ack) == 1
    retry = alice.on_timer(alice.next_timer())
    assert [o.payload for o in retry] == [frame.payload]
    second_ack = bob.receive(Incoming("alice", retry[0].payload), 2.0)
    assert texts(bob) == [] and isinstance(decode_frame(second_ack[0].payload), AckFrame)
    alice.receive(Incoming("bob", second_ack[0].payload), 2.1)
    assert alice.pending(CONTEXT, CHANNEL) == {}


def test_forged_or_misdirected_acks_do_not_stop_retries():
    alice, bob = endpoint(ALICE), endpoint(BOB)
    frame = alice.send(CONTEXT, CHANNEL, b"important", 0.0)[0]
    ack = decode_frame(bob.receive(Incoming("alice", frame.payload), 0.1)[0].payload)
    forged = encode_frame(attrs.evolve(ack, received_below=5))
    assert alice.receive(Incoming("bob", forged), 0.2) == []
    assert isinstance(alice.errors[-1][1], CryptoError)
    assert alice.pending(CONTEXT, CHANNEL) == {BOB: 1}
    outsider = endpoint(BOB, ids=(ALICE, BOB))  # same keys, wrong addressee: ack for itself
    assert outsider.receive(Incoming("bob", encode_frame(ack)), 0.3) == []
    assert "another member" in outsider.errors[-1][1].message


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 25))
def test_garbage_and_unknown_channels_are_recorded_not_raised(seed, count):
    rng = random.Random(seed)
    alice = endpoint(ALICE)
    elsewhere = AmpEndpoint(BOB)
    elsewhere.install_epoch(
        CONTEXT, ChannelId(b"\x09" * 32), 1, SECRETS[1], members(ALICE, BOB), 0.0
    )
    stray = elsewhere.send(CONTEXT, ChannelId(b"\x09" * 32), b"wrong channel", 0.0)[0].payload
    for _ in range(count):
        payload = rng.choice(
            [rng.randbytes(rng.randrange(80)), encode({"v": 1, "k": "ack"}), stray]
        )
        assert alice.receive(Incoming("mallory", payload), 1.0) == []
    assert len(alice.errors) == count


# --------------------------------------------------------------------------- permutations


def sealed_batch(per_epoch: list[int]):
    """Frames from Alice and Carol to Bob over several epochs; returns (frames, sent order)."""
    ids = (ALICE, BOB, CAROL)
    senders = {m: endpoint(m, ids=ids) for m in (ALICE, CAROL)}
    frames, sent = [], {ALICE: [], CAROL: []}
    for index, count in enumerate(per_epoch):
        epoch = index + 1
        if epoch > 1:
            for node in senders.values():
                node.install_epoch(CONTEXT, CHANNEL, epoch, SECRETS[epoch], members(*ids), 0.0)
        for number in range(count):
            for member, node in senders.items():
                if (number + index) % 3 == 0 and member == CAROL:
                    continue  # Carol sends less, and in some epochs not at all
                text = b"%s:%d:%d" % (member, epoch, number)
                frames += [
                    (member, o.payload)
                    for o in node.send(CONTEXT, CHANNEL, text, 0.0)
                    if o.destination == "bob"
                ]
                sent[member].append(text)
    return frames, sent


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(0, 6), min_size=1, max_size=3),
    st.randoms(use_true_random=False),
    st.floats(0.0, 0.5),
)
@example([3, 0, 2], random.Random(0), 0.3)
def test_any_delivery_order_with_duplicates_gives_each_sender_its_order_exactly_once(
    per_epoch, rng, duplicate_rate
):
    frames, sent = sealed_batch(per_epoch)
    bob = endpoint(BOB, ids=(ALICE, BOB, CAROL))
    for index in range(1, len(per_epoch)):
        bob.install_epoch(
            CONTEXT, CHANNEL, index + 1, SECRETS[index + 1], members(ALICE, BOB, CAROL), 0.0
        )
    arrivals = list(frames)
    arrivals += [f for f in frames if rng.random() < duplicate_rate]
    rng.shuffle(arrivals)
    for member, payload in arrivals:
        acks = bob.receive(Incoming(ADDRESSES[member], payload), 1.0)
        assert len(acks) == 1 and acks[0].destination == ADDRESSES[member]
    got: dict[bytes, list[bytes]] = {ALICE: [], CAROL: []}
    for event in bob.take_events():
        assert isinstance(event, MessageDelivered)
        got[event.sender].append(event.plaintext)
    assert got == sent
    assert not bob.errors


# --------------------------------------------------------------------------- simulation


class AppDriven:
    """Wraps an endpoint so the simulation can drive it: 'app' messages are commands."""

    def __init__(self, node: AmpEndpoint) -> None:
        self.node = node
        self.events: list = []

    def receive(self, message: Incoming, now: float):
        if message.source == "app":
            command = decode(message.payload)
            if command["op"] == "send":
                out = self.node.send(CONTEXT, CHANNEL, command["text"], now)
            else:
                ids = [bytes(m) for m in command["members"]]
                self.node.install_epoch(
                    CONTEXT,
                    CHANNEL,
                    command["epoch"],
                    SECRETS[command["epoch"]],
                    members(*ids),
                    now,
                )
                out = []
        else:
            out = self.node.receive(message, now)
        self.events.extend(self.node.take_events())
        return out

    def next_timer(self):
        return self.node.next_timer()

    def on_timer(self, now: float):
        out = self.node.on_timer(now)
        self.events.extend(self.node.take_events())
        return out


CONFIG = AmpConfig(grace_s=300.0, retry=RetryPolicy(initial_s=0.5, max_s=10.0))
FAULTS = FaultPlan(latency_s=0.02, jitter_s=0.2, drop_rate=0.2, duplicate_rate=0.2, delay_rate=0.1)


def cluster(seed: int, ids=(ALICE, BOB, CAROL), config: AmpConfig = CONFIG, first=None):
    """One simulated node per member; epoch 1 has the members ``first`` (default: all)."""
    sim = Simulation(seed, faults=FAULTS)
    first_members = members(*(first or ids))
    for member in ids:

        def build(env, member=member):
            node = AmpEndpoint(member, config=config)
            node.install_epoch(CONTEXT, CHANNEL, 1, SECRETS[1], first_members, 0.0)
            return AppDriven(node)

        sim.add_node(ADDRESSES[member], build)
    return sim


def app(sim: Simulation, member: bytes, **command) -> None:
    sim.inject(ADDRESSES[member], encode(command), source="app")


def delivered(sim: Simulation, member: bytes, sender: bytes) -> list[bytes]:
    return [
        e.plaintext
        for e in sim.protocol(ADDRESSES[member]).events
        if isinstance(e, MessageDelivered) and e.sender == sender
    ]


@settings(max_examples=5, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_messages_to_an_offline_member_arrive_once_and_in_order_when_it_returns(seed):
    sim = cluster(seed)
    sim.partition(["bob"], ["alice", "carol"])
    sent = []
    for number in range(40):
        text = b"m%03d" % number
        sent.append(text)
        app(sim, ALICE, op="send", text=text)
        sim.run(for_s=0.5)
    sim.run(for_s=30.0)
    assert delivered(sim, CAROL, ALICE) == sent
    assert delivered(sim, BOB, ALICE) == []
    assert sim.protocol("alice").node.pending(CONTEXT, CHANNEL) == {BOB: 40}
    sim.heal()
    sim.run(for_s=60.0)
    assert delivered(sim, BOB, ALICE) == sent, f"seed {seed}"
    assert delivered(sim, CAROL, ALICE) == sent
    assert sim.protocol("alice").node.pending(CONTEXT, CHANNEL) == {}
    assert sim.protocol("alice").node.next_timer() is None  # nothing left to retry


def test_the_backlog_survives_an_epoch_change_while_offline():
    sim = cluster(7)
    sim.partition(["bob"], ["alice", "carol"])
    for number in range(10):
        app(sim, ALICE, op="send", text=b"e1-%d" % number)
    sim.run(for_s=5.0)
    for member in (ALICE, BOB, CAROL):
        app(sim, member, op="epoch", epoch=2, members=[ALICE, BOB, CAROL])
    for number in range(10):
        app(sim, ALICE, op="send", text=b"e2-%d" % number)
    sim.run(for_s=60.0)  # well inside the 300 s grace
    sim.heal()
    sim.run(for_s=60.0)
    expected = [b"e1-%d" % n for n in range(10)] + [b"e2-%d" % n for n in range(10)]
    assert delivered(sim, BOB, ALICE) == expected
    assert delivered(sim, CAROL, ALICE) == expected


def test_after_the_grace_window_old_messages_are_reported_lost_and_newer_ones_flow():
    sim = cluster(8, config=AmpConfig(grace_s=20.0, retry=RetryPolicy(initial_s=0.5, max_s=4.0)))
    sim.partition(["bob"], ["alice", "carol"])
    for number in range(5):
        app(sim, ALICE, op="send", text=b"old-%d" % number)
    sim.run(for_s=2.0)
    for member in (ALICE, BOB, CAROL):
        app(sim, member, op="epoch", epoch=2, members=[ALICE, BOB, CAROL])
    for number in range(3):
        app(sim, ALICE, op="send", text=b"new-%d" % number)
    sim.run(for_s=40.0)  # epoch 1's grace ends everywhere while Bob is unreachable
    sim.heal()
    sim.run(for_s=30.0)
    bob_events = sim.protocol("bob").events
    assert [e for e in bob_events if isinstance(e, MessagesLost)] == [
        MessagesLost(CONTEXT, CHANNEL, ALICE, 1, 0, 5)
    ]
    assert delivered(sim, BOB, ALICE) == [b"new-0", b"new-1", b"new-2"]
    failed = [e for e in sim.protocol("alice").events if isinstance(e, DeliveryFailed)]
    assert sorted((e.recipient, e.epoch, e.generation) for e in failed) == [
        (BOB, 1, g) for g in range(5)
    ]
    assert all(e.reason == "epoch grace period ended" for e in failed)


def test_a_member_added_in_a_later_epoch_gets_the_messages_from_then_on():
    sim = cluster(9, ids=(ALICE, BOB, CAROL, DAVE), first=(ALICE, BOB, CAROL))
    for number in range(4):
        app(sim, ALICE, op="send", text=b"before-%d" % number)
    sim.run(for_s=10.0)
    for member in (ALICE, BOB, CAROL, DAVE):
        app(sim, member, op="epoch", epoch=2, members=[ALICE, BOB, CAROL, DAVE])
    for number in range(4):
        app(sim, ALICE, op="send", text=b"after-%d" % number)
    sim.run(for_s=30.0)
    before = [b"before-%d" % n for n in range(4)]
    after = [b"after-%d" % n for n in range(4)]
    assert delivered(sim, BOB, ALICE) == before + after
    assert delivered(sim, DAVE, ALICE) == after  # from its first epoch on, nothing reported lost
    assert not [e for e in sim.protocol("dave").events if isinstance(e, MessagesLost)]


def test_same_seed_same_trace():
    def run(seed):
        sim = cluster(seed)
        for number in range(5):
            app(sim, ALICE, op="send", text=b"%d" % number)
            app(sim, CAROL, op="send", text=b"c%d" % number)
        sim.run(for_s=20.0)
        return sim.trace_hash()

    assert run(3) == run(3) != run(4)
