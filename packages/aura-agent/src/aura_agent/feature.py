"""The plug-in interface every feature implements, built-in or from another package.

A :class:`Feature` is a frozen description: the fact types it adds to the
agent's journals, the reducers (views) it keeps over them, the signals it
publishes from those views, its operation categories (A: CRDT, immediate;
B: pending until agreement; C: blocks on consensus), handlers for messages
peers send it, and an optional ``start`` hook that runs for the agent's
lifetime inside the agent's task group. Features never reach into the
agent's internals; they get a :class:`FeatureHost` (the journals and a way to
send) or the :class:`~aura_agent.runtime.Agent` itself in ``start``.

Outside packages register a callable returning a ``Feature`` (or the
``Feature`` itself) under the entry-point group ``aura.features``; see
``docs/writing-a-feature.md``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs

from aura_core.effects import RandomEffects
from aura_core.errors import InvalidInput
from aura_core.identifiers import AuthorityId, ContextId, DeviceId
from aura_journal import FactRegistry, FactType, Journal, JournalNamespace
from aura_journal.facts import Fact, FactMetadata

if TYPE_CHECKING:
    from aura_agent.runtime import Agent

__all__ = [
    "OPERATION_CATEGORIES",
    "Feature",
    "FeatureHost",
    "FeatureMessage",
    "JournalReader",
    "MessageHandler",
    "Query",
    "SignalSpec",
    "Workflow",
    "check_feature_name",
]

OPERATION_CATEGORIES = frozenset({"A", "B", "C"})
"""A: CRDT, immediate. B: shown pending until agreement. C: blocks on consensus."""

_FEATURE_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
_SIGNAL_NAME = re.compile(r"[a-z][a-z0-9_.:-]{0,127}")
_KIND = re.compile(r"[a-z][a-z0-9_]{0,31}")


def check_feature_name(value: object) -> str:
    if type(value) is not str or _FEATURE_NAME.fullmatch(value) is None:
        raise InvalidInput(f"a feature name must match [a-z][a-z0-9_]{{0,31}}, got {value!r:.60}")
    return value


@runtime_checkable
class JournalReader(Protocol):
    """Read access to an agent's journals: what signal computations and handlers see."""

    @property
    def authority(self) -> AuthorityId | None:
        """This agent's account, or ``None`` before one was created or joined."""
        ...

    @property
    def namespaces(self) -> tuple[JournalNamespace, ...]: ...

    def journal(self, namespace: JournalNamespace) -> Journal: ...

    def contexts(self) -> tuple[ContextId, ...]:
        """Contexts whose journals the agent keeps."""
        ...

    def service(self, feature: str) -> Any:
        """The running service of ``feature`` on this agent (see ``Feature.service``), or ``None``."""
        ...


@attrs.frozen
class FeatureMessage:
    """A message for a feature, from a peer authority in a shared context."""

    feature: str
    kind: str
    context: ContextId
    sender: AuthorityId
    payload: bytes


@runtime_checkable
class FeatureHost(Protocol):
    """What a feature's workflows and handlers may do: read and extend journals, sign, send.

    Everything is synchronous and local (sans-IO): sends are queued and leave
    when the driver next runs, so the same feature code works in a live agent
    and in the deterministic simulator.
    """

    @property
    def reader(self) -> JournalReader: ...

    @property
    def device(self) -> DeviceId: ...

    @property
    def random(self) -> RandomEffects: ...

    def metadata(self) -> FactMetadata:
        """Metadata for a new fact: a fresh ``OrderTime`` and the current time."""
        ...

    def sign_as_device(self, fact: Fact, namespace: JournalNamespace) -> Fact:
        """``fact`` attested by this device's key in its account."""
        ...

    def add_facts(self, namespace: JournalNamespace, facts: Sequence[Fact]) -> list[Fact]:
        """Validate and durably add facts; returns the ones that were new."""
        ...

    def send(
        self, feature: str, kind: str, context: ContextId, peer: AuthorityId, payload: bytes
    ) -> None:
        """Send a feature message to a member of ``context`` (through the guard chain)."""
        ...


MessageHandler = Callable[[FeatureHost, FeatureMessage], None]
"""Handles one message kind of a feature. Sans-IO: it must not block or await."""

Workflow = Callable[[FeatureHost, Mapping[str, Any]], Any]
"""An operation a UI (or a scenario) runs, e.g. ``chat.send``: arguments in, result out."""

Query = Callable[[JournalReader, Mapping[str, Any]], Any]
"""A read-only question about the journals, e.g. ``chat.history``."""


