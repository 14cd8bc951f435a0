"""Test support for the chat tests (no tests here): members with real keys and guard stacks.

Each member is an authority with a 1-of-1 group key, a device, a Biscuit
device root and a token granting ``chat:send`` in the context; its guard
stack runs over in-memory or SQLite storage. :class:`ChatWorld` wires chat
services directly (envelopes shuttled by hand, with drop/duplicate/reorder
control); :func:`simulation` builds the same members as simulator nodes.
Loaded by the chat test modules with ``load_world()`` (the tests run under
``--import-mode=importlib``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from nacl.signing import SigningKey

from aura_core.effects import Incoming, Outgoing, StorageEffects
from aura_core.errors import AuraError
from aura_core.identifiers import AuthorityId, ContextId, DeviceId, Epoch
from aura_effects.simulated import (
    FaultHook,
    MemoryStorage,
    NodeEnvironment,
    SeededRandom,
    Simulation,
)
from aura_features.chat import CHAT_SEND, ChatConfig, ChatNode, ChatService
from aura_journal.authorization import (
    CapabilityAuthorizer,
    CapabilityToken,
    Delegation,
    DeviceRootKey,
    SignedDelegation,
    TrustedAuthority,
)
from aura_protocol.anti_entropy.node import AntiEntropyConfig
from aura_protocol.guards import (
    ContextIdentity,
    ContextMembership,
    ContextRoster,
    DeviceSigner,
    FlowLimits,
    GuardStack,
)
from aura_testkit.mocks import ManualClock

CONTEXT = ContextId(bytes(range(16)))
_EPOCH = Epoch(0)


class Account:
    """An authority with a 1-of-1 group key, a device and a Biscuit device root."""

    def __init__(self, name: str, seed: int) -> None:
        rng = SeededRandom(seed)
        self.name = name
        self.authority = AuthorityId(rng.random_bytes(16))
        self.device = DeviceId(rng.random_bytes(16))
        self.group = SigningKey(rng.random_bytes(32))
        self.root_key = rng.random_bytes(32)
        self.device_root = DeviceRootKey.from_seed(rng.random_bytes(32))

    def trusted(self) -> TrustedAuthority:
        return TrustedAuthority(self.authority, bytes(self.group.verify_key), Epoch(1))

    def identity(self, context: ContextId = CONTEXT) -> ContextIdentity:
        return ContextIdentity.derive(
            self.root_key, authority=self.authority, context=context, epoch=_EPOCH
        )

    def token(self, context: ContextId, authorizer: CapabilityAuthorizer, now: Any):
        statement = Delegation.of(
            authority=self.authority,
            group_key=bytes(self.group.verify_key),
            device_root=self.device_root.public_key,
            epoch=Epoch(1),
            capabilities={CHAT_SEND},
        )
        signed = SignedDelegation(statement, self.group.sign(statement.signing_message()).signature)
        token = CapabilityToken.issue(
            root=self.device_root, delegation=signed, grants=[(context, CHAT_SEND)]
        )
        return authorizer.verify(token, now=now)


class Cast:
    """Accounts, the authorizer that trusts them, and the context roster (addresses = names)."""

    def __init__(self, names: Iterable[str], *, limit: int = 10_000) -> None:
        self.names = list(names)
        self.accounts = {name: Account(name, 4000 + i) for i, name in enumerate(self.names)}
        self.authorizer = CapabilityAuthorizer([a.trusted() for a in self.accounts.values()])
        self.limits = FlowLimits({CHAT_SEND: limit})
        self.roster = ContextRoster.of(
            CONTEXT, _EPOCH, [a.identity().member(name) for name, a in self.accounts.items()]
        )

    def authority(self, name: str) -> AuthorityId:
        return self.accounts[name].authority

    def stack(self, name: str, storage: StorageEffects, time: Any, random: Any) -> GuardStack:
        account = self.accounts[name]
        stack = GuardStack(
            authority=account.authority,
            device=DeviceSigner.derive(
                account.root_key, authority=account.authority, device=account.device
            ),
            storage=storage,
            time=time,
            random=random,
            authorizer=self.authorizer,
            flow_limits=self.limits,
        )
        stack.memberships.put(
            ContextMembership(
                identity=account.identity(),
                roster=self.roster,
                token=account.token(CONTEXT, self.authorizer, time.now()),
            )
        )
        return stack


FAST = ChatConfig(ack_delay_s=0.0)


class ChatWorld:
    """Chat services wired by hand: every committed envelope waits in :attr:`wire`."""

    def __init__(
        self,
        names: Iterable[str] = ("alice", "bob"),
        *,
        limit: int = 10_000,
        config: ChatConfig = FAST,
        storages: Mapping[str, StorageEffects] | None = None,
    ) -> None:
        self.cast = Cast(names, limit=limit)
        self.clock = ManualClock()
        self.config = config
        self.storages = {
            name: (storages or {}).get(name)
            or MemoryStorage(secrets_key=bytes(32), random=SeededRandom(name.encode()))
            for name in self.cast.names
        }
        self.randoms = {name: SeededRandom(f"chat:{name}".encode()) for name in self.cast.names}
        self.services: dict[str, ChatService] = {}
        for name in self.cast.names:
            self.services[name] = self._service(name)
        self.wire: deque[tuple[str, str, bytes]] = deque()
        self.refused: list[tuple[str, AuraError]] = []

    def _service(self, name: str) -> ChatService:
        stack = self.cast.stack(name, self.storages[name], self.clock, self.randoms[name])
        return ChatService(stack=stack, context=CONTEXT, config=self.config, now=self.now)

    def restart(self, name: str) -> ChatService:
        """A new process over the same storage."""
        self.services[name] = self._service(name)
        return self.services[name]

    @property
    def now(self) -> float:
        return self.clock.monotonic()

    def __getitem__(self, name: str) -> ChatService:
        return self.services[name]

    def who(self, name: str) -> AuthorityId:
        return self.cast.authority(name)

    def collect(self) -> int:
        """Move every committed envelope of every member onto the wire."""
        moved = 0
        for name, service in self.services.items():
            sender = service.stack.sender
            for entry in sender.pending():
                self.wire.append((name, entry.destination, entry.payload))
                sender.acknowledge(entry.entry_id)
                moved += 1
        return moved

    def deliver(self, item: tuple[str, str, bytes]) -> None:
        _source, destination, payload = item
        try:
            self.services[destination].receive_envelope(payload, self.now)
        except AuraError as exc:
            self.refused.append((destination, exc))

    def settle(self, *, rounds: int = 200, down: Iterable[str] = ()) -> int:
        """Deliver until nothing is in flight (envelopes to ``down`` members are lost)."""
        offline = set(down)
        delivered = 0
        for _ in range(rounds):
            self.collect()
            if not self.wire:
                return delivered
            while self.wire:
                item = self.wire.popleft()
                if item[1] in offline:
                    continue
                self.deliver(item)
                delivered += 1
        raise AssertionError("the chat did not settle")

    def advance(self, seconds: float, *, down: Iterable[str] = ()) -> None:
        """Let time pass, firing due timers (retries, acks, epochs) and settling after each."""
        end = self.clock.monotonic() + seconds
        while True:
            due = [
                (t, name)
                for name, s in self.services.items()
                if name not in set(down) and (t := s.next_timer()) is not None and t <= end
            ]
            if not due:
                break
            when, name = min(due)
            if when > self.clock.monotonic():
                self.clock.advance(when - self.clock.monotonic())
            # never hand a service a time before the deadline it asked for (clock rounding)
            self.services[name].on_timer(max(when, self.clock.monotonic()))
            self.settle(down=down)
        if end > self.clock.monotonic():
            self.clock.advance(end - self.clock.monotonic())

    def texts(self, name: str, channel) -> list[tuple[str, str | None]]:
        return [(m.author_name, m.text) for m in self.services[name].view.history(channel)]


# --------------------------------------------------------------------------- simulator


class DrivenNode:
    """A :class:`ChatNode` for the simulator; ``user`` messages run queued actions on it."""

    def __init__(self, node: ChatNode) -> None:
        self.node = node
        self.actions: deque[Callable[[ChatService, float], Any]] = deque()
        self.results: list[Any] = []

    @property
    def service(self) -> ChatService:
        return self.node.service

    def receive(self, message: Incoming, now: float) -> list[Outgoing]:
        if message.source == "user":
            action = self.actions.popleft()
            try:
                self.results.append(action(self.node.service, now))
            except AuraError as exc:
                self.results.append(exc)
            return self.node.flush()
        return list(self.node.receive(message, now))

    def next_timer(self) -> float | None:
        return self.node.next_timer()

    def on_timer(self, now: float) -> list[Outgoing]:
        return list(self.node.on_timer(now))


def simulation(
    names: Iterable[str],
    *,
    seed: int,
    faults: FaultHook | None = None,
    config: ChatConfig | None = None,
    sync_interval_s: float = 2.0,
) -> tuple[Simulation, Cast]:
    cast = Cast(names)
    sim = Simulation(seed, faults=faults)
    chat_config = config if config is not None else ChatConfig(ack_delay_s=0.02)

    def factory(name: str) -> Callable[[NodeEnvironment], DrivenNode]:
        def build(env: NodeEnvironment) -> DrivenNode:
            stack = cast.stack(name, env.storage, env.clock, env.random)
            now = env.clock.monotonic()
            service = ChatService(stack=stack, context=CONTEXT, config=chat_config, now=now)
            node = ChatNode(
                service,
                peers=[other for other in cast.names if other != name],
                session_seed=env.random.random_bytes(16),
                now=now,
                sync=AntiEntropyConfig(interval_s=sync_interval_s, session_timeout_s=5.0),
            )
            return DrivenNode(node)

        return build

    for name in cast.names:
        sim.add_node(name, factory(name))
    return sim, cast


def act(sim: Simulation, name: str, action: Callable[[ChatService, float], Any]) -> Any:
    """Run ``action(service, now)`` on a simulated member now; returns its result (or error)."""
    node = sim.protocol(name)
    assert isinstance(node, DrivenNode)
    node.actions.append(action)
    sim.inject(name, b"act", source="user")
    return node.results[-1]


def dump(world: ChatWorld, name: str) -> tuple:
    """Everything a send can write in ``name``'s storage (budget rows, facts, outbox)."""
    from aura_journal.namespace import JournalNamespace
    from aura_protocol.guards import FLOW_TABLE, LEAKAGE_TABLE, journal_name

    journals = [journal_name(JournalNamespace.context(CONTEXT))] + [
        journal_name(JournalNamespace.authority(a.authority)) for a in world.cast.accounts.values()
    ]
    with world.storages[name].transaction(readonly=True) as txn:
        return (
            tuple(txn.scan(FLOW_TABLE)),
            tuple(txn.scan(LEAKAGE_TABLE)),
            tuple((j, tuple((f.fact_id, f.body) for f in txn.scan_facts(j))) for j in journals),
            tuple(txn.pending_outbox()),
        )
