"""Hashing with domain tags, the BLAKE3 KDF and DKD (context-scoped keys)."""

from __future__ import annotations

import blake3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aura_core import dag_cbor
from aura_core.errors import InvalidInput
from aura_core.hashing import (
    DKD_CONTEXT,
    HASH_SIZE,
    derive_context_key,
    hash_bytes,
    hash_canonical,
    kdf,
    tagged_hash,
)

ROOT = bytes(range(32))
AUTHORITY = b"\xaa" * 16
CONTEXT_A = b"\x01" * 16
CONTEXT_B = b"\x02" * 16


def _dkd(**changes: object) -> bytes:
    arguments: dict[str, object] = {
        "authority": AUTHORITY,
        "context": CONTEXT_A,
        "epoch": 3,
        "purpose": "noise-static",
    }
    root = changes.pop("root_key", ROOT)
    arguments.update(changes)
    return derive_context_key(root, **arguments)  # type: ignore[arg-type]


def _hamming(a: bytes, b: bytes) -> int:
    return bin(int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).count("1")


# --- hash_bytes ---------------------------------------------------------------


def test_hash_bytes_is_blake3_256() -> None:
    # The BLAKE3 spec's digest of the empty input.
    assert (
        hash_bytes(b"").hex() == "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
    )
    assert hash_bytes(b"abc") == blake3.blake3(b"abc").digest()
    assert hash_bytes(bytearray(b"abc")) == hash_bytes(b"abc")
    assert len(hash_bytes(b"x" * 5000)) == HASH_SIZE
    with pytest.raises(InvalidInput, match="data must be bytes, got str"):
        hash_bytes("abc")  # type: ignore[arg-type]


# --- hash_canonical and tagged_hash ---------------------------------------------


def test_hash_canonical_framing() -> None:
    value = {"b": [1, 2], "a": b"\x00"}
    expected = blake3.blake3(b"\x10AURA_PRESTATE_V1" + b"\x00" + dag_cbor.encode(value)).digest()
    assert hash_canonical(value, "AURA_PRESTATE_V1") == expected


def test_tagged_hash_framing() -> None:
    expected = blake3.blake3(
        b"\x0fAURA_OP_BINDING\x01"
        + (2).to_bytes(8, "big")
        + b"ab"
        + (0).to_bytes(8, "big")
        + (1).to_bytes(8, "big")
        + b"c"
    ).digest()
    assert tagged_hash("AURA_OP_BINDING", b"ab", b"", b"c") == expected


def test_hash_canonical_is_independent_of_dict_order() -> None:
    assert hash_canonical({"x": 1, "y": 2}, "T_V1") == hash_canonical({"y": 2, "x": 1}, "T_V1")


@settings(max_examples=50)
@given(
    st.text(min_size=1, max_size=10, alphabet=st.characters(min_codepoint=32, max_codepoint=126))
)
def test_domains_separate_hashes(suffix: str) -> None:
    value = {"n": 1}
    assert hash_canonical(value, "AURA_A") != hash_canonical(value, "AURA_A" + suffix)
    assert tagged_hash("AURA_A", b"x") != tagged_hash("AURA_A" + suffix, b"x")


def test_tag_boundary_cannot_shift() -> None:
    # Without the length prefix, tag "AB" + value bytes and tag "A" + "B" + value bytes would collide.
    assert tagged_hash("AB", b"c") != tagged_hash("A", b"Bc")
    assert hash_canonical(1, "AB") != tagged_hash("A", b"B\x00\x01")


def test_constructions_are_separated() -> None:
    value = [1, "two"]
    assert hash_canonical(value, "AURA_T") != tagged_hash("AURA_T", dag_cbor.encode(value))


