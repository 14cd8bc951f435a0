"""Noise channels over TCP, WebSocket and memory: round trips, and hostile input at every layer."""

from __future__ import annotations

import os
import struct
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
import anyio.abc
import pytest

from aura_core.effects import ChannelKeys, NetworkEffects, SecureChannel
from aura_core.errors import InvalidInput, TransportError
from aura_effects import (
    ChannelClosed,
    NoiseNetwork,
    WebSocketPipe,
    channel_public_key,
    parse_address,
)

pytestmark = pytest.mark.anyio

PSK = b"\x07" * 32
SERVER = ChannelKeys(static_private=b"\x11" * 32, psk=PSK)
CLIENT = ChannelKeys(static_private=b"\x22" * 32, psk=PSK)
SERVER_PUBLIC = channel_public_key(SERVER)
ADDRESSES = ["tcp://127.0.0.1:0", "ws://127.0.0.1:0/aura", "mem://relay"]


async def echo(channel: SecureChannel) -> None:
    while True:
        await channel.send(await channel.recv())


class Recorder:
    """A server handler that echoes, and records what it got and how its channel ended."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.errors: list[BaseException] = []
        self.done = anyio.Event()

    async def __call__(self, channel: SecureChannel) -> None:
        try:
            while True:
                message = await channel.recv()
                self.received.append(message)
                await channel.send(message)
        except TransportError as exc:
            self.errors.append(exc)
            raise
        finally:
            self.done.set()


async def assert_still_serving(net: NoiseNetwork, address: str) -> None:
    async with net.connect(address, CLIENT, remote_static=SERVER_PUBLIC) as channel:
        await channel.send(b"still there?")
        with anyio.fail_after(5):
            assert await channel.recv() == b"still there?"


def test_network_satisfies_protocol() -> None:
    assert isinstance(NoiseNetwork(), NetworkEffects)


@pytest.mark.parametrize("address", ADDRESSES)
async def test_round_trip_small_large_and_empty(address: str) -> None:
    net = NoiseNetwork()
    async with net.listen(address, SERVER, echo) as listener:
        assert listener.static_public == SERVER_PUBLIC
        async with net.connect(listener.address, CLIENT, remote_static=SERVER_PUBLIC) as channel:
            assert isinstance(channel, SecureChannel)
            assert channel.peer.static_public == SERVER_PUBLIC
            big = os.urandom(700_000)  # fragmented over many Noise messages
            for message in (b"hello", b"", big, b"x" * 65_519, b"y" * 65_520):
                await channel.send(message)
                with anyio.fail_after(10):
                    assert await channel.recv() == message


@pytest.mark.parametrize("address", ADDRESSES)
async def test_many_messages_keep_order(address: str) -> None:
    net = NoiseNetwork()
    async with (
        net.listen(address, SERVER, echo) as listener,
        net.connect(listener.address, CLIENT, remote_static=SERVER_PUBLIC) as channel,
    ):
        for i in range(2000):
            await channel.send(i.to_bytes(4, "big") * 50)
        with anyio.fail_after(10):
            for i in range(2000):
                assert await channel.recv() == i.to_bytes(4, "big") * 50


async def test_server_sees_initiator_key_and_can_refuse_it() -> None:
    net = NoiseNetwork()
    seen: list[bytes] = []

    async def who(channel: SecureChannel) -> None:
        seen.append(channel.peer.static_public)
        await channel.send(b"welcome")

    async with net.listen(
        "tcp://127.0.0.1:0", SERVER, who, accept_peer=lambda key: key == channel_public_key(CLIENT)
    ) as listener:
        async with net.connect(listener.address, CLIENT, remote_static=SERVER_PUBLIC) as channel:
            assert await channel.recv() == b"welcome"
        assert seen == [channel_public_key(CLIENT)]
        stranger = ChannelKeys(static_private=b"\x33" * 32, psk=PSK)
        with pytest.raises(TransportError):
            async with net.connect(
                listener.address, stranger, remote_static=SERVER_PUBLIC
            ) as channel:
                await channel.recv()
        async with net.connect(listener.address, CLIENT, remote_static=SERVER_PUBLIC) as channel:
            assert await channel.recv() == b"welcome"
        assert seen == [channel_public_key(CLIENT)] * 2


@pytest.mark.parametrize(
    ("keys", "remote"),
    [
        (
            ChannelKeys(static_private=b"\x22" * 32, psk=b"\x08" * 32),
            SERVER_PUBLIC,
        ),  # other context
        (
            CLIENT,
            channel_public_key(ChannelKeys(static_private=b"\x44" * 32, psk=PSK)),
        ),  # wrong server key
    ],
    ids=["wrong-psk", "wrong-responder-key"],
)
@pytest.mark.parametrize("address", ADDRESSES)
async def test_handshake_with_wrong_keys_fails_cleanly(address: str, keys, remote) -> None:
    net = NoiseNetwork(handshake_timeout_s=3)
    async with net.listen(address, SERVER, echo) as listener:
        with pytest.raises(TransportError):
            async with net.connect(listener.address, keys, remote_static=remote) as channel:
                await channel.send(b"hi")
                await channel.recv()
        await assert_still_serving(net, listener.address)


async def test_orderly_close_is_reported_as_channel_closed() -> None:
    net = NoiseNetwork()

    async def one_reply(channel: SecureChannel) -> None:
        await channel.send(b"bye")

    async with (
        net.listen("tcp://127.0.0.1:0", SERVER, one_reply) as listener,
        net.connect(listener.address, CLIENT, remote_static=SERVER_PUBLIC) as channel,
    ):
        assert await channel.recv() == b"bye"
        with pytest.raises(ChannelClosed):
            await channel.recv()
        with pytest.raises(TransportError):
            await channel.send(b"too late")


async def test_body_exceptions_propagate_unwrapped() -> None:
    net = NoiseNetwork()
    async with net.listen("mem://x", SERVER, echo) as listener:
        with pytest.raises(KeyError):
            async with net.connect(listener.address, CLIENT, remote_static=SERVER_PUBLIC):
                raise KeyError("mine")


# ---------------------------------------------------------------- hostile bytes on the wire

Mutator = Callable[[int, bytes], list[bytes] | None]
"""Given a client->server frame (index, raw frame incl. length prefix): bytes to forward, or None to cut."""


@asynccontextmanager
async def frame_proxy(target: str, mutate: Mutator) -> AsyncIterator[str]:
    """A loopback TCP proxy that parses u16-framed Noise messages and lets a test rewrite them."""
    port = parse_address(target).port
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    proxy_port = listener.extra(anyio.abc.SocketAttribute.local_port)

    async def handle(client: anyio.abc.SocketStream) -> None:
        server = await anyio.connect_tcp("127.0.0.1", port)
        async with server, client, anyio.create_task_group() as tg:

            async def backwards() -> None:
                try:
                    while True:
                        await client.send(await server.receive())
                except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
                    pass

            tg.start_soon(backwards)
            buffer, index = b"", 0
            try:
                while True:
                    buffer += await client.receive()
                    while (
                        len(buffer) >= 2 and len(buffer) >= 2 + struct.unpack(">H", buffer[:2])[0]
                    ):
                        size = 2 + struct.unpack(">H", buffer[:2])[0]
                        frame, buffer = buffer[:size], buffer[size:]
                        out = mutate(index, frame)
                        index += 1
                        if out is None:
                            raise anyio.EndOfStream
                        for part in out:
                            await server.send(part)
            except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
                pass
            await server.aclose()
            await client.aclose()
            tg.cancel_scope.cancel()

    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, handle, tg)
        yield f"tcp://127.0.0.1:{proxy_port}"
        tg.cancel_scope.cancel()


def flip_last_byte(frame: bytes) -> bytes:
    return frame[:-1] + bytes([frame[-1] ^ 0x01])


BAD_FRAMES: dict[str, tuple[Mutator, str]] = {
    "tampered": (lambda i, f: [flip_last_byte(f)] if i == 1 else [f], "failed authentication"),
    "replayed": (lambda i, f: [f, f] if i == 1 else [f], "failed authentication"),
    "reordered": (lambda i, f: [] if i == 1 else [f], "failed authentication"),
    "truncated": (
        lambda i, f: [f[: len(f) // 2]] if i == 1 else ([f] if i < 1 else None),
        "truncated",
    ),
    "cut-between-frames": (lambda i, f: None if i == 2 else [f], "truncated"),
}


@pytest.mark.parametrize("case", sorted(BAD_FRAMES))
async def test_bad_frames_close_the_channel_and_the_listener_survives(case: str) -> None:
    mutate, reason = BAD_FRAMES[case]
    net = NoiseNetwork()
    recorder = Recorder()
    async with net.listen("tcp://127.0.0.1:0", SERVER, recorder) as listener:
        async with frame_proxy(listener.address, mutate) as proxied:
            try:
                async with net.connect(proxied, CLIENT, remote_static=SERVER_PUBLIC) as channel:
                    await channel.send(b"first")
                    await anyio.sleep(0.05)  # separate Noise messages, not one coalesced write
                    await channel.send(b"second")
                    await anyio.sleep(0.05)
                    await channel.send(b"third")
                    with anyio.fail_after(5):
                        await recorder.done.wait()
            except TransportError:
                pass  # the client side may notice the server hanging up first
        with anyio.fail_after(5):
            await recorder.done.wait()
        assert len(recorder.errors) == 1
        error = recorder.errors[0]
        assert type(error) is TransportError, error
        assert reason in str(error), str(error)
        await assert_still_serving(net, listener.address)


@pytest.mark.parametrize("address", ADDRESSES)
async def test_oversized_frame_is_rejected_by_the_receiver(address: str) -> None:
    generous = NoiseNetwork(max_message_bytes=4 << 20)
    strict = NoiseNetwork(max_message_bytes=1 << 20, memory_hub=generous.memory_hub)
    recorder = Recorder()
    async with strict.listen(address, SERVER, recorder) as listener:
        try:
            async with generous.connect(
                listener.address, CLIENT, remote_static=SERVER_PUBLIC
            ) as channel:
                await channel.send(b"fine")
                await channel.send(b"\x00" * ((1 << 20) + 1))
                with anyio.fail_after(5):
                    await recorder.done.wait()
        except TransportError:
            pass
        assert recorder.received == [b"fine"]
        assert "oversized frame" in str(recorder.errors[0])
        await assert_still_serving(strict, listener.address)


async def test_sender_refuses_oversized_message_locally() -> None:
    net = NoiseNetwork(max_message_bytes=1000)
    async with (
        net.listen("mem://small", SERVER, echo) as listener,
        net.connect(listener.address, CLIENT, remote_static=SERVER_PUBLIC) as channel,
    ):
        with pytest.raises(TransportError, match="exceeds the channel maximum"):
            await channel.send(b"z" * 1001)
        await channel.send(b"z" * 1000)
        assert await channel.recv() == b"z" * 1000


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:0", "ws://127.0.0.1:0/aura"])
@pytest.mark.parametrize(
    "garbage",
    [
        b"\x00\x00",  # empty frame
        b"\x00\x05abc",  # truncated handshake
        b"\x00\x30" + b"\xaa" * 0x30,  # handshake of the wrong size / content
        b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n",  # wrong HTTP request / path
        os.urandom(3000),
    ],
    ids=["empty", "short", "junk-handshake", "http", "random"],
)
async def test_garbage_connections_never_hurt_the_listener(address: str, garbage: bytes) -> None:
    net = NoiseNetwork(handshake_timeout_s=0.5)
    async with net.listen(address, SERVER, echo) as listener:
        target = parse_address(listener.address)
        async with await anyio.connect_tcp(target.host, target.port) as raw:
            await raw.send(garbage)
            with anyio.fail_after(5):
                try:
                    while await raw.receive():
                        pass
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    pass
        await assert_still_serving(net, listener.address)


async def test_silent_client_is_dropped_after_handshake_timeout() -> None:
    net = NoiseNetwork(handshake_timeout_s=0.2)
    async with net.listen("tcp://127.0.0.1:0", SERVER, echo) as listener:
        target = parse_address(listener.address)
        async with await anyio.connect_tcp(target.host, target.port) as raw:
            with anyio.fail_after(3), pytest.raises((anyio.EndOfStream, anyio.BrokenResourceError)):
                await raw.receive()


async def test_connect_failures_are_transport_errors() -> None:
    net = NoiseNetwork(handshake_timeout_s=1)
    with pytest.raises(TransportError, match="nothing listens"):
        async with net.connect("mem://nobody", CLIENT, remote_static=SERVER_PUBLIC):
            pass
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    await listener.aclose()
    with pytest.raises(TransportError, match="cannot reach"):
        async with net.connect(f"tcp://127.0.0.1:{port}", CLIENT, remote_static=SERVER_PUBLIC):
            pass


async def test_listening_twice_on_one_memory_address_fails() -> None:
    net = NoiseNetwork()
    async with net.listen("mem://one", SERVER, echo):
        with pytest.raises(TransportError, match="already listening"):
            async with net.listen("mem://one", SERVER, echo):
                pass


@pytest.mark.parametrize(
    "address",
    ["http://x:1", "tcp://host", "tcp://host:99999", "tcp://h:1/path", "mem://", "ws://h:1 /x", 42],
)
def test_bad_addresses_are_invalid_input(address) -> None:
    with pytest.raises(InvalidInput):
        parse_address(address)


def test_address_forms() -> None:
    assert parse_address("tcp://[::1]:80").render() == "tcp://[::1]:80"
    assert parse_address("ws://relay.example:443").path == "/"
    assert parse_address("mem://a.b-c").render() == "mem://a.b-c"


# ---------------------------------------------------------------- WebSocket framing rules


@asynccontextmanager
async def websocket_server_pipe(outcome: list[object]) -> AsyncIterator[int]:
    """A bare WebSocketPipe server that records what its first receive produced."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)

    async def handle(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            try:
                pipe = await WebSocketPipe.open_server(stream, "/aura", "ws://test-client")
                outcome.append(await pipe.receive_message())
            except TransportError as exc:
                outcome.append(exc)

    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, handle, tg)
        yield listener.extra(anyio.abc.SocketAttribute.local_port)
        tg.cancel_scope.cancel()


