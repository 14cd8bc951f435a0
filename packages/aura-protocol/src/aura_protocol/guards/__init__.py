"""The guard chain every send passes, and the receipts that prove each hop paid.

Capability -> FlowBudget -> JournalCoupling -> Leakage -> transport. The
guards are pure (:class:`GuardChain` turns a :class:`SendRequest` and a
:class:`GuardSnapshot` into a :class:`GuardDecision` of commands);
:class:`GuardedSender` applies a decision in one storage transaction (charge,
receipt, facts, leakage, outbox row) and hands envelopes to a transport only
after the commit; :class:`GuardedReceiver` checks receipt chains and records
what arrives exactly once. See ``docs/guard-chain.md``.
"""

from aura_protocol.guards.capability_guard import CapabilityGuard
from aura_protocol.guards.context_identity import (
    RECEIPT_SIGNING_PURPOSE,
    ContextIdentity,
    DeviceSigner,
)
from aura_protocol.guards.context_membership import ContextMembership, MembershipTable
from aura_protocol.guards.context_roster import ContextMember, ContextRoster
from aura_protocol.guards.envelope import ENVELOPE_VERSION, MAX_ENVELOPE_BYTES, Envelope
from aura_protocol.guards.flow_budget_guard import FlowBudgetGuard
from aura_protocol.guards.flow_limits import FlowLimits
from aura_protocol.guards.guard_chain import GUARD_DENIALS, GuardChain
from aura_protocol.guards.guard_commands import (
    ChargeFlowBudget,
    CommitFacts,
    EnqueueEnvelope,
    GuardCommand,
    GuardDecision,
    IssueReceipt,
    RecordLeakage,
)
from aura_protocol.guards.guard_ledgers import (
    FLOW_TABLE,
    LEAKAGE_TABLE,
    journal_name,
    read_flow_row,
    read_leakage_row,
    rebuild_flow_rows,
)
from aura_protocol.guards.guard_stack import GuardStack, guard_registry
from aura_protocol.guards.guarded_receiver import Delivery, GuardedReceiver
from aura_protocol.guards.guarded_sender import CommittedSend, EnvelopeTransport, GuardedSender
from aura_protocol.guards.journal_coupling_guard import JournalCouplingGuard
from aura_protocol.guards.leakage_budget import LeakageBudget, LeakagePolicy, ObserverClass
from aura_protocol.guards.leakage_guard import LeakageTrackingGuard
from aura_protocol.guards.receipt import (
    NONCE_BYTES,
    RECEIPT_FACT_TYPE,
    RECEIPT_LINK_DOMAIN,
    RECEIPT_SIGNING_DOMAIN,
    Receipt,
    receipt_fact,
    receipt_fact_type,
)
from aura_protocol.guards.receipt_chain import MAX_RECEIPT_HOPS, verify_receipt_chain
from aura_protocol.guards.send_request import (
    DEFAULT_FLOW_COST,
    MAX_COUPLED_FACTS,
    MAX_PAYLOAD_BYTES,
    GuardSnapshot,
    SendRequest,
)

__all__ = [
    "DEFAULT_FLOW_COST",
    "ENVELOPE_VERSION",
    "FLOW_TABLE",
    "GUARD_DENIALS",
    "LEAKAGE_TABLE",
    "MAX_COUPLED_FACTS",
    "MAX_ENVELOPE_BYTES",
    "MAX_PAYLOAD_BYTES",
    "MAX_RECEIPT_HOPS",
    "NONCE_BYTES",
    "RECEIPT_FACT_TYPE",
    "RECEIPT_LINK_DOMAIN",
    "RECEIPT_SIGNING_DOMAIN",
    "RECEIPT_SIGNING_PURPOSE",
    "CapabilityGuard",
    "ChargeFlowBudget",
    "CommitFacts",
    "CommittedSend",
    "ContextIdentity",
    "ContextMember",
    "ContextMembership",
    "ContextRoster",
    "Delivery",
    "DeviceSigner",
    "EnqueueEnvelope",
    "Envelope",
    "EnvelopeTransport",
    "FlowBudgetGuard",
    "FlowLimits",
    "GuardChain",
    "GuardCommand",
    "GuardDecision",
    "GuardSnapshot",
    "GuardStack",
    "GuardedReceiver",
    "GuardedSender",
    "IssueReceipt",
    "JournalCouplingGuard",
    "LeakageBudget",
    "LeakagePolicy",
    "LeakageTrackingGuard",
    "MembershipTable",
    "ObserverClass",
    "Receipt",
    "RecordLeakage",
    "SendRequest",
    "guard_registry",
    "journal_name",
    "read_flow_row",
    "read_leakage_row",
    "rebuild_flow_rows",
    "receipt_fact",
    "receipt_fact_type",
    "verify_receipt_chain",
]
