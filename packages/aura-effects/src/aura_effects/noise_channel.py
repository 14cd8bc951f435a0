"""Noise ``IKpsk2_25519_ChaChaPoly_BLAKE2s`` secure channels over any message pipe.

IK: the initiator knows the responder's static key in advance (from the
context's DKD) and proves its own in the first message; psk2 mixes the
context PSK into the second, so only members of the context complete the
handshake. After it, the decrypted Noise payloads form one byte stream of
application frames ``u32 BE length || message``. That gives two things at
once: a message larger than a Noise message (65535 bytes) is fragmented
across several, and many small messages are coalesced into one Noise
message (one AEAD call and one system call for dozens of messages).

The length ``0xFFFFFFFF`` is reserved for an authenticated close marker: a
connection that ends without it was cut (truncated), and is reported as
such. Any frame that fails authentication (tampered, replayed, reordered),
breaks the framing, or exceeds the receiver's maximum message size closes
the channel with a ``TransportError`` naming the reason.
"""

from __future__ import annotations

import struct
import warnings
from collections import deque
from collections.abc import Callable

import anyio
import anyio.lowlevel
from noise.connection import Keypair, NoiseConnection
from noise.exceptions import NoiseInvalidMessage, NoiseMaxNonceError

from aura_core.effects import ChannelKeys, PeerInfo, RandomEffects
from aura_core.errors import InvalidInput, TransportError
from aura_effects.message_pipes import MAX_NOISE_MESSAGE, MessagePipe

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "NOISE_PROLOGUE",
    "NOISE_PROTOCOL_NAME",
    "ChannelClosed",
    "NoiseChannel",
    "initiator_handshake",
    "responder_handshake",
]

NOISE_PROTOCOL_NAME = b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
NOISE_PROLOGUE = b"AURA_NOISE_CHANNEL_V1"
DEFAULT_MAX_MESSAGE_BYTES = 1 << 20
"""Largest application message a channel accepts by default (1 MiB)."""

_TAG = 16
_MAX_PLAINTEXT = MAX_NOISE_MESSAGE - _TAG
_HEADER = struct.Struct(">I")
_CLOSE_MARKER = 0xFFFFFFFF
_HIGH_WATER = 256 * 1024
_CLOSE_FLUSH_TIMEOUT_S = 5.0
_TRANSPORT_ERRORS = (NoiseInvalidMessage, NoiseMaxNonceError)


class ChannelClosed(TransportError):
    """The peer closed the channel in an orderly, authenticated way."""


def _new_noise(keys: ChannelKeys, ephemeral: RandomEffects | None) -> NoiseConnection:
    noise = NoiseConnection.from_name(NOISE_PROTOCOL_NAME)
    noise.set_prologue(NOISE_PROLOGUE)
    noise.set_psks(psk=keys.psk)
    noise.set_keypair_from_private_bytes(Keypair.STATIC, keys.static_private)
    if ephemeral is not None:
        # Only simulations pass a seeded source; noiseprotocol warns because a
        # fixed ephemeral key is unsafe in production.
        noise.set_keypair_from_private_bytes(Keypair.EPHEMERAL, ephemeral.random_bytes(32))
    return noise


def _start(noise: NoiseConnection) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="One of ephemeral keypairs is already set")
        noise.start_handshake()


async def initiator_handshake(
    pipe: MessagePipe,
    keys: ChannelKeys,
    remote_static: bytes,
    *,
    ephemeral: RandomEffects | None = None,
) -> tuple[NoiseConnection, PeerInfo]:
    """Run the initiator side (-> e, es, s, ss; <- e, ee, se, psk)."""
    if type(remote_static) is not bytes or len(remote_static) != 32:
        raise InvalidInput("remote_static must be the responder's 32-byte X25519 public key")
    noise = _new_noise(keys, ephemeral)
    noise.set_as_initiator()
    noise.set_keypair_from_public_bytes(Keypair.REMOTE_STATIC, remote_static)
    _start(noise)
    try:
        await pipe.send_messages([bytes(noise.write_message())])
        reply = await pipe.receive_message()
        noise.read_message(reply)
    except TransportError:
        raise
    except Exception as exc:  # noiseprotocol raises assorted types (InvalidTag, ValueError...)
        raise TransportError(
            f"Noise handshake with {pipe.remote_address} failed ({type(exc).__name__}): "
            "wrong responder key or context PSK, or a tampered message"
        ) from None
    if not noise.handshake_finished:
        raise TransportError(f"Noise handshake with {pipe.remote_address} did not finish")
    return noise, PeerInfo(pipe.remote_address, remote_static)


