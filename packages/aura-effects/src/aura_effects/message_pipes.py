"""Message pipes: the transports under a Noise channel, each moving whole Noise messages.

A Noise message is at most 65535 bytes, so every pipe carries byte strings
of 1..65535 bytes with their boundaries kept:

* :class:`TcpPipe` frames each one as ``u16 BE length || message`` on a TCP
  stream (the framing the Noise specification suggests);
* :class:`WebSocketPipe` sends each as one binary WebSocket message (RFC 6455,
  driven through the sans-IO protocol of the ``websockets`` package over an
  anyio stream, so it works under structured concurrency on any backend);
* :class:`MemoryPipe` passes them through anyio memory streams (tests,
  simulations of whole agents).

Pipes batch: :meth:`send_messages` writes many messages in one system call
and :meth:`receive_batch` returns every message already buffered.
"""

from __future__ import annotations

import abc
import logging
import struct
from collections import deque
from typing import Protocol

import anyio
import anyio.abc
from websockets.client import ClientProtocol
from websockets.exceptions import InvalidURI
from websockets.frames import Opcode
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.uri import parse_uri

from aura_core.errors import TransportError

__all__ = [
    "MAX_NOISE_MESSAGE",
    "MemoryPipe",
    "MessagePipe",
    "TcpPipe",
    "WebSocketPipe",
    "memory_pipe_pair",
]

MAX_NOISE_MESSAGE = 65535
_U16 = struct.Struct(">H")
_READ_CHUNK = 262_144
_QUIET_WS_LOGGER = logging.getLogger("aura_effects.websocket")


class MessagePipe(Protocol):
    """What a Noise channel needs from a transport."""

    @property
    def remote_address(self) -> str: ...

    async def send_messages(self, messages: list[bytes]) -> None: ...

    async def receive_message(self) -> bytes: ...

    async def receive_batch(self) -> list[bytes]: ...

    async def send_eof(self) -> None: ...

    async def aclose(self) -> None: ...


def _closed(detail: str) -> TransportError:
    return TransportError(f"connection closed {detail}")


class _BufferedPipe(abc.ABC):
    """Shared receive side: a deque of whole messages refilled by ``_fill``."""

    def __init__(self) -> None:
        self._ready: deque[bytes] = deque()

    @abc.abstractmethod
    async def _fill(self) -> None:
        """Read from the transport once and queue every whole message it completed."""

    async def receive_message(self) -> bytes:
        while not self._ready:
            await self._fill()
        return self._ready.popleft()

    async def receive_batch(self) -> list[bytes]:
        while not self._ready:
            await self._fill()
        batch = list(self._ready)
        self._ready.clear()
        return batch


class TcpPipe(_BufferedPipe):
    """``u16 length || message`` frames on an anyio byte stream."""

    def __init__(self, stream: anyio.abc.ByteStream, remote_address: str) -> None:
        super().__init__()
        self._stream = stream
        self._remote = remote_address
        self._buffer = bytearray()

    @property
    def remote_address(self) -> str:
        return self._remote

    async def send_messages(self, messages: list[bytes]) -> None:
        parts = []
        for message in messages:
            if not 0 < len(message) <= MAX_NOISE_MESSAGE:
                raise TransportError(f"cannot frame a {len(message)}-byte Noise message")
            parts.append(_U16.pack(len(message)))
            parts.append(message)
        try:
            await self._stream.send(b"".join(parts))
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
            raise _closed(f"while sending to {self._remote} ({type(exc).__name__})") from None

    async def _fill(self) -> None:
        try:
            chunk = await self._stream.receive(_READ_CHUNK)
        except anyio.EndOfStream:
            if self._buffer:
                raise _closed(
                    f"by {self._remote} in the middle of a frame ({len(self._buffer)} bytes pending): truncated"
                ) from None
            raise _closed(f"by {self._remote}") from None
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
            raise _closed(f"while receiving from {self._remote} ({type(exc).__name__})") from None
        buffer = self._buffer
        buffer += chunk
        offset = 0
        end = len(buffer)
        ready = self._ready
        while end - offset >= 2:
            (length,) = _U16.unpack_from(buffer, offset)
            if length == 0:
                raise TransportError(f"empty frame from {self._remote}")
            if end - offset - 2 < length:
                break
            ready.append(bytes(buffer[offset + 2 : offset + 2 + length]))
            offset += 2 + length
        if offset:
            del buffer[:offset]

    async def send_eof(self) -> None:
        if isinstance(self._stream, anyio.abc.SocketStream):
            try:
                await self._stream.send_eof()
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                pass  # the peer is gone already; closing will finish the job

    async def aclose(self) -> None:
        await self._stream.aclose()


