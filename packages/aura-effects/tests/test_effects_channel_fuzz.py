"""A peer inside the Noise session sending arbitrary plaintext can only cause TransportError."""

from __future__ import annotations

import anyio
from hypothesis import given, settings
from hypothesis import strategies as st

from aura_core.effects import ChannelKeys
from aura_core.errors import TransportError
from aura_effects import (
    NoiseChannel,
    channel_public_key,
    initiator_handshake,
    memory_pipe_pair,
    responder_handshake,
)

SERVER = ChannelKeys(static_private=b"\x11" * 32, psk=b"\x07" * 32)
CLIENT = ChannelKeys(static_private=b"\x22" * 32, psk=b"\x07" * 32)


async def _receive_all(
    chunks: list[bytes], max_message_bytes: int
) -> tuple[list[bytes], BaseException | None]:
    client_pipe, server_pipe = memory_pipe_pair(
        "mem://client", "mem://server", buffer=len(chunks) + 4
    )
    async with anyio.create_task_group() as tg:
        result: list = []

        async def serve() -> None:
            noise, peer = await responder_handshake(server_pipe, SERVER)
            result.append(
                NoiseChannel(server_pipe, noise, peer, max_message_bytes=max_message_bytes)
            )

        tg.start_soon(serve)
        noise, _ = await initiator_handshake(client_pipe, CLIENT, channel_public_key(SERVER))
    receiver = result[0]
    # The "peer" writes raw Noise-encrypted plaintext of its choosing, then hangs up.
    await client_pipe.send_messages([noise.encrypt(chunk) for chunk in chunks])
    await client_pipe.aclose()
    messages: list[bytes] = []
    with anyio.fail_after(5):
        while True:
            try:
                messages.append(await receiver.recv())
            except TransportError as exc:
                return messages, exc
            except BaseException as exc:  # anything else is a bug
                return messages, exc


@settings(max_examples=60, deadline=None)
@given(
    chunks=st.lists(st.binary(min_size=0, max_size=40), min_size=1, max_size=6),
    max_message_bytes=st.sampled_from([1, 8, 1 << 20]),
)
def test_arbitrary_authenticated_plaintext_only_raises_transport_error(
    chunks, max_message_bytes
) -> None:
    messages, error = anyio.run(_receive_all, chunks, max_message_bytes)
    assert isinstance(error, TransportError), repr(error)
    assert all(len(m) <= max_message_bytes for m in messages)
    stream = b"".join(chunks)
    # every delivered message is a prefix-consistent frame of the stream the peer sent
    rebuilt = b"".join(len(m).to_bytes(4, "big") + m for m in messages)
    assert stream.startswith(rebuilt)
