"""The fact registry of an account journal that uses guardians.

Custody facts (consensus commits, key epochs, guardian sets, the tree) plus
the guardians' answers; every journal that takes part — the account's
devices, the new device of a recovery, the guardians' copies — uses it.
"""

from __future__ import annotations

from aura_features.devices import install_custody_facts
from aura_features.recovery.guardian_answers import install_answers
from aura_journal import FactRegistry, default_registry

__all__ = ["install_recovery_facts", "recovery_registry"]


def install_recovery_facts(registry: FactRegistry) -> FactRegistry:
    """Register custody and recovery fact types (idempotent) and return ``registry``."""
    install_custody_facts(registry)
    install_answers(registry)
    return registry


def recovery_registry() -> FactRegistry:
    """A fresh registry with the journal's own types, custody and recovery."""
    return install_recovery_facts(default_registry())