class WebSocketPipe(_BufferedPipe):
    """One Noise message per binary WebSocket message, over the sans-IO ``websockets`` protocol."""

    def __init__(
        self,
        stream: anyio.abc.ByteStream,
        protocol: ClientProtocol | ServerProtocol,
        remote_address: str,
    ) -> None:
        super().__init__()
        self._stream = stream
        self._protocol = protocol
        self._remote = remote_address

    @property
    def remote_address(self) -> str:
        return self._remote

    @classmethod
    async def open_client(cls, stream: anyio.abc.ByteStream, uri: str) -> WebSocketPipe:
        try:
            parsed = parse_uri(uri)
        except InvalidURI as exc:
            raise TransportError(f"bad WebSocket address {uri!r}: {exc}") from None
        protocol = ClientProtocol(parsed, max_size=MAX_NOISE_MESSAGE, logger=_QUIET_WS_LOGGER)
        protocol.send_request(protocol.connect())
        pipe = cls(stream, protocol, uri)
        await pipe._flush()
        while True:
            events = await pipe._pump()
            if protocol.handshake_exc is not None:
                raise TransportError(
                    f"WebSocket handshake with {uri} failed: {protocol.handshake_exc}"
                )
            if any(isinstance(e, Response) for e in events):
                break
        if protocol.state is not State.OPEN:
            raise TransportError(f"WebSocket handshake with {uri} did not open the connection")
        return pipe

    @classmethod
    async def open_server(
        cls, stream: anyio.abc.ByteStream, path: str, remote: str
    ) -> WebSocketPipe:
        protocol = ServerProtocol(max_size=MAX_NOISE_MESSAGE, logger=_QUIET_WS_LOGGER)
        pipe = cls(stream, protocol, remote)
        request: Request | None = None
        while request is None:
            events = await pipe._pump()
            if protocol.handshake_exc is not None:
                protocol.send_response(protocol.reject(400, "bad WebSocket handshake\n"))
                await pipe._flush()
                raise TransportError(
                    f"WebSocket handshake from {remote} failed: {protocol.handshake_exc}"
                )
            request = next((e for e in events if isinstance(e, Request)), None)
        if request.path != path:
            protocol.send_response(protocol.reject(404, "no Aura relay here\n"))
            await pipe._flush()
            raise TransportError(
                f"WebSocket request from {remote} for unknown path {request.path[:64]!r}"
            )
        response = protocol.accept(request)
        protocol.send_response(response)
        await pipe._flush()
        if protocol.state is not State.OPEN:
            raise TransportError(f"WebSocket handshake from {remote} was rejected")
        return pipe

    async def _flush(self) -> None:
        for data in self._protocol.data_to_send():
            try:
                if data:
                    await self._stream.send(data)
                elif isinstance(self._stream, anyio.abc.SocketStream):
                    await self._stream.send_eof()
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
                raise _closed(f"while sending to {self._remote} ({type(exc).__name__})") from None

    async def _pump(self) -> list[object]:
        """Read once from the socket, feed the protocol, answer pings; returns new events."""
        try:
            chunk = await self._stream.receive(_READ_CHUNK)
        except anyio.EndOfStream:
            self._protocol.receive_eof()
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
            raise _closed(f"while receiving from {self._remote} ({type(exc).__name__})") from None
        else:
            self._protocol.receive_data(chunk)
        events = self._protocol.events_received()
        await self._flush()
        return events

    async def send_messages(self, messages: list[bytes]) -> None:
        protocol = self._protocol
        if protocol.state is not State.OPEN:
            raise _closed(f"WebSocket to {self._remote} is no longer open")
        for message in messages:
            if not 0 < len(message) <= MAX_NOISE_MESSAGE:
                raise TransportError(f"cannot frame a {len(message)}-byte Noise message")
            protocol.send_binary(message)
        await self._flush()

    async def _fill(self) -> None:
        if self._protocol.state is State.CLOSED:
            raise _closed(f"by {self._remote}")
        events = await self._pump()
        for event in events:
            opcode = getattr(event, "opcode", None)
            if opcode is Opcode.BINARY and event.fin:  # type: ignore[attr-defined]
                if not event.data:  # type: ignore[attr-defined]
                    raise TransportError(f"empty WebSocket message from {self._remote}")
                self._ready.append(bytes(event.data))  # type: ignore[attr-defined]
            elif opcode in (Opcode.TEXT, Opcode.CONT) or opcode is Opcode.BINARY:
                raise TransportError(
                    f"{self._remote} sent a text or fragmented WebSocket message; only whole binary messages are allowed"
                )
        parser_exc = self._protocol.parser_exc
        if parser_exc is not None:
            raise TransportError(f"bad WebSocket data from {self._remote}: {parser_exc}")
        if not self._ready and self._protocol.state is State.CLOSED:
            raise _closed(f"by {self._remote}")
        if not self._ready and self._protocol.close_rcvd is not None:
            raise _closed(f"by {self._remote} (WebSocket close)")

    async def send_eof(self) -> None:
        if self._protocol.state is State.OPEN:
            self._protocol.send_close()
            try:
                await self._flush()
            except TransportError:
                pass  # the peer is gone already

    async def aclose(self) -> None:
        await self._stream.aclose()


