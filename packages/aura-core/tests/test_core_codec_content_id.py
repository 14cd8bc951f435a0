"""Content ids: CIDv1 dag-cbor + BLAKE3-256, strict binary and string parsing,
checked against the ``multiformats`` package as an independent reader."""

from __future__ import annotations

import hashlib

import attrs
import blake3
import multiformats
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aura_core import dag_cbor
from aura_core.content_id import (
    CID,
    CODEC_DAG_CBOR,
    CODEC_RAW,
    MULTIHASH_BLAKE3_256,
    MULTIHASH_SHA2_256,
    content_id,
    content_id_of_bytes,
    verify_content_id,
)
from aura_core.errors import InvalidIdentifier, InvalidInput, ValidationError

FACT = {"type_id": "aura.test", "payload": b"\x01" * 32, "timestamp": 1718000000123, "version": 1}


def test_content_id_is_cidv1_dag_cbor_blake3() -> None:
    encoded = dag_cbor.encode(FACT)
    cid = content_id(FACT)
    assert cid == content_id_of_bytes(encoded)
    assert (cid.version, cid.codec, cid.hash_code) == (1, CODEC_DAG_CBOR, MULTIHASH_BLAKE3_256)
    assert cid.digest == blake3.blake3(encoded).digest()
    assert cid.raw == bytes([0x01, 0x71, 0x1E, 0x20]) + cid.digest
    assert cid.multihash == bytes([0x1E, 0x20]) + cid.digest
    assert str(cid).startswith("bafyr4i")
    assert repr(cid) == f"CID('{cid}')"


def test_known_blake3_id_of_the_empty_map() -> None:
    # BLAKE3(0xa0), computed independently of this module.
    digest = blake3.blake3(b"\xa0").digest()
    expected = multiformats.CID(
        "base32", 1, "dag-cbor", multiformats.multihash.wrap(digest, "blake3")
    )
    assert str(content_id({})) == str(expected)


@settings(max_examples=100)
@given(st.binary(max_size=200))
def test_multiformats_reads_our_ids(data: bytes) -> None:
    for hash_code, name in ((MULTIHASH_BLAKE3_256, "blake3"), (MULTIHASH_SHA2_256, "sha2-256")):
        ours = content_id_of_bytes(data, hash_code=hash_code)
        theirs = multiformats.CID.decode(str(ours))
        assert theirs.version == 1
        assert theirs.codec.name == "dag-cbor"
        assert theirs.hashfun.name == name
        assert bytes(theirs) == ours.raw
        assert CID.parse(str(theirs)) == ours
        assert CID.parse(theirs.encode("base58btc")) == ours


def test_sha2_256_and_raw_codec_ids() -> None:
    data = b"hello"
    cid = content_id_of_bytes(data, hash_code=MULTIHASH_SHA2_256, codec=CODEC_RAW)
    assert cid.digest == hashlib.sha256(data).digest()
    assert (cid.codec, cid.hash_code) == (CODEC_RAW, MULTIHASH_SHA2_256)
    assert str(cid) == str(
        multiformats.CID("base32", 1, "raw", multiformats.multihash.digest(data, "sha2-256"))
    )


def test_verify_content_id() -> None:
    encoded = dag_cbor.encode(FACT)
    cid = content_id_of_bytes(encoded)
    assert cid.matches(encoded)
    verify_content_id(cid, encoded)
    assert not cid.matches(encoded + b"\x00")
    with pytest.raises(ValidationError, match="content does not match"):
        verify_content_id(cid, encoded[:-1])


def test_matches_refuses_unsupported_hashes() -> None:
    identity = CID.parse("bafkqabiaaebagba")  # identity multihash from the IPLD fixtures
    with pytest.raises(InvalidInput, match="unsupported multihash code 0x0"):
        identity.matches(b"")


def test_content_id_of_bytes_refuses_bad_arguments() -> None:
    with pytest.raises(InvalidInput, match="content must be bytes"):
        content_id_of_bytes("text")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="unsupported multihash"):
        content_id_of_bytes(b"", hash_code=0x13)
    with pytest.raises(InvalidInput, match="varint"):
        content_id_of_bytes(b"", codec=-1)
    assert content_id_of_bytes(bytearray(b"x")) == content_id_of_bytes(b"x")


def test_content_id_refuses_unencodable_values() -> None:
    with pytest.raises(InvalidInput, match="cannot encode a set"):
        content_id({"a": {1}})


def test_cid_is_a_frozen_value() -> None:
    cid = content_id(FACT)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        cid.raw = b""  # type: ignore[misc]
    assert cid == CID(cid.raw)
    assert len({cid, CID(cid.raw), content_id({})}) == 2
    assert bytes(cid) == cid.raw


