"""One call that assembles a complete, consistent handler set for a mode.

* ``PRODUCTION``: OS randomness and clocks, SQLite storage (path and host
  secrets key required), Noise over TCP/WebSocket, ``logging`` traces.
* ``SIMULATION``: everything from one seed; a virtual clock on a shared
  :class:`~aura_effects.simulated.Scheduler`; in-memory storage; Noise over
  in-memory pipes with seeded handshake ephemerals; in-memory traces.
* ``TESTING``: like simulation but on the real clock (so ``anyio`` timeouts
  behave normally); seed 0 unless given.
"""

from __future__ import annotations

import os

from aura_core.effect_context import ExecutionMode
from aura_core.effects import Effects
from aura_core.errors import InvalidInput
from aura_core.identifiers import DeviceId
from aura_effects.logging_trace import LoggingTrace
from aura_effects.logical_clock import DeviceLogicalClock
from aura_effects.noise_network import MemoryHub, NoiseNetwork
from aura_effects.order_clock import RandomOrderClock
from aura_effects.signal_hub import SignalHub
from aura_effects.simulated.memory_storage import MemoryStorage
from aura_effects.simulated.memory_trace import MemoryTrace
from aura_effects.simulated.seeded_random import SeededRandom
from aura_effects.simulated.virtual_time import Scheduler, VirtualClock
from aura_effects.sodium_crypto import SodiumCrypto
from aura_effects.sqlite_storage import SqliteStorage
from aura_effects.system_random import SystemRandom
from aura_effects.system_time import SystemTime

__all__ = ["build_effects"]


def build_effects(
    mode: ExecutionMode,
    *,
    device: DeviceId,
    storage_path: str | os.PathLike[str] | None = None,
    secrets_key: bytes | None = None,
    seed: int | bytes | None = None,
    scheduler: Scheduler | None = None,
    memory_hub: MemoryHub | None = None,
) -> Effects:
    """Build every handler for ``mode``. Agents sharing a ``memory_hub`` (and ``scheduler``) can talk."""
    if not isinstance(mode, ExecutionMode):
        raise InvalidInput(f"mode must be an ExecutionMode, got {mode!r}")
    if not isinstance(device, DeviceId):
        raise InvalidInput(f"device must be a DeviceId, got {type(device).__name__}")
    if mode is ExecutionMode.PRODUCTION:
        if storage_path is None or secrets_key is None:
            raise InvalidInput("production effects need storage_path and the host's secrets_key")
        if seed is not None or scheduler is not None:
            raise InvalidInput("production effects take no seed or scheduler")
        random = SystemRandom()
        return Effects(
            random=random,
            time=SystemTime(),
            logical_clock=DeviceLogicalClock(device),
            order_clock=RandomOrderClock(random),
            crypto=SodiumCrypto(random),
            storage=SqliteStorage(storage_path, secrets_key=secrets_key, random=random),
            network=NoiseNetwork(memory_hub=memory_hub),
            trace=LoggingTrace(),
            reactive=SignalHub(),
        )
    if storage_path is not None:
        raise InvalidInput(f"{mode.value} effects keep storage in memory; storage_path is not used")
    if mode is ExecutionMode.SIMULATION and seed is None:
        raise InvalidInput("simulation effects need a seed")
    root = SeededRandom(0 if seed is None else seed).fork(f"device:{device}")
    random = root.fork("random")
    if mode is ExecutionMode.SIMULATION:
        time: VirtualClock | SystemTime = VirtualClock(
            scheduler if scheduler is not None else Scheduler()
        )
    else:
        if scheduler is not None:
            raise InvalidInput("testing effects run on the real clock; pass no scheduler")
        time = SystemTime()
    key = secrets_key if secrets_key is not None else root.fork("secrets-key").random_bytes(32)
    return Effects(
        random=random,
        time=time,
        logical_clock=DeviceLogicalClock(device),
        order_clock=RandomOrderClock(root.fork("order")),
        crypto=SodiumCrypto(root.fork("crypto")),
        storage=MemoryStorage(secrets_key=key, random=root.fork("storage")),
        network=NoiseNetwork(memory_hub=memory_hub, ephemeral_random=root.fork("noise")),
        trace=MemoryTrace(),
        reactive=SignalHub(),
    )
