"""Encryption of key material at rest with a key the host provides.

Each record is XChaCha20-Poly1305 with a fresh random 24-byte nonce and the
record's name in the associated data, so a sealed value copied under another
name, or altered by one bit, fails to open. Layout:
``0x01 || nonce(24) || ciphertext || tag(16)``.
"""

from __future__ import annotations

import nacl.bindings as sodium
import nacl.exceptions

from aura_core.effects import AEAD_KEY_BYTES, AEAD_NONCE_BYTES, RandomEffects
from aura_core.errors import InvalidInput, StorageError

__all__ = ["RecordSealer"]

_VERSION = b"\x01"
_AAD_TAG = b"AURA_SECRET_RECORD_V1\x00"
_MIN_LEN = 1 + AEAD_NONCE_BYTES + 16


class RecordSealer:
    """Seals and opens named records under the host's storage key."""

    def __init__(self, key: bytes, random: RandomEffects) -> None:
        if type(key) is not bytes or len(key) != AEAD_KEY_BYTES:
            raise InvalidInput(f"storage secrets key must be {AEAD_KEY_BYTES} bytes")
        self._key = key
        self._random = random

    def __repr__(self) -> str:
        return "RecordSealer(<key>)"

    def seal(self, name: str, plaintext: bytes) -> bytes:
        nonce = self._random.random_bytes(AEAD_NONCE_BYTES)
        aad = _AAD_TAG + name.encode()
        body = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, aad, nonce, self._key)
        return _VERSION + nonce + body

    def open(self, name: str, sealed: bytes) -> bytes:
        if len(sealed) < _MIN_LEN or sealed[:1] != _VERSION:
            raise StorageError(f"secret record {name!r} is malformed (length {len(sealed)})")
        nonce, body = sealed[1 : 1 + AEAD_NONCE_BYTES], sealed[1 + AEAD_NONCE_BYTES :]
        try:
            return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
                body, _AAD_TAG + name.encode(), nonce, self._key
            )
        except nacl.exceptions.CryptoError:
            raise StorageError(
                f"secret record {name!r} failed authentication (tampered, moved, or wrong storage key)"
            ) from None
