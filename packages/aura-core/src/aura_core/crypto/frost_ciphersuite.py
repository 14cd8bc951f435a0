"""The hash functions H1..H5 of the FROST(Ed25519, SHA-512) ciphersuite (RFC 9591 §6.1).

H2 carries no domain separator so that FROST signatures are plain RFC 8032
Ed25519 signatures. ``h_dkg`` is the DKG proof-of-knowledge challenge hash
(not part of RFC 9591; same construction as H1 with the tag ``dkg``).
"""

from __future__ import annotations

import hashlib

from aura_core.crypto.ed25519_group import ORDER

__all__ = ["CONTEXT_STRING", "h1", "h2", "h3", "h4", "h5", "h_dkg"]

CONTEXT_STRING = b"FROST-ED25519-SHA512-v1"

_sha512 = hashlib.sha512
_RHO = CONTEXT_STRING + b"rho"
_NONCE = CONTEXT_STRING + b"nonce"
_MSG = CONTEXT_STRING + b"msg"
_COM = CONTEXT_STRING + b"com"
_DKG = CONTEXT_STRING + b"dkg"


def _to_scalar(digest: bytes) -> int:
    return int.from_bytes(digest, "little") % ORDER


def h1(message: bytes) -> int:
    """Binding-factor hash: SHA-512(contextString || "rho" || m) mod L."""
    return _to_scalar(_sha512(_RHO + message).digest())


def h2(message: bytes) -> int:
    """Challenge hash: SHA-512(m) mod L (RFC 8032 compatible, no prefix)."""
    return _to_scalar(_sha512(message).digest())


def h3(message: bytes) -> int:
    """Nonce hash: SHA-512(contextString || "nonce" || m) mod L."""
    return _to_scalar(_sha512(_NONCE + message).digest())


def h4(message: bytes) -> bytes:
    """Message hash: SHA-512(contextString || "msg" || m)."""
    return _sha512(_MSG + message).digest()


def h5(message: bytes) -> bytes:
    """Commitment-list hash: SHA-512(contextString || "com" || m)."""
    return _sha512(_COM + message).digest()


def h_dkg(message: bytes) -> int:
    """DKG proof-of-knowledge challenge: SHA-512(contextString || "dkg" || m) mod L."""
    return _to_scalar(_sha512(_DKG + message).digest())
