"""Test support for the guard-chain, receipt, channel, choreography and isolation tests.

Builds authorities with real keys (a plain Ed25519 group key signs the
delegation, a Biscuit device root issues tokens), their guard stacks over
in-memory or SQLite storage, and contexts with rosters. Loaded by the test
modules with ``load_world()`` (the tests run under ``--import-mode=importlib``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Self

import attrs
from nacl.signing import SigningKey

from aura_core.effects import StorageEffects
from aura_core.errors import ValidationError
from aura_core.identifiers import AuthorityId, ContextId, DeviceId, Epoch
from aura_core.time_domains import OrderTime
from aura_effects.simulated import MemoryStorage, SeededRandom
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
from aura_journal.builtin_registry import default_registry
from aura_journal.fact_registry import FactRegistry, FactType
from aura_journal.facts import Fact, FactMetadata
from aura_journal.namespace import JournalNamespace
from aura_protocol.guards import (
    FLOW_TABLE,
    LEAKAGE_TABLE,
    ContextIdentity,
    ContextMembership,
    ContextRoster,
    DeviceSigner,
    FlowLimits,
    GuardStack,
    LeakagePolicy,
    journal_name,
)
from aura_testkit.mocks import ManualClock

SEND = Capability.parse("test:send")
ROTATE = Capability.parse("key_rotation:rotate")
VOTE = Capability.parse("key_rotation:vote")
_EPOCH_ZERO = Epoch(0)
LIMITS = FlowLimits({SEND: 100, ROTATE: 1000, VOTE: 1000})


@attrs.frozen
class Note:
    """A coupled test fact: a note that names its context."""

    TYPE_ID: ClassVar[str] = "test.note"
    context: ContextId
    text: str

    def to_canonical(self) -> dict[str, Any]:
        return {"ctx": self.context.raw, "text": self.text}

    @classmethod
    def from_canonical(cls, value: Any) -> Self:
        if type(value) is not dict or value.keys() != {"ctx", "text"}:
            raise ValidationError("a note is {ctx, text}")
        if type(value["text"]) is not str:
            raise ValidationError("note text must be a string")
        return cls(ContextId(value["ctx"]), value["text"])


def _note_in_its_context(fact: Fact, body: Note, namespace: JournalNamespace) -> None:
    if body.context != namespace.owner:
        raise ValidationError(f"a note of {body.context} cannot go into {namespace.owner}")


def make_registry() -> FactRegistry:
    registry = default_registry()
    registry.register(
        FactType.for_body(
            Note,
            attestations=frozenset({"none"}),
            namespaces=frozenset({"context"}),
            validate=_note_in_its_context,
        )
    )
    return registry


def note_fact(context: ContextId, text: str, salt: int = 0) -> Fact:
    order = OrderTime(bytes([salt % 256]) * 16 + text.encode()[:16].ljust(16, b"."))
    return Fact.create(Note(context, text), FactMetadata(order, order))


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
        self.random = rng.fork("effects")

    def trusted(self) -> TrustedAuthority:
        return TrustedAuthority(self.authority, bytes(self.group.verify_key), Epoch(1))

    def token(
        self,
        grants: Iterable[tuple[ContextId, Capability]],
        authorizer: CapabilityAuthorizer,
        clock: ManualClock,
    ) -> VerifiedToken:
        pairs = sorted(set(grants))
        statement = Delegation.of(
            authority=self.authority,
            group_key=bytes(self.group.verify_key),
            device_root=self.device_root.public_key,
            epoch=Epoch(1),
            capabilities={cap for _, cap in pairs},
        )
        signed = SignedDelegation(statement, self.group.sign(statement.signing_message()).signature)
        token = CapabilityToken.issue(root=self.device_root, delegation=signed, grants=pairs)
        return authorizer.verify(token, now=clock.now())


class Agent:
    def __init__(
        self,
        account: Account,
        storage: StorageEffects,
        authorizer: CapabilityAuthorizer,
        clock: ManualClock,
        limits: FlowLimits,
    ) -> None:
        self.account = account
        self.name = account.name
        self.authority = account.authority
        self.storage = storage
        self.clock = clock
        self.stack = GuardStack(
            authority=account.authority,
            device=DeviceSigner.derive(
                account.root_key, authority=account.authority, device=account.device
            ),
            storage=storage,
            time=clock,
            random=account.random,
            authorizer=authorizer,
            flow_limits=limits,
            registry=make_registry(),
        )

    @property
    def sender(self):
        return self.stack.sender

    @property
    def receiver(self):
        return self.stack.receiver

    def identity(self, context: ContextId, epoch: Epoch = _EPOCH_ZERO) -> ContextIdentity:
        return ContextIdentity.derive(
            self.account.root_key, authority=self.authority, context=context, epoch=epoch
        )


class GuardWorld:
    """Named authorities sharing one authorizer and clock; contexts among them."""

    def __init__(
        self,
        names: Iterable[str],
        *,
        storages: Mapping[str, StorageEffects] | None = None,
        limits: FlowLimits = LIMITS,
    ) -> None:
        self.clock = ManualClock()
        self.accounts = {name: Account(name, 1000 + i) for i, name in enumerate(names)}
        self.authorizer = CapabilityAuthorizer([a.trusted() for a in self.accounts.values()])
        self.limits = limits
        self.agents: dict[str, Agent] = {}
        self.rosters: dict[ContextId, ContextRoster] = {}
        self.settings: dict[ContextId, dict[str, Any]] = {}
        for name, account in self.accounts.items():
            storage = (storages or {}).get(name) or MemoryStorage(
                secrets_key=bytes(32), random=SeededRandom(name.encode())
            )
            self.agents[name] = Agent(account, storage, self.authorizer, self.clock, limits)

    def __getitem__(self, name: str) -> Agent:
        return self.agents[name]

    def restart(self, name: str, storage: StorageEffects) -> Agent:
        """A fresh agent object over ``storage`` (a process restart), re-joining its contexts."""
        agent = Agent(self.accounts[name], storage, self.authorizer, self.clock, self.limits)
        self.agents[name] = agent
        for context, settings in self.settings.items():
            if name in settings["names"]:
                self._join(agent, context)
        return agent

    def context(
        self,
        context: ContextId,
        names: Iterable[str],
        *,
        epoch: Epoch = _EPOCH_ZERO,
        grants: Mapping[str, Iterable[Capability]] | None = None,
        leakage: LeakagePolicy | None = None,
    ) -> ContextRoster:
        """Every named agent joins ``context``; ``grants`` default to ``test:send`` for all."""
        names = list(names)
        members = [self.agents[n].identity(context, epoch).member(f"mem://{n}") for n in names]
        roster = ContextRoster.of(context, epoch, members)
        self.rosters[context] = roster
        self.settings[context] = {
            "names": names,
            "grants": {n: tuple((grants or {}).get(n, (SEND,))) for n in names},
            "leakage": leakage if leakage is not None else LeakagePolicy({}),
        }
        for n in names:
            self._join(self.agents[n], context)
        return roster

    def _join(self, agent: Agent, context: ContextId) -> None:
        settings = self.settings[context]
        roster = self.rosters[context]
        grants = settings["grants"][agent.name]
        token = None
        if grants:
            token = agent.account.token(
                [(context, cap) for cap in grants], self.authorizer, self.clock
            )
        agent.stack.memberships.put(
            ContextMembership(
                identity=agent.identity(context, roster.epoch),
                roster=roster,
                token=token,
                leakage=settings["leakage"],
            )
        )

    def journals(self) -> list[str]:
        names = [
            journal_name(JournalNamespace.authority(a.authority)) for a in self.accounts.values()
        ]
        names += [journal_name(JournalNamespace.context(c)) for c in self.rosters]
        return names

    def dump(self, name: str) -> tuple:
        """Everything the guard chain can write in ``name``'s storage."""
        with self.agents[name].storage.transaction(readonly=True) as txn:
            return (
                tuple(txn.scan(FLOW_TABLE)),
                tuple(txn.scan(LEAKAGE_TABLE)),
                tuple(
                    (j, tuple((f.fact_id, f.body) for f in txn.scan_facts(j)))
                    for j in self.journals()
                ),
                tuple(txn.pending_outbox()),
            )

    def context_facts(self, name: str, context: ContextId) -> list[Fact]:
        with self.agents[name].storage.transaction(readonly=True) as txn:
            stored = txn.scan_facts(journal_name(JournalNamespace.context(context)))
        return [Fact.decode(s.body) for s in stored]


class RecordingTransport:
    """An EnvelopeTransport that keeps what it was given (and can run a check first)."""

    def __init__(self, check=None) -> None:
        self.sent: list[tuple[str, bytes]] = []
        self.check = check

    async def send(self, address: str, envelope: bytes) -> None:
        if self.check is not None:
            self.check(address, envelope)
        self.sent.append((address, envelope))
