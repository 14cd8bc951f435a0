"""The edwards25519 prime-order group as RFC 9591 uses it, on libsodium.

Scalars are Python ints in ``[0, ORDER)``; group elements travel as their
32-byte RFC 8032 encodings. :class:`Element` is the type of an encoding that
has been checked once (canonical, on the curve, in the prime-order subgroup,
not the identity), so later steps never re-check it. Intermediate sums may be
the identity, so the arithmetic helpers work on plain ``bytes`` and only
:func:`to_element` turns a result back into an :class:`Element`.

libsodium silently reduces scalars and its point addition accepts any point on
the curve, which is why every check the RFC asks for is made explicitly here.
"""

from __future__ import annotations

from collections.abc import Callable

import nacl.bindings as _sodium
import nacl.exceptions as _nacl_exc

from aura_core.errors import CryptoError, InvalidEncoding, InvalidInput

__all__ = [
    "BASEPOINT",
    "ELEMENT_SIZE",
    "IDENTITY_ENCODING",
    "ORDER",
    "SCALAR_SIZE",
    "Element",
    "add",
    "base_mult",
    "deserialize_element",
    "deserialize_scalar",
    "element_converter",
    "is_identity",
    "mult",
    "scalar_from_wide_bytes",
    "serialize_scalar",
    "sub",
    "to_element",
]

ORDER = 2**252 + 27742317777372353535851937790883648493
"""L, the order of the prime-order subgroup (RFC 9591 ``G.Order()``)."""

SCALAR_SIZE = 32
ELEMENT_SIZE = 32
IDENTITY_ENCODING = b"\x01" + bytes(31)
BASEPOINT_ENCODING = bytes.fromhex(
    "5866666666666666666666666666666666666666666666666666666666666666"
)

_IDENTITY = IDENTITY_ENCODING
_base_noclamp = _sodium.crypto_scalarmult_ed25519_base_noclamp
_mult_noclamp = _sodium.crypto_scalarmult_ed25519_noclamp
_point_add = _sodium.crypto_core_ed25519_add
_point_sub = _sodium.crypto_core_ed25519_sub
_is_valid_point = _sodium.crypto_core_ed25519_is_valid_point


class Element(bytes):
    """Canonical encoding of a non-identity element of the prime-order subgroup.

    ``Element(data)`` validates (RFC 9591 ``DeserializeElement``) and raises
    :class:`~aura_core.errors.InvalidEncoding` for anything else. Instances
    compare and hash like the underlying bytes.
    """

    __slots__ = ()

    def __new__(cls, data: bytes) -> Element:
        return deserialize_element(data)

    def __repr__(self) -> str:
        return f"Element({self.hex()!r})"

    def __reduce__(self) -> tuple[type[Element], tuple[bytes]]:
        return (Element, (bytes(self),))


def _trusted(data: bytes) -> Element:
    """Wrap bytes known to be a valid non-identity subgroup element (no check)."""
    return bytes.__new__(Element, data)


BASEPOINT: Element = _trusted(BASEPOINT_ENCODING)


def deserialize_element(data: object, *, name: str = "element") -> Element:
    """RFC 9591 ``DeserializeElement``: canonical, on curve, prime order, not identity."""
    if isinstance(data, Element):
        return data
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidEncoding(f"{name} must be bytes, got {type(data).__name__}")
    raw = bytes(data)
    if len(raw) != ELEMENT_SIZE:
        raise InvalidEncoding(f"{name} must be {ELEMENT_SIZE} bytes, got {len(raw)}")
    if not _is_valid_point(raw):
        # libsodium's check rejects non-canonical encodings, points off the
        # curve, points outside the prime-order subgroup and small-order points
        # (the identity among them).
        if raw == _IDENTITY:
            raise InvalidEncoding(f"{name} is the identity element")
        raise InvalidEncoding(
            f"{name} is not a canonical encoding of a prime-order edwards25519 point"
        )
    return _trusted(raw)


def element_converter(name: str) -> Callable[[object], Element]:
    """An attrs converter that validates a field as an :class:`Element`."""

    def convert(value: object) -> Element:
        return deserialize_element(value, name=name)

    convert.__name__ = f"to_element_{name}"
    return convert


def serialize_scalar(value: int) -> bytes:
    """RFC 9591 ``SerializeScalar``: 32-byte little-endian, value in [0, L)."""
    if not 0 <= value < ORDER:
        raise InvalidInput("scalar out of range [0, L)")
    return value.to_bytes(SCALAR_SIZE, "little")


def deserialize_scalar(data: object, *, name: str = "scalar") -> int:
    """RFC 9591 ``DeserializeScalar``: 32 bytes little-endian, rejecting values >= L."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidEncoding(f"{name} must be bytes, got {type(data).__name__}")
    raw = bytes(data)
    if len(raw) != SCALAR_SIZE:
        raise InvalidEncoding(f"{name} must be {SCALAR_SIZE} bytes, got {len(raw)}")
    value = int.from_bytes(raw, "little")
    if value >= ORDER:
        raise InvalidEncoding(f"{name} is not a canonical scalar (value >= group order)")
    return value


def scalar_from_wide_bytes(data: bytes) -> int:
    """Interpret bytes (e.g. a 64-byte digest) little-endian and reduce modulo L."""
    return int.from_bytes(data, "little") % ORDER


def is_identity(point: bytes) -> bool:
    return point == _IDENTITY


def base_mult(scalar: int) -> bytes:
    """``G.ScalarBaseMult``; the identity encoding for a zero scalar."""
    scalar %= ORDER
    if scalar == 0:
        return _IDENTITY
    return _base_noclamp(scalar.to_bytes(SCALAR_SIZE, "little"))


def mult(point: bytes, scalar: int) -> bytes:
    """``G.ScalarMult`` of a prime-order point (or the identity) by a scalar."""
    scalar %= ORDER
    if scalar == 0 or point == _IDENTITY:
        return _IDENTITY
    if scalar == 1:
        return point
    try:
        return _mult_noclamp(scalar.to_bytes(SCALAR_SIZE, "little"), point)
    except _nacl_exc.RuntimeError as exc:
        raise CryptoError("scalar multiplication of an invalid group element") from exc


def add(left: bytes, right: bytes) -> bytes:
    """Group addition of two encodings (either may be the identity)."""
    if left == _IDENTITY:
        return right
    if right == _IDENTITY:
        return left
    try:
        return _point_add(left, right)
    except _nacl_exc.RuntimeError as exc:
        raise CryptoError("addition of an invalid group element") from exc


def sub(left: bytes, right: bytes) -> bytes:
    """Group subtraction ``left - right`` of two encodings."""
    if right == _IDENTITY:
        return left
    try:
        return _point_sub(left, right)
    except _nacl_exc.RuntimeError as exc:
        raise CryptoError("subtraction of an invalid group element") from exc


def to_element(point: bytes, *, name: str) -> Element:
    """Turn the result of group arithmetic on valid elements into an :class:`Element`.

    Raises :class:`CryptoError` when the result is the identity, which RFC 9591's
    ``SerializeElement`` refuses to encode.
    """
    if point == _IDENTITY:
        raise CryptoError(f"{name} is the identity element")
    return _trusted(point)
