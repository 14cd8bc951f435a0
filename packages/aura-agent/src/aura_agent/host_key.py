"""The key that unlocks an agent's key material at rest, from the host.

Every secret an agent stores (its device root key, its account key share) is
sealed by the storage layer under one 32-byte key that never touches disk.
A host either hands that key over directly (from an OS keychain or a hardware
token) or gives a passphrase, which is stretched with Argon2id (libsodium's
``crypto_pwhash``). The salt and cost parameters are not secret and live in
``key-derivation.json`` beside the database, so the same passphrase gives the
same key on the next start. A wrong passphrase yields a wrong key, which the
storage refuses at once ("key-check" record), before anything is read.
"""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import nacl.exceptions
import nacl.pwhash

from aura_core.effects import RandomEffects
from aura_core.errors import CryptoError, InvalidInput, StorageError

__all__ = ["KEY_BYTES", "HostSecret", "KeyDerivation"]

KEY_BYTES = 32
_ALGORITHM = "argon2id13"
_MIN_PASSPHRASE = 8


@attrs.frozen
class KeyDerivation:
    """Argon2id parameters and salt: public, stored next to the database."""

    salt: bytes
    opslimit: int = nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE
    memlimit: int = nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE

    def __attrs_post_init__(self) -> None:
        if type(self.salt) is not bytes or len(self.salt) != nacl.pwhash.argon2id.SALTBYTES:
            raise InvalidInput(
                f"key derivation salt must be {nacl.pwhash.argon2id.SALTBYTES} bytes"
            )
        argon = nacl.pwhash.argon2id
        if type(self.opslimit) is not int or not argon.OPSLIMIT_MIN <= self.opslimit <= 64:
            raise InvalidInput("key derivation opslimit is out of range")
        if type(self.memlimit) is not int or not argon.MEMLIMIT_MIN <= self.memlimit <= 2**32:
            raise InvalidInput("key derivation memlimit is out of range")

    def derive(self, passphrase: str) -> bytes:
        try:
            return nacl.pwhash.argon2id.kdf(
                KEY_BYTES,
                passphrase.encode("utf-8"),
                self.salt,
                opslimit=self.opslimit,
                memlimit=self.memlimit,
            )
        except nacl.exceptions.RuntimeError as exc:  # out of memory for memlimit
            raise CryptoError(f"passphrase stretching failed: {type(exc).__name__}") from None

    def to_json(self) -> str:
        return json.dumps(
            {
                "algorithm": _ALGORITHM,
                "salt": self.salt.hex(),
                "opslimit": self.opslimit,
                "memlimit": self.memlimit,
            },
            indent=2,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> KeyDerivation:
        try:
            fields = json.loads(text)
        except ValueError:
            raise StorageError("key-derivation.json is not valid JSON") from None
        if not isinstance(fields, dict) or set(fields) != {
            "algorithm",
            "salt",
            "opslimit",
            "memlimit",
        }:
            raise StorageError("key-derivation.json must have algorithm, salt, opslimit, memlimit")
        if fields["algorithm"] != _ALGORITHM:
            raise StorageError(
                f"key-derivation.json names an unknown algorithm {fields['algorithm']!r:.40}"
            )
        try:
            return cls(bytes.fromhex(fields["salt"]), fields["opslimit"], fields["memlimit"])
        except (TypeError, ValueError, InvalidInput) as exc:
            raise StorageError(f"key-derivation.json is malformed: {exc}") from None


@attrs.frozen(repr=False)
class HostSecret:
    """What the host supplies to unlock key material: a passphrase or a raw 32-byte key."""

    passphrase: str | None = None
    key: bytes | None = None

    def __attrs_post_init__(self) -> None:
        if (self.passphrase is None) == (self.key is None):
            raise InvalidInput("a host secret is either a passphrase or a 32-byte key")
        if self.passphrase is not None and (
            type(self.passphrase) is not str or len(self.passphrase) < _MIN_PASSPHRASE
        ):
            raise InvalidInput(f"a passphrase needs at least {_MIN_PASSPHRASE} characters")
        if self.key is not None and (type(self.key) is not bytes or len(self.key) != KEY_BYTES):
            raise InvalidInput(f"a host key must be {KEY_BYTES} bytes")

    @classmethod
    def from_passphrase(cls, passphrase: str) -> HostSecret:
        return cls(passphrase=passphrase)

    @classmethod
    def from_key(cls, key: bytes) -> HostSecret:
        return cls(key=key)

    def storage_key(self, parameters_path: Path, random: RandomEffects) -> bytes:
        """The storage key: the raw key, or the passphrase stretched with the stored parameters.

        The first start with a passphrase writes fresh parameters (random salt).
        """
        if self.key is not None:
            return self.key
        assert self.passphrase is not None
        if parameters_path.exists():
            derivation = KeyDerivation.from_json(parameters_path.read_text(encoding="utf-8"))
        else:
            derivation = KeyDerivation(random.random_bytes(nacl.pwhash.argon2id.SALTBYTES))
            temporary = parameters_path.with_suffix(".tmp")
            temporary.write_text(derivation.to_json(), encoding="utf-8")
            temporary.replace(parameters_path)
        return derivation.derive(self.passphrase)

    def __repr__(self) -> str:
        kind = "passphrase" if self.passphrase is not None else "key"
        return f"HostSecret(<{kind}>)"
