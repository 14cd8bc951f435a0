"""AMP frames on the wire: sealed data frames and authenticated acknowledgements.

A data frame is a header and an XChaCha20-Poly1305 ciphertext. The header
(context, channel, epoch, sender, generation, and the link to the sender's
previous epoch that ordering needs) travels in clear, because the receiver
needs it to find the key, and is the AEAD's associated data, so changing any
of it makes the frame fail to open.

An acknowledgement tells a sender which generations of one epoch arrived:
every one below ``received_below`` plus the listed ones. It carries no
secret, only a MAC under the epoch's ack key, so nobody outside the channel
can forge one and make a sender stop retrying.

Both are canonical DAG-CBOR maps; :func:`decode_frame` checks the size first
and every field after, raising :class:`~aura_core.errors.InvalidEncoding`.
"""

from __future__ import annotations

import hmac
from typing import Any

import attrs
import blake3
from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
)
from nacl.exceptions import CryptoError as NaclCryptoError

from aura_core.dag_cbor import decode, encode
from aura_core.errors import CryptoError, InvalidEncoding, InvalidInput
from aura_core.identifiers import ChannelId, ContextId
from aura_protocol.amp.key_schedule import KEY_SIZE, MessageKey
from aura_protocol.amp.ratchet import MAX_GENERATION

__all__ = [
    "MAC_SIZE",
    "MAX_FRAME_BYTES",
    "MAX_MEMBER_ID_BYTES",
    "MAX_PLAINTEXT_BYTES",
    "MAX_SELECTIVE_ACKS",
    "AckFrame",
    "AmpHeader",
    "DataFrame",
    "Frame",
    "ack_mac",
    "decode_frame",
    "encode_frame",
    "make_ack",
    "open_frame",
    "seal_frame",
    "verify_ack",
]

MAX_PLAINTEXT_BYTES = 1 << 20
MAX_MEMBER_ID_BYTES = 64
MAX_SELECTIVE_ACKS = 256
MAC_SIZE = 32
TAG_SIZE = 16
MAX_FRAME_BYTES = MAX_PLAINTEXT_BYTES + TAG_SIZE + 1024
"""Hard cap on an encoded frame, checked before decoding."""

_U64_MAX = 2**64 - 1
_VERSION = 1
_HEADER_DOMAIN = b"\x12AURA_AMP_HEADER_V1"
_ACK_DOMAIN = b"\x0fAURA_AMP_ACK_V1"


def _member(value: object, what: str) -> bytes:
    if type(value) is not bytes or not 0 < len(value) <= MAX_MEMBER_ID_BYTES:
        raise InvalidInput(f"{what} must be 1..{MAX_MEMBER_ID_BYTES} bytes")
    return value


def _u64(value: object, what: str, maximum: int = _U64_MAX) -> int:
    if type(value) is not int or not 0 <= value <= maximum:
        raise InvalidInput(f"{what} must be an int in 0..{maximum}")
    return value


@attrs.frozen
class AmpHeader:
    """Everything a receiver needs to find the key; authenticated, not encrypted."""

    context: ContextId
    channel: ChannelId
    epoch: int
    sender: bytes
    generation: int
    prev_epoch: int | None
    """The last earlier epoch in which this sender sent on the channel (``None``: never)."""
    prev_count: int
    """How many messages the sender sent in ``prev_epoch`` (0 when there is none)."""
    _encoded: bytes | None = attrs.field(default=None, init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.context, ContextId) or not isinstance(self.channel, ChannelId):
            raise InvalidInput("an AMP header needs a ContextId and a ChannelId")
        _u64(self.epoch, "epoch")
        _member(self.sender, "sender")
        _u64(self.generation, "generation", MAX_GENERATION)
        if self.prev_epoch is None:
            if self.prev_count != 0:
                raise InvalidInput("prev_count must be 0 when there is no previous epoch")
        else:
            _u64(self.prev_epoch, "prev_epoch")
            if self.prev_epoch >= self.epoch:
                raise InvalidInput("prev_epoch must be earlier than epoch")
            _u64(self.prev_count, "prev_count", MAX_GENERATION + 1)
            if self.prev_count == 0:
                raise InvalidInput("prev_count must be positive when prev_epoch is set")

    def to_canonical(self) -> dict[str, Any]:
        return {
            "ctx": self.context.raw,
            "ch": self.channel.raw,
            "ep": self.epoch,
            "snd": self.sender,
            "gen": self.generation,
            "pe": self.prev_epoch,
            "pc": self.prev_count,
        }

    def encode(self) -> bytes:
        """Canonical DAG-CBOR of the header (computed once)."""
        encoded = self._encoded
        if encoded is None:
            encoded = encode(self.to_canonical())
            object.__setattr__(self, "_encoded", encoded)
        return encoded

    def associated_data(self) -> bytes:
        return _HEADER_DOMAIN + self.encode()


