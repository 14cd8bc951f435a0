"""The agent's core as a sans-IO protocol object: what a live agent and the simulator share.

:class:`AgentNode` holds one device's journals (:class:`JournalBook`), the
anti-entropy loop of every journal that has peers, the consensus groups the
device takes part in, and the installed features (their workflows, queries
and message handlers). It has the ``SansIOProtocol`` shape —
``receive(Incoming, now)``, ``next_timer()``, ``on_timer(now)`` — and
answers with :class:`~aura_core.effects.Outgoing` frames addressed by
*route* (an opaque peer name: a node name in the simulator, an authority or
device id for a live agent whose driver maps it to a relay mailbox).
Commands from the host (run a workflow, join a context, propose an
operation) queue their frames; the driver collects them with
:meth:`take_outgoing`. It never reads a clock or touches a socket itself:
time comes in as ``now``, randomness and wall-clock stamps for facts through
the effects it is given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from aura_agent.account_keys import AccountKeys, load_data_key, solo_data_key, store_data_key
from aura_agent.agent_frame import (
    ConsensusFrame,
    EnvelopeFrame,
    FeaturePayload,
    PushFrame,
    ServiceFrame,
    SyncFrame,
    decode_frame,
    encode_frame,
)
from aura_agent.consensus_service import ConsensusService
from aura_agent.device_identity import (
    AccountRecord,
    DeviceIdentity,
    load_account,
)
from aura_agent.feature import Feature, FeatureMessage
from aura_agent.journal_book import JournalBook, JournalListener
from aura_agent.metrics import OperationsMetrics
from aura_agent.relay_mail import Deposit, MailboxWatch
from aura_core.dag_cbor import decode, encode
from aura_core.effects import (
    Incoming,
    OrderClockEffects,
    Outgoing,
    PhysicalTimeEffects,
    RandomEffects,
    StorageEffects,
)
from aura_core.errors import (
    AuraError,
    AuthorizationDenied,
    InvalidEncoding,
    InvalidInput,
    NotFound,
    ValidationError,
)
from aura_core.hashing import kdf, tagged_hash
from aura_core.identifiers import AuthorityId, ContextId, DeviceId, Epoch
from aura_features.ed25519_signer import KeySigner
from aura_features.rendezvous import RelayHint, SealedEnvelope
from aura_journal import FactMetadata, FactRegistry, Journal, JournalNamespace
from aura_journal.authorization import (
    Capability,
    CapabilityAuthorizer,
    CapabilityToken,
    Delegation,
    DeviceRootKey,
    SignedDelegation,
    TrustedAuthority,
    VerifiedToken,
)
from aura_journal.facts import Fact
from aura_protocol.anti_entropy import AntiEntropyConfig, AntiEntropyNode, TransferredFact
from aura_protocol.consensus import ConsensusConfig, consensus_fact_types
from aura_protocol.guards import Envelope, FlowLimits, GuardStack, SendRequest, guard_registry

__all__ = ["ROUTES_TABLE", "AgentNode", "NodeSettings", "build_registry"]

ROUTES_TABLE = "agent_routes"
_SESSION_DOMAIN = "AURA_AGENT_SYNC_SEED_V1"
_MAX_LOCAL_HOPS = 10_000
_BISCUIT_ROOT_KDF = "AURA_AGENT_BISCUIT_DEVICE_ROOT_V1"
_AUTHORITY_EPOCH = Epoch(1)
_TIMER_SLACK_S = 1e-6


def build_registry(features: Sequence[Feature]) -> FactRegistry:
    """The fact registry of an agent: journal built-ins, receipts, consensus facts, features."""
    registry = guard_registry()
    for fact_type in consensus_fact_types():
        if not registry.knows(fact_type.type_id):
            registry.register(fact_type)
    for feature in features:
        feature.install(registry)
    return registry


@attrs.frozen
class NodeSettings:
    """Timing of the core's periodic work."""

    sync: AntiEntropyConfig = attrs.field(factory=lambda: AntiEntropyConfig(interval_s=2.0))
    consensus: ConsensusConfig = attrs.field(factory=ConsensusConfig)
    relays: tuple[RelayHint, ...] = ()
    """Relays this agent keeps its mailboxes on (what its descriptors name)."""
    flow_limit: int = 100_000
    """Per-epoch flow budget granted for each capability a feature exercises."""


