"""One authority's guarded sender and receiver, assembled from its effects and policy.

This is what an agent (or a test, or the choreography driver) holds: the
membership table both halves share, the four guards wired in order, and the
fact registry that knows the journal's own types plus receipts.
"""

from __future__ import annotations

from aura_core.effects import PhysicalTimeEffects, RandomEffects, StorageEffects
from aura_core.errors import InvalidInput
from aura_core.identifiers import AuthorityId
from aura_journal.authorization import CapabilityAuthorizer
from aura_journal.builtin_registry import default_registry
from aura_journal.fact_registry import FactRegistry
from aura_protocol.guards.capability_guard import CapabilityGuard
from aura_protocol.guards.context_identity import DeviceSigner
from aura_protocol.guards.context_membership import MembershipTable
from aura_protocol.guards.flow_budget_guard import FlowBudgetGuard
from aura_protocol.guards.flow_limits import FlowLimits
from aura_protocol.guards.guard_chain import GuardChain
from aura_protocol.guards.guarded_receiver import GuardedReceiver
from aura_protocol.guards.guarded_sender import GuardedSender
from aura_protocol.guards.journal_coupling_guard import JournalCouplingGuard
from aura_protocol.guards.receipt import RECEIPT_FACT_TYPE, receipt_fact_type

__all__ = ["GuardStack", "guard_registry"]


def guard_registry(base: FactRegistry | None = None) -> FactRegistry:
    """``base`` (default: the journal layer's registry) extended with receipt facts."""
    registry = default_registry() if base is None else base.copy()
    if not registry.knows(RECEIPT_FACT_TYPE):
        registry.register(receipt_fact_type())
    return registry


class GuardStack:
    """The guard chain, sender and receiver of one authority (one device)."""

    def __init__(
        self,
        *,
        authority: AuthorityId,
        device: DeviceSigner,
        storage: StorageEffects,
        time: PhysicalTimeEffects,
        random: RandomEffects,
        authorizer: CapabilityAuthorizer,
        flow_limits: FlowLimits,
        registry: FactRegistry | None = None,
    ) -> None:
        if not isinstance(authority, AuthorityId):
            raise InvalidInput("a guard stack belongs to an AuthorityId")
        self.registry = guard_registry(registry)
        self.memberships = MembershipTable(authority)
        self.chain = GuardChain(
            CapabilityGuard(authorizer),
            FlowBudgetGuard(flow_limits),
            JournalCouplingGuard(self.registry),
        )
        self.sender = GuardedSender(
            storage=storage,
            memberships=self.memberships,
            device=device,
            chain=self.chain,
            time=time,
            random=random,
        )
        self.receiver = GuardedReceiver(
            storage=storage, memberships=self.memberships, registry=self.registry
        )

    @property
    def authority(self) -> AuthorityId:
        return self.memberships.authority
