"""Strict field readers: each rule rejects with InvalidEncoding naming the field."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aura_core import CID, AuthorityId, InvalidEncoding, InvalidInput, content_id, dag_cbor
from aura_core.canonical_fields import (
    as_encoding_error,
    check_text,
    decode_canonical,
    of_type,
    read_authority,
    read_bool,
    read_bytes,
    read_choice,
    read_cid,
    read_list,
    read_map,
    read_str,
    read_text,
    read_uint,
)


def test_read_map_exact_optional_missing_extra():
    assert read_map({"a": 1}, "m", ("a",)) == {"a": 1}
    assert read_map({"a": 1}, "m", frozenset({"a"})) == {"a": 1}
    assert read_map({"a": 1, "b": 2}, "m", ["a"], ["b"]) == {"a": 1, "b": 2}
    with pytest.raises(InvalidEncoding, match=r"m is missing field\(s\) \['b'\]"):
        read_map({"a": 1}, "m", ("a", "b"))
    with pytest.raises(InvalidEncoding, match=r"unexpected field\(s\) \['z'\]"):
        read_map({"a": 1, "z": 0}, "m", ("a",))
    with pytest.raises(InvalidEncoding, match="must be a map"):
        read_map([1], "m", ("a",))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: read_bytes("x", "key"), "key must be bytes"),
        (lambda: read_bytes(b"x", "key", size=32), "key must be 32 bytes"),
        (lambda: read_bytes(b"xx", "key", max_size=1), "more than 1"),
        (lambda: read_uint(True, "n"), "n must be an integer"),
        (lambda: read_uint(-1, "n"), r"n must be in 0\.\."),
        (lambda: read_uint(5, "n", maximum=4), r"n must be in 0\.\.4"),
        (lambda: read_bool(1, "flag"), "flag must be a boolean"),
        (lambda: read_str(b"x", "name"), "name must be a text string"),
        (lambda: read_str("", "name", min_length=1), r"name must be 1\.\."),
        (lambda: read_text("a\x1bb", "nick", max_length=10), "control characters"),
        (lambda: read_choice("c", "kind", ("a", "b")), r"kind must be one of \['a', 'b'\]"),
        (lambda: read_list((1,), "items"), "items must be a list"),
        (lambda: read_list([1, 2], "items", max_items=1), r"items must hold 0\.\.1"),
        (lambda: read_cid(b"x", "link"), "link must be a CID"),
        (lambda: read_authority(b"short", "who"), "16 bytes"),
        (lambda: decode_canonical("x", "frame", max_bytes=10), "frame must be bytes"),
        (lambda: decode_canonical(b"\x00" * 11, "frame", max_bytes=10), "more than 10"),
        (lambda: decode_canonical(b"\xa1", "frame", max_bytes=10), "frame is not canonical"),
        (lambda: decode_canonical(dag_cbor.encode(1.5), "frame", max_bytes=10), "frame is not"),
    ],
)
def test_each_rule_names_the_field(call, message):
    with pytest.raises(InvalidEncoding, match=message):
        call()


def test_accepted_values_pass_through():
    cid = content_id({"a": 1})
    assert read_cid(cid, "link") is cid
    assert isinstance(cid, CID)
    assert read_authority(b"a" * 16, "who") == AuthorityId(b"a" * 16)
    assert decode_canonical(dag_cbor.encode({"k": [1, b"x"]}), "frame", max_bytes=100) == {
        "k": [1, b"x"]
    }
    assert check_text("Alice", "nick", max_length=10) == "Alice"
    with pytest.raises(InvalidInput) as info:
        check_text("A\nB", "nick", max_length=10)
    assert not isinstance(info.value, InvalidEncoding)


def test_as_encoding_error_keeps_the_message():
    err = as_encoding_error("epoch", InvalidInput("too big"))
    assert isinstance(err, InvalidEncoding)
    assert str(err) == "epoch: too big"
    same = InvalidEncoding("x")
    assert as_encoding_error("y", same) is same


def test_of_type_validator_raises_our_error():
    @attrs.frozen
    class Box:
        value: int = attrs.field(validator=of_type(int))

    assert Box(3).value == 3
    with pytest.raises(InvalidInput, match=r"Box\.value must be int, got str"):
        Box("3")  # type: ignore[arg-type]


@given(st.binary(max_size=64))
def test_decode_canonical_raises_only_invalid_encoding(data):
    try:
        decode_canonical(data, "frame", max_bytes=64)
    except InvalidEncoding:
        pass
