"""Crypto handler on libsodium (pynacl): Ed25519, X25519, XChaCha20-Poly1305, sealed boxes.

Sealed boxes are built here from X25519 + XChaCha20-Poly1305 instead of
libsodium's ``crypto_box_seal`` so the ephemeral key comes from the injected
:class:`~aura_core.effects.RandomEffects`: the same code is then exact under
simulation. Format: ``0x01 || ephemeral_public(32) || ciphertext || tag(16)``;
key and nonce are BLAKE3-derived from the ephemeral key, the recipient key
and the shared secret, so no nonce ever repeats under one key.
"""

from __future__ import annotations

import blake3
import nacl.bindings as sodium
import nacl.exceptions

from aura_core.effects import AEAD_KEY_BYTES, AEAD_NONCE_BYTES, RandomEffects
from aura_core.errors import CryptoError, InvalidInput

__all__ = ["SEALED_OVERHEAD", "SodiumCrypto"]

_SEAL_VERSION = b"\x01"
_SEAL_KDF_CONTEXT = "AURA_SEALED_BOX_V1 key+nonce"
_TAG_BYTES = 16
SEALED_OVERHEAD = 1 + 32 + _TAG_BYTES
"""How many bytes :meth:`SodiumCrypto.seal` adds to a plaintext."""


def _check_bytes(name: str, value: object, length: int | None = None) -> bytes:
    if not isinstance(value, bytes):
        raise InvalidInput(f"{name} must be bytes, got {type(value).__name__}")
    if length is not None and len(value) != length:
        raise InvalidInput(f"{name} must be {length} bytes, got {len(value)}")
    return value


class SodiumCrypto:
    """:class:`~aura_core.effects.CryptoEffects` on libsodium."""

    def __init__(self, random: RandomEffects) -> None:
        self._random = random

    def hash(self, data: bytes) -> bytes:
        return blake3.blake3(_check_bytes("data", data)).digest()

    # Ed25519 --------------------------------------------------------------
    def ed25519_public_key(self, seed: bytes) -> bytes:
        public, _secret = sodium.crypto_sign_seed_keypair(_check_bytes("seed", seed, 32))
        return public

    def ed25519_sign(self, seed: bytes, message: bytes) -> bytes:
        _check_bytes("message", message)
        _public, secret = sodium.crypto_sign_seed_keypair(_check_bytes("seed", seed, 32))
        return sodium.crypto_sign(message, secret)[: sodium.crypto_sign_BYTES]

    def ed25519_verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        _check_bytes("public_key", public_key, 32)
        _check_bytes("signature", signature, 64)
        _check_bytes("message", message)
        try:
            sodium.crypto_sign_open(signature + message, public_key)
        except (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError, ValueError):
            return False
        return True

    # X25519 ---------------------------------------------------------------
    def x25519_public_key(self, private_key: bytes) -> bytes:
        return sodium.crypto_scalarmult_base(_check_bytes("private_key", private_key, 32))

    def x25519_shared_secret(self, private_key: bytes, public_key: bytes) -> bytes:
        _check_bytes("private_key", private_key, 32)
        _check_bytes("public_key", public_key, 32)
        try:
            return sodium.crypto_scalarmult(private_key, public_key)
        except nacl.exceptions.RuntimeError:
            raise CryptoError(
                "X25519 public key has low order (shared secret would be zero)"
            ) from None

    # AEAD -----------------------------------------------------------------
    def aead_encrypt(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes = b"") -> bytes:
        _check_bytes("key", key, AEAD_KEY_BYTES)
        _check_bytes("nonce", nonce, AEAD_NONCE_BYTES)
        _check_bytes("plaintext", plaintext)
        _check_bytes("aad", aad)
        return sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, aad, nonce, key)

    def aead_decrypt(self, key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes = b"") -> bytes:
        _check_bytes("key", key, AEAD_KEY_BYTES)
        _check_bytes("nonce", nonce, AEAD_NONCE_BYTES)
        _check_bytes("ciphertext", ciphertext)
        _check_bytes("aad", aad)
        if len(ciphertext) < _TAG_BYTES:
            raise CryptoError(f"AEAD ciphertext is {len(ciphertext)} bytes, shorter than its tag")
        try:
            return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, aad, nonce, key)
        except nacl.exceptions.CryptoError:
            raise CryptoError(
                "AEAD authentication failed (wrong key, nonce, aad or tampered ciphertext)"
            ) from None

    # Sealed boxes ---------------------------------------------------------
    @staticmethod
    def _seal_key(
        ephemeral_public: bytes, recipient_public: bytes, shared: bytes
    ) -> tuple[bytes, bytes]:
        material = blake3.blake3(
            ephemeral_public + recipient_public + shared, derive_key_context=_SEAL_KDF_CONTEXT
        ).digest(length=AEAD_KEY_BYTES + AEAD_NONCE_BYTES)
        return material[:AEAD_KEY_BYTES], material[AEAD_KEY_BYTES:]

    def seal(self, recipient_public_key: bytes, plaintext: bytes, aad: bytes = b"") -> bytes:
        _check_bytes("recipient_public_key", recipient_public_key, 32)
        _check_bytes("plaintext", plaintext)
        _check_bytes("aad", aad)
        ephemeral = self._random.random_bytes(32)
        ephemeral_public = sodium.crypto_scalarmult_base(ephemeral)
        shared = self.x25519_shared_secret(ephemeral, recipient_public_key)
        key, nonce = self._seal_key(ephemeral_public, recipient_public_key, shared)
        body = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, aad, nonce, key)
        return _SEAL_VERSION + ephemeral_public + body

    def unseal(self, recipient_private_key: bytes, sealed: bytes, aad: bytes = b"") -> bytes:
        _check_bytes("recipient_private_key", recipient_private_key, 32)
        _check_bytes("sealed", sealed)
        _check_bytes("aad", aad)
        if len(sealed) < SEALED_OVERHEAD:
            raise CryptoError(
                f"sealed box is {len(sealed)} bytes, shorter than its {SEALED_OVERHEAD}-byte overhead"
            )
        if sealed[:1] != _SEAL_VERSION:
            raise CryptoError(f"sealed box has unknown version byte 0x{sealed[0]:02x}")
        ephemeral_public = sealed[1:33]
        recipient_public = sodium.crypto_scalarmult_base(recipient_private_key)
        shared = self.x25519_shared_secret(recipient_private_key, ephemeral_public)
        key, nonce = self._seal_key(ephemeral_public, recipient_public, shared)
        try:
            return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(sealed[33:], aad, nonce, key)
        except nacl.exceptions.CryptoError:
            raise CryptoError(
                "sealed box failed authentication (wrong recipient, aad or tampered)"
            ) from None