def test_tagged_hash_parts_are_unambiguous() -> None:
    assert tagged_hash("T", b"ab", b"c") != tagged_hash("T", b"a", b"bc")
    assert tagged_hash("T") != tagged_hash("T", b"")
    assert tagged_hash("T", b"", b"") != tagged_hash("T", b"")
    assert tagged_hash("T", bytearray(b"a"), memoryview(b"b")) == tagged_hash("T", b"a", b"b")


@pytest.mark.parametrize(
    ("domain", "message"),
    [
        ("", "printable ASCII"),
        ("AURA\n", "printable ASCII"),
        ("AURA_É", "printable ASCII"),
        ("A" * 256, "1..255"),
        (b"AURA", "must be a str, got bytes"),
        (None, "must be a str, got NoneType"),
    ],
)
def test_bad_domain_tags_are_refused(domain: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        hash_canonical(1, domain)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=message):
        tagged_hash(domain, b"")  # type: ignore[arg-type]


def test_longest_domain_tag_is_accepted() -> None:
    assert len(hash_canonical(1, "A" * 255)) == HASH_SIZE


def test_hash_canonical_refuses_unencodable_values() -> None:
    with pytest.raises(InvalidInput, match="cannot encode a set"):
        hash_canonical({1, 2}, "AURA_T")


def test_tagged_hash_refuses_non_bytes_parts() -> None:
    with pytest.raises(InvalidInput, match="part 1 must be bytes, got str"):
        tagged_hash("AURA_T", b"a", "b")  # type: ignore[arg-type]


# --- kdf ----------------------------------------------------------------------


def test_kdf_is_blake3_derive_key() -> None:
    material = b"secret key material"
    assert kdf("AURA_TEST_V1", material) == blake3.blake3(
        material, derive_key_context="AURA_TEST_V1"
    ).digest(32)
    assert len(kdf("aura test v2", material, 64)) == 64
    assert kdf("AURA_TEST_V1", material) != kdf("AURA_TEST_V2", material)
    assert kdf("AURA_TEST_V1", material) != hash_bytes(material)


def test_kdf_lengths_are_xof_prefixes() -> None:
    """Documented: one (context, material) gives one stream; use contexts to separate keys."""
    assert kdf("AURA_TEST_V1", b"k", 64)[:16] == kdf("AURA_TEST_V1", b"k", 16)


@pytest.mark.parametrize("length", [0, -1, 65537, True, 1.5])
def test_kdf_refuses_bad_lengths(length: object) -> None:
    with pytest.raises(InvalidInput, match="key length"):
        kdf("AURA_TEST_V1", b"k", length)  # type: ignore[arg-type]


