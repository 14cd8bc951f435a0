"""An agent in the simulator: the same :class:`~aura_agent.agent_node.AgentNode`, on seeded effects.

:class:`SimAgent` is what a simulation node's factory builds from its
:class:`~aura_effects.simulated.NodeEnvironment`: the node's storage (which
survives crashes), its seeded random stream and its virtual clock. The device
identity and account are loaded from that storage, so a restarted agent is
the same device with the same journals. Scenario steps reach it as control
messages injected from the source ``"scenario"`` (the simulator never lets a
peer use that name); everything else is an ordinary frame from a peer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs

from aura_agent.agent_node import AgentNode, NodeSettings
from aura_agent.device_identity import DeviceIdentity, create_solo_account, store_account
from aura_agent.feature import Feature
from aura_agent.metrics import OperationsMetrics
from aura_agent.relay_mail import ROUTE_PREFIX, Deposit
from aura_agent.simulator.sim_relay import relay_ack, relay_deposit, relay_fetch
from aura_core.dag_cbor import decode, encode
from aura_core.effects import Incoming, Outgoing
from aura_core.errors import AuraError, InvalidEncoding
from aura_core.identifiers import AuthorityId, DeviceId
from aura_effects import RandomOrderClock
from aura_effects.simulated import NodeEnvironment
from aura_features.rendezvous import SealedEnvelope
from aura_journal import JournalNamespace
from aura_protocol.anti_entropy import AntiEntropyConfig
from aura_protocol.consensus import (
    ConsensusConfig,
    WitnessCredentials,
    WitnessSet,
    encode_operation,
)

__all__ = ["CONTROL_SOURCE", "GroupSeat", "SimAgent", "control_message"]

CONTROL_SOURCE = "scenario"


@attrs.frozen
class GroupSeat:
    """An agent's place in a witness group, re-installed at every incarnation."""

    group: str
    witnesses: WitnessSet
    scope: JournalNamespace
    prestate_hash: bytes
    credentials: WitnessCredentials | None
    initiator: bool
    byzantine: bool


def _relay_node(address: str) -> str:
    """Simulated relays are addressed ``mem://<node name>``."""
    return address.removeprefix("mem://")


def control_message(command: str, **fields: Any) -> bytes:
    return encode({"cmd": command, **fields})


