"""Scenario files: agents, the steps they take, the faults they suffer, what must hold after.

A scenario is TOML (read with the standard library's ``tomllib``)::

    name = "profile-under-partition"
    duration_s = 60.0

    [network]                 # message faults for the whole run
    latency_ms = 20
    jitter_ms = 30            # jitter reorders messages
    drop = 0.05
    duplicate = 0.05
    delay = 0.1               # probability of an extra long delay (reordering)
    delay_ms = 800

    [[agent]]
    name = "alice"
    account = true            # a 1-of-1 account is created at start

    [[replica]]               # who keeps a copy of whose account journal
    of = "alice"
    by = ["bob"]

    [[witness_group]]         # consensus among agents (trusted-dealer keys, seeded)
    name = "devices"
    members = ["w1", "w2", "w3", "w4"]
    threshold = 3
    byzantine = ["w4"]        # plays an equivocating witness
    initiators = ["w1"]

    [[relay]]                 # a relay node; agents keep their mailboxes there
    name = "relay"

    [[step]]
    at = 1.0
    do = "run"                # a feature workflow on an agent (save = "x" keeps the
                              # result; "$x" in a later step's args stands for it)
    agent = "alice"
    operation = "profile.set_nickname"
    args = { nickname = "Alice" }

    [[expect]]
    kind = "query"
    agent = "bob"
    query = "profile.nickname"
    args = { authority = "@alice" }   # "@name" stands for that agent's authority
    equals = "Alice"

Step actions (``do``): ``run``, ``propose``, ``partition``, ``heal``,
``crash``, ``restart``, ``skew``, ``corrupt``, ``sync``. Expectation kinds:
``query``, ``chat`` (an agent's conversation with another holds texts),
``contacts`` (reachable contacts), ``converged``, ``decided`` (liveness: decided and held by every
honest witness, and agreement), ``agreement`` (safety only: no instance
decided two operations), ``equivocation_detected``, ``facts``, ``status``
(a figure of one agent, e.g. ``corrupt_records``, at least some value).
Everything is validated on load; errors name the table and field.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from aura_core.errors import InvalidInput

__all__ = [
    "AgentSpec",
    "Expectation",
    "NetworkSpec",
    "RelaySpec",
    "ReplicaSpec",
    "Scenario",
    "Step",
    "WitnessGroupSpec",
    "load_scenario",
    "parse_scenario",
]

_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")
STEP_ACTIONS = frozenset(
    {"run", "propose", "partition", "heal", "crash", "restart", "skew", "corrupt", "sync"}
)
EXPECT_KINDS = frozenset(
    {
        "query",
        "converged",
        "decided",
        "agreement",
        "equivocation_detected",
        "facts",
        "status",
        "chat",
        "contacts",
    }
)
CORRUPTION_TARGETS = frozenset({"fact", "lost_writes"})
STATUS_FIELDS = frozenset(
    {"facts", "corrupt_records", "anti_entropy_sessions", "frames_refused", "consensus_decided"}
)
MAX_AGENTS = 32
MAX_DURATION_S = 3600.0


class _Fields:
    """Reads one TOML table, remembering where it is for error messages."""

    def __init__(self, table: object, where: str) -> None:
        if not isinstance(table, dict):
            raise InvalidInput(f"{where} must be a table")
        self.table = table
        self.where = where
        self.used: set[str] = set()

    def get(
        self, key: str, default: Any = ..., *, kind: type | tuple[type, ...] | None = None
    ) -> Any:
        self.used.add(key)
        if key not in self.table:
            if default is ...:
                raise InvalidInput(f"{self.where}: '{key}' is missing")
            return default
        value = self.table[key]
        if kind is not None:
            kinds = kind if isinstance(kind, tuple) else (kind,)
            if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
                raise InvalidInput(
                    f"{self.where}: '{key}' has the wrong type ({type(value).__name__})"
                )
        return value

    def name(self, key: str) -> str:
        value = self.get(key, kind=str)
        if _NAME.fullmatch(value) is None:
            raise InvalidInput(
                f"{self.where}: '{key}' must match [a-z][a-z0-9_-]*, got {value!r:.40}"
            )
        return value

    def number(
        self, key: str, default: float | None = None, *, low: float = 0.0, high: float = 1e9
    ) -> float:
        value = self.get(key, ... if default is None else default, kind=(int, float))
        if not low <= value <= high:
            raise InvalidInput(f"{self.where}: '{key}' must be in [{low}, {high}], got {value}")
        return float(value)

    def names(self, key: str, default: Any = ...) -> tuple[str, ...]:
        value = self.get(key, default, kind=list)
        out = []
        for item in value:
            if not isinstance(item, str) or _NAME.fullmatch(item) is None:
                raise InvalidInput(f"{self.where}: '{key}' must list agent names")
            out.append(item)
        return tuple(out)

    def done(self) -> None:
        unknown = set(self.table) - self.used
        if unknown:
            raise InvalidInput(f"{self.where}: unknown field(s) {', '.join(sorted(unknown))}")


@attrs.frozen
class NetworkSpec:
    latency_s: float = 0.01
    jitter_s: float = 0.0
    drop: float = 0.0
    duplicate: float = 0.0
    delay: float = 0.0
    delay_s: float = 0.5


@attrs.frozen
class AgentSpec:
    name: str
    account: bool = True


@attrs.frozen
class ReplicaSpec:
    """``by`` keep a replica of ``of``'s account journal (and sync it with ``of`` and each other)."""

    of: str
    by: tuple[str, ...]


