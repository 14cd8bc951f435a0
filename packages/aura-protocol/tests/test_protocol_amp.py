"""AMP cryptography: key schedule, ratchet skip window, sealed frames, epochs and their grace."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aura_core.dag_cbor import encode
from aura_core.errors import CryptoError, ErrorKind, InvalidEncoding, InvalidInput
from aura_core.hashing import kdf
from aura_core.identifiers import ChannelId, ContextId
from aura_protocol.amp import (
    DEFAULT_SKIP_WINDOW,
    MAX_FRAME_BYTES,
    AckFrame,
    AmpHeader,
    ChannelCoordinates,
    ChannelKeyring,
    DataFrame,
    EpochUnavailable,
    GenerationRejected,
    ReceivingChain,
    SendingChain,
    UnknownSender,
    chain_seed,
    decode_frame,
    encode_frame,
    message_key,
    next_chain_key,
    open_frame,
)
from aura_protocol.amp.frames import make_ack, verify_ack
from aura_protocol.amp.key_schedule import _derive, ack_key

CONTEXT = ContextId(b"\x01" * 16)
CHANNEL = ChannelId(b"\x02" * 32)
SECRET = b"\x07" * 32
ALICE, BOB, CAROL = b"alice", b"bob", b"carol"
WHERE = ChannelCoordinates(CONTEXT.raw, CHANNEL.raw, 1)


def keyrings(*members: bytes, epoch: int = 1, secret: bytes = SECRET, grace_s: float = 60.0):
    rings = {}
    for member in members:
        ring = ChannelKeyring(CONTEXT, CHANNEL, member, grace_s=grace_s)
        ring.install(epoch, secret, members, 0.0)
        rings[member] = ring
    return rings


def reframe(frame: DataFrame, **changes) -> DataFrame:
    """The same ciphertext under a header with some fields changed."""
    return DataFrame(attrs.evolve(frame.header, **changes), frame.ciphertext)


# --------------------------------------------------------------------------- key schedule


def test_the_fast_derivation_is_the_core_kdf():
    material = b"\x33" * 40
    for context in ("AURA_AMP_CHAIN_STEP_V1", "AURA_AMP_MESSAGE_KEY_V1"):
        for length in (32, 56):
            assert _derive(context, material, length) == kdf(context, material, length)


def test_message_keys_depend_on_every_coordinate():
    seed = chain_seed(SECRET, WHERE, ALICE)
    base = message_key(seed, WHERE, ALICE, 0)
    variants = [
        message_key(seed, WHERE, ALICE, 1),
        message_key(seed, WHERE, BOB, 0),
        message_key(seed, attrs.evolve(WHERE, epoch=2), ALICE, 0),
        message_key(seed, ChannelCoordinates(b"\x09" * 16, CHANNEL.raw, 1), ALICE, 0),
        message_key(seed, ChannelCoordinates(CONTEXT.raw, b"\x09" * 32, 1), ALICE, 0),
        message_key(next_chain_key(seed), WHERE, ALICE, 0),
    ]
    assert len({base.key, *(v.key for v in variants)}) == len(variants) + 1
    assert len({base.nonce, *(v.nonce for v in variants)}) == len(variants) + 1
    assert chain_seed(SECRET, WHERE, ALICE) != chain_seed(SECRET, WHERE, BOB)
    assert chain_seed(SECRET, WHERE, ALICE) != chain_seed(b"\x08" * 32, WHERE, ALICE)
    assert ack_key(SECRET, WHERE) != ack_key(SECRET, attrs.evolve(WHERE, epoch=2))
    assert "secret" in repr(base) and base.key.hex() not in repr(base)
    with pytest.raises(InvalidInput):
        chain_seed(b"short", WHERE, ALICE)


def test_sending_chain_forgets_each_step():
    seed = chain_seed(SECRET, WHERE, ALICE)
    chain = SendingChain(WHERE, ALICE, seed)
    expected = seed
    for generation in range(5):
        got_generation, key = chain.next_key()
        assert got_generation == generation
        assert key == message_key(expected, WHERE, ALICE, generation)
        expected = next_chain_key(expected)
        assert chain._chain_key == expected  # only the next step's key is held
    chain.destroy()
    with pytest.raises(InvalidInput, match="exhausted"):
        chain.next_key()


# --------------------------------------------------------------------------- ratchet window


def receiving(window: int = DEFAULT_SKIP_WINDOW) -> ReceivingChain:
    return ReceivingChain(WHERE, ALICE, chain_seed(SECRET, WHERE, ALICE), window=window)


def sent_keys(count: int):
    chain = SendingChain(WHERE, ALICE, chain_seed(SECRET, WHERE, ALICE))
    return [chain.next_key()[1] for _ in range(count)]


def take(chain: ReceivingChain, generation: int):
    prepared = chain.prepare(generation)
    chain.commit(prepared)
    return prepared.key


def test_generation_beyond_the_skip_window_is_rejected():
    chain = receiving()
    with pytest.raises(GenerationRejected, match="more than 1024 beyond"):
        chain.prepare(1024)  # nothing seen yet: highest is -1
    assert take(chain, 1023) is not None
    with pytest.raises(GenerationRejected, match="beyond"):
        chain.prepare(1023 + 1025)
    take(chain, 1023 + 1024)


def test_replay_and_too_old_generations_are_rejected():
    chain = receiving(window=8)
    take(chain, 3)
    with pytest.raises(GenerationRejected, match="already received"):
        chain.prepare(3)
    take(chain, 1)  # skipped, still in the window
    with pytest.raises(GenerationRejected, match="already received"):
        chain.prepare(1)
    take(chain, 11)
    take(chain, 19)
    with pytest.raises(GenerationRejected, match="behind"):
        chain.prepare(2)  # never received, and its key was evicted when 11 arrived
    assert chain.stored_keys == 7  # generations 12..18


def test_keys_are_deleted_after_use_and_skipped_ones_bounded():
    chain = receiving(window=16)
    take(chain, 10)
    assert chain.stored_keys == 10
    for generation in range(10):
        take(chain, generation)
    assert chain.stored_keys == 0
    take(chain, 26)
    assert chain.stored_keys == 15  # 11..25: the window's worth below the highest


@settings(max_examples=50, deadline=None)
@given(st.permutations(range(40)), st.lists(st.integers(0, 39), max_size=10))
@example(list(range(39, -1, -1)), [0])
def test_any_arrival_order_within_the_window_opens_each_generation_once(order, replays):
    keys = sent_keys(40)
    chain = receiving(window=64)
    for generation in order:
        assert take(chain, generation) == keys[generation]
    for generation in replays:
        with pytest.raises(GenerationRejected):
            chain.prepare(generation)
    assert chain.stored_keys == 0 and chain.highest == 39


def test_prepare_changes_nothing_until_commit():
    chain = receiving()
    chain.prepare(500)
    assert chain.highest == -1 and chain.stored_keys == 0
    assert take(chain, 0) == sent_keys(1)[0]


# --------------------------------------------------------------------------- frames


def test_sealed_frame_opens_and_its_header_is_authenticated():
    rings = keyrings(ALICE, BOB)
    frame = rings[ALICE].seal(b"hello bob")
    wire = encode_frame(frame)
    assert decode_frame(wire) == frame
    assert rings[BOB].open(decode_frame(wire)) == b"hello bob"


@pytest.mark.parametrize(
    "changes",
    [
        {"generation": 0},
        {"prev_epoch": 0, "prev_count": 3},
        {"context": ContextId(b"\x05" * 16)},
        {"channel": ChannelId(b"\x06" * 32)},
    ],
)
def test_tampered_header_fails_to_open(changes):
    rings = keyrings(ALICE, BOB)
    rings[ALICE].seal(b"first")  # so generation 1 is a real key on Bob's side too
    frame = rings[ALICE].seal(b"second")
    tampered = reframe(frame, **changes)
    bob = rings[BOB]
    if "context" in changes or "channel" in changes:
        with pytest.raises(InvalidInput, match="another channel"):
            bob.open(tampered)
        # Even a receiver that accepted the claimed channel could not open it:
        with pytest.raises(CryptoError):
            open_frame(tampered, message_key(chain_seed(SECRET, WHERE, ALICE), WHERE, ALICE, 0))
    else:
        with pytest.raises(CryptoError, match="failed authentication"):
            bob.open(tampered)
    assert bob.open(frame) == b"second"  # the failed attempt consumed nothing


def test_header_fields_the_ratchet_reads_are_bound_too():
    rings = keyrings(ALICE, BOB)
    frame = rings[ALICE].seal(b"x")
    # Claiming another sender or epoch selects another key: it fails without harm.
    with pytest.raises(UnknownSender):
        rings[BOB].open(reframe(frame, sender=CAROL))
    with pytest.raises(EpochUnavailable):
        rings[BOB].open(reframe(frame, epoch=7))
    assert rings[BOB].open(frame) == b"x"


def test_tampered_ciphertext_fails_and_consumes_nothing():
    rings = keyrings(ALICE, BOB)
    frame = rings[ALICE].seal(b"attack at dawn")
    for position in (0, len(frame.ciphertext) // 2, len(frame.ciphertext) - 1):
        flipped = bytearray(frame.ciphertext)
        flipped[position] ^= 0x01
        with pytest.raises(CryptoError):
            rings[BOB].open(DataFrame(frame.header, bytes(flipped)))
    with pytest.raises(CryptoError):
        rings[BOB].open(DataFrame(frame.header, frame.ciphertext[:-1]))
    assert rings[BOB].open(frame) == b"attack at dawn"


def test_forged_frame_far_ahead_does_not_move_the_chain():
    rings = keyrings(ALICE, BOB)
    frames = [rings[ALICE].seal(b"m%d" % i) for i in range(3)]
    forged = DataFrame(attrs.evolve(frames[0].header, generation=900), frames[0].ciphertext)
    with pytest.raises(CryptoError):
        rings[BOB].open(forged)
    assert [rings[BOB].open(f) for f in frames] == [b"m0", b"m1", b"m2"]


def test_replayed_frame_is_rejected():
    rings = keyrings(ALICE, BOB)
    frame = rings[ALICE].seal(b"once")
    assert rings[BOB].open(frame) == b"once"
    assert rings[BOB].was_received(frame.header)
    with pytest.raises(GenerationRejected, match="replay"):
        rings[BOB].open(frame)


def test_a_wrong_epoch_secret_cannot_open():
    alice = keyrings(ALICE, BOB)[ALICE]
    stranger = keyrings(ALICE, BOB, secret=b"\x08" * 32)[BOB]
    with pytest.raises(CryptoError):
        stranger.open(alice.seal(b"private"))


# --------------------------------------------------------------------------- epochs


def test_old_epoch_stays_readable_for_the_grace_window_only():
    rings = keyrings(ALICE, BOB, grace_s=30.0)
    late = rings[ALICE].seal(b"sealed in epoch 1")
    for ring in rings.values():
        ring.install(2, b"\x09" * 32, [ALICE, BOB], now=100.0)
    fresh = rings[ALICE].seal(b"sealed in epoch 2")
    assert fresh.header.epoch == 2 and fresh.header.generation == 0
    assert (fresh.header.prev_epoch, fresh.header.prev_count) == (1, 1)
    bob = rings[BOB]
    assert bob.next_expiry() == 130.0
    assert bob.open(late) == b"sealed in epoch 1"
    assert bob.expire(129.9) == []
    early = rings[ALICE]
    assert early.expire(130.0) == [1]
    assert bob.expire(130.0) == [1]
    assert not bob.retained(1) and bob.was_member(1)
    with pytest.raises(EpochUnavailable, match="no longer held") as refused:
        bob.open(late)
    assert refused.value.kind is ErrorKind.PERMANENT
    assert bob.open(fresh) == b"sealed in epoch 2"


def test_future_epoch_is_a_transient_refusal_and_epochs_only_advance():
    rings = keyrings(ALICE, BOB)
    rings[ALICE].install(2, b"\x09" * 32, [ALICE, BOB], 1.0)
    with pytest.raises(EpochUnavailable, match="not installed yet") as refused:
        rings[BOB].open(rings[ALICE].seal(b"from the future"))
    assert refused.value.kind is ErrorKind.TRANSIENT
    with pytest.raises(InvalidInput, match="does not follow"):
        rings[BOB].install(1, SECRET, [ALICE, BOB], 2.0)
    with pytest.raises(InvalidInput):
        rings[BOB].install(3, b"short", [ALICE, BOB], 2.0)
    with pytest.raises(InvalidInput, match="at least one member"):
        rings[BOB].install(3, SECRET, [], 2.0)


def test_a_removed_member_cannot_send_or_read_the_new_epoch():
    rings = keyrings(ALICE, BOB, CAROL)
    for ring in rings.values():
        ring.install(2, b"\x0a" * 32, [ALICE, BOB], 5.0)
    with pytest.raises(InvalidInput, match="cannot send"):
        rings[CAROL].seal(b"still here?")
    with pytest.raises(UnknownSender):
        rings[ALICE].open(reframe(rings[BOB].seal(b"x"), sender=CAROL))
    # Carol's keyring was told about epoch 2 without her: she holds no chain for it.
    assert not rings[CAROL].can_receive(2, ALICE)


# --------------------------------------------------------------------------- acks and wire


def test_acks_are_authenticated():
    key = ack_key(SECRET, WHERE)
    ack = make_ack(key, CONTEXT, CHANNEL, 1, BOB, ALICE, 5, (7, 9))
    verify_ack(decode_frame(encode_frame(ack)), key)
    for forged in (
        attrs.evolve(ack, received_below=6),
        attrs.evolve(ack, acker=CAROL),
        attrs.evolve(ack, received_also=(7, 9, 11)),
    ):
        with pytest.raises(CryptoError):
            verify_ack(forged, key)
    with pytest.raises(CryptoError):
        verify_ack(ack, ack_key(b"\x08" * 32, WHERE))


@given(st.binary(max_size=300))
@example(b"")
@example(encode({"v": 1, "k": "data"}))
def test_arbitrary_bytes_raise_only_invalid_encoding(data):
    try:
        decode_frame(data)
    except InvalidEncoding:
        pass


HEADER = {
    "ctx": CONTEXT.raw,
    "ch": CHANNEL.raw,
    "ep": 1,
    "snd": ALICE,
    "gen": 0,
    "pe": None,
    "pc": 0,
}


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ({"v": 1, "k": "nope"}, "unknown AMP frame kind"),
        ({"v": 2, "k": "data", "h": HEADER, "c": b"\x00" * 16}, "version"),
        ({"v": True, "k": "data", "h": HEADER, "c": b"\x00" * 16}, "version"),
        ({"v": 1, "k": "data", "h": HEADER, "c": b"\x00" * 15}, "at least the tag"),
        ({"v": 1, "k": "data", "h": HEADER}, "missing"),
        ({"v": 1, "k": "data", "h": {**HEADER, "x": 1}, "c": b"\x00" * 16}, "unexpected"),
        ({"v": 1, "k": "data", "h": {**HEADER, "ctx": b"\x01"}, "c": b"\x00" * 16}, "context"),
        ({"v": 1, "k": "data", "h": {**HEADER, "gen": 2**32}, "c": b"\x00" * 16}, "generation"),
        ({"v": 1, "k": "data", "h": {**HEADER, "snd": b""}, "c": b"\x00" * 16}, "sender"),
        ({"v": 1, "k": "data", "h": {**HEADER, "pc": 1}, "c": b"\x00" * 16}, "prev_count"),
        ({"v": 1, "k": "data", "h": {**HEADER, "pe": 1, "pc": 1}, "c": b"\x00" * 16}, "earlier"),
        ({"v": 1, "k": "data", "h": {**HEADER, "pe": 0, "pc": 0}, "c": b"\x00" * 16}, "positive"),
        ({"v": 1, "k": "data", "h": {**HEADER, "ep": -1}, "c": b"\x00" * 16}, "epoch"),
        (
            {
                "v": 1,
                "k": "ack",
                "b": {
                    "ctx": CONTEXT.raw,
                    "ch": CHANNEL.raw,
                    "ep": 1,
                    "from": BOB,
                    "to": ALICE,
                    "below": 5,
                    "also": [5],
                },
                "mac": b"\x00" * 32,
            },
            "ascend",
        ),
        (
            {
                "v": 1,
                "k": "ack",
                "b": {
                    "ctx": CONTEXT.raw,
                    "ch": CHANNEL.raw,
                    "ep": 1,
                    "from": BOB,
                    "to": ALICE,
                    "below": 5,
                    "also": list(range(6, 300)),
                },
                "mac": b"\x00" * 32,
            },
            "at most 256",
        ),
        (
            {
                "v": 1,
                "k": "ack",
                "b": {
                    "ctx": CONTEXT.raw,
                    "ch": CHANNEL.raw,
                    "ep": 1,
                    "from": BOB,
                    "to": ALICE,
                    "below": 5,
                    "also": [],
                },
                "mac": b"\x00" * 31,
            },
            "MAC",
        ),
    ],
)
def test_malformed_frames_are_refused_naming_the_problem(value, fragment):
    with pytest.raises(InvalidEncoding, match=fragment):
        decode_frame(encode(value))


def test_oversized_frames_and_plaintexts_are_refused():
    with pytest.raises(InvalidEncoding, match="more than"):
        decode_frame(b"\x00" * (MAX_FRAME_BYTES + 1))
    rings = keyrings(ALICE, BOB)
    with pytest.raises(InvalidInput, match="plaintext"):
        rings[ALICE].seal(b"\x00" * (MAX_FRAME_BYTES))
    with pytest.raises(InvalidInput):
        decode_frame("text")


def test_data_frame_wire_form_is_the_canonical_encoding():
    frame = keyrings(ALICE, BOB)[ALICE].seal(b"z" * 300)
    assert encode_frame(frame) == encode(
        {"v": 1, "k": "data", "h": frame.header.to_canonical(), "c": frame.ciphertext}
    )
    header = AmpHeader(CONTEXT, CHANNEL, 3, ALICE, 4, 1, 2)
    assert decode_frame(encode_frame(DataFrame(header, b"\x00" * 16))).header == header
    assert isinstance(
        decode_frame(encode_frame(make_ack(b"\x01" * 32, CONTEXT, CHANNEL, 1, BOB, ALICE, 0, ()))),
        AckFrame,
    )


def test_exports_exist_and_are_public():
    import aura_protocol
    import aura_protocol.amp as amp

    assert aura_protocol.amp is amp and "amp" in aura_protocol.__all__
    assert len(amp.__all__) == len(set(amp.__all__))
    for name in amp.__all__:
        assert hasattr(amp, name) and not name.startswith("_"), name
    for name in ("AmpEndpoint", "ChannelKeyring", "ReceivingChain", "MessageDelivered"):
        assert name in amp.__all__
