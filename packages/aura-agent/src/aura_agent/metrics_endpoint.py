"""A minimal HTTP endpoint on loopback serving ``/metrics`` for a Prometheus scraper.

Only ``GET /metrics`` is answered (200, text exposition format); anything
else gets 404 or 405. Requests are read with a size and time bound, so a
slow or hostile local client cannot hold a connection open. The address
must be loopback (:func:`~aura_agent.config.check_loopback_address`): the
figures are for the machine's own monitoring, not for the network.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
import anyio.abc

from aura_agent.config import check_loopback_address
from aura_agent.metrics import PROMETHEUS_CONTENT_TYPE

__all__ = ["serve_metrics"]

_MAX_REQUEST = 8192
_READ_TIMEOUT_S = 5.0


def _response(status: str, body: bytes, content_type: str = "text/plain; charset=utf-8") -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


async def _read_head(stream: anyio.abc.ByteStream) -> bytes | None:
    data = b""
    with anyio.move_on_after(_READ_TIMEOUT_S):
        while b"\r\n\r\n" not in data and len(data) < _MAX_REQUEST:
            try:
                chunk = await stream.receive(4096)
            except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
                return None
            data += chunk
        return data
    return None


async def serve_metrics(
    address: str,
    render: Callable[[], str],
    *,
    task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``render()`` at ``http://address/metrics`` until cancelled; reports the bound port."""
    host, port = check_loopback_address(address)
    listener = await anyio.create_tcp_listener(local_host=host, local_port=port)

    async def handle(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            head = await _read_head(stream)
            if head is None:
                return
            request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            parts = request_line.split(" ")
            if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                reply = _response("400 Bad Request", b"bad request\n")
            elif parts[1].split("?", 1)[0] != "/metrics":
                reply = _response("404 Not Found", b"only /metrics is served\n")
            elif parts[0] != "GET":
                reply = _response("405 Method Not Allowed", b"use GET\n")
            else:
                reply = _response("200 OK", render().encode("utf-8"), PROMETHEUS_CONTENT_TYPE)
            try:
                await stream.send(reply)
            except (anyio.BrokenResourceError, OSError):
                return

    async with listener:
        bound = listener.extra(anyio.abc.SocketAttribute.local_port)
        task_status.started(bound)
        await listener.serve(handle)