class _Reader:
    """The read-only face of a node's journals (``JournalReader``)."""

    def __init__(self, node: AgentNode) -> None:
        self._node = node

    @property
    def authority(self) -> AuthorityId | None:
        account = self._node.account
        return None if account is None else account.authority

    @property
    def namespaces(self) -> tuple[JournalNamespace, ...]:
        return self._node.book.namespaces

    def journal(self, namespace: JournalNamespace) -> Journal:
        return self._node.book.journal(namespace)

    def contexts(self) -> tuple[ContextId, ...]:
        return tuple(ns.owner for ns in self._node.book.namespaces if ns.is_context)  # type: ignore[misc]

    def service(self, feature: str) -> Any:
        return self._node.services.get(feature)


class _Host:
    """The ``FeatureHost`` a node gives its features."""

    def __init__(self, node: AgentNode) -> None:
        self._node = node

    @property
    def node(self) -> AgentNode:
        """The node itself: for features whose service must run before there is an account."""
        return self._node

    @property
    def reader(self) -> _Reader:
        return self._node.reader

    @property
    def device(self) -> DeviceId:
        return self._node.identity.device

    @property
    def random(self) -> RandomEffects:
        return self._node.random

    def metadata(self) -> FactMetadata:
        return self._node.metadata()

    def sign_as_device(self, fact: Fact, namespace: JournalNamespace) -> Fact:
        account = self._node.require_account()
        signer = self._node.identity.signer(account.authority)
        return fact.signed_by_device(namespace, signer.device, signer.signing_key)

    def add_facts(self, namespace: JournalNamespace, facts: Sequence[Fact]) -> list[Fact]:
        return self._node.add_facts(namespace, facts)

    def send(
        self, feature: str, kind: str, context: ContextId, peer: AuthorityId, payload: bytes
    ) -> None:
        self._node.send_feature_message(feature, kind, context, peer, payload)


