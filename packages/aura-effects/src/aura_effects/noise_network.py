"""The network handler: Noise channels over TCP, WebSocket or in-memory pipes.

Addresses name the transport: ``tcp://host:port``, ``ws://host:port/path``
(browser-reachable relays) and ``mem://name`` (in-process, for tests and
whole-agent simulations; reachable through a shared :class:`MemoryHub`).
``connect`` and ``listen`` are async context managers that own a task group,
so each channel's writer and each served connection are child tasks that end
with the block. A connection that fails in any way (bad handshake, tampered
frame, handler error) is closed and logged; the listener keeps serving.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
import anyio.abc
import attrs
import nacl.bindings
from anyio.abc import SocketAttribute

from aura_core.effects import ChannelHandler, ChannelKeys, RandomEffects
from aura_core.errors import InvalidInput, TransportError
from aura_effects.message_pipes import MessagePipe, TcpPipe, WebSocketPipe, memory_pipe_pair
from aura_effects.noise_channel import (
    DEFAULT_MAX_MESSAGE_BYTES,
    NoiseChannel,
    initiator_handshake,
    responder_handshake,
)

__all__ = ["MemoryHub", "NoiseNetwork", "ParsedAddress", "parse_address"]

_log = logging.getLogger("aura_effects.network")
_ADDRESS = re.compile(
    r"(?P<scheme>tcp|ws)://(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+):(?P<port>[0-9]{1,5})(?P<path>/[\x21-\x7e]*)?"
)
_MEMORY = re.compile(r"mem://(?P<name>[A-Za-z0-9._\-]{1,128})")


@attrs.frozen
class ParsedAddress:
    scheme: str
    host: str
    port: int
    path: str

    def render(self, port: int | None = None) -> str:
        if self.scheme == "mem":
            return f"mem://{self.host}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        suffix = self.path if self.scheme == "ws" else ""
        return f"{self.scheme}://{host}:{self.port if port is None else port}{suffix}"


def parse_address(address: str) -> ParsedAddress:
    """Strictly parse a transport address; ``InvalidInput`` names what is wrong."""
    if not isinstance(address, str):
        raise InvalidInput(f"address must be a string, got {type(address).__name__}")
    memory = _MEMORY.fullmatch(address)
    if memory is not None:
        return ParsedAddress("mem", memory["name"], 0, "")
    match = _ADDRESS.fullmatch(address)
    if match is None:
        raise InvalidInput(
            f"unsupported address {address[:100]!r}: expected tcp://host:port, ws://host:port/path or mem://name"
        )
    port = int(match["port"])
    if port > 65535:
        raise InvalidInput(f"port {port} out of range in {address!r}")
    if match["scheme"] == "tcp" and match["path"]:
        raise InvalidInput(f"tcp addresses take no path: {address!r}")
    return ParsedAddress(match["scheme"], match["host"].strip("[]"), port, match["path"] or "/")


class MemoryHub:
    """The in-process "internet" that ``mem://`` addresses live on."""

    def __init__(self) -> None:
        self._listeners: dict[str, Callable[[MessagePipe], None]] = {}
        self._counter = 0

    def _register(self, name: str, accept: Callable[[MessagePipe], None]) -> None:
        if name in self._listeners:
            raise TransportError(f"mem://{name} is already listening")
        self._listeners[name] = accept

    def _unregister(self, name: str) -> None:
        self._listeners.pop(name, None)

    def _dial(self, name: str) -> MessagePipe:
        accept = self._listeners.get(name)
        if accept is None:
            raise TransportError(f"nothing listens on mem://{name}")
        self._counter += 1
        client, server = memory_pipe_pair(f"mem://client-{self._counter}", f"mem://{name}")
        accept(server)
        return client


@attrs.frozen
class _BoundListener:
    address: str
    static_public: bytes