class SimAgent:
    """A sans-IO simulation node wrapping one :class:`AgentNode`."""

    def __init__(
        self,
        env: NodeEnvironment,
        *,
        features: Sequence[Feature],
        create_account: bool,
        seats: Sequence[GroupSeat],
        settings: NodeSettings,
        errors: list[str],
        saved: dict[str, Any] | None = None,
        poll_s: float = 0.5,
    ) -> None:
        self.env = env
        self.name = env.name
        self.metrics = OperationsMetrics()
        self.errors = errors
        self.saved = saved if saved is not None else {}
        self._relay_nodes = {hint.address: _relay_node(hint.address) for hint in settings.relays}
        self._poll_s = poll_s
        self._next_poll: float | None = env.clock.monotonic() if settings.relays else None
        self._unreceipted: dict[bytes, Outgoing] = {}
        """Deposits the relay has not confirmed yet (resent at every poll)."""
        order_clock = RandomOrderClock(env.random.fork("order"))
        identity = DeviceIdentity.load_or_create(
            env.storage, env.random, device=DeviceId.derive("sim-agent", env.name.encode())
        )
        self.node = AgentNode(
            route=env.name,
            identity=identity,
            storage=env.storage,
            random=env.random,
            time=env.clock,
            order_clock=order_clock,
            features=features,
            now=env.clock.monotonic(),
            settings=settings,
            metrics=self.metrics,
        )
        if create_account and self.node.account is None:
            record, seed, genesis = create_solo_account(
                identity, random=env.random, order_clock=order_clock, time=env.clock
            )
            store_account(env.storage, record, seed=seed)
            self.node.attach_account(record, env.clock.monotonic())
            self.node.add_facts(record.namespace, [genesis])
        self.group_ids: dict[str, bytes] = {}
        for seat in seats:
            self.group_ids[seat.group] = self.node.consensus.join(
                seat.witnesses,
                seat.scope,
                credentials=seat.credentials,
                prestate_hash=seat.prestate_hash,
                initiator=seat.initiator,
                byzantine=seat.byzantine,
            )

    @property
    def authority(self) -> AuthorityId | None:
        account = self.node.account
        return None if account is None else account.authority

    # ------------------------------------------------------------------ SansIOProtocol

    def receive(self, message: Incoming, now: float) -> list[Outgoing]:
        if message.source == CONTROL_SOURCE:
            try:
                self._control(message.payload, now)
            except AuraError as exc:
                self.errors.append(f"{self.name}: {type(exc).__name__}: {exc}")
            return self._drain(now)
        if message.source in self._relay_nodes.values():
            try:
                return self._mail(message.source, message.payload, now) + self._drain(now)
            except (AuraError, KeyError, TypeError):
                self.metrics.frames_refused += 1
                return self._drain(now)
        return self._route(self.node.receive(message, now)) + self._drain(now)

    def next_timer(self) -> float | None:
        timers = [t for t in (self.node.next_timer(), self._next_poll) if t is not None]
        return min(timers) if timers else None

    def on_timer(self, now: float) -> list[Outgoing]:
        out = self._route(self.node.on_timer(now))
        if self._next_poll is not None and self._next_poll <= now + 1e-6:
            self._next_poll = now + self._poll_s
            out.extend(self._unreceipted.values())
            for watch in self.node.mailboxes():
                for hint in watch.relays:
                    node = self._relay_nodes.get(hint.address)
                    if node is not None:
                        out.append(Outgoing(node, relay_fetch(watch.key)))
        return out + self._drain(now)

    # ------------------------------------------------------------------ internals

    def _route(self, outputs: Sequence[Outgoing]) -> list[Outgoing]:
        """Frames for relay routes become deposits at the contact's relay; the rest go direct."""
        routed = []
        for out in outputs:
            if not out.destination.startswith(ROUTE_PREFIX):
                routed.append(out)
                continue
            deposit = self.node.seal_route(out.destination, out.payload)
            if deposit is not None:
                routed.extend(self._deposit(deposit))
        return routed

    def _deposit(self, deposit: Deposit) -> list[Outgoing]:
        for hint in deposit.relays:
            node = self._relay_nodes.get(hint.address)
            if node is not None:
                message = Outgoing(node, relay_deposit(deposit.envelope))
                self._unreceipted[deposit.envelope.envelope_id.raw] = message
                return [message]
        return []

    def _drain(self, now: float) -> list[Outgoing]:
        out = self._route(self.node.take_outgoing())
        for deposit in self.node.take_deposits():
            out.extend(self._deposit(deposit))
        for entry_id, frame in self.node.pending_envelopes():
            out.extend(self._route([frame]))
            self.node.acknowledge_envelope(entry_id)
        return out

    def _mail(self, relay: str, payload: bytes, now: float) -> list[Outgoing]:
        answer: Any = decode(payload, allow_floats=False)
        if isinstance(answer, dict) and answer.get("op") == "deposited":
            self._unreceipted.pop(answer["id"], None)
            return []
        if not isinstance(answer, dict) or answer.get("op") != "mail":
            raise InvalidEncoding("a relay answer is a map with op 'mail' or 'deposited'")
        watches = {watch.key.tag.raw: watch for watch in self.node.mailboxes()}
        watch = watches.get(answer["tag"])
        if watch is None:
            return []
        read: list[bytes] = []
        out: list[Outgoing] = []
        for data in answer["envs"]:
            envelope = SealedEnvelope.decode(data)
            if envelope.tag.raw != answer["tag"]:
                raise InvalidEncoding("the relay answered with another mailbox's envelope")
            out.extend(self._route(self.node.open_mail(watch, envelope, now)))
            read.append(envelope.envelope_id.raw)
        out.append(Outgoing(relay, relay_ack(watch.key, read)))
        return out

    def _control(self, payload: bytes, now: float) -> None:
        value = decode(payload, allow_floats=True)
        if not isinstance(value, dict) or type(value.get("cmd")) is not str:
            raise InvalidEncoding("a control message is a map with a 'cmd'")
        command = value["cmd"]
        if command == "peers":
            namespace = JournalNamespace.from_bytes(value["ns"])
            self.node.set_peers(namespace, {route: None for route in value["routes"]}, now)
        elif command == "run":
            result = self.node.run_workflow(value["operation"], value["args"], now)
            if value.get("save"):
                self.saved[value["save"]] = result
        elif command == "propose":
            self.node.propose(
                self.group_ids[value["group"]],
                value["slot"].encode(),
                value["prestate"],
                encode_operation(value["operation"]),
                now,
            )
        elif command == "sync":
            for namespace in self.node.book.namespaces:
                self.node.sync_now(namespace, now)
        else:
            raise InvalidEncoding(f"unknown control command {command!r:.40}")


SimAgentFactory = Callable[[NodeEnvironment], SimAgent]


def settings_for_simulation() -> NodeSettings:
    """Faster periods than a live agent: simulated seconds are cheap but not free."""
    return NodeSettings(
        sync=AntiEntropyConfig(interval_s=1.0, session_timeout_s=3.0),
        consensus=ConsensusConfig(),
    )