def _signal_name(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not str or _SIGNAL_NAME.fullmatch(value) is None:
        raise InvalidInput(f"a signal name must match [a-z][a-z0-9_.:-]*, got {value!r:.60}")


def _callable(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if not callable(value):
        raise InvalidInput(f"{attribute.name} must be callable")


def _type_ids(value: object) -> frozenset[str]:
    if isinstance(value, str):
        raise InvalidInput("SignalSpec.fact_types must be a collection of type ids, not a str")
    return frozenset(value)  # type: ignore[arg-type]


@attrs.frozen
class SignalSpec:
    """A signal computed from the journals whenever facts of ``fact_types`` arrive.

    ``compute(reader)`` must be pure and return an immutable value (tuples,
    frozen attrs): subscribers may hold it while the next one is computed.
    An empty ``fact_types`` means "recompute on any change".
    """

    name: str = attrs.field(validator=_signal_name)
    compute: Callable[[JournalReader], Any] = attrs.field(validator=_callable)
    fact_types: frozenset[str] = attrs.field(default=frozenset(), converter=_type_ids)


def _mapping(value: object) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput("expected a mapping")
    return MappingProxyType(dict(value))


@attrs.frozen
class Feature:
    """One feature's contribution to an agent (see the module docstring)."""

    name: str = attrs.field(validator=lambda _i, _a, v: check_feature_name(v))
    fact_types: tuple[FactType, ...] = attrs.field(default=(), converter=tuple)
    reducers: tuple[Any, ...] = attrs.field(default=(), converter=tuple)
    operation_categories: Mapping[str, str] = attrs.field(factory=dict, converter=_mapping)
    signals: tuple[SignalSpec, ...] = attrs.field(default=(), converter=tuple)
    message_handlers: Mapping[str, MessageHandler] = attrs.field(factory=dict, converter=_mapping)
    workflows: Mapping[str, Workflow] = attrs.field(factory=dict, converter=_mapping)
    """Operations by full name (``chat.send``); each needs an operation category."""
    queries: Mapping[str, Query] = attrs.field(factory=dict, converter=_mapping)
    """Read-only questions by full name (``chat.history``)."""
    service: Callable[[Any], Any] | None = None
    """Builds this feature's per-agent service once the agent has an account.

    Called with the :class:`~aura_agent.agent_node.AgentNode` (the service
    host). The service is sans-IO and may implement any of: ``ready(now)``
    (journals are loaded), ``next_timer()``/``on_timer(now)``,
    ``on_facts(namespace, facts, now)``, ``on_envelope(data, envelope, now) ->
    bool`` (claim a guarded envelope), ``mailboxes()`` and
    ``open_mail(mailbox, envelope, now)`` (relay mailboxes it reads),
    ``seal_route(route, frame)`` (how a frame reaches a route through a relay),
    ``receive(source_route, body, now)`` (messages of the feature's own
    protocol, sent with ``node.send_service(feature, route, body)``).
    """
    capabilities: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    """Capabilities its guarded sends exercise (``chat:send``); tokens grant them per context."""
    start: Callable[[Agent], Awaitable[None]] | None = None
    """Runs for the agent's lifetime in its task group; cancelled at shutdown."""
    requires: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    """Names of features this one needs loaded first."""
    needs_account_keys: bool = False
    """Its service acts for the account (signs, derives per-context keys): the node builds it
    once the device has the account's data key (:mod:`aura_agent.account_keys`)."""
    description: str = ""

    def __attrs_post_init__(self) -> None:
        for fact_type in self.fact_types:
            if not isinstance(fact_type, FactType):
                raise InvalidInput(f"feature {self.name}: fact_types must hold FactType values")
        for reducer in self.reducers:
            if type(getattr(reducer, "name", None)) is not str:
                raise InvalidInput(f"feature {self.name}: every reducer needs a str name")
        for operation, category in self.operation_categories.items():
            if type(operation) is not str or not operation.startswith(self.name + "."):
                raise InvalidInput(
                    f"feature {self.name}: operation {operation!r:.60} must be named '{self.name}.<op>'"
                )
            if category not in OPERATION_CATEGORIES:
                raise InvalidInput(
                    f"feature {self.name}: operation {operation} has category {category!r:.10}, not A, B or C"
                )
        for signal in self.signals:
            if not isinstance(signal, SignalSpec):
                raise InvalidInput(f"feature {self.name}: signals must hold SignalSpec values")
        for kind, handler in self.message_handlers.items():
            if type(kind) is not str or _KIND.fullmatch(kind) is None:
                raise InvalidInput(
                    f"feature {self.name}: message kind {kind!r:.40} is not a plain name"
                )
            if not callable(handler):
                raise InvalidInput(f"feature {self.name}: handler for {kind} is not callable")
        for operation, workflow in self.workflows.items():
            if operation not in self.operation_categories:
                raise InvalidInput(
                    f"feature {self.name}: workflow {operation!r:.60} has no operation category"
                )
            if not callable(workflow):
                raise InvalidInput(f"feature {self.name}: workflow {operation} is not callable")
        for name, query in self.queries.items():
            if type(name) is not str or not name.startswith(self.name + "."):
                raise InvalidInput(
                    f"feature {self.name}: query {name!r:.60} must be named '{self.name}.<query>'"
                )
            if not callable(query):
                raise InvalidInput(f"feature {self.name}: query {name} is not callable")
        if self.service is not None and not callable(self.service):
            raise InvalidInput(f"feature {self.name}: service must be callable")
        for capability in self.capabilities:
            if type(capability) is not str or ":" not in capability:
                raise InvalidInput(
                    f"feature {self.name}: capability {capability!r:.40} must be namespaced ('chat:send')"
                )
        if self.start is not None and not callable(self.start):
            raise InvalidInput(f"feature {self.name}: start must be callable")
        for name in self.requires:
            check_feature_name(name)

    def install(self, registry: FactRegistry) -> None:
        """Register this feature's fact types and reducers (types already known are skipped,
        so two features may share a lower-level type such as rendezvous descriptors)."""
        for fact_type in self.fact_types:
            if not registry.knows(fact_type.type_id):
                registry.register(fact_type)
        known = {reducer.name for reducer in registry.reducers}
        for reducer in self.reducers:
            if reducer.name not in known:
                registry.register_reducer(reducer)
