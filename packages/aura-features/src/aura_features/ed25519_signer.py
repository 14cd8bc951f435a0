"""Who signs a feature's facts and messages: an Ed25519 key and how many devices stand behind it.

Features sign with an authority's key without caring how the signature is
made. A 1-of-1 authority (or a per-context key derived by DKD) signs with a
plain Ed25519 key (:class:`KeySigner`); a threshold authority wraps a FROST
signing session in any object with the same two members, since a FROST group
signature is an ordinary Ed25519 signature under the group key.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError
from nacl.exceptions import CryptoError as NaclCryptoError
from nacl.signing import SigningKey

from aura_core.errors import InvalidInput
from aura_journal.facts import Fact
from aura_journal.namespace import JournalNamespace

__all__ = ["Ed25519Signer", "KeySigner", "attest_fact", "ed25519_valid"]


@runtime_checkable
class Ed25519Signer(Protocol):
    """An Ed25519 public key and a way to sign under it."""

    @property
    def public_key(self) -> bytes:
        """The 32-byte Ed25519 verifying key."""
        ...

    @property
    def signer_count(self) -> int:
        """How many devices took part in each signature (1 for a plain key)."""
        ...

    def sign(self, message: bytes) -> bytes:
        """A 64-byte Ed25519 signature over ``message``."""
        ...


class KeySigner:
    """:class:`Ed25519Signer` over one Ed25519 seed (1-of-1 authorities, per-context keys)."""

    __slots__ = ("_key", "_public")

    def __init__(self, seed_or_key: bytes | SigningKey) -> None:
        if isinstance(seed_or_key, SigningKey):
            self._key = seed_or_key
        elif type(seed_or_key) is bytes and len(seed_or_key) == 32:
            self._key = SigningKey(seed_or_key)
        else:
            raise InvalidInput("KeySigner needs a 32-byte Ed25519 seed or a nacl SigningKey")
        self._public = bytes(self._key.verify_key)

    @property
    def public_key(self) -> bytes:
        return self._public

    @property
    def signer_count(self) -> int:
        return 1

    def sign(self, message: bytes) -> bytes:
        if not isinstance(message, bytes):
            raise InvalidInput(f"message must be bytes, got {type(message).__name__}")
        return self._key.sign(message).signature

    def __repr__(self) -> str:
        return f"KeySigner(public={self._public.hex()[:16]}…)"


def attest_fact(fact: Fact, namespace: JournalNamespace, signer: Ed25519Signer) -> Fact:
    """``fact`` with a threshold attestation by ``signer`` (the authority's key) in ``namespace``."""
    if not isinstance(signer, Ed25519Signer):
        raise InvalidInput(f"expected an Ed25519Signer, got {type(signer).__name__}")
    message = fact.threshold_message(namespace, signer.public_key, signer.signer_count)
    return fact.with_threshold_signature(
        signer.public_key, signer.sign(message), signer.signer_count
    )


def ed25519_valid(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Strict libsodium verification; malformed keys or signatures are simply invalid."""
    if type(signature) is not bytes or len(signature) != 64:
        return False
    if type(public_key) is not bytes or len(public_key) != 32:
        return False
    try:
        crypto_sign_open(signature + message, public_key)
    except (BadSignatureError, NaclCryptoError, ValueError, TypeError):
        return False
    return True
