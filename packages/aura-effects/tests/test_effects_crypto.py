"""Crypto handler: published vectors, round trips, and rejection of tampering."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aura_core.effects import CryptoEffects
from aura_core.errors import CryptoError, InvalidInput
from aura_effects import SEALED_OVERHEAD, SodiumCrypto, SystemRandom
from aura_effects.simulated import SeededRandom

crypto = SodiumCrypto(SystemRandom())
keys32 = st.binary(min_size=32, max_size=32)


def test_protocol() -> None:
    assert isinstance(crypto, CryptoEffects)


def test_ed25519_rfc8032_test_1() -> None:
    seed = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    public = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    signature = bytes.fromhex(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )
    assert crypto.ed25519_public_key(seed) == public
    assert crypto.ed25519_sign(seed, b"") == signature
    assert crypto.ed25519_verify(public, b"", signature)
    assert not crypto.ed25519_verify(public, b"x", signature)
    assert not crypto.ed25519_verify(public, b"", signature[:-1] + b"\x00")


def test_x25519_rfc7748_section_6_1() -> None:
    alice = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    bob_public = bytes.fromhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
    shared = bytes.fromhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
    assert crypto.x25519_public_key(alice) == bytes.fromhex(
        "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    )
    assert crypto.x25519_shared_secret(alice, bob_public) == shared


def test_x25519_low_order_point_is_rejected() -> None:
    with pytest.raises(CryptoError, match="low order"):
        crypto.x25519_shared_secret(b"\x01" * 32, bytes(32))


def test_blake3_hash_vector() -> None:
    # BLAKE3 of the empty input (from the BLAKE3 specification's test vectors)
    assert (
        crypto.hash(b"").hex() == "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
    )


@settings(max_examples=40)
@given(
    key=keys32,
    nonce=st.binary(min_size=24, max_size=24),
    data=st.binary(max_size=200),
    aad=st.binary(max_size=20),
)
def test_aead_round_trip_and_tamper(key, nonce, data, aad) -> None:
    sealed = crypto.aead_encrypt(key, nonce, data, aad)
    assert len(sealed) == len(data) + 16
    assert crypto.aead_decrypt(key, nonce, sealed, aad) == data
    flipped = bytes([sealed[0] ^ 1]) + sealed[1:]
    with pytest.raises(CryptoError):
        crypto.aead_decrypt(key, nonce, flipped, aad)
    with pytest.raises(CryptoError):
        crypto.aead_decrypt(key, nonce, sealed, aad + b"!")


@settings(max_examples=30)
@given(recipient=keys32, data=st.binary(max_size=300), aad=st.binary(max_size=10))
def test_sealed_box_round_trip_only_for_recipient(recipient, data, aad) -> None:
    public = crypto.x25519_public_key(recipient)
    sealed = crypto.seal(public, data, aad)
    assert len(sealed) == len(data) + SEALED_OVERHEAD
    assert crypto.unseal(recipient, sealed, aad) == data
    other = bytes([recipient[0] ^ 0x55]) + recipient[1:]
    with pytest.raises(CryptoError):
        crypto.unseal(other, sealed, aad)
    with pytest.raises(CryptoError):
        crypto.unseal(recipient, sealed[:-1] + bytes([sealed[-1] ^ 1]), aad)


def test_sealing_is_randomised_but_reproducible_from_a_seed() -> None:
    public = crypto.x25519_public_key(b"\x09" * 32)
    assert crypto.seal(public, b"m") != crypto.seal(public, b"m")
    a = SodiumCrypto(SeededRandom(5)).seal(public, b"m")
    b = SodiumCrypto(SeededRandom(5)).seal(public, b"m")
    assert a == b


@pytest.mark.parametrize(
    "call",
    [
        lambda: crypto.ed25519_public_key(b"short"),
        lambda: crypto.ed25519_sign(b"\x00" * 32, "text"),
        lambda: crypto.ed25519_verify(b"\x00" * 31, b"", b"\x00" * 64),
        lambda: crypto.aead_encrypt(b"\x00" * 32, b"\x00" * 12, b"", b""),
        lambda: crypto.seal(b"\x00" * 33, b""),
        lambda: crypto.hash("text"),
    ],
)
def test_malformed_inputs_are_invalid_input(call) -> None:
    with pytest.raises(InvalidInput):
        call()


@pytest.mark.parametrize("sealed", [b"", b"\x01" * 48, b"\x02" + b"\x00" * 60])
def test_malformed_sealed_boxes_are_crypto_errors(sealed) -> None:
    with pytest.raises(CryptoError):
        crypto.unseal(b"\x01" * 32, sealed)