class AgentNode:
    """One device's journals, sync, consensus and features, as a sans-IO object."""

    def __init__(
        self,
        *,
        route: str,
        identity: DeviceIdentity,
        storage: StorageEffects,
        random: RandomEffects,
        time: PhysicalTimeEffects,
        order_clock: OrderClockEffects,
        features: Sequence[Feature],
        now: float,
        settings: NodeSettings | None = None,
        metrics: OperationsMetrics | None = None,
        registry: FactRegistry | None = None,
    ) -> None:
        if type(route) is not str or not route:
            raise InvalidInput("a node route must be a non-empty str")
        self.route = route
        self.identity = identity
        self.storage = storage
        self.random = random
        self.time = time
        self.order_clock = order_clock
        self.settings = settings if settings is not None else NodeSettings()
        self.metrics = metrics if metrics is not None else OperationsMetrics()
        self.features = {feature.name: feature for feature in features}
        self.registry = registry if registry is not None else build_registry(features)
        self.book = JournalBook(storage, self.registry)
        self.reader = _Reader(self)
        self.host = _Host(self)
        self.guards: GuardStack | None = None
        """The account's guard stack (built with the account; feature messages need it)."""
        self.flow_limits: FlowLimits | None = None
        self._authorizer: CapabilityAuthorizer | None = None
        self._workflows = {op: (f, wf) for f in features for op, wf in f.workflows.items()}
        self._queries = {name: q for f in features for name, q in f.queries.items()}
        self._categories = {op: c for f in features for op, c in f.operation_categories.items()}
        self._started = now
        self.now = now
        """The driver's time at the latest call (what services use as ``now``)."""
        self._outgoing: list[Outgoing] = []
        self._routes: dict[JournalNamespace, dict[str, AuthorityId | None]] = {}
        self._sync: dict[JournalNamespace, AntiEntropyNode] = {}
        self.consensus = ConsensusService(
            route=route,
            storage=storage,
            rng=random,
            metadata=self.metadata,
            add_facts=self._consensus_facts,
            config=self.settings.consensus,
        )
        self.services: dict[str, Any] = {}
        self._keys: AccountKeys | None = None
        """Per-feature services, built once the device has an account (``Feature.service``)."""
        self._deposits: list[Deposit] = []
        self.direct_addresses: dict[ContextId, str] = {}
        """Where this agent accepts direct links per context (set by a live driver)."""
        self.account: AccountRecord | None = load_account(storage)
        if self.account is not None:
            self._attach(now, load=True)
        else:
            self.book.load_all()
            self._load_routes(now)
        self.book.listen(self._facts_arrived)

    # ------------------------------------------------------------------ identity

    def require_account(self) -> AccountRecord:
        if self.account is None:
            raise NotFound("this device belongs to no account yet; create or join one first")
        return self.account

    def metadata(self) -> FactMetadata:
        return FactMetadata(self.order_clock.next_order(), self.time.now())

    def listen(self, listener: JournalListener) -> None:
        self.book.listen(listener)

    def attach_account(self, record: AccountRecord, now: float) -> None:
        """The device just got an account: build its guard stack and the feature services."""
        if self.account is not None:
            raise InvalidInput("this node already has an account")
        self.account = record
        self._attach(now, load=False)

    def _attach(self, now: float, *, load: bool) -> None:
        account = self.require_account()
        keys = self.account_keys()
        if keys is not None:
            self.guards = self._build_guards(account, keys)
        for name, feature in self.features.items():
            if feature.service is not None and (keys is not None or not feature.needs_account_keys):
                self.services[name] = feature.service(self)
        if load:
            # Services registered their fact types; now the journals can be read back.
            self.book.load_all()
            self._load_routes(now)
        for service in list(self.services.values()):
            ready = getattr(service, "ready", None)
            if ready is not None:
                ready(now)
        self._queue([], now)

    def account_keys(self) -> AccountKeys | None:
        """The account's shared keys, or ``None`` while this device waits for its data key.

        A device holding the whole account secret (1-of-1) derives the data key
        itself; a device of a ``t``-of-``n`` account gets it from its siblings'
        contributions (:mod:`aura_agent.account_key_feature`).
        """
        if self._keys is not None:
            return self._keys
        account = self.account
        if account is None:
            return None
        key = load_data_key(self.storage)
        if key is None:
            key = solo_data_key(self.storage, account.authority, account.group_public_key)
            if key is None:
                return None
            store_data_key(self.storage, key)
        self._keys = AccountKeys(account.authority, key)
        return self._keys

    def install_data_key(self, key: bytes, now: float) -> None:
        """The device just derived its account's data key: start what was waiting for it."""
        account = self.require_account()
        if self._keys is not None:
            if self._keys.data_key != key:
                raise ValidationError("a different data key for the same account was derived")
            return
        store_data_key(self.storage, key)
        self._keys = keys = AccountKeys(account.authority, key)
        self.now = now
        self.guards = self._build_guards(account, keys)
        waiting = []
        for name, feature in self.features.items():
            if feature.service is not None and name not in self.services:
                self.services[name] = feature.service(self)
                waiting.append(self.services[name])
        self.book.load_all()
        self._load_routes(now)
        for service in waiting:
            ready = getattr(service, "ready", None)
            if ready is not None:
                ready(now)
        self._queue([], now)

    def account_signer(self) -> KeySigner:
        """The account's contact key: what signs invitations, descriptors and envelopes."""
        keys = self.account_keys()
        if keys is None:
            raise NotFound(
                "this device has no account data key yet: it comes from the account's other "
                "devices once they are online (or from a recovery)"
            )
        return keys.contact_signer()

    @property
    def capabilities(self) -> tuple[Capability, ...]:
        names = sorted({c for f in self.features.values() for c in f.capabilities})
        return tuple(Capability.parse(name) for name in names)

    def _device_root(self) -> DeviceRootKey:
        return DeviceRootKey.from_seed(kdf(_BISCUIT_ROOT_KDF, self.identity.root_key, 32))

    def _build_guards(self, account: AccountRecord, keys: AccountKeys) -> GuardStack:
        # The device's own tokens are rooted in the account's contact key (derived from the
        # group secret, held by the account's devices); see aura_agent.account_keys.
        root = keys.contact_signer().public_key
        authorizer = CapabilityAuthorizer(
            [TrustedAuthority(account.authority, root, _AUTHORITY_EPOCH)]
        )
        limits = FlowLimits({cap: self.settings.flow_limit for cap in self.capabilities})
        self._authorizer = authorizer
        self.flow_limits = limits
        return GuardStack(
            authority=account.authority,
            device=self.identity.signer(account.authority),
            storage=self.storage,
            time=self.time,
            random=self.random,
            authorizer=authorizer,
            flow_limits=limits,
            registry=self.registry,
        )

    def issue_token(self, context: ContextId) -> VerifiedToken:
        """A Biscuit token of this device granting every feature capability in ``context``."""
        account = self.require_account()
        if self._authorizer is None:
            raise NotFound("no guard stack: the device has no account")
        signer = self.account_signer()
        root = self._device_root()
        capabilities = self.capabilities
        statement = Delegation.of(
            authority=account.authority,
            group_key=signer.public_key,
            device_root=root.public_key,
            epoch=_AUTHORITY_EPOCH,
            capabilities=set(capabilities),
        )
        signed = SignedDelegation(statement, signer.sign(statement.signing_message()))
        token = CapabilityToken.issue(
            root=root, delegation=signed, grants=[(context, cap) for cap in capabilities]
        )
        return self._authorizer.verify(token, now=self.time.now())

    # ------------------------------------------------------------------ relays

    def deposit(self, deposit: Deposit) -> None:
        """Queue a sealed envelope for the driver's relay loop."""
        if not isinstance(deposit, Deposit):
            raise InvalidInput("expected a Deposit")
        self._deposits.append(deposit)

    def set_direct_address(self, context: ContextId, address: str, now: float) -> None:
        """A driver opened a direct listener for ``context``; services may advertise it."""
        self.direct_addresses[context] = address
        self.now = now
        for service in list(self.services.values()):
            changed = getattr(service, "on_addresses", None)
            if changed is not None:
                changed(context, now)

    def take_deposits(self) -> list[Deposit]:
        out, self._deposits = self._deposits, []
        return out

    def mailboxes(self) -> list[MailboxWatch]:
        """Every relay mailbox a feature service reads."""
        watches: list[MailboxWatch] = []
        for service in self.services.values():
            listed = getattr(service, "mailboxes", None)
            if listed is not None:
                watches.extend(listed())
        return watches

    def open_mail(
        self, watch: MailboxWatch, envelope: SealedEnvelope, now: float
    ) -> list[Outgoing]:
        """Hand a fetched envelope to the service that owns the mailbox."""
        self.now = now
        service = self.services.get(watch.owner)
        opener = None if service is None else getattr(service, "open_mail", None)
        if opener is None:
            self.metrics.frames_refused += 1
            return self.take_outgoing()
        try:
            opener(watch, envelope, now)
        except AuraError:
            self.metrics.frames_refused += 1
        self._queue([], now)
        return self.take_outgoing()

    def seal_route(self, route: str, frame: bytes) -> Deposit | None:
        """How a frame for ``route`` reaches it through a relay, if a service knows."""
        for service in self.services.values():
            sealer = getattr(service, "seal_route", None)
            if sealer is not None:
                deposit = sealer(route, frame)
                if deposit is not None:
                    return deposit
        return None

    def deliver(self, source: str, frame: bytes, now: float) -> None:
        """A service opened a frame from a peer (e.g. out of a relay mailbox): process it."""
        self.now = now
        self._queue(self._handle(Incoming(source, frame), now), now)

    def _facts_arrived(self, namespace: JournalNamespace, facts: Sequence[Fact]) -> None:
        now = self.now
        for service in list(self.services.values()):
            on_facts = getattr(service, "on_facts", None)
            if on_facts is not None:
                on_facts(namespace, facts, now)

    # ------------------------------------------------------------------ journals

    def add_facts(self, namespace: JournalNamespace, facts: Sequence[Fact]) -> list[Fact]:
        return self.book.add(namespace, facts)

    def _consensus_facts(self, namespace: JournalNamespace, facts: list[Fact]) -> None:
        journal = self.book.open(namespace)
        fresh = []
        for fact in facts:
            if fact in journal:
                continue
            try:
                self.book.add(namespace, [fact])
                fresh.append(fact)
            except AuraError:
                # Another copy of the same decision (other metadata) is already held,
                # or a conflicting one: the journal's rule keeps the first.
                continue

    # ------------------------------------------------------------------ peers and routes

    def set_peers(
        self, namespace: JournalNamespace, peers: Mapping[str, AuthorityId | None], now: float
    ) -> None:
        """Who to sync ``namespace`` with: routes and the authority behind each (if known)."""
        clean = {route: authority for route, authority in peers.items() if route != self.route}
        for route, authority in clean.items():
            if type(route) is not str or not route:
                raise InvalidInput("peer routes must be non-empty strings")
            if authority is not None and not isinstance(authority, AuthorityId):
                raise InvalidInput("a peer's authority must be an AuthorityId or None")
        self.book.open(namespace)
        with self.storage.transaction() as txn:
            txn.put(
                ROUTES_TABLE,
                namespace.to_bytes(),
                encode(sorted([r, None if a is None else a.raw] for r, a in clean.items())),
            )
        self._routes[namespace] = clean
        self._start_sync(namespace, now)

    def peers(self, namespace: JournalNamespace) -> Mapping[str, AuthorityId | None]:
        return dict(self._routes.get(namespace, {}))

    def route_of(self, context: ContextId, authority: AuthorityId) -> str:
        for route, owner in self._routes.get(JournalNamespace.context(context), {}).items():
            if owner == authority:
                return route
        raise NotFound(f"no route to {authority} in {context}")

    def _load_routes(self, now: float) -> None:
        with self.storage.transaction(readonly=True) as txn:
            rows = txn.scan(ROUTES_TABLE)
        for key, value in rows:
            try:
                namespace = JournalNamespace.from_bytes(key)
                entries = decode(value, allow_floats=False)
                routes: dict[str, AuthorityId | None] = {}
                for route, raw in entries:
                    if type(route) is not str or not (raw is None or type(raw) is bytes):
                        raise InvalidEncoding("malformed route entry")
                    routes[route] = None if raw is None else AuthorityId(raw)
            except (AuraError, TypeError, ValueError):
                self.book.corrupt_records += 1
                continue
            self.book.open(namespace)
            self._routes[namespace] = routes
            self._start_sync(namespace, now)

    def _start_sync(self, namespace: JournalNamespace, now: float) -> None:
        routes = sorted(self._routes.get(namespace, {}))
        self._sync.pop(namespace, None)
        if not routes:
            self.metrics.forget_namespace(str(namespace))
            return
        seed = tagged_hash(
            _SESSION_DOMAIN,
            self.identity.root_key,
            namespace.to_bytes(),
            self.random.random_bytes(16),
        )
        self._sync[namespace] = AntiEntropyNode(
            self.book.sync_store(namespace),
            routes,
            session_seed=seed,
            config=self.settings.sync,
            first_sync_at=now,
        )
        self.metrics.track_namespace(str(namespace), now)

    def push_facts(
        self, namespace: JournalNamespace, facts: Sequence[Fact], routes: Sequence[str]
    ) -> None:
        """Send facts of ``namespace`` to peers unasked (they are checked like synced facts)."""
        frame = encode_frame(PushFrame(namespace, tuple(fact.encode() for fact in facts)))
        self._queue([Outgoing(route, frame) for route in routes], self.now)

    def send_service(self, feature: str, route: str, body: bytes) -> None:
        """Send a message of ``feature``'s own protocol to the same feature on ``route``."""
        self._queue([Outgoing(route, encode_frame(ServiceFrame(feature, body)))], self.now)

    def sync_now(self, namespace: JournalNamespace, now: float) -> None:
        """Open a session with every peer of ``namespace`` right away."""
        node = self._sync.get(namespace)
        if node is None:
            return
        for route in sorted(self._routes.get(namespace, {})):
            self._queue(self._wrap_sync(namespace, node.sync_now(route, now)), now)

    # ------------------------------------------------------------------ consensus

    def propose(
        self, group_id: bytes, slot: bytes, prestate_hash: bytes, operation: bytes, now: float
    ) -> bytes:
        """Propose ``operation`` in a witness group this node initiates for; returns the instance id."""
        consensus_id, out = self.consensus.propose(group_id, slot, prestate_hash, operation, now)
        self._queue(out, now)
        return consensus_id.raw

    # ------------------------------------------------------------------ features

    @property
    def operations(self) -> Mapping[str, str]:
        """Every workflow this node can run, with its operation category."""
        return {op: self._categories[op] for op in self._workflows}

    def run_workflow(self, operation: str, args: Mapping[str, Any], now: float) -> Any:
        """Run a feature workflow (``chat.send``); its sends leave on :meth:`take_outgoing`."""
        self.now = now
        entry = self._workflows.get(operation)
        if entry is None:
            raise NotFound(f"no feature offers the operation {operation!r:.80}")
        _feature, workflow = entry
        result = workflow(self.host, dict(args))
        self._flush_guarded(now)
        return result

    def query(self, name: str, args: Mapping[str, Any]) -> Any:
        query = self._queries.get(name)
        if query is None:
            raise NotFound(f"no feature answers the query {name!r:.80}")
        return query(self.reader, dict(args))

    def send_feature_message(
        self, feature: str, kind: str, context: ContextId, peer: AuthorityId, payload: bytes
    ) -> None:
        """Commit a feature message through the guard chain (charge, receipt, outbox)."""
        guards = self.guards
        if guards is None or context not in guards.memberships:
            raise AuthorizationDenied(
                f"no guarded membership in {context}: feature messages need one (join the context first)"
            )
        route = self.route_of(context, peer)
        guards.sender.commit(
            SendRequest(
                context=context,
                peer=peer,
                address=route,
                payload=FeaturePayload(feature, kind, payload).encode(),
            )
        )

    def _flush_guarded(self, now: float) -> None:
        if self.guards is not None:
            self.book.refresh_all()  # the guard chain wrote charges, receipts and coupled facts

    def pending_envelopes(self) -> list[tuple[int, Outgoing]]:
        """Guarded sends committed but not yet handed to a transport (they survive restarts).

        The driver sends each and then calls :meth:`acknowledge_envelope`; a
        crash in between sends it again (at-least-once; receivers drop repeats).
        """
        guards = self.guards
        if guards is None:
            return []
        return [
            (
                entry.entry_id,
                Outgoing(entry.destination, encode_frame(EnvelopeFrame(entry.payload))),
            )
            for entry in guards.sender.pending()
        ]

    def acknowledge_envelope(self, entry_id: int) -> None:
        if self.guards is not None:
            self.guards.sender.acknowledge(entry_id)

    # ------------------------------------------------------------------ SansIOProtocol

    def receive(self, message: Incoming, now: float) -> list[Outgoing]:
        self.now = now
        self._queue(self._handle(message, now), now)
        return self.take_outgoing()

    def next_timer(self) -> float | None:
        deadlines = [node.next_timer() for node in self._sync.values()]
        deadlines.append(self.consensus.next_timer())
        for service in self.services.values():
            timer = getattr(service, "next_timer", None)
            if timer is not None:
                deadlines.append(timer())
        present = [d for d in deadlines if d is not None]
        return min(present) if present else None

    def on_timer(self, now: float) -> list[Outgoing]:
        self.now = now
        for namespace, node in list(self._sync.items()):
            deadline = node.next_timer()
            if deadline is not None and deadline <= now + 1e-6:
                self._queue(self._wrap_sync(namespace, node.on_timer(now)), now)
                self._collect_sync(namespace, node, now)
        self._queue(self.consensus.on_timer(now), now)
        for service in list(self.services.values()):
            timer = getattr(service, "next_timer", None)
            if timer is None:
                continue
            deadline = timer()
            if deadline is not None and deadline <= now + _TIMER_SLACK_S:
                service.on_timer(now)
        self._flush_guarded(now)
        return self.take_outgoing()

    def take_outgoing(self) -> list[Outgoing]:
        out, self._outgoing = self._outgoing, []
        return out

    # ------------------------------------------------------------------ internals

    def _queue(self, outputs: Iterable[Outgoing], now: float) -> None:
        """Queue frames for peers; frames to this node's own route are handled here."""
        local = [out for out in outputs if out.destination == self.route]
        self._outgoing.extend(out for out in outputs if out.destination != self.route)
        hops = 0
        while local:
            hops += 1
            if hops > _MAX_LOCAL_HOPS:
                raise InvalidInput("local frame loop did not settle")
            out = local.pop(0)
            produced = self._handle(Incoming(self.route, out.payload), now)
            local.extend(o for o in produced if o.destination == self.route)
            self._outgoing.extend(o for o in produced if o.destination != self.route)

    def _handle(self, message: Incoming, now: float) -> list[Outgoing]:
        try:
            frame = decode_frame(message.payload)
        except AuraError:
            self.metrics.frames_refused += 1
            return []
        if isinstance(frame, SyncFrame):
            return self._handle_sync(message.source, frame, now)
        if isinstance(frame, PushFrame):
            return self._handle_push(message.source, frame)
        if isinstance(frame, ServiceFrame):
            service = self.services.get(frame.feature)
            receive = None if service is None else getattr(service, "receive", None)
            if receive is None:
                self.metrics.frames_refused += 1
                return []
            self.metrics.frames_received += 1
            try:
                receive(message.source, frame.body, now)
            except AuraError:
                self.metrics.frames_refused += 1
            return []
        if isinstance(frame, ConsensusFrame):
            self.metrics.frames_received += 1
            return self.consensus.receive(frame.group, Incoming(message.source, frame.body), now)
        return self._handle_envelope(message.source, frame, now)

    def _handle_sync(self, source: str, frame: SyncFrame, now: float) -> list[Outgoing]:
        namespace = frame.namespace
        node = self._sync.get(namespace)
        if node is None or source not in self._routes.get(namespace, {}):
            self.metrics.frames_refused += 1  # not a peer of that journal: nothing is revealed
            return []
        self.metrics.frames_received += 1
        replies = node.receive(Incoming(source, frame.body), now)
        self._collect_sync(namespace, node, now)
        return self._wrap_sync(namespace, replies)

    def _handle_push(self, source: str, frame: PushFrame) -> list[Outgoing]:
        namespace = frame.namespace
        if namespace not in self.book or source not in self._routes.get(namespace, {}):
            self.metrics.frames_refused += 1
            return []
        transferred = []
        for data in frame.facts:
            try:
                transferred.append(TransferredFact(Fact.decode(data).cid, data))
            except AuraError:
                self.metrics.frames_refused += 1
                return []
        self.metrics.frames_received += 1
        self.book.sync_store(namespace).accept(transferred)
        return []

    def _collect_sync(self, namespace: JournalNamespace, node: AntiEntropyNode, now: float) -> None:
        while node.outcomes:
            node.outcomes.popleft()
            self.metrics.synced(str(namespace), now)
        while node.errors:
            node.errors.popleft()
            self.metrics.anti_entropy_failures += 1

    def _wrap_sync(
        self, namespace: JournalNamespace, outputs: Sequence[Outgoing]
    ) -> list[Outgoing]:
        return [
            Outgoing(out.destination, encode_frame(SyncFrame(namespace, out.payload)))
            for out in outputs
        ]

    def _handle_envelope(self, source: str, frame: EnvelopeFrame, now: float) -> list[Outgoing]:
        guards = self.guards
        if guards is None:
            self.metrics.frames_refused += 1
            return []
        try:
            envelope = Envelope.decode(frame.envelope)
        except AuraError:
            self.metrics.frames_refused += 1
            return []
        for service in list(self.services.values()):
            claim = getattr(service, "on_envelope", None)
            if claim is None:
                continue
            try:
                claimed = claim(frame.envelope, envelope, now)
            except AuraError:
                self.metrics.receipts_rejected += 1
                return []
            if claimed:
                self.metrics.receipts_accepted += 1
                self.metrics.frames_received += 1
                self._flush_guarded(now)
                return []
        try:
            delivery = guards.receiver.accept(frame.envelope)
        except AuraError:
            self.metrics.receipts_rejected += 1
            return []
        self.metrics.receipts_accepted += 1
        self.book.refresh_all()
        if delivery.duplicate:
            return []
        try:
            if self.route_of(delivery.context, delivery.sender) != source:
                self.metrics.frames_refused += 1
                return []
            payload = FeaturePayload.decode(delivery.payload)
        except AuraError:
            self.metrics.frames_refused += 1
            return []
        feature = self.features.get(payload.feature)
        handler = None if feature is None else feature.message_handlers.get(payload.kind)
        if handler is None:
            self.metrics.frames_refused += 1
            return []
        self.metrics.frames_received += 1
        handler(
            self.host,
            FeatureMessage(
                payload.feature, payload.kind, delivery.context, delivery.sender, payload.body
            ),
        )
        self._flush_guarded(now)
        return []