def test_kdf_length_bounds() -> None:
    assert len(kdf("AURA_TEST_V1", b"k", 1)) == 1
    assert len(kdf("AURA_TEST_V1", b"k", 65536)) == 65536


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ("AURA_TEST", "version token"),
        ("AURA_TESTV1", "version token"),
        ("AURA_TEST_V", "version token"),
        ("", "printable ASCII"),
        ("AURA_TÉST_V1", "printable ASCII"),
        (b"AURA_TEST_V1", "must be a str"),
    ],
)
def test_kdf_refuses_unversioned_or_odd_contexts(context: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        kdf(context, b"k")  # type: ignore[arg-type]


def test_kdf_refuses_empty_or_non_bytes_material() -> None:
    with pytest.raises(InvalidInput, match="key material is empty"):
        kdf("AURA_TEST_V1", b"")
    with pytest.raises(InvalidInput, match="key material must be bytes, got str"):
        kdf("AURA_TEST_V1", "k")  # type: ignore[arg-type]


# --- DKD ----------------------------------------------------------------------


def test_dkd_construction() -> None:
    material = b"".join(
        (
            (32).to_bytes(8, "big"),
            ROOT,
            (16).to_bytes(8, "big"),
            AUTHORITY,
            (16).to_bytes(8, "big"),
            CONTEXT_A,
            (3).to_bytes(8, "big"),
            (12).to_bytes(8, "big"),
            b"noise-static",
            (32).to_bytes(4, "big"),
        )
    )
    assert _dkd() == blake3.blake3(material, derive_key_context=DKD_CONTEXT).digest(32)
    assert DKD_CONTEXT == "AURA_DKD_V1"


def test_dkd_is_deterministic() -> None:
    assert _dkd() == _dkd()
    assert len(_dkd()) == 32
    assert len(_dkd(length=64)) == 64


@pytest.mark.parametrize(
    "change",
    [
        {"root_key": bytes(32)},
        {"authority": b"\xab" * 16},
        {"context": CONTEXT_B},
        {"epoch": 4},
        {"purpose": "psk"},
    ],
    ids=["root", "authority", "context", "epoch", "purpose"],
)
def test_every_input_changes_the_key(change: dict[str, object]) -> None:
    assert _dkd(**change) != _dkd()


def test_dkd_fields_cannot_shift_into_each_other() -> None:
    assert _dkd(authority=b"ab", context=b"c") != _dkd(authority=b"a", context=b"bc")
    assert _dkd(context=b"c", purpose="xy") != _dkd(context=b"cx", purpose="y")


def test_dkd_keys_of_different_lengths_are_unrelated() -> None:
    assert _dkd(length=64)[:32] != _dkd(length=32)
    assert _dkd(length=32)[:16] != _dkd(length=16)


@settings(max_examples=100)
@given(
    root=st.binary(min_size=32, max_size=64),
    other_root=st.binary(min_size=32, max_size=64),
    context_a=st.binary(min_size=1, max_size=32),
    context_b=st.binary(min_size=1, max_size=32),
)
def test_keys_of_two_contexts_are_unlinkable(
    root: bytes, other_root: bytes, context_a: bytes, context_b: bytes
) -> None:
    """Keys of two contexts of one device look independent.

    No shared bits beyond chance (Hamming distance near 128 of 256), and no
    fixed relation between them: if key(c) were root-independent-offset
    (say root XOR f(c)), key(a) XOR key(b) would be the same for every root and
    would link the two contexts to one device.
    """
    if context_a == context_b or root == other_root:
        return
    key_a = _dkd(root_key=root, context=context_a)
    key_b = _dkd(root_key=root, context=context_b)
    assert 64 <= _hamming(key_a, key_b) <= 192
    assert key_a not in root and key_b not in root
    relation = bytes(x ^ y for x, y in zip(key_a, key_b, strict=True))
    other_a = _dkd(root_key=other_root, context=context_a)
    other_b = _dkd(root_key=other_root, context=context_b)
    assert relation != bytes(x ^ y for x, y in zip(other_a, other_b, strict=True))
    assert 64 <= _hamming(key_a, other_a) <= 192


def test_context_keys_are_spread_uniformly() -> None:
    """Across many contexts each output bit is set about half the time (no fixed bits)."""
    keys = [_dkd(context=i.to_bytes(4, "big")) for i in range(512)]
    for bit in range(256):
        ones = sum((int.from_bytes(key, "big") >> bit) & 1 for key in keys)
        assert 176 <= ones <= 336  # mean 256, sd ~11.3: about 7 sd either side


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"root_key": bytes(31)}, "root key must be at least 32 bytes"),
        ({"root_key": "x" * 32}, "root key must be bytes"),
        ({"authority": b""}, "non-empty"),
        ({"context": b""}, "non-empty"),
        ({"context": "ctx"}, "context must be bytes"),
        ({"epoch": -1}, "epoch must be an int"),
        ({"epoch": 2**64}, "epoch must be an int"),
        ({"epoch": True}, "epoch must be an int"),
        ({"purpose": ""}, "purpose must be a non-empty printable ASCII"),
        ({"purpose": b"psk"}, "purpose must be"),
        ({"length": 0}, "key length"),
        ({"length": -32}, "key length"),
    ],
)
def test_dkd_refuses_bad_inputs(change: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        _dkd(**change)