@attrs.frozen
class WitnessGroupSpec:
    name: str
    members: tuple[str, ...]
    threshold: int
    initiators: tuple[str, ...]
    byzantine: tuple[str, ...] = ()


@attrs.frozen
class RelaySpec:
    """A simulated relay node (agents keep their mailboxes on every relay listed)."""

    name: str


@attrs.frozen
class Step:
    at: float
    do: str
    fields: Mapping[str, Any] = attrs.field(eq=False)


@attrs.frozen
class Expectation:
    kind: str
    fields: Mapping[str, Any] = attrs.field(eq=False)
    label: str = ""


@attrs.frozen
class Scenario:
    name: str
    description: str
    duration_s: float
    network: NetworkSpec
    agents: tuple[AgentSpec, ...]
    replicas: tuple[ReplicaSpec, ...]
    witness_groups: tuple[WitnessGroupSpec, ...]
    relays: tuple[RelaySpec, ...]
    steps: tuple[Step, ...]
    expectations: tuple[Expectation, ...]
    source: str | None = None
    """The file the scenario came from, if any (for the replay command)."""

    @property
    def agent_names(self) -> tuple[str, ...]:
        return tuple(agent.name for agent in self.agents)


def _network(table: object) -> NetworkSpec:
    fields = _Fields(table, "[network]")
    spec = NetworkSpec(
        latency_s=fields.number("latency_ms", 10.0, high=60_000) / 1000,
        jitter_s=fields.number("jitter_ms", 0.0, high=60_000) / 1000,
        drop=fields.number("drop", 0.0, high=0.9),
        duplicate=fields.number("duplicate", 0.0, high=1.0),
        delay=fields.number("delay", 0.0, high=1.0),
        delay_s=fields.number("delay_ms", 500.0, high=600_000) / 1000,
    )
    fields.done()
    return spec