@pytest.mark.parametrize(
    ("send", "expected"),
    [
        (lambda p: p.send_binary(b"noise message"), b"noise message"),
        (lambda p: (p.send_ping(b"are you there"), p.send_binary(b"after ping")), b"after ping"),
        (lambda p: p.send_text(b"text"), "only whole binary messages"),
        (lambda p: p.send_binary(b"part", fin=False), "only whole binary messages"),
        (lambda p: p.send_close(), "closed"),
    ],
    ids=["binary", "ping-then-binary", "text", "fragmented", "close"],
)
async def test_websocket_pipe_accepts_only_whole_binary_messages(send, expected) -> None:
    outcome: list[object] = []
    async with (
        websocket_server_pipe(outcome) as port,
        await anyio.connect_tcp("127.0.0.1", port) as stream,
    ):
        client = await WebSocketPipe.open_client(stream, f"ws://127.0.0.1:{port}/aura")
        send(client._protocol)
        await client._flush()
        with anyio.fail_after(5):
            while not outcome:
                await anyio.sleep(0.01)
    if isinstance(expected, bytes):
        assert outcome == [expected]
    else:
        assert isinstance(outcome[0], TransportError) and expected in str(outcome[0])


async def test_websocket_pipe_rejects_wrong_path() -> None:
    outcome: list[object] = []
    async with (
        websocket_server_pipe(outcome) as port,
        await anyio.connect_tcp("127.0.0.1", port) as stream,
    ):
        with pytest.raises(TransportError, match="handshake"):
            await WebSocketPipe.open_client(stream, f"ws://127.0.0.1:{port}/elsewhere")
    assert "unknown path" in str(outcome[0])