class NoiseNetwork:
    """:class:`~aura_core.effects.NetworkEffects` with Noise ``IKpsk2`` on every transport.

    ``ephemeral_random`` fixes handshake ephemerals from a seeded source for
    reproducible simulations; leave it ``None`` in production.
    """

    def __init__(
        self,
        *,
        memory_hub: MemoryHub | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        handshake_timeout_s: float = 10.0,
        ephemeral_random: RandomEffects | None = None,
    ) -> None:
        if type(max_message_bytes) is not int or max_message_bytes <= 0:
            raise InvalidInput(
                f"max_message_bytes must be a positive int, got {max_message_bytes!r}"
            )
        self._hub = memory_hub if memory_hub is not None else MemoryHub()
        self._max = max_message_bytes
        self._handshake_timeout = handshake_timeout_s
        self._ephemeral = ephemeral_random

    @property
    def memory_hub(self) -> MemoryHub:
        return self._hub

    # connecting ---------------------------------------------------------------
    @asynccontextmanager
    async def connect(
        self, address: str, keys: ChannelKeys, *, remote_static: bytes
    ) -> AsyncIterator[NoiseChannel]:
        target = parse_address(address)
        try:
            with anyio.fail_after(self._handshake_timeout):
                pipe = await self._open_pipe(target, address)
                try:
                    noise, peer = await initiator_handshake(
                        pipe, keys, remote_static, ephemeral=self._ephemeral
                    )
                except BaseException:
                    with anyio.CancelScope(shield=True):
                        await pipe.aclose()
                    raise
        except TimeoutError:
            raise TransportError(
                f"connecting to {address} timed out after {self._handshake_timeout} s"
            ) from None
        channel = NoiseChannel(pipe, noise, peer, max_message_bytes=self._max)
        caught: Exception | None = None
        async with anyio.create_task_group() as tg:
            tg.start_soon(channel.run_writer)
            try:
                yield channel
            except Exception as exc:  # re-raised below, outside the task group, unwrapped
                caught = exc
            finally:
                await channel.aclose()
        if caught is not None:
            raise caught

    async def _open_pipe(self, target: ParsedAddress, address: str) -> MessagePipe:
        if target.scheme == "mem":
            return self._hub._dial(target.host)
        try:
            stream = await anyio.connect_tcp(target.host, target.port)
        except OSError as exc:
            raise TransportError(f"cannot reach {address}: {exc.strerror or exc}") from None
        try:
            if target.scheme == "ws":
                return await WebSocketPipe.open_client(stream, address)
            return TcpPipe(stream, address)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await stream.aclose()
            raise

    # listening ------------------------------------------------------------------
    @asynccontextmanager
    async def listen(
        self,
        address: str,
        keys: ChannelKeys,
        handler: ChannelHandler,
        *,
        accept_peer: Callable[[bytes], bool] | None = None,
    ) -> AsyncIterator[_BoundListener]:
        target = parse_address(address)
        static_public = nacl.bindings.crypto_scalarmult_base(keys.static_private)
        tcp_listener: anyio.abc.Listener[anyio.abc.SocketStream] | None = None
        if target.scheme == "mem":
            spawn: list[Callable[[MessagePipe], None]] = []
            self._hub._register(target.host, lambda pipe: spawn[0](pipe))
            bound = _BoundListener(target.render(), static_public)
        else:
            try:
                tcp_listener = await anyio.create_tcp_listener(
                    local_host=target.host, local_port=target.port
                )
            except OSError as exc:
                raise TransportError(f"cannot listen on {address}: {exc.strerror or exc}") from None
            bound = _BoundListener(
                target.render(tcp_listener.extra(SocketAttribute.local_port)), static_public
            )
        caught: Exception | None = None
        try:
            async with anyio.create_task_group() as tg:

                async def serve_pipe(pipe: MessagePipe) -> None:
                    await self._serve_connection(pipe, keys, handler, accept_peer)

                async def serve_stream(stream: anyio.abc.SocketStream) -> None:
                    await self._serve_stream(stream, target, handler, keys, accept_peer)

                if tcp_listener is None:
                    spawn.append(lambda pipe: tg.start_soon(serve_pipe, pipe))
                else:
                    tg.start_soon(tcp_listener.serve, serve_stream, tg)
                try:
                    yield bound
                except Exception as exc:  # re-raised below, outside the task group, unwrapped
                    caught = exc
                finally:
                    tg.cancel_scope.cancel()
        finally:
            if tcp_listener is None:
                self._hub._unregister(target.host)
            else:
                with anyio.CancelScope(shield=True):
                    await tcp_listener.aclose()
        if caught is not None:
            raise caught

    async def _serve_stream(
        self,
        stream: anyio.abc.SocketStream,
        target: ParsedAddress,
        handler: ChannelHandler,
        keys: ChannelKeys,
        accept_peer: Callable[[bytes], bool] | None,
    ) -> None:
        remote = _remote_of(stream, target.scheme)
        try:
            with anyio.fail_after(self._handshake_timeout):
                if target.scheme == "ws":
                    pipe: MessagePipe = await WebSocketPipe.open_server(stream, target.path, remote)
                else:
                    pipe = TcpPipe(stream, remote)
        except BaseException as exc:  # a hostile client must never take the listener down
            with anyio.CancelScope(shield=True):
                await stream.aclose()
            if not isinstance(exc, Exception):
                raise
            _log.info("rejected connection from %s: %s", remote, exc)
            return
        await self._serve_connection(pipe, keys, handler, accept_peer)

    async def _serve_connection(
        self,
        pipe: MessagePipe,
        keys: ChannelKeys,
        handler: ChannelHandler,
        accept_peer: Callable[[bytes], bool] | None,
    ) -> None:
        """One accepted connection, start to end. Nothing escapes but cancellation."""
        try:
            try:
                with anyio.fail_after(self._handshake_timeout):
                    noise, peer = await responder_handshake(
                        pipe, keys, accept_peer=accept_peer, ephemeral=self._ephemeral
                    )
            except TimeoutError:
                raise TransportError(f"handshake from {pipe.remote_address} timed out") from None
        except Exception as exc:  # bad handshakes, refused peers, failing accept_peer callbacks
            shown = exc if isinstance(exc, TransportError) else type(exc).__name__
            _log.info("rejected connection: %s", shown)
            with anyio.CancelScope(shield=True):
                await pipe.aclose()
            return
        except BaseException:  # cancelled mid-handshake: still release the transport
            with anyio.CancelScope(shield=True):
                await pipe.aclose()
            raise
        channel = NoiseChannel(pipe, noise, peer, max_message_bytes=self._max)
        async with anyio.create_task_group() as tg:
            tg.start_soon(channel.run_writer)
            try:
                await handler(channel)
            except TransportError as exc:
                _log.info("channel with %s ended: %s", peer.address, exc)
            except Exception as exc:
                _log.warning(
                    "handler for %s raised %s; connection closed", peer.address, type(exc).__name__
                )
            finally:
                await channel.aclose()


def _remote_of(stream: anyio.abc.SocketStream, scheme: str) -> str:
    try:
        host, port = stream.extra(SocketAttribute.remote_address)[:2]
    except (anyio.TypedAttributeLookupError, ValueError, TypeError):
        return f"{scheme}://unknown"
    shown = f"[{host}]" if ":" in str(host) else str(host)
    return f"{scheme}://{shown}:{port}"
