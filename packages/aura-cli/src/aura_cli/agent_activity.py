"""Knowing when an agent has gone quiet: no new facts or frames, nothing left to send.

A one-shot command (``aura sync once``, or any command that waits for peers)
cannot know how many rounds its peers need; it watches the agent's own
figures and stops once they have not moved for a quiet period, or at the
timeout. Both are bounded, so a command never hangs on an absent peer.
"""

from __future__ import annotations

import anyio
import attrs

from aura_agent import Agent

__all__ = ["ActivityFigures", "settle"]

_POLL_S = 0.05


@attrs.frozen
class ActivityFigures:
    """The figures that change when an agent learns or sends something."""

    facts: int
    frames_received: int
    outbox_pending: int
    sync_sessions: int

    @classmethod
    def of(cls, agent: Agent) -> ActivityFigures:
        status = agent.status()
        return cls(
            status.facts,
            status.frames_received,
            status.outbox_pending,
            status.anti_entropy_sessions,
        )


async def settle(agent: Agent, *, quiet_s: float, timeout_s: float) -> tuple[ActivityFigures, bool]:
    """Wait until nothing changed for ``quiet_s`` and the outbox is empty; (figures, settled)."""
    last = ActivityFigures.of(agent)
    clock = anyio.current_time
    changed_at = clock()
    with anyio.move_on_after(timeout_s):
        while True:
            await anyio.sleep(_POLL_S)
            now_figures = ActivityFigures.of(agent)
            if now_figures != last:
                last, changed_at = now_figures, clock()
            elif not last.outbox_pending and clock() - changed_at >= quiet_s:
                return last, True
    return ActivityFigures.of(agent), False