@attrs.frozen
class DataFrame:
    header: AmpHeader
    ciphertext: bytes = attrs.field(repr=lambda c: f"<{len(c)} bytes>")


@attrs.frozen
class AckFrame:
    """``acker`` received, from ``sender`` in ``epoch``, every generation below
    ``received_below`` and those in ``received_also``."""

    context: ContextId
    channel: ChannelId
    epoch: int
    acker: bytes
    sender: bytes
    received_below: int
    received_also: tuple[int, ...]
    mac: bytes = attrs.field(repr=False)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.context, ContextId) or not isinstance(self.channel, ChannelId):
            raise InvalidInput("an ack needs a ContextId and a ChannelId")
        _u64(self.epoch, "epoch")
        _member(self.acker, "acker")
        _member(self.sender, "sender")
        _u64(self.received_below, "received_below", MAX_GENERATION + 1)
        if type(self.received_also) is not tuple or len(self.received_also) > MAX_SELECTIVE_ACKS:
            raise InvalidInput(f"received_also must be a tuple of at most {MAX_SELECTIVE_ACKS}")
        previous = self.received_below
        for generation in self.received_also:
            _u64(generation, "acknowledged generation", MAX_GENERATION)
            if generation <= previous:
                raise InvalidInput("received_also must ascend strictly, above received_below")
            previous = generation
        if type(self.mac) is not bytes or len(self.mac) != MAC_SIZE:
            raise InvalidInput(f"an ack MAC is {MAC_SIZE} bytes")

    def body(self) -> dict[str, Any]:
        return {
            "ctx": self.context.raw,
            "ch": self.channel.raw,
            "ep": self.epoch,
            "from": self.acker,
            "to": self.sender,
            "below": self.received_below,
            "also": list(self.received_also),
        }


Frame = DataFrame | AckFrame


# --------------------------------------------------------------------------- crypto


def seal_frame(header: AmpHeader, plaintext: bytes, key: MessageKey) -> DataFrame:
    """Encrypt ``plaintext`` under ``key`` with ``header`` as associated data."""
    if not isinstance(plaintext, bytes | bytearray | memoryview):
        raise InvalidInput(f"plaintext must be bytes, got {type(plaintext).__name__}")
    if len(plaintext) > MAX_PLAINTEXT_BYTES:
        raise InvalidInput(f"plaintext is {len(plaintext)} bytes, more than {MAX_PLAINTEXT_BYTES}")
    ciphertext = crypto_aead_xchacha20poly1305_ietf_encrypt(
        bytes(plaintext), header.associated_data(), key.nonce, key.key
    )
    return DataFrame(header, ciphertext)


def open_frame(frame: DataFrame, key: MessageKey) -> bytes:
    """Decrypt and authenticate; a changed header or ciphertext raises :class:`CryptoError`."""
    try:
        return crypto_aead_xchacha20poly1305_ietf_decrypt(
            frame.ciphertext, frame.header.associated_data(), key.nonce, key.key
        )
    except NaclCryptoError:
        raise CryptoError(
            f"AMP frame (epoch {frame.header.epoch}, generation {frame.header.generation}) "
            "failed authentication"
        ) from None


def ack_mac(key: bytes, body: dict[str, Any]) -> bytes:
    """MAC of an ack body under the epoch's ack key (keyed BLAKE3)."""
    if type(key) is not bytes or len(key) != KEY_SIZE:
        raise InvalidInput(f"an ack key is {KEY_SIZE} bytes")
    return blake3.blake3(_ACK_DOMAIN + encode(body), key=key).digest()


def make_ack(
    key: bytes,
    context: ContextId,
    channel: ChannelId,
    epoch: int,
    acker: bytes,
    sender: bytes,
    received_below: int,
    received_also: tuple[int, ...],
) -> AckFrame:
    """An acknowledgement MAC'd under the epoch's ack key."""
    unsigned = AckFrame(
        context, channel, epoch, acker, sender, received_below, received_also, bytes(MAC_SIZE)
    )
    return attrs.evolve(unsigned, mac=ack_mac(key, unsigned.body()))


def verify_ack(frame: AckFrame, key: bytes) -> None:
    """Raise :class:`CryptoError` unless the ack's MAC is right."""
    if not hmac.compare_digest(ack_mac(key, frame.body()), frame.mac):
        raise CryptoError(f"AMP ack for epoch {frame.epoch} failed authentication")


# --------------------------------------------------------------------------- wire


def _bytes_head(length: int) -> bytes:
    if length < 24:
        return bytes((0x40 | length,))
    if length < 0x100:
        return bytes((0x58, length))
    if length < 0x10000:
        return b"\x59" + length.to_bytes(2, "big")
    return b"\x5a" + length.to_bytes(4, "big")


