"""The figures the distributed-systems contract says to monitor, and their Prometheus form.

The contract (section 9) asks operators to watch receipt acceptance rates,
consensus backlog and budget utilization; anti-entropy lag and relay
reachability are the other early signs of a node falling out of sync. The
agent counts them in :class:`OperationsMetrics` as things happen; a
:class:`StatusSnapshot` is a frozen copy at one instant (what ``aura status``
shows), and :func:`render_prometheus` writes it in the Prometheus text
exposition format (version 0.0.4) for a scraper.

No label carries an identifier of a context, peer or authority: a metrics
endpoint must not become a map of who talks to whom. Relays are labelled by
address, which the operator configured.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType

import attrs

__all__ = [
    "PROMETHEUS_CONTENT_TYPE",
    "OperationsMetrics",
    "RelayHealth",
    "StatusSnapshot",
    "render_prometheus",
]

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@attrs.frozen
class RelayHealth:
    """What this agent knows about one relay."""

    address: str
    reachable: bool
    successes: int
    failures: int
    last_success_s: float | None
    """Monotonic time of the last successful exchange, if any."""


@attrs.frozen
class StatusSnapshot:
    """Operational figures of one agent at one instant."""

    device: str
    authority: str | None
    uptime_s: float
    features: tuple[str, ...]
    journals: int
    facts: int
    contexts: int
    receipts_accepted: int
    receipts_rejected: int
    consensus_backlog: int
    consensus_decided: int
    flow_spent: int
    flow_limit: int
    flow_max_utilization: float
    anti_entropy_lag_s: float | None
    """Seconds since the stalest namespace with peers last finished a sync (``None``: none has peers)."""
    anti_entropy_sessions: int
    anti_entropy_failures: int
    outbox_pending: int
    signal_emissions: int
    corrupt_records: int
    relays: tuple[RelayHealth, ...]
    frames_received: int
    frames_refused: int

    @property
    def receipt_acceptance_rate(self) -> float:
        """Accepted / (accepted + rejected); NaN before any receipt arrived."""
        total = self.receipts_accepted + self.receipts_rejected
        return math.nan if total == 0 else self.receipts_accepted / total

    @property
    def flow_utilization(self) -> float:
        """Spent / limit over every flow budget this agent holds (0 with no budgets)."""
        return 0.0 if self.flow_limit == 0 else self.flow_spent / self.flow_limit

    @property
    def relays_reachable(self) -> int:
        return sum(1 for relay in self.relays if relay.reachable)


class OperationsMetrics:
    """Counters an agent updates as it works (plain ints: one task mutates them at a time)."""

    def __init__(self) -> None:
        self.receipts_accepted = 0
        self.receipts_rejected = 0
        self.consensus_decided = 0
        self.anti_entropy_sessions = 0
        self.anti_entropy_failures = 0
        self.frames_received = 0
        self.frames_refused = 0
        self._last_sync: dict[str, float] = {}
        self._relays: dict[str, list[float | int | bool | None]] = {}

    # ------------------------------------------------------------------ anti-entropy

    def synced(self, namespace: str, now: float) -> None:
        self.anti_entropy_sessions += 1
        self._last_sync[namespace] = now

    def track_namespace(self, namespace: str, since: float) -> None:
        """Start measuring lag for ``namespace`` (lag counts from ``since`` until its first sync)."""
        self._last_sync.setdefault(namespace, since)

    def forget_namespace(self, namespace: str) -> None:
        self._last_sync.pop(namespace, None)

    def anti_entropy_lag(self, now: float) -> float | None:
        if not self._last_sync:
            return None
        return max(0.0, now - min(self._last_sync.values()))

    # ------------------------------------------------------------------ relays

    def relay_result(self, address: str, ok: bool, now: float) -> None:
        entry = self._relays.setdefault(address, [False, 0, 0, None])
        entry[0] = ok
        if ok:
            entry[1] = int(entry[1] or 0) + 1
            entry[3] = now
        else:
            entry[2] = int(entry[2] or 0) + 1

    def relay_health(self, configured: tuple[str, ...] = ()) -> tuple[RelayHealth, ...]:
        for address in configured:
            self._relays.setdefault(address, [False, 0, 0, None])
        return tuple(
            RelayHealth(address, bool(e[0]), int(e[1] or 0), int(e[2] or 0), e[3])  # type: ignore[arg-type]
            for address, e in sorted(self._relays.items())
        )


# ---------------------------------------------------------------------- exposition format


def _number(value: float | int) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _label_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class _Exposition:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(
        self,
        name: str,
        kind: str,
        help_text: str,
        samples: Mapping[tuple[tuple[str, str], ...], float | int] | float | int,
    ) -> None:
        # In the 0.0.4 text format the TYPE line names the samples, so a counter's
        # family is declared under its ``_total`` name.
        sample_name = f"{name}_total" if kind == "counter" else name
        self.lines.append(f"# HELP {sample_name} {help_text}")
        self.lines.append(f"# TYPE {sample_name} {kind}")
        if not isinstance(samples, Mapping):
            self.lines.append(f"{sample_name} {_number(samples)}")
            return
        for labels, value in samples.items():
            rendered = ",".join(f'{key}="{_label_value(val)}"' for key, val in labels)
            self.lines.append(f"{sample_name}{{{rendered}}} {_number(value)}")


def render_prometheus(snapshot: StatusSnapshot) -> str:
    """The snapshot in the Prometheus text exposition format (0.0.4), ending in a newline."""
    out = _Exposition()
    out.family(
        "aura_agent_info",
        "gauge",
        "Agent identity and loaded features (value is always 1).",
        MappingProxyType(
            {
                (
                    ("features", ",".join(snapshot.features)),
                    ("has_account", "true" if snapshot.authority else "false"),
                ): 1
            }
        ),
    )
    out.family(
        "aura_uptime_seconds", "gauge", "Seconds since the agent started.", snapshot.uptime_s
    )
    out.family(
        "aura_journals", "gauge", "Journals (namespaces) this agent keeps.", snapshot.journals
    )
    out.family("aura_facts", "gauge", "Facts held across all journals.", snapshot.facts)
    out.family(
        "aura_contexts",
        "gauge",
        "Relational contexts this agent is a member of.",
        snapshot.contexts,
    )
    out.family(
        "aura_receipts",
        "counter",
        "Receipt chains checked on arriving envelopes, by result.",
        {
            (("result", "accepted"),): snapshot.receipts_accepted,
            (("result", "rejected"),): snapshot.receipts_rejected,
        },
    )
    out.family(
        "aura_receipt_acceptance_ratio",
        "gauge",
        "Accepted / checked receipt chains (NaN before the first).",
        snapshot.receipt_acceptance_rate,
    )
    out.family(
        "aura_consensus_backlog",
        "gauge",
        "Consensus instances this agent takes part in that have not decided.",
        snapshot.consensus_backlog,
    )
    out.family(
        "aura_consensus_decided",
        "counter",
        "Consensus instances decided (commit facts accepted).",
        snapshot.consensus_decided,
    )
    out.family(
        "aura_flow_budget_spent",
        "gauge",
        "Flow budget spent in the current epoch, summed over every (context, peer).",
        snapshot.flow_spent,
    )
    out.family(
        "aura_flow_budget_limit",
        "gauge",
        "Flow budget limits, summed over every (context, peer) with a budget.",
        snapshot.flow_limit,
    )
    out.family(
        "aura_flow_budget_utilization_ratio",
        "gauge",
        "Spent / limit over all flow budgets.",
        snapshot.flow_utilization,
    )
    out.family(
        "aura_flow_budget_max_utilization_ratio",
        "gauge",
        "The most used single (context, peer) flow budget, spent / limit.",
        snapshot.flow_max_utilization,
    )
    out.family(
        "aura_anti_entropy_lag_seconds",
        "gauge",
        "Seconds since the stalest synced namespace last finished a sync (NaN: nothing to sync).",
        math.nan if snapshot.anti_entropy_lag_s is None else snapshot.anti_entropy_lag_s,
    )
    out.family(
        "aura_anti_entropy_sessions",
        "counter",
        "Anti-entropy sessions, by result.",
        {
            (("result", "finished"),): snapshot.anti_entropy_sessions,
            (("result", "failed"),): snapshot.anti_entropy_failures,
        },
    )
    out.family(
        "aura_outbox_pending",
        "gauge",
        "Committed sends not yet handed to a transport.",
        snapshot.outbox_pending,
    )
    out.family(
        "aura_frames",
        "counter",
        "Frames received from peers, by result.",
        {
            (("result", "accepted"),): snapshot.frames_received,
            (("result", "refused"),): snapshot.frames_refused,
        },
    )
    out.family(
        "aura_signal_emissions",
        "counter",
        "Reactive signal values emitted to subscribers.",
        snapshot.signal_emissions,
    )
    out.family(
        "aura_storage_corrupt_records",
        "counter",
        "Stored records that failed to decode when loaded.",
        snapshot.corrupt_records,
    )
    out.family(
        "aura_relay_reachable",
        "gauge",
        "Whether the last exchange with a relay succeeded (1) or failed (0).",
        {(("relay", relay.address),): relay.reachable for relay in snapshot.relays},
    )
    out.family(
        "aura_relay_exchanges",
        "counter",
        "Exchanges with each relay, by result.",
        {
            key: value
            for relay in snapshot.relays
            for key, value in (
                ((("relay", relay.address), ("result", "ok")), relay.successes),
                ((("relay", relay.address), ("result", "failed")), relay.failures),
            )
        },
    )
    return "\n".join(out.lines) + "\n"
