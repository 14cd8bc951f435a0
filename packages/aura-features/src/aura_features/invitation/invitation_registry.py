"""Registering invitation and contact facts (and their views) on a journal registry."""

from __future__ import annotations

from aura_features.invitation.invitation_facts import invitation_fact_types
from aura_features.invitation.invitation_ledger import CONTACT_PETNAMES, INVITATION_LEDGER
from aura_features.invitation.relationship import RELATIONSHIP
from aura_journal.fact_registry import FactRegistry

__all__ = ["register_invitations"]


def register_invitations(registry: FactRegistry) -> FactRegistry:
    """Add the invitation fact types and the ledger, petname and relationship views."""
    for fact_type in invitation_fact_types():
        registry.register(fact_type)
    for reducer in (INVITATION_LEDGER, CONTACT_PETNAMES, RELATIONSHIP):
        registry.register_reducer(reducer)
    return registry
