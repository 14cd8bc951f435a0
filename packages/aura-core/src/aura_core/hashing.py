"""BLAKE3 hashing with domain separation, the KDF and deterministic key derivation.

Every hash over structured data names its purpose with a domain tag, so a
digest computed for one use can never be replayed as a digest for another.
Framing is unambiguous: the tag is length-prefixed and followed by a byte
naming the construction (canonical value vs. list of parts), and every part
is length-prefixed, so no two different inputs frame to the same bytes.

Keys come from BLAKE3's ``derive_key`` mode, whose context strings carry a
version (``..._V1``) so a change of derivation is a change of name. DKD binds
every input of a context-scoped key into the key material, so keys of two
contexts of one device share nothing an observer could link.
"""

from __future__ import annotations

import re

import blake3

from aura_core.dag_cbor import encode
from aura_core.errors import InvalidInput

__all__ = [
    "DKD_CONTEXT",
    "HASH_SIZE",
    "derive_context_key",
    "hash_bytes",
    "hash_canonical",
    "kdf",
    "tagged_hash",
]

HASH_SIZE = 32
"""Bytes in every digest this module returns."""

DKD_CONTEXT = "AURA_DKD_V1"
"""BLAKE3 derive_key context of :func:`derive_context_key`."""

_MAX_TAG_BYTES = 255
_MAX_KEY_LENGTH = 65536
_U64_LIMIT = 2**64
_CANONICAL_VALUE = b"\x00"  # construction byte: tag || 0x00 || DAG-CBOR(value)
_TAGGED_PARTS = b"\x01"  # construction byte: tag || 0x01 || (u64 length || part)*
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]+")
_VERSIONED = re.compile(r"(?:^|[^0-9A-Za-z])[vV][0-9]+$")

_tag_prefixes: dict[str, bytes] = {}
"""Domain tag -> its length-prefixed framing (tags are a small fixed set of constants)."""
_TAG_CACHE_LIMIT = 1024

_new_blake3 = blake3.blake3


def _tag_prefix(domain: str) -> bytes:
    if type(domain) is not str:
        raise InvalidInput(f"domain tag must be a str, got {type(domain).__name__}")
    prefix = _tag_prefixes.get(domain)
    if prefix is not None:
        return prefix
    if not _PRINTABLE_ASCII.fullmatch(domain) or len(domain) > _MAX_TAG_BYTES:
        raise InvalidInput(
            f"domain tag must be 1..{_MAX_TAG_BYTES} printable ASCII characters, got {domain!r:.80}"
        )
    raw = domain.encode("ascii")
    prefix = bytes((len(raw),)) + raw
    if len(_tag_prefixes) < _TAG_CACHE_LIMIT:
        _tag_prefixes[domain] = prefix
    return prefix


def _require_bytes(name: str, value: object) -> bytes:
    if type(value) is bytes:
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise InvalidInput(f"{name} must be bytes, got {type(value).__name__}")


def _require_length(length: object) -> int:
    if type(length) is not int:
        raise InvalidInput(f"key length must be an int, got {type(length).__name__}")
    if not 1 <= length <= _MAX_KEY_LENGTH:
        raise InvalidInput(f"key length must be 1..{_MAX_KEY_LENGTH} bytes, got {length}")
    return length


def hash_bytes(data: bytes) -> bytes:
    """BLAKE3-256 of raw bytes, with no domain tag (for content already self-describing)."""
    return _new_blake3(_require_bytes("data", data)).digest()


def hash_canonical(value: object, domain: str) -> bytes:
    """BLAKE3-256 of ``len(tag) || tag || 0x00 || DAG-CBOR(value)``.

    ``domain`` names the purpose, e.g. ``"AURA_PRESTATE_V1"``: 1..255 printable
    ASCII characters. Raises :class:`InvalidInput` if ``value`` cannot be encoded.
    """
    hasher = _new_blake3(_tag_prefix(domain))
    hasher.update(_CANONICAL_VALUE)
    hasher.update(encode(value))
    return hasher.digest()


