"""aura_core — the foundation layer (layer 1) of the Aura library family.

Identifiers, the error family, time domains, effect interfaces, semilattice
laws, the canonical DAG-CBOR codec with content ids, hashing/KDF/DKD, and
threshold cryptography (``aura_core.crypto``). Pure code: no OS access.
"""

from aura_core import crypto, dag_cbor
from aura_core.content_id import CID, content_id, content_id_of_bytes, verify_content_id
from aura_core.effect_context import EffectContext, ExecutionMode
from aura_core.errors import (
    AuraError,
    AuthorizationDenied,
    ConsensusError,
    CryptoError,
    ErrorKind,
    InsufficientBudget,
    InvalidEncoding,
    InvalidIdentifier,
    InvalidInput,
    JournalCommitFailed,
    LeakageBudgetExceeded,
    NamespaceMismatch,
    NotFound,
    ProtocolViolation,
    StorageError,
    TransportError,
    ValidationError,
)
from aura_core.hashing import (
    derive_context_key,
    hash_bytes,
    hash_canonical,
    kdf,
    tagged_hash,
)
from aura_core.identifiers import (
    AuthorityId,
    ChannelId,
    ContextId,
    DeviceId,
    Epoch,
    Hash32,
    HomeId,
    NeighborhoodId,
    SessionId,
)
from aura_core.semilattice import (
    JoinSemilattice,
    MeetSemilattice,
    check_join_laws,
    check_meet_laws,
    check_semilattice_laws,
)
from aura_core.time_domains import (
    LogicalTime,
    OrderTime,
    PhysicalTime,
    RangeTime,
    TimeStamp,
    timestamp_from_canonical,
    timestamp_to_canonical,
)

__all__ = [
    "CID",
    "AuraError",
    "AuthorityId",
    "AuthorizationDenied",
    "ChannelId",
    "ConsensusError",
    "ContextId",
    "CryptoError",
    "DeviceId",
    "EffectContext",
    "Epoch",
    "ErrorKind",
    "ExecutionMode",
    "Hash32",
    "HomeId",
    "InsufficientBudget",
    "InvalidEncoding",
    "InvalidIdentifier",
    "InvalidInput",
    "JoinSemilattice",
    "JournalCommitFailed",
    "LeakageBudgetExceeded",
    "LogicalTime",
    "MeetSemilattice",
    "NamespaceMismatch",
    "NeighborhoodId",
    "NotFound",
    "OrderTime",
    "PhysicalTime",
    "ProtocolViolation",
    "RangeTime",
    "SessionId",
    "StorageError",
    "TimeStamp",
    "TransportError",
    "ValidationError",
    "check_join_laws",
    "check_meet_laws",
    "check_semilattice_laws",
    "content_id",
    "content_id_of_bytes",
    "crypto",
    "dag_cbor",
    "derive_context_key",
    "hash_bytes",
    "hash_canonical",
    "kdf",
    "tagged_hash",
    "timestamp_from_canonical",
    "timestamp_to_canonical",
    "verify_content_id",
]