class MemoryPipe(_BufferedPipe):
    """One end of an in-process pipe (anyio memory object streams)."""

    def __init__(
        self,
        send: anyio.abc.ObjectSendStream[bytes],
        receive: anyio.abc.ObjectReceiveStream[bytes],
        remote_address: str,
    ) -> None:
        super().__init__()
        self._send = send
        self._receive = receive
        self._remote = remote_address

    @property
    def remote_address(self) -> str:
        return self._remote

    async def send_messages(self, messages: list[bytes]) -> None:
        for message in messages:
            if not 0 < len(message) <= MAX_NOISE_MESSAGE:
                raise TransportError(f"cannot frame a {len(message)}-byte Noise message")
            try:
                await self._send.send(message)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                raise _closed(f"while sending to {self._remote}") from None

    async def _fill(self) -> None:
        try:
            self._ready.append(await self._receive.receive())
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            raise _closed(f"by {self._remote}") from None
        while True:
            try:
                self._ready.append(self._receive.receive_nowait())
            except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                return

    async def send_eof(self) -> None:
        await self._send.aclose()

    async def aclose(self) -> None:
        await self._send.aclose()
        await self._receive.aclose()


def memory_pipe_pair(
    address_a: str, address_b: str, *, buffer: int = 64
) -> tuple[MemoryPipe, MemoryPipe]:
    """Two connected pipe ends; ``address_x`` is how the *other* end sees ``x``."""
    a_to_b_send, a_to_b_receive = anyio.create_memory_object_stream[bytes](buffer)
    b_to_a_send, b_to_a_receive = anyio.create_memory_object_stream[bytes](buffer)
    return (
        MemoryPipe(a_to_b_send, b_to_a_receive, address_b),
        MemoryPipe(b_to_a_send, a_to_b_receive, address_a),
    )
