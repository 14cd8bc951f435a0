"""Properties of the DAG-CBOR codec: round trip, agreement with the reference
``dag_cbor`` package, canonical form, and a decoder that only ever raises
InvalidEncoding on hostile bytes."""

from __future__ import annotations

import dag_cbor as reference
import multiformats
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aura_core import dag_cbor
from aura_core.content_id import CID
from aura_core.errors import InvalidEncoding

cids = st.one_of(
    st.binary(min_size=32, max_size=32).map(lambda d: CID(b"\x01\x71\x1e\x20" + d)),
    st.binary(min_size=32, max_size=32).map(lambda d: CID(b"\x01\x55\x12\x20" + d)),
    st.binary(min_size=32, max_size=32).map(lambda d: CID(b"\x12\x20" + d)),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64 - 1),
    st.integers(min_value=-300, max_value=300),
    st.floats(allow_nan=False, allow_infinity=False),
    st.binary(max_size=300),
    st.text(max_size=40),
    cids,
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=6),
        st.dictionaries(st.text(max_size=8), children, max_size=6),
    ),
    max_leaves=30,
)


def _to_reference(value: object) -> object:
    """The same value in the reference package's types (multiformats CIDs)."""
    if isinstance(value, CID):
        return multiformats.CID.decode(value.raw)
    if isinstance(value, list):
        return [_to_reference(item) for item in value]
    if isinstance(value, dict):
        return {key: _to_reference(item) for key, item in value.items()}
    return value


def _from_reference(value: object) -> object:
    if isinstance(value, multiformats.CID):
        return CID(bytes(value))
    if isinstance(value, list):
        return [_from_reference(item) for item in value]
    if isinstance(value, dict):
        return {key: _from_reference(item) for key, item in value.items()}
    return value


@settings(max_examples=300)
@given(values)
@example({"aa": 1, "b": 2, "": None})
@example(-(2**64))
@example(-0.0)
@example(5e-324)
def test_round_trip(value: object) -> None:
    encoded = dag_cbor.encode(value)
    decoded = dag_cbor.decode(encoded)
    assert decoded == value
    assert dag_cbor.encode(decoded) == encoded


@settings(max_examples=300)
@given(values)
@example({"\u00e9": 1, "z": 2, "\U00010151": 3})
def test_byte_identical_to_the_reference_package(value: object) -> None:
    ours = dag_cbor.encode(value)
    assert ours == reference.encode(_to_reference(value))
    assert dag_cbor.decode(ours) == _from_reference(reference.decode(ours))


@settings(max_examples=200)
@given(values)
def test_tuples_and_lists_agree(value: object) -> None:
    assert dag_cbor.encode((value, [value])) == dag_cbor.encode([value, (value,)])


def _check_hostile(data: bytes) -> None:
    """Hostile bytes are either refused with InvalidEncoding or are the canonical form."""
    try:
        value = dag_cbor.decode(data)
    except InvalidEncoding:
        return
    # Anything the strict decoder accepts is the one canonical encoding of what it returned.
    assert dag_cbor.encode(value) == data


@settings(max_examples=500)
@given(st.binary(max_size=64))
@example(b"\x9b\xff\xff\xff\xff\xff\xff\xff\xff")
@example(b"\xbb\xff\xff\xff\xff\xff\xff\xff\xff")
@example(b"\x81" * 2000)
@example(b"\xa1\x61a" * 2000)
@example(b"\xd8\x2a\x45\x00\x01\x71\x1e\xff")
def test_fuzz_arbitrary_bytes(data: bytes) -> None:
    _check_hostile(data)


@st.composite
def mutated_encodings(draw: st.DrawFn) -> bytes:
    encoded = bytearray(dag_cbor.encode(draw(values)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        action = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate"]))
        position = draw(st.integers(min_value=0, max_value=max(len(encoded) - 1, 0)))
        if action == "flip" and encoded:
            encoded[position] ^= 1 << draw(st.integers(min_value=0, max_value=7))
        elif action == "set" and encoded:
            encoded[position] = draw(st.integers(min_value=0, max_value=255))
        elif action == "insert":
            encoded.insert(position, draw(st.integers(min_value=0, max_value=255)))
        elif action == "delete" and encoded:
            del encoded[position]
        elif action == "truncate":
            del encoded[position:]
    return bytes(encoded)


@settings(max_examples=500)
@given(mutated_encodings())
def test_fuzz_mutated_valid_encodings(data: bytes) -> None:
    _check_hostile(data)


@settings(max_examples=200)
@given(st.binary(max_size=64))
def test_reference_agrees_with_what_we_accept(data: bytes) -> None:
    """Whatever we accept, the reference decodes to the same value (no laxer than it)."""
    try:
        ours = dag_cbor.decode(data)
    except InvalidEncoding:
        return
    assert _from_reference(reference.decode(data)) == ours


@settings(max_examples=200)
@given(values)
def test_decode_without_floats_accepts_float_free_values(value: object) -> None:
    encoded = dag_cbor.encode(value)
    has_float = b"\xfb" in encoded  # a cheap over-approximation
    try:
        assert dag_cbor.decode(encoded, allow_floats=False) == value
    except InvalidEncoding as exc:
        assert has_float
        assert "floats are not allowed" in str(exc)
