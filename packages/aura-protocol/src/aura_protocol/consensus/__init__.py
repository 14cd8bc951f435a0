"""Aura Consensus: single-shot agreement on one operation per (instance, prestate).

Sans-IO cores — :class:`Witness` and :class:`Initiator` take messages and
the time and return messages to send — plus the values they exchange and
produce: :class:`CommitFact` (the decision with its FROST group signature)
and :class:`EquivocationProof` (two conflicting signed votes of one witness).
``docs/consensus.md`` describes the protocol; :mod:`.campaign` runs it under
seeded faults in the deterministic simulator.
"""

from aura_protocol.consensus.aggregation import assemble_commit, sign_decision, signing_package
from aura_protocol.consensus.binding import (
    BINDING_DOMAIN,
    MAX_OPERATION_BYTES,
    ConsensusId,
    binding_rid,
    check_operation_bytes,
    decision_message,
    encode_operation,
    operation_hash,
)
from aura_protocol.consensus.commit_fact import COMMIT_FACT_TYPE, CommitFact
from aura_protocol.consensus.config import ConsensusConfig
from aura_protocol.consensus.equivocation import EQUIVOCATION_FACT_TYPE, EquivocationProof
from aura_protocol.consensus.events import (
    ConsensusEvent,
    Decided,
    EquivocationDetected,
    FallbackStarted,
    MessageRejected,
    ProposalAbandoned,
    VoteRecord,
    VoteRecorded,
)
from aura_protocol.consensus.initiator import Initiator
from aura_protocol.consensus.journal_facts import (
    ConflictingDecision,
    consensus_fact_types,
    fact_for_commit,
    fact_for_proof,
)
from aura_protocol.consensus.messages import (
    CommitNotice,
    CommitOffer,
    CommitRequest,
    ConsensusMessage,
    Execute,
    ExecuteReply,
    Gossip,
    Refusal,
    decode_message,
    encode_message,
)
from aura_protocol.consensus.nonce_pool import NoncePool
from aura_protocol.consensus.prestate import PRESTATE_DOMAIN, Prestate
from aura_protocol.consensus.votes import NonceOffer, SignedVote, VoteStatement
from aura_protocol.consensus.witness import OperationCheck, Witness
from aura_protocol.consensus.witness_set import (
    MAX_WITNESSES,
    WitnessCredentials,
    WitnessInfo,
    WitnessSet,
    witness_group_from_dealer,
)

__all__ = [
    "BINDING_DOMAIN",
    "COMMIT_FACT_TYPE",
    "EQUIVOCATION_FACT_TYPE",
    "MAX_OPERATION_BYTES",
    "MAX_WITNESSES",
    "PRESTATE_DOMAIN",
    "CommitFact",
    "CommitNotice",
    "CommitOffer",
    "CommitRequest",
    "ConflictingDecision",
    "ConsensusConfig",
    "ConsensusEvent",
    "ConsensusId",
    "ConsensusMessage",
    "Decided",
    "EquivocationDetected",
    "EquivocationProof",
    "Execute",
    "ExecuteReply",
    "FallbackStarted",
    "Gossip",
    "Initiator",
    "MessageRejected",
    "NonceOffer",
    "NoncePool",
    "OperationCheck",
    "Prestate",
    "ProposalAbandoned",
    "Refusal",
    "SignedVote",
    "VoteRecord",
    "VoteRecorded",
    "VoteStatement",
    "Witness",
    "WitnessCredentials",
    "WitnessInfo",
    "WitnessSet",
    "assemble_commit",
    "binding_rid",
    "check_operation_bytes",
    "consensus_fact_types",
    "decision_message",
    "decode_message",
    "encode_message",
    "encode_operation",
    "fact_for_commit",
    "fact_for_proof",
    "operation_hash",
    "sign_decision",
    "signing_package",
    "witness_group_from_dealer",
]
