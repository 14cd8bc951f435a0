"""The registry holding the journal layer's own fact types and reducers.

Each call builds a fresh registry; callers extend their copy with feature
types, so no process-wide table ever changes behind anyone's back.
"""

from __future__ import annotations

from aura_journal.fact_registry import FactRegistry
from aura_journal.flow_budget import FLOW_BUDGET, flow_fact_types
from aura_journal.snapshots import snapshot_fact_type
from aura_journal.tree_reduction import COMMITMENT_TREE, tree_fact_types

__all__ = ["default_registry"]


def default_registry() -> FactRegistry:
    """A new registry with the commitment tree, flow budgets and snapshots."""
    return FactRegistry(
        types=(*tree_fact_types(), *flow_fact_types(), snapshot_fact_type()),
        reducers=(COMMITMENT_TREE, FLOW_BUDGET),
    )
