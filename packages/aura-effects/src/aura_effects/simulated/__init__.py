"""Deterministic handlers for simulation: one seed reproduces a whole run.

Virtual time (:class:`Scheduler`, :class:`VirtualClock`), seeded randomness,
in-memory storage with corruption and lost-write injection, a simulated
network with per-message fault hooks, and :class:`Simulation`, which drives
sans-IO protocol objects over them and hashes the event log.
"""

from aura_effects.simulated.event_log import EventKind, EventLog, SimEvent
from aura_effects.simulated.memory_storage import MemoryStorage
from aura_effects.simulated.memory_trace import MemoryTrace, TraceRecord
from aura_effects.simulated.seeded_random import SeededRandom
from aura_effects.simulated.sim_network import FaultHook, FaultPlan, InFlight, SimulatedNetwork
from aura_effects.simulated.simulation import NodeEnvironment, NodeFactory, Simulation
from aura_effects.simulated.virtual_time import (
    DEFAULT_START_US,
    Scheduler,
    TimerHandle,
    VirtualClock,
    seconds_to_us,
)

__all__ = [
    "DEFAULT_START_US",
    "EventKind",
    "EventLog",
    "FaultHook",
    "FaultPlan",
    "InFlight",
    "MemoryStorage",
    "MemoryTrace",
    "NodeEnvironment",
    "NodeFactory",
    "Scheduler",
    "SeededRandom",
    "SimEvent",
    "SimulatedNetwork",
    "Simulation",
    "TimerHandle",
    "TraceRecord",
    "VirtualClock",
    "seconds_to_us",
]
