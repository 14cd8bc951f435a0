"""Identifiers with stable printed forms.

Authority, context, device and session ids are UUIDs printed with a prefix
(``authority-<uuid>``) and parsed with or without it. Derived ids take the
first 16 bytes of a domain-separated BLAKE3 digest, so the same inputs give
the same id on every replica. Channel, home and neighborhood ids are 32-byte
hashes printed ``channel:<hex>``. Parse errors name the bad input.
"""

from __future__ import annotations

import uuid
from typing import ClassVar, Protocol, Self

import attrs
import blake3

from aura_core.errors import InvalidIdentifier

__all__ = [
    "AuthorityId",
    "ChannelId",
    "ContextId",
    "DeviceId",
    "Epoch",
    "Hash32",
    "HomeId",
    "NeighborhoodId",
    "SessionId",
]

_U64_MAX = 2**64 - 1


class _RandomBytes(Protocol):
    def random_bytes(self, n: int) -> bytes: ...


def _shorten(text: object, limit: int = 80) -> str:
    shown = repr(text)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def _derive(domain: str, parts: tuple[bytes, ...]) -> bytes:
    hasher = blake3.blake3()
    encoded_domain = domain.encode()
    hasher.update(len(encoded_domain).to_bytes(4, "big") + encoded_domain)
    for part in parts:
        hasher.update(len(part).to_bytes(8, "big") + part)
    return hasher.digest()


@attrs.frozen(order=True, repr=False)
class _UuidId:
    """A 16-byte UUID identifier with a printed prefix."""

    prefix: ClassVar[str] = ""
    raw: bytes = attrs.field()

    @raw.validator
    def _check_raw(self, _attribute: attrs.Attribute, value: bytes) -> None:
        if type(value) is not bytes or len(value) != 16:
            raise InvalidIdentifier(
                f"{type(self).__name__} needs exactly 16 bytes, got {_shorten(value)}"
            )

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse ``<prefix>-<uuid>`` or a bare UUID string."""
        if not isinstance(text, str):
            raise InvalidIdentifier(
                f"{cls.__name__} must be parsed from a string, got {_shorten(text)}"
            )
        body = text.strip()
        marker = cls.prefix + "-"
        if body.startswith(marker):
            body = body[len(marker) :]
        elif "-" in body and not _looks_like_uuid(body):
            raise InvalidIdentifier(
                f"{cls.__name__}: expected '{marker}<uuid>' or a bare UUID, got {_shorten(text)}"
            )
        try:
            parsed = uuid.UUID(body)
        except ValueError:
            raise InvalidIdentifier(
                f"{cls.__name__}: {_shorten(text)} is not a UUID (expected '{marker}<uuid>')"
            ) from None
        return cls(parsed.bytes)

    @classmethod
    def from_uuid(cls, value: uuid.UUID) -> Self:
        return cls(value.bytes)

    @classmethod
    def derive(cls, domain: str, *parts: bytes) -> Self:
        """Deterministic id: first 16 bytes of BLAKE3 over a domain tag and length-framed parts."""
        return cls(_derive(f"AURA_ID_V1:{cls.prefix}:{domain}", parts)[:16])

    @classmethod
    def generate(cls, rng: _RandomBytes) -> Self:
        """A random (version 4) UUID drawn from the injected randomness source."""
        return cls(uuid.UUID(bytes=rng.random_bytes(16), version=4).bytes)

    @property
    def uuid(self) -> uuid.UUID:
        return uuid.UUID(bytes=self.raw)

    def __str__(self) -> str:
        return f"{self.prefix}-{self.uuid}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}('{self}')"


def _looks_like_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


class AuthorityId(_UuidId):
    """An opaque cryptographic actor (an account or a group). Reveals nothing about devices."""

    prefix: ClassVar[str] = "authority"


class ContextId(_UuidId):
    """A relational context: a shared journal namespace between authorities."""

    prefix: ClassVar[str] = "context"


class DeviceId(_UuidId):
    """One device holding a key share of an authority."""

    prefix: ClassVar[str] = "device"


class SessionId(_UuidId):
    """One run of a multi-party protocol."""

    prefix: ClassVar[str] = "session"


@attrs.frozen(order=True, repr=False)
class Hash32:
    """A 32-byte digest (BLAKE3-256 unless stated otherwise), printed as lowercase hex."""

    prefix: ClassVar[str] = ""
    raw: bytes = attrs.field()

    @raw.validator
    def _check_raw(self, _attribute: attrs.Attribute, value: bytes) -> None:
        if type(value) is not bytes or len(value) != 32:
            raise InvalidIdentifier(
                f"{type(self).__name__} needs exactly 32 bytes, got {_shorten(value)}"
            )

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse 64 hex digits, with or without the type's ``<prefix>:``."""
        if not isinstance(text, str):
            raise InvalidIdentifier(
                f"{cls.__name__} must be parsed from a string, got {_shorten(text)}"
            )
        body = text.strip()
        if cls.prefix and body.startswith(cls.prefix + ":"):
            body = body[len(cls.prefix) + 1 :]
        if len(body) != 64:
            raise InvalidIdentifier(
                f"{cls.__name__}: expected 64 hex digits, got {len(body)} characters in {_shorten(text)}"
            )
        try:
            return cls(bytes.fromhex(body))
        except ValueError:
            raise InvalidIdentifier(
                f"{cls.__name__}: {_shorten(text)} is not hexadecimal"
            ) from None

    @classmethod
    def derive(cls, domain: str, *parts: bytes) -> Self:
        """BLAKE3-256 over a domain tag and length-framed parts."""
        tag = f"AURA_ID_V1:{cls.prefix or 'hash'}:{domain}"
        return cls(_derive(tag, parts))

    @classmethod
    def zero(cls) -> Self:
        return cls(bytes(32))

    def hex(self) -> str:
        return self.raw.hex()

    def __str__(self) -> str:
        return f"{self.prefix}:{self.raw.hex()}" if self.prefix else self.raw.hex()

    def __repr__(self) -> str:
        return f"{type(self).__name__}('{self}')"


class ChannelId(Hash32):
    """A chat or AMP channel inside a context."""

    prefix: ClassVar[str] = "channel"


class HomeId(Hash32):
    """A home: a small social group that shares storage and relays."""

    prefix: ClassVar[str] = "home"


class NeighborhoodId(Hash32):
    """A neighborhood: homes linked one hop apart."""

    prefix: ClassVar[str] = "neighborhood"


@attrs.frozen(order=True)
class Epoch:
    """A monotone counter (u64) for key, budget and tree generations."""

    value: int = attrs.field()

    @value.validator
    def _check_value(self, _attribute: attrs.Attribute, value: int) -> None:
        if type(value) is not int or not 0 <= value <= _U64_MAX:
            raise InvalidIdentifier(
                f"Epoch must be an integer in 0..2**64-1, got {_shorten(value)}"
            )

    @classmethod
    def parse(cls, text: str) -> Self:
        body = text.strip() if isinstance(text, str) else text
        if isinstance(body, str) and body.startswith("epoch-"):
            body = body[len("epoch-") :]
        if not isinstance(body, str) or not body.isdigit() or not body.isascii():
            raise InvalidIdentifier(f"Epoch: {_shorten(text)} is not a non-negative integer")
        return cls(int(body))

    def next(self) -> Epoch:
        if self.value == _U64_MAX:
            raise InvalidIdentifier("Epoch overflow: already at 2**64-1")
        return Epoch(self.value + 1)

    def __str__(self) -> str:
        return f"epoch-{self.value}"

    def __int__(self) -> int:
        return self.value
