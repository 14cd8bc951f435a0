"""aura_effects — effect handlers: production (OS, SQLite, Noise) and deterministic (``simulated``).

Every class here implements one interface of :mod:`aura_core.effects`;
:func:`build_effects` assembles a full set for a mode.
"""

from aura_effects import simulated
from aura_effects.channel_keys import (
    NOISE_PSK_CONTEXT,
    NOISE_STATIC_PURPOSE,
    channel_public_key,
    context_psk,
    derive_channel_keys,
)
from aura_effects.composition import build_effects
from aura_effects.logging_trace import REDACTED, LoggingTrace, redact_fields
from aura_effects.logical_clock import DeviceLogicalClock
from aura_effects.message_pipes import (
    MAX_NOISE_MESSAGE,
    MemoryPipe,
    MessagePipe,
    TcpPipe,
    WebSocketPipe,
    memory_pipe_pair,
)
from aura_effects.noise_channel import (
    DEFAULT_MAX_MESSAGE_BYTES,
    NOISE_PROLOGUE,
    NOISE_PROTOCOL_NAME,
    ChannelClosed,
    NoiseChannel,
    initiator_handshake,
    responder_handshake,
)
from aura_effects.noise_network import MemoryHub, NoiseNetwork, ParsedAddress, parse_address
from aura_effects.order_clock import RandomOrderClock
from aura_effects.sealed_records import RecordSealer
from aura_effects.signal_hub import SignalHub, SignalStream
from aura_effects.sodium_crypto import SEALED_OVERHEAD, SodiumCrypto
from aura_effects.sqlite_storage import SCHEMA_VERSION, SqliteStorage
from aura_effects.system_random import SystemRandom
from aura_effects.system_time import SystemTime

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "MAX_NOISE_MESSAGE",
    "NOISE_PROLOGUE",
    "NOISE_PROTOCOL_NAME",
    "NOISE_PSK_CONTEXT",
    "NOISE_STATIC_PURPOSE",
    "REDACTED",
    "SCHEMA_VERSION",
    "SEALED_OVERHEAD",
    "ChannelClosed",
    "DeviceLogicalClock",
    "LoggingTrace",
    "MemoryHub",
    "MemoryPipe",
    "MessagePipe",
    "NoiseChannel",
    "NoiseNetwork",
    "ParsedAddress",
    "RandomOrderClock",
    "RecordSealer",
    "SignalHub",
    "SignalStream",
    "SodiumCrypto",
    "SqliteStorage",
    "SystemRandom",
    "SystemTime",
    "TcpPipe",
    "WebSocketPipe",
    "build_effects",
    "channel_public_key",
    "context_psk",
    "derive_channel_keys",
    "initiator_handshake",
    "memory_pipe_pair",
    "parse_address",
    "redact_fields",
    "responder_handshake",
    "simulated",
]
