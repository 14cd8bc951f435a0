"""Plain Ed25519 (RFC 8032): verification, and signing for 1-of-1 keys.

A FROST group signature *is* an Ed25519 signature, so one verifier serves
both. A key with a threshold of one signs here, with the same
:class:`~aura_core.crypto.keys.KeyPackage` API, instead of running FROST.
"""

from __future__ import annotations

import hashlib

import nacl.bindings as _sodium
import nacl.exceptions as _nacl_exc

from aura_core.crypto import ed25519_group as group
from aura_core.crypto.ed25519_group import ORDER
from aura_core.crypto.frost_ciphersuite import CONTEXT_STRING, h2
from aura_core.crypto.keys import KeyPackage
from aura_core.errors import InvalidEncoding, InvalidInput

__all__ = [
    "SIGNATURE_SIZE",
    "expand_seed",
    "sign_expanded",
    "sign_single",
    "verify_signature",
]

SIGNATURE_SIZE = 64
_SINGLE_SIGNER_PREFIX_TAG = CONTEXT_STRING + b"single-signer-prefix"


def verify_signature(verifying_key: bytes, message: bytes, signature: bytes) -> bool:
    """Strict Ed25519 verification of ``signature`` over ``message``.

    Accepts only: a 64-byte signature whose ``z`` is canonical (< L) and whose
    ``R`` and the key are canonical, non-identity, prime-order points; and
    ``z·B == R + c·PK``. With both points of prime order this equation and
    RFC 9591's cofactored ``[8]z·B == [8]R + [8]c·PK`` agree, so every FROST
    signature verifies and no torsion-based malleability is accepted.
    Malformed inputs return False.
    """
    if not isinstance(signature, bytes | bytearray) or len(signature) != SIGNATURE_SIZE:
        return False
    if not isinstance(message, bytes | bytearray):
        raise InvalidInput(f"message must be bytes, got {type(message).__name__}")
    sig = bytes(signature)
    if int.from_bytes(sig[32:], "little") >= ORDER:
        return False
    try:
        group.deserialize_element(sig[:32], name="signature R")
        key = group.deserialize_element(verifying_key, name="verifying key")
    except InvalidEncoding:
        return False
    try:
        _sodium.crypto_sign_open(sig + bytes(message), bytes(key))
    except _nacl_exc.BadSignatureError:
        return False
    return True


def expand_seed(seed: bytes) -> tuple[int, bytes]:
    """RFC 8032 §5.1.5: the secret scalar (reduced mod L) and nonce prefix of a seed."""
    if not isinstance(seed, bytes) or len(seed) != 32:
        raise InvalidInput("Ed25519 seed must be 32 bytes")
    digest = bytearray(hashlib.sha512(seed).digest())
    digest[0] &= 248
    digest[31] &= 127
    digest[31] |= 64
    return int.from_bytes(digest[:32], "little") % ORDER, bytes(digest[32:])


def sign_expanded(scalar: int, prefix: bytes, message: bytes) -> bytes:
    """RFC 8032 §5.1.6 signing with an expanded key (secret scalar + 32-byte prefix).

    Deterministic: r = SHA-512(prefix || M) mod L, R = r·B,
    S = r + SHA-512(R || A || M)·s mod L.
    """
    if not 0 < scalar < ORDER:
        raise InvalidInput("secret scalar must be in [1, L)")
    if len(prefix) != 32:
        raise InvalidInput("nonce prefix must be 32 bytes")
    public = group.base_mult(scalar)
    r = int.from_bytes(hashlib.sha512(prefix + message).digest(), "little") % ORDER
    if r == 0:  # pragma: no cover - probability 2^-252
        raise InvalidInput("degenerate nonce; cannot sign this message with this key")
    big_r = group.base_mult(r)
    challenge = h2(big_r + public + message)
    s = (r + challenge * scalar) % ORDER
    return big_r + s.to_bytes(32, "little")


def sign_single(key_package: KeyPackage, message: bytes) -> bytes:
    """Sign with a 1-of-1 key package: a plain, deterministic RFC 8032 signature.

    The nonce prefix is derived from the secret scalar with a domain-separated
    SHA-512 (a key package holds the scalar, not an RFC 8032 seed); the
    signature equation and encoding are exactly RFC 8032's.
    """
    if not isinstance(key_package, KeyPackage):
        raise InvalidInput(f"expected a KeyPackage, got {type(key_package).__name__}")
    if not key_package.is_single_signer:
        raise InvalidInput(
            f"key package has threshold {key_package.min_signers}: "
            "threshold keys sign with FROST (commit / sign / aggregate)"
        )
    if not isinstance(message, bytes):
        raise InvalidInput(f"message must be bytes, got {type(message).__name__}")
    secret = key_package.signing_share
    prefix = hashlib.sha512(_SINGLE_SIGNER_PREFIX_TAG + secret.to_bytes(32, "little")).digest()[:32]
    return sign_expanded(secret, prefix, message)
