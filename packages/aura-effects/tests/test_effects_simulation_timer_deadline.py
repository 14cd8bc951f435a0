"""A protocol's timer fires at (never before) the time it asked for."""

from __future__ import annotations

from aura_core.effects import Incoming, Outgoing
from aura_effects.simulated import Simulation


class _DeadlineProbe:
    """Asks for a timer at an awkward float time and records what ``now`` it gets."""

    def __init__(self) -> None:
        self.wanted = 1_700_000_000.1234563  # rounds down to the microsecond
        self.seen: list[float] = []

    def receive(self, message: Incoming, now: float) -> list[Outgoing]:
        return []

    def next_timer(self) -> float | None:
        return None if self.seen else self.wanted

    def on_timer(self, now: float) -> list[Outgoing]:
        self.seen.append(now)
        return []


def test_timer_never_fires_early():
    probes: list[_DeadlineProbe] = []

    def factory(_env):
        probe = _DeadlineProbe()
        probes.append(probe)
        return probe

    sim = Simulation(seed=7)
    sim.add_node("a", factory)
    sim.run_until_idle()
    assert probes[0].seen, "timer did not fire"
    assert probes[0].seen[0] >= probes[0].wanted
