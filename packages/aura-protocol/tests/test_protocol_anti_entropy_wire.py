"""Anti-entropy wire messages: strict decoding and sessions facing hostile peers."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aura_core.content_id import content_id_of_bytes
from aura_core.dag_cbor import encode
from aura_core.errors import (
    InvalidEncoding,
    InvalidInput,
    ProtocolViolation,
    ValidationError,
)
from aura_protocol.anti_entropy import (
    MAX_MESSAGE_BYTES,
    EndMessage,
    FactsMessage,
    FingerprintRange,
    IdListRange,
    MappingFactStore,
    NeedRange,
    RangesMessage,
    ReconciliationSession,
    SkipRange,
    TransferredFact,
    decode_sync_message,
    encode_sync_message,
)

SESSION = b"\x11" * 16
FP = b"\x22" * 16
FACTS = [encode({"n": number}) for number in range(8)]
CIDS = [content_id_of_bytes(data) for data in FACTS]


def ranges(*entries) -> dict:
    return {"t": "ranges", "s": SESSION, "n": 0, "p": 0, "r": list(entries)}


def refused(value, fragment: str) -> None:
    with pytest.raises(InvalidEncoding, match=fragment):
        decode_sync_message(encode(value))


# --------------------------------------------------------------------------- round trips

messages = st.one_of(
    st.builds(
        RangesMessage,
        st.just(SESSION),
        st.integers(0, 128),
        st.integers(0, 2**63 - 1),
        st.just((SkipRange(b"\x01"), FingerprintRange(b"\x05", FP), IdListRange(None, []))),
    ),
    st.builds(EndMessage, st.just(SESSION), st.integers(0, 128), st.integers(0, 2**63 - 1)),
    st.builds(
        FactsMessage,
        st.just(SESSION),
        st.lists(st.sampled_from(range(8)), min_size=1, unique=True).map(
            lambda picks: tuple(TransferredFact(CIDS[i], FACTS[i]) for i in picks)
        ),
    ),
)


@given(messages)
def test_messages_round_trip_through_their_canonical_encoding(message):
    data = encode_sync_message(message)
    assert decode_sync_message(data) == message
    assert encode_sync_message(decode_sync_message(data)) == data


def generic_form(message: RangesMessage) -> dict:
    """The message as a plain value, for the reference encoder."""
    entries = []
    for entry in message.ranges:
        if isinstance(entry, SkipRange):
            entries.append([entry.upper, 0])
        elif isinstance(entry, FingerprintRange):
            entries.append([entry.upper, 1, entry.fingerprint])
        elif isinstance(entry, IdListRange):
            entries.append([entry.upper, 2, list(entry.ids)])
        else:
            entries.append([entry.upper, 3, entry.bits])
    return {
        "t": "ranges",
        "s": message.session,
        "n": message.round,
        "p": message.pushed,
        "r": entries,
    }


bounds = st.one_of(st.none(), st.binary(min_size=1, max_size=64))
range_values = st.one_of(
    st.builds(SkipRange, bounds),
    st.builds(FingerprintRange, bounds, st.binary(min_size=16, max_size=16)),
    st.builds(IdListRange, bounds, st.lists(st.binary(min_size=1, max_size=64), max_size=30)),
    st.builds(NeedRange, bounds, st.binary(min_size=1, max_size=200)),
)


@settings(max_examples=150, deadline=None)
@given(
    st.integers(0, 128),
    st.integers(0, 2**63 - 1),
    st.lists(range_values, max_size=40),
)
def test_direct_ranges_encoding_equals_the_reference_encoder(round_number, pushed, entries):
    message = RangesMessage(SESSION, round_number, pushed, entries)
    assert encode_sync_message(message) == encode(generic_form(message))


@pytest.mark.parametrize(
    "message",
    [
        RangesMessage(b"short", 0, 0, (SkipRange(None),)),
        RangesMessage(SESSION, 129, 0, (SkipRange(None),)),
        RangesMessage(SESSION, 0, -1, (SkipRange(None),)),
        RangesMessage(SESSION, 0, 0, (SkipRange(b""),)),
        RangesMessage(SESSION, 0, 0, (FingerprintRange(None, b"\x00" * 15),)),
        RangesMessage(SESSION, 0, 0, (IdListRange(None, [b"x" * 65]),)),
        RangesMessage(SESSION, 0, 0, (NeedRange(None, b""),)),
        RangesMessage(SESSION, 0, 0, ("not a range",)),
        EndMessage(SESSION, 0, -5),
        FactsMessage(SESSION, ("not a fact",)),
        FactsMessage(SESSION, (TransferredFact(CIDS[0], b""),)),
    ],
)
def test_the_encoder_refuses_values_no_peer_would_accept(message):
    with pytest.raises(InvalidInput):
        encode_sync_message(message)


def test_all_range_kinds_round_trip():
    message = RangesMessage(
        SESSION,
        3,
        9,
        (
            FingerprintRange(b"\x10", FP),
            SkipRange(b"\x20"),
            IdListRange(b"\x30", [b"\x20", b"\x21\x00"]),
            NeedRange(b"\x40", b"\x05"),
            SkipRange(None),
        ),
    )
    assert decode_sync_message(encode_sync_message(message)) == message


# --------------------------------------------------------------------------- hostile bytes


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
@example(b"")
@example(b"\xa1\x61t\x66ranges")
@example(encode(ranges([None, 1, b"\x00" * 16]))[:-3])
def test_arbitrary_bytes_raise_only_invalid_encoding(data):
    try:
        decode_sync_message(data)
    except InvalidEncoding:
        pass


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers(-5, 300)
        | st.binary(max_size=20)
        | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(st.sampled_from("tsnprf"), inner, max_size=5)
        ),
        max_leaves=20,
    )
)
def test_arbitrary_canonical_values_raise_only_invalid_encoding(value):
    if isinstance(value, dict):
        value = {"t": "ranges", "s": SESSION, **value}
    try:
        decode_sync_message(encode(value))
    except InvalidEncoding:
        pass


def test_oversized_message_is_refused_before_parsing():
    with pytest.raises(InvalidEncoding, match="cap"):
        decode_sync_message(b"\x00" * (MAX_MESSAGE_BYTES + 1))
    with pytest.raises(InvalidInput):
        decode_sync_message("not bytes")


def test_non_canonical_cbor_is_refused():
    canonical = encode(ranges([None, 1, FP]))
    longer_head = canonical.replace(b"\x61n\x00", b"\x61n\x18\x00")  # 0 written in two bytes
    with pytest.raises(InvalidEncoding):
        decode_sync_message(longer_head)
    with pytest.raises(InvalidEncoding, match="trailing"):
        decode_sync_message(canonical + b"\x00")


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ({"t": "gossip", "s": SESSION}, "unknown sync message type"),
        ([1, 2], "must be a map"),
        ({**ranges([None, 1, FP]), "x": 1}, "unexpected"),
        ({**ranges([None, 1, FP]), "s": b"short"}, "session id"),
        ({**ranges([None, 1, FP]), "n": 129}, "round"),
        ({**ranges([None, 1, FP]), "p": -1}, "pushed"),
        (ranges(), "at least one range"),
        (ranges([b"\x05", 1, FP]), "unbounded above"),
        (ranges([None, 0]), "only skips"),
        (ranges([b"\x05", 0], [b"\x07", 0], [None, 1, FP]), "merged"),
        (ranges([b"\x05", 1, FP], [b"\x05", 1, FP], [None, 1, FP]), "does not increase"),
        (ranges([b"\x05", 1, FP], [b"\x04", 1, FP], [None, 1, FP]), "does not increase"),
        (ranges([b"", 1, FP], [None, 1, FP]), "upper bound"),
        (ranges([b"\x05" * 65, 1, FP], [None, 1, FP]), "upper bound"),
        (ranges([None, 1, FP[:15]]), "fingerprint must be 16 bytes"),
        (ranges([None, 1]), "needs a payload"),
        (ranges([None, 0, b""]), "no payload"),
        (ranges([None, 9, b""]), "unknown mode"),
        (ranges([None, "1", FP]), "mode must be an integer"),
        (ranges([None, 2, [b"\x02", b"\x01"]]), "strictly ascending"),
        (ranges([None, 2, [b"\x02", b"\x02"]]), "strictly ascending"),
        (ranges([b"\x05", 2, [b"\x06"]], [None, 1, FP]), "outside the range"),
        (ranges([b"\x05", 1, FP], [None, 2, [b"\x04"]]), "outside the range"),
        (ranges([None, 2, [b"\x01"] * 1025]), "more than 1024"),
        (ranges([None, 2, [b""]]), "id 0"),
        (ranges([None, 2, b"\x01"]), "must be a list"),
        (ranges([None, 3, b""]), "need bits"),
        (ranges([None, 3, b"\x01\x00"]), "trailing zero"),
        (ranges([None, 3, b"\x01" * 200]), "longer than any id list"),
        (ranges(None), "must be a list"),
        ({"t": "facts", "s": SESSION, "f": []}, "non-empty"),
        ({"t": "facts", "s": SESSION, "f": [[CIDS[0].raw]]}, r"\[cid, bytes\]"),
        ({"t": "facts", "s": SESSION, "f": [[b"\x01\x02", FACTS[0]]]}, "cid is malformed"),
        ({"t": "facts", "s": SESSION, "f": [[CIDS[0].raw, b""]]}, "non-empty bytes"),
        (
            {"t": "facts", "s": SESSION, "f": [[CIDS[0].raw, FACTS[0]], [CIDS[0].raw, FACTS[0]]]},
            "repeats",
        ),
        ({"t": "end", "s": SESSION, "n": 1}, "missing"),
    ],
)
def test_malformed_messages_are_refused_with_a_message_naming_the_problem(value, fragment):
    refused(value, fragment)


# --------------------------------------------------------------------------- hostile peers


def store_with(*numbers) -> MappingFactStore:
    return MappingFactStore({CIDS[n]: FACTS[n] for n in numbers})


def responder_with(*numbers):
    store = store_with(*numbers)
    return store, ReconciliationSession(store, SESSION, initiator=False)


def test_unsolicited_fact_is_a_protocol_violation_and_stores_nothing():
    store, session = responder_with(0)
    with pytest.raises(ProtocolViolation, match="did not ask for"):
        session.receive(FactsMessage(SESSION, (TransferredFact(CIDS[1], FACTS[1]),)))
    assert set(store.facts) == {CIDS[0]}
    with pytest.raises(ProtocolViolation, match="already failed"):
        session.receive(EndMessage(SESSION, 0, 0))


def test_fact_whose_bytes_do_not_match_its_cid_is_refused():
    store, session = responder_with()
    # The peer lists ids 1 and 2; this side has neither and asks for both.
    listing = IdListRange(None, sorted([CIDS[1].raw, CIDS[2].raw]))
    replies = session.receive(RangesMessage(SESSION, 0, 0, (listing,)))
    assert isinstance(replies[-1], RangesMessage)
    assert isinstance(replies[-1].ranges[0], NeedRange)
    forged = FactsMessage(SESSION, (TransferredFact(CIDS[1], FACTS[3]),))
    with pytest.raises(ValidationError, match="does not match"):
        session.receive(forged)
    assert store.facts == {}


def test_need_bits_for_a_range_never_listed_are_refused():
    _, session = responder_with(0, 1)
    with pytest.raises(ProtocolViolation, match="did not list"):
        session.receive(RangesMessage(SESSION, 0, 0, (NeedRange(None, b"\x01"),)))


def test_need_bits_beyond_the_listed_ids_are_refused():
    store = store_with(0, 1)
    initiator = ReconciliationSession(store, SESSION, initiator=True)
    initiator.start()
    # The peer answers the opening fingerprint with an empty list; the initiator lists its 2 ids.
    replies = initiator.receive(RangesMessage(SESSION, 1, 0, (IdListRange(None, []),)))
    assert replies[-1] == EndMessage(SESSION, 2, 2)  # it pushed both and has nothing to ask
    fresh = ReconciliationSession(store_with(0, 1), SESSION, initiator=True)
    fresh.start()
    listed = fresh.receive(RangesMessage(SESSION, 1, 0, (FingerprintRange(None, b"\x00" * 16),)))
    assert isinstance(listed[-1].ranges[0], IdListRange)
    with pytest.raises(ProtocolViolation, match="beyond the listed"):
        fresh.receive(RangesMessage(SESSION, 3, 0, (NeedRange(None, b"\x04"),)))


def test_rounds_out_of_turn_are_refused_and_duplicates_ignored():
    _, session = responder_with(0)
    opening = RangesMessage(SESSION, 0, 0, (FingerprintRange(None, b"\x00" * 16),))
    assert session.receive(opening)
    assert session.receive(opening) == []  # a duplicate of an answered turn
    with pytest.raises(ProtocolViolation, match="unexpected round 5"):
        session.receive(RangesMessage(SESSION, 5, 0, (FingerprintRange(None, FP),)))


def test_pushed_count_may_not_go_down_and_other_sessions_are_refused():
    _, session = responder_with(0)
    session.receive(RangesMessage(SESSION, 0, 3, (FingerprintRange(None, FP),)))
    with pytest.raises(ProtocolViolation, match="went down"):
        session.receive(RangesMessage(SESSION, 2, 1, (FingerprintRange(None, FP),)))
    _, other = responder_with(0)
    with pytest.raises(ProtocolViolation, match="another session"):
        other.receive(EndMessage(b"\x99" * 16, 0, 0))


def test_a_peer_that_never_settles_is_cut_off():
    """A peer answering every turn with a fresh mismatching fingerprint cannot loop forever."""
    _, session = responder_with(*range(8))
    round_number = 0
    with pytest.raises(ProtocolViolation, match="did not finish"):
        while True:
            session.receive(RangesMessage(SESSION, round_number, 0, (FingerprintRange(None, FP),)))
            round_number += 2


def test_a_flood_of_mismatching_ranges_gets_a_bounded_reply():
    """A peer listing 60k wrong fingerprints is answered within the frame limit, then cut."""
    values = [encode(n) for n in range(20_000)]
    store = MappingFactStore({content_id_of_bytes(v): v for v in values})
    session = ReconciliationSession(store, SESSION, initiator=False)
    bounds = sorted({b"\x01\x71\x1e\x20" + n.to_bytes(3, "big") for n in range(0, 2**24, 280)})
    flood = [FingerprintRange(bound, FP) for bound in bounds[:60_000]] + [
        FingerprintRange(None, FP)
    ]
    (reply,) = session.receive(RangesMessage(SESSION, 0, 0, tuple(flood)))
    data = encode_sync_message(reply)
    assert len(data) <= 512 * 1024
    assert reply.ranges[-1].upper is None and isinstance(reply.ranges[-1], FingerprintRange)
    assert len(reply.ranges) < len(flood)
    assert decode_sync_message(data) == reply
