"""Flow budgets: how much one authority may send to a peer in a context.

Only what must replicate is stored as facts: each send's charge
(``flow.charge``) and epoch advances (``flow.epoch``). The limit is not a
fact; it is derived at runtime from the capabilities in force, and a missing
or zero limit denies. Per (context, peer) the ledger keeps the highest epoch
seen and the sum of the charges made in it, so a new epoch resets what was
spent and concurrent charges from several devices all count.

:class:`FlowBudget` is the value the guard chain reads. Merging two views of
one budget takes the smaller limit and the later ``(epoch, spent)``: the
larger epoch wins outright (its spending restarted from zero), within one
epoch the larger spent wins.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import attrs

from aura_core.canonical_fields import (
    U32_MAX,
    U64_MAX,
    of_type,
    read_bytes,
    read_list,
    read_map,
    read_uint,
)
from aura_core.errors import (
    AuthorizationDenied,
    InsufficientBudget,
    InvalidEncoding,
    InvalidInput,
    ValidationError,
)
from aura_core.identifiers import AuthorityId, ContextId, Epoch
from aura_journal.fact_registry import FactType
from aura_journal.facts import Fact
from aura_journal.namespace import JournalNamespace

__all__ = [
    "FLOW_BUDGET",
    "FlowBudget",
    "FlowBudgetReducer",
    "FlowCharge",
    "FlowEpochAdvance",
    "FlowLedger",
    "flow_fact_types",
]


def _limit(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if value is not None and (type(value) is not int or not 0 <= value <= U64_MAX):
        raise InvalidInput(f"FlowBudget.limit must be None or a u64, got {value!r:.40}")


def _u64(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not int or not 0 <= value <= U64_MAX:
        raise InvalidInput(f"{attribute.name} must be a u64, got {value!r:.40}")


def _limit_rank(limit: int | None) -> int:
    return -1 if limit is None else limit


@attrs.frozen
class FlowBudget:
    """``limit`` (runtime, ``None`` = no capability), ``spent`` in ``epoch``."""

    limit: int | None = attrs.field(validator=_limit)
    spent: int = attrs.field(default=0, validator=_u64)
    epoch: Epoch = attrs.field(default=Epoch(0), validator=of_type(Epoch))

    def join(self, other: FlowBudget) -> FlowBudget:
        """limit = min (missing counts lowest), (epoch, spent) = the later of the two."""
        if not isinstance(other, FlowBudget):
            raise InvalidInput(f"cannot join a FlowBudget with {type(other).__name__}")
        limit = min(self.limit, other.limit, key=_limit_rank)
        later = max((self.epoch, self.spent), (other.epoch, other.spent))
        return FlowBudget(limit, later[1], later[0])

    @property
    def headroom(self) -> int:
        if not self.limit:
            return 0
        return max(0, self.limit - self.spent)

    def can_charge(self, cost: int) -> bool:
        return bool(self.limit) and cost <= self.headroom

    def charge(self, cost: int) -> FlowBudget:
        """The budget after spending ``cost``; refuses without changing anything."""
        if type(cost) is not int or cost < 1:
            raise InvalidInput(f"a flow charge must be a positive integer, got {cost!r:.40}")
        if not self.limit:
            raise AuthorizationDenied(
                "no flow budget: the capability gives no limit for this context and peer "
                "(a missing or zero limit denies)"
            )
        if cost > self.headroom:
            raise InsufficientBudget(
                f"flow budget exhausted in {self.epoch}: cost {cost}, {self.headroom} of {self.limit} left"
            )
        return attrs.evolve(self, spent=self.spent + cost)

    def at_epoch(self, epoch: Epoch) -> FlowBudget:
        """The budget seen from ``epoch``: a later epoch starts with nothing spent."""
        if epoch > self.epoch:
            return FlowBudget(self.limit, 0, epoch)
        return self


def _read_ids(fields: dict[str, Any]) -> tuple[ContextId, AuthorityId]:
    return (
        ContextId(read_bytes(fields["context"], "flow context", size=16)),
        AuthorityId(read_bytes(fields["peer"], "flow peer", size=16)),
    )


@attrs.frozen
class FlowCharge:
    """A send that cost ``cost`` against (context, peer) in ``epoch``."""

    TYPE_ID: ClassVar[str] = "flow.charge"
    context: ContextId = attrs.field(validator=of_type(ContextId))
    peer: AuthorityId = attrs.field(validator=of_type(AuthorityId))
    epoch: int = attrs.field(validator=_u64)
    cost: int = attrs.field()

    @cost.validator
    def _check_cost(self, _attribute: attrs.Attribute, value: object) -> None:
        if type(value) is not int or not 1 <= value <= U32_MAX:
            raise InvalidInput(f"FlowCharge.cost must be in 1..2**32-1, got {value!r:.40}")

    def to_canonical(self) -> dict[str, Any]:
        return {
            "context": self.context.raw,
            "peer": self.peer.raw,
            "epoch": self.epoch,
            "cost": self.cost,
        }

    @classmethod
    def from_canonical(cls, value: Any) -> Self:
        fields = read_map(value, "flow charge", ("context", "peer", "epoch", "cost"))
        context, peer = _read_ids(fields)
        return cls(
            context,
            peer,
            read_uint(fields["epoch"], "flow charge epoch"),
            read_uint(fields["cost"], "flow charge cost", minimum=1, maximum=U32_MAX),
        )


@attrs.frozen
class FlowEpochAdvance:
    """(context, peer) moved to ``epoch``: spending restarts from zero."""

    TYPE_ID: ClassVar[str] = "flow.epoch"
    context: ContextId = attrs.field(validator=of_type(ContextId))
    peer: AuthorityId = attrs.field(validator=of_type(AuthorityId))
    epoch: int = attrs.field(validator=_u64)

    def to_canonical(self) -> dict[str, Any]:
        return {"context": self.context.raw, "peer": self.peer.raw, "epoch": self.epoch}

    @classmethod
    def from_canonical(cls, value: Any) -> Self:
        fields = read_map(value, "flow epoch", ("context", "peer", "epoch"))
        context, peer = _read_ids(fields)
        return cls(context, peer, read_uint(fields["epoch"], "flow epoch"))


class FlowLedger:
    """Per (context, peer): ``[epoch, spent in that epoch]``. Owned by its view."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: dict[tuple[ContextId, AuthorityId], list[int]] = {}

    def record(self, context: ContextId, peer: AuthorityId, epoch: int, cost: int) -> None:
        key = (context, peer)
        entry = self._entries.get(key)
        if entry is None or epoch > entry[0]:
            self._entries[key] = [epoch, cost]
        elif epoch == entry[0]:
            entry[1] = min(U64_MAX, entry[1] + cost)

    def epoch(self, context: ContextId, peer: AuthorityId) -> Epoch:
        entry = self._entries.get((context, peer))
        return Epoch(0 if entry is None else entry[0])

    def spent(self, context: ContextId, peer: AuthorityId) -> int:
        entry = self._entries.get((context, peer))
        return 0 if entry is None else entry[1]

    def budget(self, context: ContextId, peer: AuthorityId, limit: int | None) -> FlowBudget:
        """The budget with the runtime ``limit`` (from capabilities; ``None`` if there is none)."""
        entry = self._entries.get((context, peer))
        if entry is None:
            return FlowBudget(limit, 0, Epoch(0))
        return FlowBudget(limit, entry[1], Epoch(entry[0]))

    def items(self) -> list[tuple[ContextId, AuthorityId, int, int]]:
        return sorted((c, p, e, s) for (c, p), (e, s) in self._entries.items())

    def __len__(self) -> int:
        return len(self._entries)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FlowLedger):
            return NotImplemented
        return self._entries == other._entries

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"FlowLedger({len(self._entries)} budgets)"


