"""Timing and size knobs of the consensus cores, validated in one place.

Defaults follow the distributed-systems contract: ``T_fallback`` of 2-3x the
expected message delay, gossip every 250 ms with fanout 3. All times are
seconds on the clock the driver passes as ``now``.
"""

from __future__ import annotations

import math

import attrs

from aura_core.errors import InvalidInput

__all__ = ["TIMER_SLACK_S", "ConsensusConfig"]


def _seconds(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or not 0 < value <= 3600
    ):
        raise InvalidInput(f"ConsensusConfig.{attribute.name} must be seconds in (0, 3600]")


def _optional_seconds(instance: object, attribute: attrs.Attribute, value: object) -> None:
    if value is not None:
        _seconds(instance, attribute, value)


def _count(low: int, high: int) -> object:
    def check(_instance: object, attribute: attrs.Attribute, value: object) -> None:
        if type(value) is not int or not low <= value <= high:
            raise InvalidInput(
                f"ConsensusConfig.{attribute.name} must be an integer in {low}..{high}"
            )

    return check


@attrs.frozen
class ConsensusConfig:
    """How long to wait before falling back, how to gossip, how much state to keep."""

    fallback_timeout_s: float = attrs.field(default=0.5, validator=_seconds)
    """Fast path deadline (initiator) and silence before a witness starts gossiping."""
    gossip_interval_s: float = attrs.field(default=0.25, validator=_seconds)
    """Period of fallback gossip while an instance is undecided."""
    fanout: int = attrs.field(default=3, validator=_count(1, 16))
    """Peers each gossip round goes to."""
    retry_interval_s: float = attrs.field(default=1.0, validator=_seconds)
    """First interval at which an initiator re-sends its fallback gossip (doubles)."""
    max_retry_interval_s: float = attrs.field(default=8.0, validator=_seconds)
    abandon_after_s: float | None = attrs.field(default=None, validator=_optional_seconds)
    """An initiator gives up on a proposal after this long (None: never)."""
    max_instances: int = attrs.field(default=256, validator=_count(1, 1 << 20))
    """Undecided instances a witness tracks at once; new ones beyond it are refused."""
    max_decided: int = attrs.field(default=4096, validator=_count(1, 1 << 24))
    """Decided instances a witness keeps in memory to answer late messages."""


TIMER_SLACK_S = 2e-6
"""A timer is due this close to its deadline. Drivers keep time in integer
ticks (the simulator in microseconds) and convert back to float seconds, which
can land a hair before the deadline the core asked for; without the slack the
core would see "not yet", ask for the same deadline, and be woken forever."""