def _step(table: object, index: int, agents: set[str], groups: set[str], nodes: set[str]) -> Step:
    where = f"[[step]] #{index + 1}"
    fields = _Fields(table, where)
    at = fields.number("at", high=MAX_DURATION_S)
    do = fields.get("do", kind=str)
    if do not in STEP_ACTIONS:
        raise InvalidInput(
            f"{where}: unknown action {do!r:.30}; use one of {', '.join(sorted(STEP_ACTIONS))}"
        )
    out: dict[str, Any] = {}

    def agent(key: str = "agent") -> str:
        name = fields.name(key)
        if name not in agents:
            raise InvalidInput(f"{where}: '{key}' names unknown agent {name!r}")
        return name

    if do == "run":
        out["agent"] = agent()
        out["operation"] = fields.get("operation", kind=str)
        out["args"] = dict(fields.get("args", {}, kind=dict))
        save = fields.get("save", "", kind=str)
        if save and _NAME.fullmatch(save) is None:
            raise InvalidInput(f"{where}: 'save' must be a plain name")
        out["save"] = save
    elif do == "propose":
        out["agent"] = agent()
        group = fields.name("group")
        if group not in groups:
            raise InvalidInput(f"{where}: unknown witness group {group!r}")
        out["group"] = group
        out["operation"] = fields.get("operation", kind=(dict, str))
        out["slot"] = fields.get("slot", "next", kind=str)
    elif do == "partition":
        sides = fields.get("groups", kind=list)
        if len(sides) < 2:
            raise InvalidInput(f"{where}: 'groups' needs at least two sides")
        parsed = []
        for side in sides:
            if not isinstance(side, list) or not side or not all(s in nodes for s in side):
                raise InvalidInput(
                    f"{where}: each side of 'groups' is a list of known agents or relays"
                )
            parsed.append(tuple(side))
        out["groups"] = tuple(parsed)
    elif do in ("crash", "restart", "sync"):
        out["agent"] = agent()
    elif do == "skew":
        out["agent"] = agent()
        out["seconds"] = fields.number("seconds", low=-86_400, high=86_400)
    elif do == "corrupt":
        out["agent"] = agent()
        target = fields.get("target", kind=str)
        if target not in CORRUPTION_TARGETS:
            raise InvalidInput(
                f"{where}: 'target' must be one of {', '.join(sorted(CORRUPTION_TARGETS))}"
            )
        out["target"] = target
        out["count"] = int(fields.number("count", 1, low=1, high=1000))
    fields.done()
    return Step(at, do, out)


def _expectation(table: object, index: int, agents: set[str], groups: set[str]) -> Expectation:
    where = f"[[expect]] #{index + 1}"
    fields = _Fields(table, where)
    kind = fields.get("kind", kind=str)
    if kind not in EXPECT_KINDS:
        raise InvalidInput(
            f"{where}: unknown kind {kind!r:.30}; use one of {', '.join(sorted(EXPECT_KINDS))}"
        )
    label = fields.get("label", "", kind=str)
    out: dict[str, Any] = {}

    def known(names: tuple[str, ...], key: str) -> tuple[str, ...]:
        for name in names:
            if name not in agents:
                raise InvalidInput(f"{where}: '{key}' names unknown agent {name!r}")
        return names

    if kind == "query":
        out["agent"] = known((fields.name("agent"),), "agent")[0]
        out["query"] = fields.get("query", kind=str)
        out["args"] = dict(fields.get("args", {}, kind=dict))
        if "equals" in fields.table:
            out["equals"] = fields.get("equals")
        else:
            out["contains"] = fields.get("contains", kind=list)
    elif kind == "converged":
        out["of"] = known((fields.name("of"),), "of")[0]
        out["agents"] = known(fields.names("agents"), "agents")
    elif kind in ("decided", "agreement", "equivocation_detected"):
        group = fields.name("group")
        if group not in groups:
            raise InvalidInput(f"{where}: unknown witness group {group!r}")
        out["group"] = group
        if kind == "decided":
            out["at_least"] = int(fields.number("at_least", 1, low=0, high=1000))
    elif kind == "chat":
        out["agent"] = known((fields.name("agent"),), "agent")[0]
        out["with"] = known((fields.name("with"),), "with")[0]
        out["texts"] = tuple(fields.get("texts", kind=list))
    elif kind == "contacts":
        out["agent"] = known((fields.name("agent"),), "agent")[0]
        out["reachable"] = int(fields.number("reachable", 1, low=0, high=1000))
    elif kind == "status":
        out["agent"] = known((fields.name("agent"),), "agent")[0]
        field = fields.get("field", kind=str)
        if field not in STATUS_FIELDS:
            raise InvalidInput(
                f"{where}: 'field' must be one of {', '.join(sorted(STATUS_FIELDS))}"
            )
        out["field"] = field
        out["at_least"] = int(fields.number("at_least", 1, low=0, high=1_000_000))
    elif kind == "facts":
        out["agent"] = known((fields.name("agent"),), "agent")[0]
        out["of"] = known((fields.name("of"),), "of")[0]
        out["type"] = fields.get("type", kind=str)
        out["at_least"] = int(fields.number("at_least", 1, low=0, high=1_000_000))
    fields.done()
    return Expectation(kind, out, label)