def tagged_hash(domain: str, *parts: bytes) -> bytes:
    """BLAKE3-256 of ``len(tag) || tag || 0x01 || (u64be(len(part)) || part)*``.

    For hashes over a fixed sequence of byte strings (``H(tag || a || b)`` in
    the design notes) where a DAG-CBOR value would be overkill; the length
    prefixes make ``("ab", "c")`` and ``("a", "bc")`` hash differently.
    """
    hasher = _new_blake3(_tag_prefix(domain))
    hasher.update(_TAGGED_PARTS)
    for index, part in enumerate(parts):
        if type(part) is not bytes:
            part = _require_bytes(f"part {index}", part)
        hasher.update(len(part).to_bytes(8, "big"))
        hasher.update(part)
    return hasher.digest()


def kdf(context: str, key_material: bytes, length: int = 32) -> bytes:
    """BLAKE3 ``derive_key``: ``length`` bytes of key from ``key_material`` for ``context``.

    ``context`` must be a hard-coded, versioned, printable-ASCII string
    ending in a version token (``"AURA_NOISE_PSK_V1"``, ``"aura frost nonce v2"``).
    Outputs of different lengths for the same inputs are prefixes of one
    another (BLAKE3 XOF); callers wanting independent keys of several
    lengths should use distinct contexts. Empty key material is refused: it
    would yield a public constant.
    """
    if type(context) is not str:
        raise InvalidInput(f"KDF context must be a str, got {type(context).__name__}")
    if not _PRINTABLE_ASCII.fullmatch(context):
        raise InvalidInput(f"KDF context must be printable ASCII, got {context!r:.80}")
    if not _VERSIONED.search(context):
        raise InvalidInput(
            f"KDF context {context!r:.80} must end in a version token such as '_V1' or ' v1'"
        )
    material = _require_bytes("key material", key_material)
    if not material:
        raise InvalidInput("KDF key material is empty")
    length = _require_length(length)
    return _new_blake3(material, derive_key_context=context).digest(length)


def derive_context_key(
    root_key: bytes,
    *,
    authority: bytes,
    context: bytes,
    epoch: int,
    purpose: str,
    length: int = 32,
) -> bytes:
    """DKD: the key of one (authority, context, epoch, purpose) from a device root key.

    The key material is the length-prefixed concatenation of the root key,
    authority, context, epoch (u64), purpose and requested length, run
    through :func:`kdf` with :data:`DKD_CONTEXT`. Changing any input gives an
    unrelated key, so keys of different contexts cannot be linked, and a key
    reveals nothing about the root. ``root_key`` must hold at least 32 bytes.
    """
    root = _require_bytes("root key", root_key)
    if len(root) < 32:
        raise InvalidInput(f"root key must be at least 32 bytes, got {len(root)}")
    authority_raw = _require_bytes("authority", authority)
    context_raw = _require_bytes("context", context)
    if not authority_raw or not context_raw:
        raise InvalidInput("authority and context must be non-empty byte strings")
    if type(epoch) is not int or not 0 <= epoch < _U64_LIMIT:
        raise InvalidInput(f"epoch must be an int in 0..2**64-1, got {epoch!r:.40}")
    if type(purpose) is not str or not _PRINTABLE_ASCII.fullmatch(purpose):
        raise InvalidInput(f"purpose must be a non-empty printable ASCII str, got {purpose!r:.80}")
    length = _require_length(length)
    purpose_raw = purpose.encode("ascii")
    material = b"".join(
        (
            len(root).to_bytes(8, "big"),
            root,
            len(authority_raw).to_bytes(8, "big"),
            authority_raw,
            len(context_raw).to_bytes(8, "big"),
            context_raw,
            epoch.to_bytes(8, "big"),
            len(purpose_raw).to_bytes(8, "big"),
            purpose_raw,
            length.to_bytes(4, "big"),
        )
    )
    return kdf(DKD_CONTEXT, material, length)