async def responder_handshake(
    pipe: MessagePipe,
    keys: ChannelKeys,
    *,
    accept_peer: Callable[[bytes], bool] | None = None,
    ephemeral: RandomEffects | None = None,
) -> tuple[NoiseConnection, PeerInfo]:
    """Run the responder side; ``accept_peer`` may refuse the initiator's static key."""
    noise = _new_noise(keys, ephemeral)
    noise.set_as_responder()
    _start(noise)
    try:
        first = await pipe.receive_message()
        noise.read_message(first)
        initiator = bytes(noise.noise_protocol.handshake_state.rs.public_bytes)
        if accept_peer is not None and not accept_peer(initiator):
            raise TransportError(f"peer {pipe.remote_address} is not accepted for this context")
        await pipe.send_messages([bytes(noise.write_message())])
    except TransportError:
        raise
    except Exception as exc:  # noiseprotocol raises assorted types (InvalidTag, ValueError...)
        raise TransportError(
            f"Noise handshake from {pipe.remote_address} failed ({type(exc).__name__}): "
            "unknown responder key or a tampered message"
        ) from None
    if not noise.handshake_finished:
        raise TransportError(f"Noise handshake from {pipe.remote_address} did not finish")
    return noise, PeerInfo(pipe.remote_address, initiator)


