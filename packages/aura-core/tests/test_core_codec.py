"""Canonical DAG-CBOR: known encodings, and one refusal test per strictness rule."""

from __future__ import annotations

import enum
import math
from collections import OrderedDict
from types import MappingProxyType

import pytest

from aura_core import dag_cbor
from aura_core.content_id import CID
from aura_core.errors import InvalidEncoding, InvalidInput

SHA256_CID = CID.parse("bafyreidj5idub6mapiupjwjsyyxhyhedxycv4vihfsicm2vt46o7morwlm")


# --- known encodings (RFC 8949 appendix A, restricted to DAG-CBOR) --------------

KNOWN = [
    (0, "00"),
    (23, "17"),
    (24, "1818"),
    (255, "18ff"),
    (256, "190100"),
    (65535, "19ffff"),
    (65536, "1a00010000"),
    (2**32 - 1, "1affffffff"),
    (2**32, "1b0000000100000000"),
    (2**64 - 1, "1bffffffffffffffff"),
    (-1, "20"),
    (-24, "37"),
    (-25, "3818"),
    (-256, "38ff"),
    (-257, "390100"),
    (-(2**64), "3bffffffffffffffff"),
    (1.0, "fb3ff0000000000000"),
    (-0.0, "fb8000000000000000"),
    (1.1, "fb3ff199999999999a"),
    (1e300, "fb7e37e43c8800759c"),
    (False, "f4"),
    (True, "f5"),
    (None, "f6"),
    (b"", "40"),
    (b"\x01\x02\x03\x04", "4401020304"),
    (b"x" * 24, "5818" + "78" * 24),
    ("", "60"),
    ("a", "6161"),
    ("IETF", "6449455446"),
    ("\u00fc", "62c3bc"),
    ("\U00010151", "64f0908591"),
    ([], "80"),
    ([1, 2, 3], "83010203"),
    ([1, [2, 3], [4, 5]], "8301820203820405"),
    (list(range(1, 26)), "98190102030405060708090a0b0c0d0e0f101112131415161718181819"),
    ({}, "a0"),
    ({"a": 1, "b": [2, 3]}, "a26161016162820203"),
    # Length-first key order: "b" sorts before "aa".
    ({"aa": 1, "b": 2}, "a261620262616101"),
    ({"b": 2, "a": 1, "aa": 3, "": 0}, "a4600061610161620262616103"),
    (
        SHA256_CID,
        "d82a58250001" + "71122069ea0740f9807a28f4d932c62e7c1c83be055e55072c90266ab3e79df63a365b",
    ),
]


@pytest.mark.parametrize(("value", "hex_form"), KNOWN, ids=[h for _, h in KNOWN])
def test_known_encoding(value: object, hex_form: str) -> None:
    encoded = dag_cbor.encode(value)
    assert encoded.hex() == hex_form
    decoded = dag_cbor.decode(encoded)
    assert decoded == value
    assert type(decoded) is type(value)


def test_long_lengths_use_wider_heads() -> None:
    assert dag_cbor.encode(b"\x00" * 256)[:3] == bytes.fromhex("590100")
    assert dag_cbor.encode("a" * 70000)[:5] == bytes.fromhex("7a00011170")
    big_map = {f"k{i:05}": i for i in range(300)}
    encoded = dag_cbor.encode(big_map)
    assert encoded[:3] == bytes.fromhex("b9012c")
    assert dag_cbor.decode(encoded) == big_map


def test_tuples_encode_as_lists() -> None:
    assert dag_cbor.encode((1, (2, "x"))) == dag_cbor.encode([1, [2, "x"]])
    assert dag_cbor.decode(dag_cbor.encode((1, 2))) == [1, 2]


def test_map_encoding_ignores_insertion_order() -> None:
    assert dag_cbor.encode({"b": 1, "a": 2}) == dag_cbor.encode({"a": 2, "b": 1})


class _Kind(enum.IntEnum):
    FACT = 7


class _Label(enum.StrEnum):
    NAME = "name"


def test_subclasses_and_lookalikes_encode_as_their_base_value() -> None:
    assert dag_cbor.encode(_Kind.FACT) == dag_cbor.encode(7)
    assert dag_cbor.encode(_Label.NAME) == dag_cbor.encode("name")
    assert dag_cbor.encode({_Label.NAME: 1}) == dag_cbor.encode({"name": 1})
    assert dag_cbor.encode(bytearray(b"ab")) == dag_cbor.encode(b"ab")
    assert dag_cbor.encode(OrderedDict(b=1, a=2)) == dag_cbor.encode({"a": 2, "b": 1})
    assert dag_cbor.encode(MappingProxyType({"x": [1]})) == dag_cbor.encode({"x": [1]})
    decoded = dag_cbor.decode(dag_cbor.encode([_Kind.FACT, _Label.NAME]))
    assert [type(item) for item in decoded] == [int, str]