class FlowBudgetReducer:
    """Commutative fold of flow facts into a :class:`FlowLedger`."""

    name = "flow_budget"
    fact_types = frozenset({FlowCharge.TYPE_ID, FlowEpochAdvance.TYPE_ID})

    def initial(self) -> FlowLedger:
        return FlowLedger()

    def apply(self, state: FlowLedger, fact: Fact, body: Any) -> FlowLedger:
        if type(body) is FlowCharge:
            state.record(body.context, body.peer, body.epoch, body.cost)
        elif type(body) is FlowEpochAdvance:
            state.record(body.context, body.peer, body.epoch, 0)
        return state

    def encode_state(self, state: FlowLedger) -> Any:
        return [[c.raw, p.raw, e, s] for c, p, e, s in state.items()]

    def decode_state(self, value: Any) -> FlowLedger:
        ledger = FlowLedger()
        for entry in read_list(value, "flow ledger"):
            item = read_list(entry, "flow ledger entry", max_items=4)
            if len(item) != 4:
                raise InvalidEncoding("a flow ledger entry is [context, peer, epoch, spent]")
            context, peer = _read_ids({"context": item[0], "peer": item[1]})
            ledger.record(
                context,
                peer,
                read_uint(item[2], "ledger epoch"),
                read_uint(item[3], "ledger spent"),
            )
        return ledger


FLOW_BUDGET = FlowBudgetReducer()


def _check_context(
    fact: Fact, body: FlowCharge | FlowEpochAdvance, namespace: JournalNamespace
) -> None:
    """In a context journal, a budget fact must be about that very context."""
    if namespace.is_context and body.context != namespace.owner:
        raise ValidationError(
            f"{fact.type_id} for {body.context} does not belong in the journal of {namespace.owner}"
        )


def flow_fact_types() -> tuple[FactType, FactType]:
    """Flow facts are signed by the device (or group) that sent."""
    signed = frozenset({"device", "threshold"})
    return (
        FactType.for_body(FlowCharge, attestations=signed, validate=_check_context),
        FactType.for_body(FlowEpochAdvance, attestations=signed, validate=_check_context),
    )
