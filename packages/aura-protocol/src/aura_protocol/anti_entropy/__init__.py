"""Anti-entropy: replicas converge by reconciling their sets of fact ids.

Range-based set reconciliation (:mod:`.session`) over a fingerprint index
(:mod:`.fingerprint_index`) finds the difference in bytes proportional to
its size; the missing facts then travel as bytes keyed by content id and are
checked before they reach the store (:mod:`.fact_store`). :class:`AntiEntropyNode`
runs periodic sessions with peers as a sans-IO protocol object.
"""

from aura_protocol.anti_entropy.fact_store import (
    AcceptReport,
    FactStore,
    JournalFactStore,
    MappingFactStore,
)
from aura_protocol.anti_entropy.fingerprint_index import (
    FINGERPRINT_SIZE,
    MAX_ID_BYTES,
    FingerprintIndex,
    fingerprint_of,
    separating_bound,
)
from aura_protocol.anti_entropy.messages import (
    MAX_FACT_BYTES,
    MAX_MESSAGE_BYTES,
    EndMessage,
    FactsMessage,
    FingerprintRange,
    IdListRange,
    NeedRange,
    Range,
    RangesMessage,
    SkipRange,
    SyncMessage,
    TransferredFact,
    decode_sync_message,
    encode_sync_message,
)
from aura_protocol.anti_entropy.node import AntiEntropyConfig, AntiEntropyNode, PeerOutcome
from aura_protocol.anti_entropy.session import (
    ReconciliationConfig,
    ReconciliationSession,
    SessionOutcome,
    SyncStatus,
)

__all__ = [
    "FINGERPRINT_SIZE",
    "MAX_FACT_BYTES",
    "MAX_ID_BYTES",
    "MAX_MESSAGE_BYTES",
    "AcceptReport",
    "AntiEntropyConfig",
    "AntiEntropyNode",
    "EndMessage",
    "FactStore",
    "FactsMessage",
    "FingerprintIndex",
    "FingerprintRange",
    "IdListRange",
    "JournalFactStore",
    "MappingFactStore",
    "NeedRange",
    "PeerOutcome",
    "Range",
    "RangesMessage",
    "ReconciliationConfig",
    "ReconciliationSession",
    "SessionOutcome",
    "SkipRange",
    "SyncMessage",
    "SyncStatus",
    "TransferredFact",
    "decode_sync_message",
    "encode_sync_message",
    "fingerprint_of",
    "separating_bound",
]
