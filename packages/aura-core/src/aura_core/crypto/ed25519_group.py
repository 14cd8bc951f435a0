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

import nacl._sodium as _sodium_lib
import nacl.bindings as _sodium

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
_is_valid_point = _sodium.crypto_core_ed25519_is_valid_point

# The hot loops (group commitment, share checks) call libsodium through
# pynacl's cffi library object directly: pynacl's wrappers add type checks and
# eagerly formatted error strings that cost more per call than a point
# addition's bookkeeping. Every call site below passes exactly 32-byte buffers
# (checked) and checks the return code.
_ffi = _sodium_lib.ffi
_lib = _sodium_lib.lib
_c_base = _lib.crypto_scalarmult_ed25519_base_noclamp
_c_mult = _lib.crypto_scalarmult_ed25519_noclamp
_c_add = _lib.crypto_core_ed25519_add
_c_sub = _lib.crypto_core_ed25519_sub
_new_buffer = _ffi.new
_buffer = _ffi.buffer


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
    """Whether ``point`` is the encoding of the identity element."""
    return point == _IDENTITY


def _check_len(point: bytes) -> None:
    if len(point) != ELEMENT_SIZE:
        raise InvalidInput(f"group element must be {ELEMENT_SIZE} bytes, got {len(point)}")


def base_mult(scalar: int) -> bytes:
    """``G.ScalarBaseMult``; the identity encoding for a zero scalar."""
    scalar %= ORDER
    if scalar == 0:
        return _IDENTITY
    out = _new_buffer("unsigned char[32]")
    if _c_base(out, scalar.to_bytes(SCALAR_SIZE, "little")) != 0:  # pragma: no cover
        raise CryptoError("scalar base multiplication failed")
    return _buffer(out, 32)[:]


def mult(point: bytes, scalar: int) -> bytes:
    """``G.ScalarMult`` of a prime-order point (or the identity) by a scalar.

    libsodium re-checks that ``point`` is canonical and of prime order and
    raises :class:`CryptoError` if not.
    """
    scalar %= ORDER
    if scalar == 0 or point == _IDENTITY:
        return _IDENTITY
    _check_len(point)
    if scalar == 1:
        return point
    out = _new_buffer("unsigned char[32]")
    if _c_mult(out, scalar.to_bytes(SCALAR_SIZE, "little"), point) != 0:
        raise CryptoError("scalar multiplication of an invalid group element")
    return _buffer(out, 32)[:]


def add(left: bytes, right: bytes) -> bytes:
    """Group addition of two encodings (either may be the identity)."""
    if left == _IDENTITY:
        return right
    if right == _IDENTITY:
        return left
    if len(left) != ELEMENT_SIZE or len(right) != ELEMENT_SIZE:
        raise InvalidInput(f"group elements must be {ELEMENT_SIZE} bytes")
    out = _new_buffer("unsigned char[32]")
    if _c_add(out, left, right) != 0:
        raise CryptoError("addition of an invalid group element")
    return _buffer(out, 32)[:]


def sub(left: bytes, right: bytes) -> bytes:
    """Group subtraction ``left - right`` of two encodings."""
    if right == _IDENTITY:
        return left
    if len(left) != ELEMENT_SIZE or len(right) != ELEMENT_SIZE:
        raise InvalidInput(f"group elements must be {ELEMENT_SIZE} bytes")
    out = _new_buffer("unsigned char[32]")
    if _c_sub(out, left, right) != 0:
        raise CryptoError("subtraction of an invalid group element")
    return _buffer(out, 32)[:]


def to_element(point: bytes, *, name: str) -> Element:
    """Turn the result of group arithmetic on valid elements into an :class:`Element`.

    Raises :class:`CryptoError` when the result is the identity, which RFC 9591's
    ``SerializeElement`` refuses to encode.
    """
    if point == _IDENTITY:
        raise CryptoError(f"{name} is the identity element")
    return _trusted(point)
