"""What a caller asks the guard chain to send, and what the chain reads to decide.

A :class:`SendRequest` is one message to one next hop in one context, with
everything the guards need: the capability it exercises, its flow cost, the
facts that must be committed with it, and which observer classes learn of it.
:meth:`SendRequest.from_annotations` fills these from a choreography's
annotations. A :class:`GuardSnapshot` is the state the guards evaluate
against, read in the same storage transaction that later applies their
commands, so nothing can change between the decision and the commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

import attrs

from aura_core.errors import InvalidInput
from aura_core.identifiers import AuthorityId, ContextId, Epoch
from aura_core.time_domains import PhysicalTime
from aura_journal.authorization import Capability, DatalogFact, VerifiedToken
from aura_journal.facts import Fact
from aura_journal.mpst import Annotations
from aura_protocol.guards.leakage_budget import LeakageBudget, ObserverClass
from aura_protocol.guards.receipt import NONCE_BYTES, Receipt

__all__ = [
    "DEFAULT_FLOW_COST",
    "MAX_COUPLED_FACTS",
    "MAX_PAYLOAD_BYTES",
    "GuardSnapshot",
    "SendRequest",
]

DEFAULT_FLOW_COST = 1
"""What a send without a ``flow_cost`` annotation costs: every send is paid for."""
MAX_COUPLED_FACTS = 32
MAX_PAYLOAD_BYTES = 1 << 20


def _payload(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not bytes or len(value) > MAX_PAYLOAD_BYTES:
        raise InvalidInput(f"a payload must be bytes of at most {MAX_PAYLOAD_BYTES}")


def _cost(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not int or not 0 <= value < 2**32:
        raise InvalidInput(f"a flow cost must be in 0..2**32-1, got {value!r:.40}")


def _facts(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not tuple or not all(isinstance(f, Fact) for f in value):
        raise InvalidInput("facts must be a tuple of Fact")
    if len(value) > MAX_COUPLED_FACTS:
        raise InvalidInput(f"at most {MAX_COUPLED_FACTS} facts can be coupled to one send")


def _fact_types(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if value is not None and (type(value) is not tuple or not all(type(t) is str for t in value)):
        raise InvalidInput("fact_types must be None or a tuple of fact type ids")


def _leakage(value: object) -> tuple[tuple[ObserverClass, int], ...]:
    totals: dict[ObserverClass, int] = {}
    items = value.items() if isinstance(value, Mapping) else value
    if not isinstance(items, Iterable):
        raise InvalidInput("leakage must be (ObserverClass, amount) pairs")
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise InvalidInput("leakage must be (ObserverClass, amount) pairs")
        observer, amount = item
        if not isinstance(observer, ObserverClass) or type(amount) is not int or amount < 1:
            raise InvalidInput("leakage must pair an ObserverClass with a positive amount")
        totals[observer] = totals.get(observer, 0) + amount
    return tuple(sorted(totals.items(), key=lambda pair: pair[0].value))


def _receipts(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not tuple or not all(isinstance(r, Receipt) for r in value):
        raise InvalidInput("prior_receipts must be a tuple of Receipt")


@attrs.frozen
class SendRequest:
    """One guarded send: ``payload`` to ``peer`` (reachable at ``address``) in ``context``.

    ``origin`` and ``destination`` are the end points of the whole message;
    they default to the sender and ``peer``. A relay forwarding a message
    passes the chain it received as ``prior_receipts``.
    """

    context: ContextId = attrs.field(validator=attrs.validators.instance_of(ContextId))
    peer: AuthorityId = attrs.field(validator=attrs.validators.instance_of(AuthorityId))
    address: str = attrs.field()
    payload: bytes = attrs.field(validator=_payload)
    capability: Capability | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(attrs.validators.instance_of(Capability)),
    )
    resource: str | None = attrs.field(default=None)
    cost: int = attrs.field(default=DEFAULT_FLOW_COST, validator=_cost)
    facts: tuple[Fact, ...] = attrs.field(default=(), converter=tuple, validator=_facts)
    fact_types: tuple[str, ...] | None = attrs.field(default=None, validator=_fact_types)
    leakage: tuple[tuple[ObserverClass, int], ...] = attrs.field(default=(), converter=_leakage)
    prior_receipts: tuple[Receipt, ...] = attrs.field(
        default=(), converter=tuple, validator=_receipts
    )
    origin: AuthorityId | None = attrs.field(default=None)
    destination: AuthorityId | None = attrs.field(default=None)

    @address.validator
    def _check_address(self, _attribute: attrs.Attribute, value: object) -> None:
        if type(value) is not str or not 0 < len(value) <= 256 or "\x00" in value:
            raise InvalidInput("a send address must be a string of 1..256 characters")

    @classmethod
    def from_annotations(
        cls,
        *,
        context: ContextId,
        peer: AuthorityId,
        address: str,
        payload: bytes,
        annotations: Annotations,
        facts: Iterable[Fact] = (),
        resource: str | None = None,
    ) -> SendRequest:
        """A request carrying a choreography send's annotations.

        ``guard_capability`` is the capability exercised, ``flow_cost`` the
        charge (:data:`DEFAULT_FLOW_COST` when absent), ``journal_facts`` the
        fact types that must be committed with the send (exactly those), and
        each ``leak`` class is charged one observable event.
        """
        if not isinstance(annotations, Annotations):
            raise InvalidInput("annotations must be an mpst Annotations value")
        cost = DEFAULT_FLOW_COST if annotations.flow_cost is None else annotations.flow_cost
        return cls(
            context=context,
            peer=peer,
            address=address,
            payload=payload,
            capability=annotations.guard_capability,
            resource=resource,
            cost=cost,
            facts=tuple(facts),
            fact_types=tuple(annotations.journal_facts),
            leakage=tuple((ObserverClass.parse(name), 1) for name in annotations.leak),
        )


def _nonce(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not bytes or len(value) != NONCE_BYTES:
        raise InvalidInput(f"the snapshot nonce must be {NONCE_BYTES} bytes")


@attrs.frozen
class GuardSnapshot:
    """The state one evaluation of the guard chain reads (and nothing else).

    ``flow_spent``/``flow_epoch`` are the sender's ledger for (context, peer);
    ``epoch`` is the context's current epoch; ``leakage`` holds the budget of
    each observer class the request leaks to (``None`` when undefined).
    ``nonce`` and ``order_entropy`` were drawn from the randomness effect for
    the receipt and the new facts.
    """

    sender: AuthorityId = attrs.field(validator=attrs.validators.instance_of(AuthorityId))
    now: PhysicalTime = attrs.field(validator=attrs.validators.instance_of(PhysicalTime))
    epoch: Epoch = attrs.field(validator=attrs.validators.instance_of(Epoch))
    token: VerifiedToken | None
    flow_spent: int
    flow_epoch: Epoch
    leakage: Mapping[ObserverClass, LeakageBudget | None] = attrs.field(
        converter=lambda m: MappingProxyType(dict(m)), hash=False
    )
    nonce: bytes = attrs.field(validator=_nonce)
    order_entropy: bytes = attrs.field(validator=attrs.validators.instance_of(bytes))
    authorization_facts: tuple[DatalogFact, ...] = ()
