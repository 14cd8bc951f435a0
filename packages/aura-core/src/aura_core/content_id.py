"""Content identifiers (CIDs) for canonical DAG-CBOR values.

Our own ids are CIDv1 with codec dag-cbor (0x71) and multihash BLAKE3-256
(code 0x1e, 32-byte digest), printed in base32 lower case with the ``b``
multibase prefix. Other CIDs (CIDv0, sha2-256, other codecs) can be held,
parsed and printed so foreign links survive a round trip, and sha2-256 ids
can be computed and verified, which the IPLD reference fixtures need.

Varints, base32 and base58btc are written here rather than taken from the
``multiformats`` package, which costs tens of microseconds per id.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Self

import attrs
import blake3

from aura_core.errors import InvalidIdentifier, InvalidInput, ValidationError

__all__ = [
    "CID",
    "CODEC_DAG_CBOR",
    "CODEC_RAW",
    "MULTIHASH_BLAKE3_256",
    "MULTIHASH_SHA2_256",
    "content_id",
    "content_id_of_bytes",
    "verify_content_id",
]

CODEC_DAG_CBOR = 0x71
"""Multicodec code of DAG-CBOR, the codec of every id we mint."""
CODEC_RAW = 0x55
"""Multicodec code of raw bytes (for ids of blobs that are not DAG-CBOR)."""
MULTIHASH_BLAKE3_256 = 0x1E
"""Multihash code of BLAKE3; our ids use a 32-byte digest."""
MULTIHASH_SHA2_256 = 0x12
"""Multihash code of SHA2-256 (IPLD fixtures, CIDv0)."""

_MAX_VARINT_BYTES = 9  # the multiformats unsigned-varint spec caps varints at 9 bytes (63 bits)
_DIGEST_SIZE = 32
_V0_LENGTH = 34
_V0_STRING_LENGTH = 46
_BASE32_ALPHABET = frozenset("abcdefghijklmnopqrstuvwxyz234567")
_BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BASE58_INDEX = {char: index for index, char in enumerate(_BASE58_ALPHABET)}
_HASH_NAMES = {MULTIHASH_BLAKE3_256: "blake3-256", MULTIHASH_SHA2_256: "sha2-256"}


def _shorten(value: object, limit: int = 80) -> str:
    shown = repr(value)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def _encode_varint(value: int) -> bytes:
    """Unsigned LEB128 varint as multiformats uses it (minimal, at most 63 bits)."""
    if type(value) is not int or value < 0 or value >= 1 << 63:
        raise InvalidInput(f"varint must be an int in 0..2**63-1, got {_shorten(value)}")
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _read_varint(data: bytes, pos: int, what: str) -> tuple[int, int]:
    """Read a minimal unsigned varint at ``pos``; return (value, next position)."""
    value = 0
    shift = 0
    start = pos
    end = len(data)
    while True:
        if pos >= end:
            raise InvalidIdentifier(f"CID {what} varint is truncated at byte {start}")
        if pos - start >= _MAX_VARINT_BYTES:
            raise InvalidIdentifier(f"CID {what} varint at byte {start} is longer than 9 bytes")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            if byte == 0 and pos - start > 1:
                raise InvalidIdentifier(f"CID {what} varint at byte {start} is not minimal")
            return value, pos


def _parse_binary(raw: bytes) -> tuple[int, int, int, int]:
    """Check a binary CID; return (version, codec, hash code, digest offset).

    CIDv0 is a bare sha2-256 multihash (34 bytes starting 0x12 0x20); anything
    else must be a CIDv1: version 1, codec, hash code and digest length as
    minimal varints, then exactly that many digest bytes.
    """
    if type(raw) is not bytes:
        raise InvalidIdentifier(f"CID bytes must be bytes, got {type(raw).__name__}")
    if not raw:
        raise InvalidIdentifier("CID bytes are empty")
    if raw[0] == MULTIHASH_SHA2_256:
        if len(raw) != _V0_LENGTH or raw[1] != _DIGEST_SIZE:
            raise InvalidIdentifier(
                f"CIDv0 must be 0x12 0x20 and a 32-byte sha2-256 digest, got {len(raw)} bytes "
                f"starting {raw[:2].hex()}"
            )
        return 0, 0x70, MULTIHASH_SHA2_256, 2
    version, pos = _read_varint(raw, 0, "version")
    if version != 1:
        raise InvalidIdentifier(f"unsupported CID version {version} (only CIDv0 and CIDv1 exist)")
    codec, pos = _read_varint(raw, pos, "codec")
    hash_code, pos = _read_varint(raw, pos, "multihash code")
    length, pos = _read_varint(raw, pos, "digest length")
    if len(raw) - pos != length:
        raise InvalidIdentifier(
            f"CID multihash declares a {length}-byte digest but {len(raw) - pos} bytes follow"
        )
    return 1, codec, hash_code, pos


def _base58_encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    chars = []
    while number:
        number, digit = divmod(number, 58)
        chars.append(_BASE58_ALPHABET[digit])
    zeros = len(data) - len(data.lstrip(b"\x00"))
    return "1" * zeros + "".join(reversed(chars))


def _base58_decode(text: str) -> bytes:
    number = 0
    for char in text:
        digit = _BASE58_INDEX.get(char)
        if digit is None:
            raise InvalidIdentifier(f"invalid base58btc character {char!r} in CID string")
        number = number * 58 + digit
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return b"\x00" * zeros + body


def _base32_decode(text: str) -> bytes:
    """Strict RFC 4648 base32, lower case, unpadded; non-canonical forms are rejected."""
    bad = set(text) - _BASE32_ALPHABET
    if bad:
        raise InvalidIdentifier(
            f"invalid base32 character {min(bad)!r} in CID string (lower-case RFC 4648, no padding)"
        )
    padded = text.upper() + "=" * (-len(text) % 8)
    try:
        data = base64.b32decode(padded)
    except ValueError as exc:  # binascii.Error: impossible length
        raise InvalidIdentifier(
            f"CID string body has an impossible base32 length {len(text)}"
        ) from exc
    if _base32_encode(data) != text:
        raise InvalidIdentifier("CID string is not canonical base32 (non-zero trailing bits)")
    return data


def _base32_encode(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").lower().rstrip("=")


@attrs.frozen(repr=False)
class CID:
    """A content identifier held as its binary form.

    Construction checks the binary structure (``CID(raw)`` raises
    :class:`InvalidIdentifier` on malformed bytes), so every instance is a
    well-formed CIDv0 or CIDv1. Equality and hashing are by bytes.
    """

    raw: bytes = attrs.field()

    @raw.validator
    def _check_raw(self, _attribute: attrs.Attribute, value: bytes) -> None:
        _parse_binary(value)

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """Parse a binary CID (no multibase prefix)."""
        return cls(data)

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse a CID string: ``b<base32>`` or ``z<base58btc>`` (CIDv1), ``Qm...`` (CIDv0)."""
        if type(text) is not str:
            raise InvalidIdentifier(f"a CID string must be str, got {type(text).__name__}")
        if len(text) == _V0_STRING_LENGTH and text.startswith("Qm"):
            raw = _base58_decode(text)
            if _parse_binary(raw)[0] != 0:
                raise InvalidIdentifier(f"{_shorten(text)} is not a CIDv0")
            return cls(raw)
        if len(text) < 2:
            raise InvalidIdentifier(f"CID string too short: {_shorten(text)}")
        prefix, body = text[0], text[1:]
        if prefix == "b":
            raw = _base32_decode(body)
        elif prefix == "z":
            raw = _base58_decode(body)
        else:
            raise InvalidIdentifier(
                f"unsupported multibase prefix {prefix!r} in CID string {_shorten(text)} "
                "(expected 'b' base32 lower or 'z' base58btc)"
            )
        if raw[:1] == bytes([MULTIHASH_SHA2_256]):
            raise InvalidIdentifier(
                "a CIDv0 must be written as bare base58btc ('Qm...'), not with a multibase prefix"
            )
        return cls(raw)

    @property
    def version(self) -> int:
        """0 or 1."""
        return _parse_binary(self.raw)[0]

    @property
    def codec(self) -> int:
        """Multicodec code of the content (0x70 dag-pb for CIDv0)."""
        return _parse_binary(self.raw)[1]

    @property
    def hash_code(self) -> int:
        """Multihash function code (0x1e BLAKE3, 0x12 sha2-256, ...)."""
        return _parse_binary(self.raw)[2]

    @property
    def digest(self) -> bytes:
        """The hash digest bytes."""
        return self.raw[_parse_binary(self.raw)[3] :]

    @property
    def multihash(self) -> bytes:
        """Multihash: hash code varint, length varint, digest."""
        if self.raw[0] == MULTIHASH_SHA2_256:
            return self.raw
        _, after_codec = _read_varint(self.raw, 1, "codec")
        return self.raw[after_codec:]

    def matches(self, data: bytes) -> bool:
        """Whether ``data`` hashes to this CID's digest (BLAKE3-256 or sha2-256 only).

        The codec is not checked against ``data``: the caller knows what it decodes.
        """
        _, _, hash_code, offset = _parse_binary(self.raw)
        digest = self.raw[offset:]
        return _digest(hash_code, data, len(digest)) == digest

    def __bytes__(self) -> bytes:
        return self.raw

    def __str__(self) -> str:
        if self.raw[0] == MULTIHASH_SHA2_256:
            return _base58_encode(self.raw)
        return "b" + _base32_encode(self.raw)

    def __repr__(self) -> str:
        return f"CID({str(self)!r})"


