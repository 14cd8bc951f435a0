"""Registering home facts (and the home view) on a journal registry."""

from __future__ import annotations

from aura_features.social.home_state import HOME, home_fact_types
from aura_journal.fact_registry import FactRegistry

__all__ = ["register_social"]


def register_social(registry: FactRegistry) -> FactRegistry:
    for fact_type in home_fact_types():
        registry.register(fact_type)
    registry.register_reducer(HOME)
    return registry
