"""A real relay on a free loopback port for the length of a test.

End-to-end tests of agents talk through a relay exactly as deployed agents
do (TCP, Noise, SQLite); this starts one in the test's task group and stops
it afterwards, so each test says only what it is about.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import anyio

from aura_features.rendezvous import RelayHint, run_relay

__all__ = ["loopback_relay"]


@asynccontextmanager
async def loopback_relay(directory: Path) -> AsyncIterator[tuple[RelayHint, ...]]:
    """Run a relay storing into ``directory/relay.db``; yields its hints, stops it on exit."""
    async with anyio.create_task_group() as tg:
        endpoint = await tg.start(
            partial(
                run_relay,
                "127.0.0.1",
                0,
                Path(directory) / "relay.db",
                relay_key=os.urandom(32),
                sweep_interval_s=None,
            )
        )
        try:
            yield endpoint.hints
        finally:
            tg.cancel_scope.cancel()