def test_cid_subclasses_encode_as_plain_cids() -> None:
    class Link(CID):
        pass

    link = Link(SHA256_CID.raw)
    decoded = dag_cbor.decode(dag_cbor.encode({"link": link}))
    assert type(decoded["link"]) is CID
    assert decoded["link"] == SHA256_CID


def test_nesting_limit_is_256_both_ways() -> None:
    deepest: object = []
    for _ in range(dag_cbor.MAX_DEPTH - 1):
        deepest = [deepest]
    encoded = dag_cbor.encode(deepest)
    assert encoded == b"\x81" * 255 + b"\x80"
    assert dag_cbor.decode(encoded) == deepest
    with pytest.raises(InvalidInput, match="nesting deeper than 256"):
        dag_cbor.encode([deepest])
    with pytest.raises(InvalidEncoding, match="nesting deeper than 256"):
        dag_cbor.decode(b"\x81" * 256 + b"\x80")
    with pytest.raises(InvalidEncoding, match="nesting deeper than 256"):
        dag_cbor.decode(b"\xa1\x61a" * 256 + b"\xa0")


# --- encode refusals ----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({1, 2}, "cannot encode a set"),
        (object(), "cannot encode a object"),
        (1j, "cannot encode a complex"),
        (math.nan, "not finite"),
        (math.inf, "not finite"),
        (-math.inf, "not finite"),
        (2**64, "above the CBOR range"),
        (-(2**64) - 1, "below the CBOR range"),
        ({1: "x"}, "keys must be str"),
        ({b"k": "x"}, "keys must be str"),
        ("\ud800", "not valid Unicode"),
        ({"\udfff": 1}, "not valid Unicode"),
        ({"a": [1, {"b": {3}}]}, r"at /a/1/b: cannot encode a set"),
    ],
)
def test_encode_refuses_values_outside_the_data_model(value: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        dag_cbor.encode(value)


def test_encode_refuses_reference_cycles() -> None:
    cycle: list[object] = []
    cycle.append(cycle)
    with pytest.raises(InvalidInput, match="reference cycle"):
        dag_cbor.encode(cycle)


def test_encode_refuses_keys_that_collide_after_conversion() -> None:
    class Twin(str):
        __hash__ = object.__hash__

        def __eq__(self, other: object) -> bool:
            return other is self

    with pytest.raises(InvalidInput, match="same string"):
        dag_cbor.encode({Twin("k"): 1, Twin("k"): 2})


# --- decode refusals: one test per rule ------------------------------------------


def _refused(hex_form: str, message: str, *, allow_floats: bool = True) -> None:
    with pytest.raises(InvalidEncoding, match=message) as info:
        dag_cbor.decode(bytes.fromhex(hex_form), allow_floats=allow_floats)
    assert "at byte" in str(info.value)


@pytest.mark.parametrize(
    "hex_form",
    ["1817", "190017", "1900ff", "1a0000ffff", "1b00000000ffffffff", "3817", "39001f", "d9002a"],
)
def test_rejects_non_minimal_integers_and_tags(hex_form: str) -> None:
    _refused(hex_form, "non-minimal")


@pytest.mark.parametrize(
    "hex_form", ["580161", "78016161", "980100", "b80161610100", "590001" + "00", "d82a580100"]
)
def test_rejects_non_minimal_lengths(hex_form: str) -> None:
    _refused(hex_form, "non-minimal")


@pytest.mark.parametrize("hex_form", ["5f4101ff", "7f6161ff", "9f01ff", "bf616101ff", "1f", "3f"])
def test_rejects_indefinite_lengths(hex_form: str) -> None:
    _refused(hex_form, "indefinite")


def test_rejects_a_lone_break() -> None:
    _refused("ff", "break")


@pytest.mark.parametrize(
    ("hex_form", "tag"),
    [("c074323031332d30332d32315432303a30343a30305a", 0), ("d82b00", 43), ("c1f6", 1)],
)
def test_rejects_tags_other_than_42(hex_form: str, tag: int) -> None:
    _refused(hex_form, f"tag {tag} is not allowed")


@pytest.mark.parametrize(
    ("hex_form", "message"),
    [
        ("d82a", "truncated CID"),
        ("d82a6161", "must wrap a byte string"),
        ("d82a40", "0x00 multibase prefix"),
        ("d82a4101", "0x00 multibase prefix"),
        ("d82a4100", "malformed CID.*empty"),
        ("d82a420001", "malformed CID.*codec varint is truncated"),
        ("d82a4400027112", "malformed CID.*version 2"),
        ("d82a4500017112ff", "malformed CID.*truncated"),
        ("d82a4700017112030102", "malformed CID.*declares a 3-byte digest but 2"),
        ("d82a460001f1001200", "malformed CID.*not minimal"),
        ("d82a430012ab", "malformed CID.*CIDv0"),
        ("d82a5825", "truncated CID"),
    ],
)
def test_rejects_malformed_cids(hex_form: str, message: str) -> None:
    _refused(hex_form, message)


@pytest.mark.parametrize("hex_form", ["f93c00", "fa3f800000"])
def test_rejects_floats_that_are_not_float64(hex_form: str) -> None:
    _refused(hex_form, "DAG-CBOR floats are 64-bit")


@pytest.mark.parametrize(
    "hex_form", ["fb7ff8000000000000", "fb7ff0000000000000", "fbfff0000000000000"]
)
def test_rejects_nan_and_infinities(hex_form: str) -> None:
    _refused(hex_form, "NaN and infinities")


def test_rejects_floats_when_not_allowed() -> None:
    assert dag_cbor.decode(bytes.fromhex("fb3ff0000000000000")) == 1.0
    _refused("fb3ff0000000000000", "floats are not allowed", allow_floats=False)
    _refused("a16161fb3ff0000000000000", "floats are not allowed", allow_floats=False)
    assert dag_cbor.decode(bytes.fromhex("a1616101"), allow_floats=False) == {"a": 1}


@pytest.mark.parametrize("hex_form", ["e0", "f0", "f3", "f820", "f8ff", "f814"])
def test_rejects_simple_values_other_than_false_true_null(hex_form: str) -> None:
    _refused(hex_form, "simple values? .*not allowed")


def test_rejects_undefined() -> None:
    _refused("f7", "undefined")


@pytest.mark.parametrize("hex_form", ["1c", "3d", "5e", "7c", "9d", "be", "dc", "fc", "fd", "fe"])
def test_rejects_reserved_additional_information(hex_form: str) -> None:
    _refused(hex_form, "reserved additional information")


@pytest.mark.parametrize(
    "hex_form", ["a10102", "a1416101", "a1f601", "a18001", "a1a001", "a120f6", "a1d82a4100f6"]
)
def test_rejects_non_string_map_keys(hex_form: str) -> None:
    _refused(hex_form, "keys must be text")


@pytest.mark.parametrize(
    ("hex_form", "message"),
    [
        ("a2616201616102", "'a' is out of order"),  # "b" then "a"
        ("a26261610161620f", "'b' is out of order"),  # "aa" then "b": shorter sorts first
        ("a3600061620161610f", "'a' is out of order"),
        ("a4616101616202626161036162ff", "'b' is out of order"),
    ],
)
def test_rejects_unsorted_map_keys(hex_form: str, message: str) -> None:
    _refused(hex_form, message)


def test_rejects_duplicate_map_keys() -> None:
    _refused("a3636261720363666f6f0163666f6f02", "duplicate map key 'foo'")
    _refused("a2600060f6", "duplicate map key ''")


@pytest.mark.parametrize(
    "hex_form",
    ["62c328", "63eda080", "62c080", "61ff", "64f8888080", "a162c32801", "8261616180"],
)
def test_rejects_invalid_utf8(hex_form: str) -> None:
    _refused(hex_form, "not valid UTF-8")


@pytest.mark.parametrize(
    "hex_form",
    [
        "",
        "18",
        "1900",
        "1a000100",
        "1b00000001000000",
        "3a0001",
        "4201",
        "5820" + "00" * 31,
        "6461",
        "8201",
        "a16161",
        "a2616101",
        "fb3ff0",
        "d82a58",
        "9a00010000",
        "bb0000000100000000",
    ],
)
def test_rejects_truncated_input(hex_form: str) -> None:
    _refused(hex_form, "truncated")


@pytest.mark.parametrize("hex_form", ["0101", "8000", "a0a0", "f6f6", "4100ff"])
def test_rejects_trailing_data(hex_form: str) -> None:
    _refused(hex_form, "trailing data")


def test_error_names_the_offset_of_the_bad_item() -> None:
    with pytest.raises(InvalidEncoding, match="at byte 3: non-minimal"):
        dag_cbor.decode(bytes.fromhex("8301021801"))


def test_decode_accepts_bytes_like_and_refuses_other_types() -> None:
    assert dag_cbor.decode(bytearray(b"\x01")) == 1
    assert dag_cbor.decode(memoryview(b"\x41\x07")) == b"\x07"
    with pytest.raises(InvalidInput, match="decode needs bytes, got str"):
        dag_cbor.decode("01")  # type: ignore[arg-type]