def parse_scenario(text: str, *, source: str | None = None) -> Scenario:
    """Parse and validate scenario TOML; ``InvalidInput`` names what is wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"scenario is not valid TOML: {exc}") from None
    top = _Fields(data, "scenario")
    name = top.name("name")
    description = top.get("description", "", kind=str)
    duration = top.number("duration_s", 60.0, low=0.1, high=MAX_DURATION_S)
    network = _network(top.get("network", {}))
    agent_tables = top.get("agent", kind=list)
    if not 1 <= len(agent_tables) <= MAX_AGENTS:
        raise InvalidInput(f"scenario: 1..{MAX_AGENTS} [[agent]] tables are needed")
    agents = []
    for index, table in enumerate(agent_tables):
        fields = _Fields(table, f"[[agent]] #{index + 1}")
        agents.append(AgentSpec(fields.name("name"), bool(fields.get("account", True, kind=bool))))
        fields.done()
    names = {a.name for a in agents}
    if len(names) != len(agents):
        raise InvalidInput("scenario: two agents share a name")
    replicas = []
    for index, table in enumerate(top.get("replica", [], kind=list)):
        fields = _Fields(table, f"[[replica]] #{index + 1}")
        of, by = fields.name("of"), fields.names("by")
        for agent in (of, *by):
            if agent not in names:
                raise InvalidInput(f"[[replica]] #{index + 1}: unknown agent {agent!r}")
        if not next(a for a in agents if a.name == of).account:
            raise InvalidInput(f"[[replica]] #{index + 1}: {of!r} has no account to replicate")
        replicas.append(ReplicaSpec(of, by))
        fields.done()
    groups = []
    for index, table in enumerate(top.get("witness_group", [], kind=list)):
        where = f"[[witness_group]] #{index + 1}"
        fields = _Fields(table, where)
        members = fields.names("members")
        threshold = int(fields.number("threshold", low=2, high=7))
        initiators = fields.names("initiators")
        byzantine = fields.names("byzantine", ())
        for agent in (*members, *initiators):
            if agent not in names:
                raise InvalidInput(f"{where}: unknown agent {agent!r}")
        if not set(byzantine) <= set(members):
            raise InvalidInput(f"{where}: byzantine witnesses must be members")
        if not 2 <= len(members) <= 7 or len(set(members)) != len(members):
            raise InvalidInput(f"{where}: 2..7 distinct members")
        groups.append(
            WitnessGroupSpec(fields.name("name"), members, threshold, initiators, byzantine)
        )
        fields.done()
    relays = []
    for index, table in enumerate(top.get("relay", [], kind=list)):
        fields = _Fields(table, f"[[relay]] #{index + 1}")
        relay = fields.name("name")
        if relay in names or relay in {r.name for r in relays}:
            raise InvalidInput(f"[[relay]] #{index + 1}: the name {relay!r} is taken")
        relays.append(RelaySpec(relay))
        fields.done()
    group_names = {g.name for g in groups}
    nodes = names | {relay.name for relay in relays}
    steps = [
        _step(table, index, names, group_names, nodes)
        for index, table in enumerate(top.get("step", [], kind=list))
    ]
    expectations = [
        _expectation(table, index, names, group_names)
        for index, table in enumerate(top.get("expect", [], kind=list))
    ]
    if not expectations:
        raise InvalidInput("scenario: at least one [[expect]] is needed (what should hold?)")
    top.done()
    return Scenario(
        name=name,
        description=description,
        duration_s=duration,
        network=network,
        agents=tuple(agents),
        replicas=tuple(replicas),
        witness_groups=tuple(groups),
        relays=tuple(relays),
        steps=tuple(sorted(steps, key=lambda s: s.at)),
        expectations=tuple(expectations),
        source=source,
    )


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read scenario {path}: {exc.strerror}") from None
    return parse_scenario(text, source=str(path))
