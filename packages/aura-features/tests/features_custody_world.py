"""Test support for custody and recovery: an account, its devices and guardians, simulated or on TCP.

:class:`CustodyWorld` builds an account (DKG, genesis) whose devices run
:class:`DeviceManager` (with a :class:`RecoveryWatch`) and guardians run
:class:`GuardianAgent`, all as nodes of the deterministic simulator.
:meth:`CustodyWorld.do` runs a command on a node inside the simulation (its
messages go through the simulated network). :class:`LoopbackMesh` drives the
same sans-IO objects over real Noise-encrypted TCP on 127.0.0.1.

Loaded by the tests and the benchmark with ``importlib`` (not a conftest).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from contextlib import AsyncExitStack
from typing import Any

import anyio
import attrs

from aura_core.crypto import (
    KeyPackage,
    PublicKeyPackage,
    SigningPackage,
    aggregate,
    commit,
    sign,
    sign_single,
)
from aura_core.effects import ChannelKeys, Incoming, Outgoing
from aura_core.identifiers import AuthorityId
from aura_effects import NoiseNetwork, SodiumCrypto, channel_public_key
from aura_effects.simulated import Simulation
from aura_effects.simulated.seeded_random import SeededRandom
from aura_features.devices import (
    CustodyConfig,
    DeviceKeys,
    DeviceManager,
    DeviceMember,
    GuardianKeys,
    account_genesis,
    account_keys_by_dkg,
    add_guardians,
)
from aura_features.invitation import Invite, InviteKind, sign_invite
from aura_features.recovery import (
    GuardianAgent,
    GuardianAnswered,
    RecoveryCoordinator,
    RecoveryJoiner,
    RecoveryRequested,
    RecoveryWatch,
    recovery_registry,
)

START = 1_700_000_000.0


class CommandNode:
    """A sans-IO object plus a queue of commands run when ``app`` pokes it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.commands: list[Callable[[Any, float], list[Outgoing]]] = []
        self.events: list[Any] = []

    def receive(self, message: Incoming, now: float) -> list[Outgoing]:
        if message.source == "app":
            out = list(self.commands.pop(0)(self.inner, now))
        else:
            out = self.inner.receive(message, now)
        self.events += self.inner.take_events()
        return out

    def next_timer(self) -> float | None:
        return self.inner.next_timer()

    def on_timer(self, now: float) -> list[Outgoing]:
        out = self.inner.on_timer(now)
        self.events += self.inner.take_events()
        return out

    def take(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


class GroupSigner:
    """An Ed25519Signer over key packages held in this process (tests: the account key signs)."""

    def __init__(
        self, key_packages: Iterable[KeyPackage], public: PublicKeyPackage, rng: Any
    ) -> None:
        self._keys = sorted(key_packages, key=lambda k: k.identifier)
        self._public = public
        self._rng = rng

    @property
    def public_key(self) -> bytes:
        return bytes(self._public.verifying_key)

    @property
    def signer_count(self) -> int:
        return len(self._keys)

    def sign(self, message: bytes) -> bytes:
        return frost_sign(self._keys, self._public, message, self._rng)


def frost_sign(keys: list[KeyPackage], public: PublicKeyPackage, message: bytes, rng: Any) -> bytes:
    """A FROST signature by ``keys`` (raises if they do not combine under ``public``).

    A 1-of-1 key signs alone, with plain Ed25519."""
    if len(keys) == 1 and keys[0].is_single_signer:
        return sign_single(keys[0], message)
    rounds = [commit(k, rng) for k in keys]
    package = SigningPackage.from_unsorted([c for _n, c in rounds], message)
    shares = [sign(package, n, k) for (n, _c), k in zip(rounds, keys, strict=True)]
    return aggregate(package, shares, public)


@attrs.define
class Account:
    account: AuthorityId
    keys: dict[str, DeviceKeys]
    key_packages: dict[int, KeyPackage]
    public: PublicKeyPackage
    facts: tuple[Any, ...]


def make_account(rng: SeededRandom, devices: int, threshold: int) -> Account:
    account = AuthorityId.generate(rng)
    keys = [DeviceKeys.generate(rng) for _ in range(devices)]
    members = [DeviceMember(i + 1, k.profile) for i, k in enumerate(keys)]
    key_packages, public = account_keys_by_dkg([m.identifier for m in members], threshold, rng)
    facts = account_genesis(
        account=account,
        devices=members,
        key_packages=list(key_packages.values()),
        public_key_package=public,
        rng=rng,
        now=START,
    )
    return Account(
        account, {f"d{i + 1}": k for i, k in enumerate(keys)}, key_packages, public, facts
    )


class CustodyWorld:
    """An account of ``devices`` devices in the simulator; guardians and new devices on demand."""

    def __init__(
        self,
        seed: int = 0,
        *,
        devices: int = 2,
        threshold: int = 2,
        faults: Any = None,
        config: CustodyConfig | None = None,
        approval: Callable[[Any], bool] | None = lambda _change: True,
    ) -> None:
        self.seed = seed
        self.rng = SeededRandom(seed).fork("world")
        self.sim = Simulation(seed, faults=faults, start_us=int(START * 1_000_000))
        self.config = config or CustodyConfig()
        self.approval = approval
        acct = make_account(self.rng, devices, threshold)
        self.account = acct.account
        self.group_key = bytes(acct.public.verifying_key)
        self.public = acct.public
        self.names: dict[str, str] = {}
        self.nodes: dict[str, CommandNode] = {}
        for name, keys in acct.keys.items():
            identifier = int(name[1:])
            self._add_device(name, keys, acct.key_packages[identifier], acct.facts)
        self.guardian_keys: dict[str, GuardianKeys] = {}

    # ------------------------------------------------------------------ nodes

    def _add_node(self, name: str, address: str, build: Callable[[Any], Any]) -> None:
        self.names[name] = address

        def factory(env: Any) -> CommandNode:
            node = CommandNode(build(env))
            self.nodes[name] = node
            return node

        self.sim.add_node(address, factory)

    def _add_device(
        self,
        name: str,
        keys: DeviceKeys,
        key_package: KeyPackage | None,
        facts: Iterable[Any],
        extensions: tuple[Any, ...] | None = None,
    ) -> None:
        def build(env: Any) -> DeviceManager:
            return DeviceManager(
                keys=keys,
                account=self.account,
                rng=env.random,
                crypto=SodiumCrypto(env.random),
                group_key=self.group_key,
                key_package=key_package,
                facts=tuple(facts),
                registry=recovery_registry(),
                config=self.config,
                approval=self.approval,
                extensions=(RecoveryWatch(),) if extensions is None else extensions,
            )

        self._add_node(name, keys.profile.address, build)

    def add_new_device(self, name: str) -> DeviceKeys:
        """A device that holds nothing yet (to enroll)."""
        keys = DeviceKeys.generate(self.rng)
        self._add_device(name, keys, None, ())
        return keys

    def add_recovering_device(
        self,
        name: str,
        *,
        guardians: list[str],
        kept: tuple[int, ...],
        threshold: int,
        companions: tuple[str, ...] = (),
    ) -> RecoveryCoordinator:
        keys = DeviceKeys.generate(self.rng)
        coordinator = RecoveryCoordinator(
            guardians=[self.names[g] for g in guardians],
            threshold=threshold,
            kept=kept,
            companions=[self.manager(c).profile for c in companions],
            rng=self.rng.fork(f"recovery:{name}"),
        )
        self._add_device(name, keys, None, (), extensions=(coordinator,))
        return coordinator

    def add_companion(self, name: str) -> DeviceKeys:
        """A further new device that joins a recovery (it runs a :class:`RecoveryJoiner`)."""
        keys = DeviceKeys.generate(self.rng)
        self._add_device(name, keys, None, (), extensions=(RecoveryJoiner(),))
        return keys

    def add_guardian(self, name: str) -> GuardianKeys:
        keys = GuardianKeys.generate(self.rng)
        self.guardian_keys[name] = keys

        def build(env: Any) -> GuardianAgent:
            return GuardianAgent(
                keys=keys,
                rng=env.random,
                crypto=SodiumCrypto(env.random),
                registry=recovery_registry(),
            )

        self._add_node(name, keys.profile.address, build)
        return keys

    def manager(self, name: str) -> DeviceManager:
        return self.nodes[name].inner

    def guardian(self, name: str) -> GuardianAgent:
        return self.nodes[name].inner

    # ------------------------------------------------------------------ driving

    def do(self, name: str, command: Callable[[Any, float], list[Outgoing]]) -> None:
        """Run ``command(inner, now)`` on a node inside the simulation."""
        self.nodes[name].commands.append(command)
        self.sim.inject(self.names[name], b"", source="app")

    def run(self, seconds: float = 10.0) -> None:
        self.sim.run(for_s=seconds)

    def tag(self) -> bytes:
        return self.rng.random_bytes(16)

    def signer(self, names: Iterable[str]) -> GroupSigner:
        managers = [self.manager(n) for n in names]
        keys = [m.key_package for m in managers if m.key_package is not None]
        return GroupSigner(keys, managers[0].key_epoch.public_key_package, self.rng)

    def guardian_invite(self, signer_names: Iterable[str]) -> Any:
        invite = Invite(
            kind=InviteKind.GUARDIAN,
            inviter=self.account,
            inviter_key=self.group_key,
            context_seed=self.rng.random_bytes(32),
            nonce=self.rng.random_bytes(16),
            expires_ms=int((START + 30 * 86400) * 1000),
        )
        return sign_invite(invite, self.signer(signer_names))

    def seat_guardians(
        self,
        names: list[str],
        *,
        threshold: int,
        window_s: int = 60,
        via: str = "d1",
        signers: Iterable[str] = ("d1", "d2"),
    ) -> None:
        """Invite, accept and seat guardians (a consensus-decided custody change)."""
        signers = list(signers)
        invitations = set()
        for name in names:
            keys = self.add_guardian(name)
            signed = self.guardian_invite(signers)
            watch = self._watch(via)
            self.do(
                via,
                lambda _m, now, s=signed, k=keys, w=watch: w.invite_guardian(
                    s, k.profile.address, now
                ),
            )
            self.run(1)
            invitation = signed.invitation_id.raw
            invitations.add(invitation)
            self.do(name, lambda g, now, i=invitation: g.accept(i, now))
            self.run(1)
        answered = self.nodes[via].take(GuardianAnswered)
        profiles = [
            e.response.profile
            for e in answered
            if e.response.accepted and e.response.invitation in invitations
        ]
        change = add_guardians(
            self.manager(via).view,
            profiles,
            tag=self.tag(),
            guardian_threshold=threshold,
            dispute_window_s=window_s,
        )
        self.do(via, lambda m, now: m.propose(change, now))
        self.run(10)

    def _watch(self, name: str) -> RecoveryWatch:
        for extension in self.manager(name)._extensions:
            if isinstance(extension, RecoveryWatch):
                return extension
        raise LookupError(f"{name} has no recovery watch")

    def watch(self, name: str) -> RecoveryWatch:
        return self._watch(name)


# --------------------------------------------------------------------------- loopback


class LoopbackMesh:
    """Sans-IO nodes over Noise ``IKpsk2`` on real loopback TCP (one listener per node).

    Each node gets its own static key and listens on ``tcp://127.0.0.1:0``. A
    message to ``address`` goes over a Noise channel (opened once per pair) to
    that node's listener, as one frame whose first line names the sender.
    One task pumps everything: it opens the channels, feeds received frames to
    the nodes and fires their timers, on the monotonic clock shifted by
    ``clock_offset`` (so the nodes see realistic times).
    """

    def __init__(
        self,
        nodes: dict[str, Any],
        *,
        clock_offset: float = 0.0,
        fast_forward: Callable[[float], float | None] | None = None,
    ) -> None:
        self.nodes = nodes
        self.offset = clock_offset
        self.fast_forward = fast_forward
        self.skipped_s = 0.0
        self.busy_s = 0.0
        """Real time spent inside the nodes (``receive``), as opposed to transport and waiting."""
        """Real time spent noticing idleness before a fast-forward (to subtract from timings)."""
        self.network = NoiseNetwork()
        self.keys = {address: ChannelKeys(os.urandom(32), b"\x07" * 32) for address in nodes}
        self.listeners: dict[str, Any] = {}
        self.channels: dict[tuple[str, str], Any] = {}
        self.messages = 0
        self.bytes = 0
        self.unreachable = 0

    def now(self) -> float:
        return time.monotonic() + self.offset

    def _dispatch(self, source: str, outputs: list[Outgoing]) -> None:
        for out in outputs:
            if out.destination not in self.nodes:
                self.unreachable += 1  # that device is lost or offline
                continue
            self.messages += 1
            self.bytes += len(out.payload)
            key = (source, out.destination)
            queue = self.channels.get(key)
            if queue is None:
                queue, receive = anyio.create_memory_object_stream[bytes](10_000)
                self.channels[key] = queue
                self._tasks.start_soon(self._sender, source, out.destination, receive)
            queue.send_nowait(source.encode() + b"\n" + out.payload)

    async def _sender(self, source: str, destination: str, frames: Any) -> None:
        """Owns one Noise channel (opened and closed in this task) and sends its frames."""
        async with (
            frames,
            self.network.connect(
                self.listeners[destination].address,
                self.keys[source],
                remote_static=channel_public_key(self.keys[destination]),
            ) as channel,
        ):
            async for frame in frames:
                await channel.send(frame)

    async def run(
        self,
        start: Callable[[], Iterable[tuple[str, list[Outgoing]]]],
        done: Callable[[], bool],
        *,
        timeout_s: float = 30.0,
    ) -> None:
        """Listen, send what ``start()`` returns (node, outputs), pump until ``done()``."""
        inbox_send, inbox = anyio.create_memory_object_stream[tuple[str, bytes]](10_000)
        async with AsyncExitStack() as stack:
            stack.push_async_callback(inbox.aclose)
            stack.push_async_callback(inbox_send.aclose)
            for address in self.nodes:

                async def handler(channel: Any, address: str = address) -> None:
                    while True:
                        await inbox_send.send((address, await channel.recv()))

                self.listeners[address] = await stack.enter_async_context(
                    self.network.listen("tcp://127.0.0.1:0", self.keys[address], handler)
                )
            async with anyio.create_task_group() as tasks:
                self._tasks = tasks
                try:
                    with anyio.fail_after(timeout_s):
                        await self._pump(start, done, inbox)
                finally:
                    for queue in self.channels.values():
                        queue.close()

    async def _pump(self, start: Any, done: Any, inbox: Any) -> None:
        for source, outputs in start():
            self._dispatch(source, outputs)
        while not done():
            now = self.now()
            for address, node in self.nodes.items():
                deadline = node.next_timer()
                if deadline is not None and deadline <= now:
                    self._dispatch(address, node.on_timer(now))
            idle_from = time.perf_counter()
            with anyio.move_on_after(self._next_delay()) as idle:
                address, frame = await inbox.receive()
                source, _sep, payload = frame.partition(b"\n")
                node = self.nodes[address]
                began = time.perf_counter()
                outputs = node.receive(Incoming(source.decode(), payload), self.now())
                self.busy_s += time.perf_counter() - began
                self._dispatch(address, outputs)
            if idle.cancelled_caught and self.fast_forward is not None:
                target = self.fast_forward(self.now())
                if target is not None and target > self.now():
                    # nothing arrived: jump to ``target`` instead of waiting for it
                    self.offset += target - self.now()
                    self.skipped_s += time.perf_counter() - idle_from

    def _next_delay(self) -> float:
        deadlines = [d for node in self.nodes.values() if (d := node.next_timer()) is not None]
        cap = 0.005 if self.fast_forward is not None else 0.05
        if not deadlines:
            return cap
        return max(0.0, min(min(deadlines) - self.now(), cap))


class AutoApprove:
    """A guardian that approves every recovery request it accepts (after the checks it runs)."""

    def __init__(self, agent: GuardianAgent) -> None:
        self.agent = agent
        self.events: list[Any] = []

    def receive(self, message: Incoming, now: float) -> list[Outgoing]:
        out = self.agent.receive(message, now)
        for event in self.agent.take_events():
            self.events.append(event)
            if isinstance(event, RecoveryRequested):
                out += self.agent.approve_recovery(event.request.recovery_id, now)
        return out

    def next_timer(self) -> float | None:
        return self.agent.next_timer()

    def on_timer(self, now: float) -> list[Outgoing]:
        out = self.agent.on_timer(now)
        self.events += self.agent.take_events()
        return out
