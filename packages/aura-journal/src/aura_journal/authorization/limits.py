"""Evaluation limits: how much work one authorization may cost.

Two layers, because Biscuit's run limits are only checked at certain points:
the clock after each check query and between rule iterations, the fact and
iteration counts only while rules run. A single rule or query that joins
large relations runs to completion however long it takes (measured: a
three-way join over 300 facts ran 18 s under a 20 ms time limit). So:

* :class:`TokenLimits` bounds the token's *shape* before anything runs: its
  size, block count, grants and checks, no rules at all, and check queries
  that join at most one non-request predicate. Every query is then linear in
  the number of facts, and rule fan-out is impossible.
* :class:`EvaluationLimits` are Biscuit's run limits, set on purpose. The
  time budget is what stops a token stuffed with checks (measured: 256
  queries over 2000 journal facts, ~450 ms of work, stopped at 20 ms). The
  library default of 1 ms is too tight: one check scanning 2000 journal
  facts already took over 1 ms here, and a loaded two-core machine adds
  scheduling delay, so 20 ms is used. ``max_facts`` and ``max_iterations``
  bound rule evaluation, which only authorizer-side rules can trigger.
"""

from __future__ import annotations

import datetime

import attrs

from aura_core.errors import InvalidInput

__all__ = ["EvaluationLimits", "TokenLimits"]


def _positive(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not int or value <= 0:
        raise InvalidInput(f"{attribute.name} must be a positive integer, got {value!r}")


@attrs.frozen
class EvaluationLimits:
    """Biscuit run limits for one authorization."""

    max_facts: int = attrs.field(default=8192, validator=_positive)
    """Facts in the authorizer world (journal facts + token facts + request facts)."""
    max_iterations: int = attrs.field(default=16, validator=_positive)
    """Datalog fixpoint iterations (tokens carry no rules, so 1-2 are used)."""
    max_time_us: int = attrs.field(default=20_000, validator=_positive)
    """Wall-clock budget for the whole evaluation, in microseconds."""

    @classmethod
    def biscuit_defaults(cls) -> EvaluationLimits:
        """The library's defaults (1000 facts, 100 iterations, 1 ms), for comparison."""
        return cls(max_facts=1000, max_iterations=100, max_time_us=1000)

    @property
    def max_time(self) -> datetime.timedelta:
        return datetime.timedelta(microseconds=self.max_time_us)


@attrs.frozen
class TokenLimits:
    """Static bounds on a token's structure, checked before evaluation."""

    max_bytes: int = attrs.field(default=16 * 1024, validator=_positive)
    max_blocks: int = attrs.field(default=16, validator=_positive)
    """Authority block plus attenuation blocks."""
    max_grants: int = attrs.field(default=128, validator=_positive)
    """``capability`` facts in the authority block."""
    max_checks_per_block: int = attrs.field(default=16, validator=_positive)
    max_queries_per_check: int = attrs.field(default=4, validator=_positive)
    max_predicates_per_query: int = attrs.field(default=4, validator=_positive)
    """Body predicates in one check query; at most one may be a non-request predicate."""