# A data frame is the map {"c": ciphertext, "h": header, "k": "data", "v": 1}, keys in
# canonical order; it is assembled around the header's cached encoding, and a decoded
# frame's header bytes are sliced back out of the (verified canonical) input.
_DATA_PREFIX = b"\xa4\x61c"
_DATA_MIDDLE = b"\x61h"
_DATA_SUFFIX = b"\x61k\x64data\x61v\x01"


def encode_frame(frame: Frame) -> bytes:
    if isinstance(frame, DataFrame):
        ciphertext = frame.ciphertext
        return b"".join(
            (
                _DATA_PREFIX,
                _bytes_head(len(ciphertext)),
                ciphertext,
                _DATA_MIDDLE,
                frame.header.encode(),
                _DATA_SUFFIX,
            )
        )
    if isinstance(frame, AckFrame):
        return encode({"v": _VERSION, "k": "ack", "b": frame.body(), "mac": frame.mac})
    raise InvalidInput(f"not an AMP frame: {type(frame).__name__}")


def _fields(value: Any, keys: frozenset[str], what: str) -> dict[str, Any]:
    if type(value) is not dict:
        raise InvalidEncoding(f"{what} must be a map")
    if value.keys() != keys:
        missing = sorted(keys - value.keys())
        extra = sorted(value.keys() - keys)[:5]
        raise InvalidEncoding(f"{what} fields wrong: missing {missing}, unexpected {extra}")
    return value


def _ids(fields: dict[str, Any]) -> tuple[ContextId, ChannelId]:
    context, channel = fields["ctx"], fields["ch"]
    if type(context) is not bytes or len(context) != 16:
        raise InvalidEncoding("context id must be 16 bytes")
    if type(channel) is not bytes or len(channel) != 32:
        raise InvalidEncoding("channel id must be 32 bytes")
    return ContextId(context), ChannelId(channel)


_FRAME_KEYS = {
    "data": frozenset({"v", "k", "h", "c"}),
    "ack": frozenset({"v", "k", "b", "mac"}),
}
_HEADER_KEYS = frozenset({"ctx", "ch", "ep", "snd", "gen", "pe", "pc"})
_ACK_KEYS = frozenset({"ctx", "ch", "ep", "from", "to", "below", "also"})


def decode_frame(data: bytes) -> Frame:
    """Parse one frame; raises :class:`InvalidEncoding` for anything but a canonical, valid one."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidInput(f"an AMP frame must be bytes, got {type(data).__name__}")
    if len(data) > MAX_FRAME_BYTES:
        raise InvalidEncoding(f"AMP frame is {len(data)} bytes, more than {MAX_FRAME_BYTES}")
    value = decode(bytes(data), allow_floats=False)
    if type(value) is not dict:
        raise InvalidEncoding("an AMP frame must be a map")
    kind = value.get("k")
    keys = _FRAME_KEYS.get(kind) if type(kind) is str else None
    if keys is None:
        raise InvalidEncoding(f"unknown AMP frame kind {kind!r:.40}")
    fields = _fields(value, keys, f"AMP {kind} frame")
    if fields["v"] != _VERSION or type(fields["v"]) is not int:
        raise InvalidEncoding(f"unsupported AMP frame version {fields['v']!r:.20}")
    try:
        if kind == "data":
            header = _fields(fields["h"], _HEADER_KEYS, "AMP header")
            ciphertext = fields["c"]
            if type(ciphertext) is not bytes or len(ciphertext) < TAG_SIZE:
                raise InvalidEncoding("AMP ciphertext must be bytes holding at least the tag")
            context, channel = _ids(header)
            parsed = AmpHeader(
                context,
                channel,
                header["ep"],
                header["snd"],
                header["gen"],
                header["pe"],
                header["pc"],
            )
            start = len(_DATA_PREFIX) + len(_bytes_head(len(ciphertext))) + len(ciphertext)
            start += len(_DATA_MIDDLE)
            object.__setattr__(
                parsed, "_encoded", bytes(data[start : len(data) - len(_DATA_SUFFIX)])
            )
            return DataFrame(parsed, ciphertext)
        body = _fields(fields["b"], _ACK_KEYS, "AMP ack")
        context, channel = _ids(body)
        also = body["also"]
        if type(also) is not list:
            raise InvalidEncoding("AMP ack 'also' must be a list")
        return AckFrame(
            context,
            channel,
            body["ep"],
            body["from"],
            body["to"],
            body["below"],
            tuple(also),
            fields["mac"],
        )
    except InvalidEncoding:
        raise
    except InvalidInput as exc:  # a field out of range, from the value classes' own checks
        raise InvalidEncoding(f"AMP {kind} frame: {exc.message}") from None
