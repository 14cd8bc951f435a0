"""edwards25519 element and scalar encodings: everything RFC 9591 says to reject is rejected."""

from __future__ import annotations

import pickle

import nacl.bindings
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aura_core.crypto.ed25519_group import (
    BASEPOINT,
    IDENTITY_ENCODING,
    ORDER,
    Element,
    add,
    base_mult,
    deserialize_element,
    deserialize_scalar,
    mult,
    serialize_scalar,
    sub,
    to_element,
)
from aura_core.errors import CryptoError, InvalidEncoding, InvalidInput

FIELD_PRIME = 2**255 - 19
# A point of order 8 (the torsion subgroup's generator).
ORDER_8 = bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")


def _small_order_points() -> list[bytes]:
    points = [ORDER_8]
    while True:
        nxt = nacl.bindings.crypto_core_ed25519_add(points[-1], ORDER_8)
        if nxt == IDENTITY_ENCODING:
            break
        points.append(nxt)
    return points


def test_torsion_subgroup_has_order_eight() -> None:
    assert len(_small_order_points()) == 7


@pytest.mark.parametrize("point", _small_order_points(), ids=lambda p: p.hex()[:8])
def test_small_order_points_are_rejected(point: bytes) -> None:
    with pytest.raises(InvalidEncoding, match="prime-order"):
        deserialize_element(point)


def test_identity_is_rejected() -> None:
    with pytest.raises(InvalidEncoding, match="identity"):
        deserialize_element(IDENTITY_ENCODING, name="commitment")


@pytest.mark.parametrize(
    "encoding",
    [
        (FIELD_PRIME + 1).to_bytes(32, "little"),  # y = p + 1 ≡ 1: identity, non-canonical
        FIELD_PRIME.to_bytes(32, "little"),  # y = p ≡ 0
        (2**255 - 1).to_bytes(32, "little"),  # y = 2^255 - 1 ≥ p
        bytes.fromhex("01" + "00" * 30 + "80"),  # identity with the x sign bit set
        bytes(31) + b"\x80",  # y = 0 with the sign bit: a point of order 4
    ],
)
def test_non_canonical_encodings_are_rejected(encoding: bytes) -> None:
    with pytest.raises(InvalidEncoding):
        deserialize_element(encoding)


EDWARDS_D = -121665 * pow(121666, -1, FIELD_PRIME) % FIELD_PRIME


def _on_curve(y: int) -> bool:
    """Whether some x satisfies -x² + y² = 1 + d·x²·y² (Euler's criterion on x²)."""
    x2 = (y * y - 1) * pow(EDWARDS_D * y * y + 1, -1, FIELD_PRIME) % FIELD_PRIME
    return x2 == 0 or pow(x2, (FIELD_PRIME - 1) // 2, FIELD_PRIME) == 1


def test_points_off_the_curve_are_rejected() -> None:
    off_curve = [y for y in range(2, 60) if not _on_curve(y)]
    assert len(off_curve) > 10
    for y in off_curve:
        with pytest.raises(InvalidEncoding, match="prime-order"):
            deserialize_element(y.to_bytes(32, "little"))


def test_mixed_order_point_is_rejected() -> None:
    mixed = nacl.bindings.crypto_core_ed25519_add(bytes(BASEPOINT), ORDER_8)
    with pytest.raises(InvalidEncoding, match="prime-order"):
        deserialize_element(mixed)


@pytest.mark.parametrize("value", [b"", bytes(31), bytes(33), "00" * 32, 5, None])
def test_wrong_types_and_lengths_are_rejected(value) -> None:
    with pytest.raises(InvalidEncoding):
        deserialize_element(value)
    with pytest.raises(InvalidEncoding):
        deserialize_scalar(value)


@settings(max_examples=200)
@given(st.binary(min_size=32, max_size=32))
def test_arbitrary_bytes_either_validate_or_raise_invalid_encoding(data: bytes) -> None:
    try:
        element = deserialize_element(data)
    except InvalidEncoding:
        return
    assert bytes(element) == data
    assert mult(element, ORDER - 1) == sub(IDENTITY_ENCODING, element)


def test_scalar_bounds() -> None:
    assert deserialize_scalar((ORDER - 1).to_bytes(32, "little")) == ORDER - 1
    for bad in (ORDER, ORDER + 1, 2**255, 2**256 - 1):
        with pytest.raises(InvalidEncoding, match="canonical scalar"):
            deserialize_scalar(bad.to_bytes(32, "little"))
    with pytest.raises(InvalidInput):
        serialize_scalar(ORDER)
    with pytest.raises(InvalidInput):
        serialize_scalar(-1)


@settings(max_examples=30)
@given(st.integers(0, ORDER - 1), st.integers(0, ORDER - 1))
def test_group_arithmetic_is_consistent(a: int, b: int) -> None:
    assert add(base_mult(a), base_mult(b)) == base_mult(a + b)
    assert sub(base_mult(a), base_mult(b)) == base_mult(a - b)
    assert mult(bytes(BASEPOINT), a) == base_mult(a)


def test_zero_and_identity_edge_cases() -> None:
    assert base_mult(0) == IDENTITY_ENCODING
    assert base_mult(ORDER) == IDENTITY_ENCODING
    assert mult(BASEPOINT, 0) == IDENTITY_ENCODING
    assert mult(IDENTITY_ENCODING, 5) == IDENTITY_ENCODING
    assert add(IDENTITY_ENCODING, BASEPOINT) == BASEPOINT
    with pytest.raises(CryptoError, match="group commitment is the identity"):
        to_element(IDENTITY_ENCODING, name="group commitment")
    with pytest.raises(CryptoError):
        mult(ORDER_8, 3)
    with pytest.raises(InvalidInput):
        add(bytes(31), BASEPOINT)


def test_element_type_behaves_like_bytes() -> None:
    element = Element(bytes(BASEPOINT))
    assert element == bytes(BASEPOINT) and hash(element) == hash(bytes(BASEPOINT))
    assert pickle.loads(pickle.dumps(element)) == element
    assert "Element('5866" in repr(element)
    with pytest.raises(InvalidEncoding):
        Element(IDENTITY_ENCODING)
