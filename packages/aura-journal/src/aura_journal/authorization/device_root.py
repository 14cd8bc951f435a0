"""A device's Biscuit root key: the key that signs the authority block of its tokens.

It is an Ed25519 key made from a 32-byte seed the caller supplies (from the
randomness effect or from DKD), so this pure layer never draws randomness of
its own. Its public half is what a :class:`Delegation` names; the secret
never appears in ``repr`` or messages.
"""

from __future__ import annotations

from typing import Self

import biscuit_auth

from aura_core.errors import InvalidInput

__all__ = ["DeviceRootKey"]


class DeviceRootKey:
    """Secret Ed25519 key for issuing Biscuit tokens on one device."""

    __slots__ = ("_keypair", "_public")

    def __init__(self, keypair: biscuit_auth.KeyPair) -> None:
        self._keypair = keypair
        self._public = bytes(keypair.public_key.to_bytes())

    @classmethod
    def from_seed(cls, seed: bytes) -> Self:
        """The key whose RFC 8032 seed is ``seed`` (32 bytes)."""
        if type(seed) is not bytes or len(seed) != 32:
            raise InvalidInput("a device root key seed must be 32 bytes")
        private = biscuit_auth.PrivateKey.from_bytes(seed, biscuit_auth.Algorithm.Ed25519)
        return cls(biscuit_auth.KeyPair.from_private_key(private))

    @property
    def public_key(self) -> bytes:
        """The 32-byte Ed25519 public key verifiers use as the token root."""
        return self._public

    @property
    def private_key(self) -> biscuit_auth.PrivateKey:
        """The Biscuit private key (for signing the authority block only)."""
        return self._keypair.private_key

    def __repr__(self) -> str:
        return f"DeviceRootKey(public={self._public.hex()[:16]}..., secret=<hidden>)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DeviceRootKey) and other._public == self._public

    def __hash__(self) -> int:
        return hash(self._public)