class NoiseChannel:
    """:class:`~aura_core.effects.SecureChannel` after a finished handshake.

    Sends are buffered and written by :meth:`run_writer`, which the owner
    (``connect``/``listen``) runs in its task group; ``send`` only waits when
    more than 256 KiB are still unwritten. One task at a time may ``recv``.
    """

    def __init__(
        self,
        pipe: MessagePipe,
        noise: NoiseConnection,
        peer: PeerInfo,
        *,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        if type(max_message_bytes) is not int or not 0 < max_message_bytes < _CLOSE_MARKER:
            raise InvalidInput(
                f"max_message_bytes must be in 1..2**32-2, got {max_message_bytes!r}"
            )
        self._pipe = pipe
        self._encrypt = noise.encrypt
        self._decrypt = noise.decrypt
        self._peer = peer
        self._max = max_message_bytes
        self._out = bytearray()
        self._wake_writer = anyio.Event()
        self._drained = anyio.Event()
        self._writer_done = anyio.Event()
        self._closing = False
        self._failure: TransportError | None = None
        self._in = bytearray()
        self._inbox: deque[bytes] = deque()
        self._receiving = False
        self._peer_closed = False
        self._closed = False
        self.messages_sent = 0
        self.messages_received = 0

    @property
    def peer(self) -> PeerInfo:
        return self._peer

    @property
    def max_message_bytes(self) -> int:
        return self._max

    # sending ------------------------------------------------------------------
    async def send(self, message: bytes) -> None:
        await anyio.lowlevel.checkpoint_if_cancelled()
        if self._failure is not None:
            raise self._failure
        if self._closing:
            raise TransportError(f"channel to {self._peer.address} is closed")
        if not isinstance(message, bytes | bytearray | memoryview):
            raise InvalidInput(f"channel messages are bytes, got {type(message).__name__}")
        if len(message) > self._max:
            raise TransportError(
                f"message of {len(message)} bytes exceeds the channel maximum of {self._max}"
            )
        out = self._out
        out += _HEADER.pack(len(message))
        out += message
        self.messages_sent += 1
        self._wake_writer.set()
        while len(self._out) > _HIGH_WATER and self._failure is None:
            if self._drained.is_set():
                self._drained = anyio.Event()
            await self._drained.wait()
        if self._failure is not None:
            raise self._failure

    async def run_writer(self) -> None:
        """Encrypt and write buffered frames until the channel closes. Never raises (except cancellation)."""
        encrypt = self._encrypt
        try:
            while True:
                if not self._out:
                    if self._closing:
                        return
                    self._wake_writer = anyio.Event()
                    await self._wake_writer.wait()
                    continue
                data = bytes(self._out)
                self._out.clear()
                self._drained.set()
                view = memoryview(data)
                ciphertexts = [
                    encrypt(bytes(view[i : i + _MAX_PLAINTEXT]))
                    for i in range(0, len(data), _MAX_PLAINTEXT)
                ]
                await self._pipe.send_messages(ciphertexts)
        except TransportError as exc:
            self._fail(exc)
        except Exception as exc:  # nonce exhaustion or a transport quirk: fail this channel only
            self._fail(
                TransportError(f"writing to {self._peer.address} failed: {type(exc).__name__}")
            )
        finally:
            self._drained.set()
            self._writer_done.set()

    # receiving ----------------------------------------------------------------
    async def recv(self) -> bytes:
        if self._receiving:
            raise InvalidInput("recv is already waiting in another task; one receiver per channel")
        self._receiving = True
        try:
            while not self._inbox:
                if self._failure is not None:
                    raise self._failure
                await self._fill()
            self.messages_received += 1
            return self._inbox.popleft()
        finally:
            self._receiving = False

    async def _fill(self) -> None:
        """Read and decode one batch. Errors close the channel and are raised by ``recv``
        only after the messages that arrived intact before them were handed out."""
        try:
            batch = await self._pipe.receive_batch()
        except TransportError as ended:
            failure: TransportError = ended
            if self._peer_closed:
                failure = ChannelClosed(f"channel closed by {self._peer.address}")
            elif self._in:
                failure = TransportError(
                    f"channel from {self._peer.address} ended inside a message: truncated ({ended})"
                )
            elif "middle of a frame" not in str(ended):
                failure = TransportError(
                    f"channel from {self._peer.address} ended without a close: truncated ({ended})"
                )
            await self._abort(failure)
            return
        decrypt = self._decrypt
        buffer = self._in
        for ciphertext in batch:
            if self._peer_closed:
                await self._abort(
                    TransportError(f"{self._peer.address} sent data after closing the channel")
                )
                return
            try:
                buffer += decrypt(ciphertext)
            except _TRANSPORT_ERRORS:
                await self._abort(
                    TransportError(
                        f"frame from {self._peer.address} failed authentication "
                        "(tampered, replayed, reordered or truncated)"
                    )
                )
                return
            failure = self._parse()
            if failure is not None:
                await self._abort(failure)
                return

    def _parse(self) -> TransportError | None:
        buffer = self._in
        offset, end, inbox = 0, len(buffer), self._inbox
        while end - offset >= 4:
            (length,) = _HEADER.unpack_from(buffer, offset)
            if length == _CLOSE_MARKER:
                self._peer_closed = True
                offset += 4
                if offset != end:
                    return TransportError(f"{self._peer.address} sent data after its close marker")
                break
            if length > self._max:
                return TransportError(
                    f"oversized frame from {self._peer.address}: {length} bytes, maximum {self._max}"
                )
            if end - offset - 4 < length:
                break
            inbox.append(bytes(buffer[offset + 4 : offset + 4 + length]))
            offset += 4 + length
        if offset:
            del buffer[:offset]
        return None

    # closing --------------------------------------------------------------------
    def _fail(self, exc: TransportError) -> None:
        if self._failure is None:
            self._failure = exc
        self._closing = True
        self._wake_writer.set()
        self._drained.set()

    async def _abort(self, exc: TransportError) -> None:
        self._fail(exc)
        with anyio.CancelScope(shield=True):
            await self._pipe.aclose()

    async def aclose(self) -> None:
        """Flush what is buffered, send the close marker, and close the transport (idempotent)."""
        if self._closed:
            return
        if not self._closing and self._failure is None:
            self._out += _HEADER.pack(_CLOSE_MARKER)
        self._closing = True
        self._wake_writer.set()
        await self._wait_writer()
        self._closed = True
        with anyio.CancelScope(shield=True):
            try:
                if self._failure is None:
                    await self._pipe.send_eof()
            finally:
                await self._pipe.aclose()
        if self._failure is None:
            self._failure = TransportError(f"channel to {self._peer.address} is closed")

    async def _wait_writer(self) -> None:
        with anyio.move_on_after(_CLOSE_FLUSH_TIMEOUT_S, shield=True):
            await self._writer_done.wait()