def _digest(hash_code: int, data: bytes, length: int) -> bytes:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidInput(f"content must be bytes, got {type(data).__name__}")
    if hash_code == MULTIHASH_BLAKE3_256:
        if length != _DIGEST_SIZE:
            raise InvalidInput(f"blake3 CIDs here have 32-byte digests, this one has {length}")
        return blake3.blake3(data).digest()
    if hash_code == MULTIHASH_SHA2_256:
        if length != _DIGEST_SIZE:
            raise InvalidInput(f"sha2-256 digests are 32 bytes, this one has {length}")
        return hashlib.sha256(data).digest()
    raise InvalidInput(
        f"unsupported multihash code {hash_code:#x} (supported: blake3-256 0x1e, sha2-256 0x12)"
    )


def _trusted(raw: bytes) -> CID:
    """Build a CID from bytes this module has just assembled (skips re-parsing)."""
    cid = object.__new__(CID)
    object.__setattr__(cid, "raw", raw)
    return cid


_BLAKE3_DAG_CBOR_PREFIX = bytes([0x01, CODEC_DAG_CBOR, MULTIHASH_BLAKE3_256, _DIGEST_SIZE])
_new_blake3 = blake3.blake3


def content_id_of_bytes(
    encoded: bytes, *, hash_code: int = MULTIHASH_BLAKE3_256, codec: int = CODEC_DAG_CBOR
) -> CID:
    """CIDv1 of already-encoded bytes (not re-validated as DAG-CBOR).

    Defaults give our ids (dag-cbor, BLAKE3-256); ``hash_code=MULTIHASH_SHA2_256``
    gives the ids IPLD tooling computes.
    """
    if hash_code == MULTIHASH_BLAKE3_256 and codec == CODEC_DAG_CBOR and type(encoded) is bytes:
        return _trusted(_BLAKE3_DAG_CBOR_PREFIX + _new_blake3(encoded).digest())
    digest = _digest(hash_code, encoded, _DIGEST_SIZE)
    return _trusted(
        b"\x01" + _encode_varint(codec) + _encode_varint(hash_code) + bytes([len(digest)]) + digest
    )


def content_id(value: object) -> CID:
    """CID (dag-cbor, BLAKE3-256) of ``value``'s canonical DAG-CBOR encoding."""
    # Imported here: dag_cbor imports CID from this module for tag 42.
    from aura_core.dag_cbor import encode

    return content_id_of_bytes(encode(value))


def verify_content_id(cid: CID, data: bytes) -> None:
    """Raise :class:`ValidationError` unless ``data`` hashes to ``cid``.

    For content fetched from an untrusted peer by its id. A CID whose hash
    function is not BLAKE3-256 or sha2-256 raises :class:`InvalidInput`.
    """
    if not isinstance(cid, CID):
        raise InvalidInput(f"expected a CID, got {type(cid).__name__}")
    if not cid.matches(data):
        name = _HASH_NAMES.get(cid.hash_code, hex(cid.hash_code))
        raise ValidationError(f"content does not match {cid} ({name} digest differs)")