@settings(max_examples=100)
@given(st.binary(min_size=32, max_size=32), st.integers(min_value=0, max_value=2**40))
def test_string_and_binary_forms_round_trip(digest: bytes, codec: int) -> None:
    cid = content_id_of_bytes(digest, codec=codec)
    assert CID.parse(str(cid)) == cid
    assert CID.from_bytes(cid.raw) == cid
    assert cid.codec == codec
    v0 = CID(b"\x12\x20" + digest)
    assert str(v0).startswith("Qm")
    assert len(str(v0)) == 46
    assert CID.parse(str(v0)) == v0
    assert (v0.version, v0.codec, v0.hash_code, v0.digest) == (0, 0x70, MULTIHASH_SHA2_256, digest)
    assert v0.multihash == v0.raw


V1 = "bafyreidj5idub6mapiupjwjsyyxhyhedxycv4vihfsicm2vt46o7morwlm"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "too short"),
        ("b", "too short"),
        ("B" + V1[1:].upper(), "unsupported multibase prefix 'B'"),
        ("f01711220" + "00" * 32, "unsupported multibase prefix 'f'"),
        ("m" + V1[1:], "unsupported multibase prefix 'm'"),
        (V1.upper(), "unsupported multibase prefix"),
        ("b" + V1[1:].upper(), "invalid base32 character"),
        (V1 + "=", "invalid base32 character '='"),
        (V1[:-1] + "1", "invalid base32 character '1'"),
        (V1[:-1] + "n", "non-zero trailing bits"),
        (V1 + "a", "impossible base32 length"),
        (V1[:-2], "declares a 32-byte digest but 31"),
        (
            "bafyreidj5idub6mapiupjwjsyyxhyhedxycv4vihfsicm2vt46o7morwlmaa",
            "declares a 32-byte digest but 33",
        ),
        (
            "zQmQg1v4o9xdT3Q14wh4S7dxZkDjyZ9ssFzFzyep1YrVJBY",
            "CIDv0 must be written as bare base58btc",
        ),
        ("QmQg1v4o9xdT3Q14wh4S7dxZkDjyZ9ssFzFzyep1YrVJB0", "invalid base58btc character '0'"),
        ("z0", "invalid base58btc character '0'"),
        ("aaaaaa", "unsupported multibase prefix 'a'"),
        ("baaaqa", "unsupported CID version 0"),
    ],
)
def test_parse_refuses_malformed_strings(text: str, message: str) -> None:
    with pytest.raises(InvalidIdentifier, match=message):
        CID.parse(text)


def test_parse_refuses_non_strings() -> None:
    with pytest.raises(InvalidIdentifier, match="must be str, got bytes"):
        CID.parse(V1.encode())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw_hex", "message"),
    [
        ("", "empty"),
        ("00", "unsupported CID version 0"),
        ("02711220" + "00" * 32, "unsupported CID version 2"),
        ("8100711220" + "00" * 32, "version varint .* not minimal"),
        ("01", "codec varint is truncated"),
        ("0171", "multihash code varint is truncated"),
        ("017112", "digest length varint is truncated"),
        ("01711220" + "00" * 31, "declares a 32-byte digest but 31"),
        ("01711220" + "00" * 33, "declares a 32-byte digest but 33"),
        ("01" + "ff" * 9 + "01", "longer than 9 bytes"),
        ("1220" + "00" * 31, "CIDv0 must be"),
        ("1221" + "00" * 33, "CIDv0 must be"),
    ],
)
def test_binary_parsing_is_strict(raw_hex: str, message: str) -> None:
    with pytest.raises(InvalidIdentifier, match=message):
        CID(bytes.fromhex(raw_hex))


def test_constructor_wants_bytes() -> None:
    with pytest.raises(InvalidIdentifier, match="must be bytes, got str"):
        CID("bafy")  # type: ignore[arg-type]


def test_varints_up_to_63_bits_are_accepted() -> None:
    codec = 2**63 - 1
    cid = content_id_of_bytes(b"x", codec=codec)
    assert cid.codec == codec
    assert CID.parse(str(cid)).codec == codec
    with pytest.raises(InvalidInput, match="varint"):
        content_id_of_bytes(b"x", codec=2**63)


def test_package_reexports_codec_and_hashing_api() -> None:
    import importlib

    import aura_core

    # The package attribute ``aura_core.content_id`` is the function; the module is imported by name.
    content_id_module = importlib.import_module("aura_core.content_id")
    hashing = importlib.import_module("aura_core.hashing")
    assert aura_core.content_id is content_id

    for module, names in (
        (content_id_module, ["CID", "content_id", "content_id_of_bytes", "verify_content_id"]),
        (hashing, ["derive_context_key", "hash_bytes", "hash_canonical", "kdf", "tagged_hash"]),
    ):
        for name in names:
            assert name in aura_core.__all__
            assert name in module.__all__
            assert getattr(aura_core, name) is getattr(module, name)
    assert set(dag_cbor.__all__) == {"MAX_DEPTH", "decode", "encode"}
