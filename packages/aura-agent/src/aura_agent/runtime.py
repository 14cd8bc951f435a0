"""The embeddable agent: one per device, an async context manager a host program runs.

::

    async with Agent(AgentConfig(data_dir="~/.aura"), HostSecret.from_passphrase(pw)) as agent:
        if agent.account is None:
            await agent.create_account()
        async for account in agent.subscribe("account"):
            ...

On entry the agent unlocks its storage with the host's secret (Argon2id for a
passphrase), loads or creates the device identity, assembles the production
effects (:func:`aura_effects.build_effects`), loads the built-in features and
every feature registered under the ``aura.features`` entry-point group,
replays its journals from SQLite, and starts its background work in its own
task group: the core's timers (anti-entropy, consensus), the signal batcher,
the flush of committed envelopes (including those a previous run left in the
outbox), feature ``start`` hooks and, when configured, the metrics endpoint.
Leaving the block cancels all of it and closes storage; nothing outlives it.

A host that runs its own task group can also ``await tg.start(agent.serve)``
and later call :meth:`Agent.stop`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import anyio
import anyio.abc

from aura_agent.agent_node import AgentNode, NodeSettings
from aura_agent.app.signal_board import SignalBoard
from aura_agent.builtin_features import BUILTIN_FEATURES
from aura_agent.config import AgentConfig
from aura_agent.device_identity import (
    AccountRecord,
    DeviceIdentity,
    create_solo_account,
    store_account,
)
from aura_agent.direct_links import DirectLinks
from aura_agent.feature import Feature
from aura_agent.feature_discovery import discover_features
from aura_agent.frame_transport import FrameTransport
from aura_agent.host_key import HostSecret
from aura_agent.metrics import OperationsMetrics, StatusSnapshot, render_prometheus
from aura_agent.metrics_endpoint import serve_metrics
from aura_agent.relay_mail import Deposit, MailboxWatch
from aura_core.effect_context import ExecutionMode
from aura_core.effects import Effects, Incoming, Outgoing, SignalSubscription
from aura_core.errors import AuraError, InvalidInput
from aura_core.identifiers import AuthorityId, DeviceId
from aura_effects import SqliteStorage, SystemRandom, build_effects
from aura_features.rendezvous import RelayClient, RelayHint
from aura_journal import JournalNamespace
from aura_protocol.anti_entropy import AntiEntropyConfig, ReconciliationConfig
from aura_protocol.guards import read_flow_row

__all__ = ["Agent"]


class Agent:
    """One device's agent. Use as ``async with Agent(config, secret) as agent``."""

    def __init__(
        self,
        config: AgentConfig,
        secret: HostSecret,
        *,
        features: Sequence[Feature] | None = None,
        transport: FrameTransport | None = None,
    ) -> None:
        if not isinstance(config, AgentConfig):
            raise InvalidInput(f"expected an AgentConfig, got {type(config).__name__}")
        if not isinstance(secret, HostSecret):
            raise InvalidInput("the host secret must be a HostSecret (passphrase or key)")
        self.config = config
        self._secret = secret
        self._explicit_features = None if features is None else list(features)
        self._transport = transport
        self._tg: anyio.abc.TaskGroup | None = None
        self._stopped = anyio.Event()
        self._wake: anyio.Event | None = None
        self._send_stream: anyio.abc.ObjectSendStream[Outgoing] | None = None
        self._started_at = 0.0
        self.metrics = OperationsMetrics()
        self.metrics_port: int | None = None
        """The port the metrics endpoint bound (when ``metrics_address`` is set)."""
        self._effects: Effects | None = None
        self._node: AgentNode | None = None
        self._board: SignalBoard | None = None
        self._features: list[Feature] = []
        self._relay_queue: list[tuple[Deposit, int | None]] = []
        self._direct: DirectLinks | None = (
            None if config.listen_address is None else DirectLinks(self, config.listen_address)
        )
        self._relay_wake: anyio.Event | None = None

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Agent:
        if self._tg is not None:
            raise InvalidInput("this agent is already running")
        self._open()
        tg = anyio.create_task_group()
        await tg.__aenter__()
        self._tg = tg
        try:
            send, receive = anyio.create_memory_object_stream[Outgoing](max_buffer_size=math.inf)
            self._send_stream = send
            assert self._board is not None and self._effects is not None
            tg.start_soon(self._board.run, self._effects.time, self.config.signal_batch_s)
            tg.start_soon(self._drive)
            tg.start_soon(self._send_loop, receive)
            if self.config.relays:
                tg.start_soon(self._relay_loop)
            if self._direct is not None:
                tg.start_soon(self._direct.run, tg)
            if self.config.metrics_address is not None:
                self.metrics_port = await tg.start(
                    serve_metrics, self.config.metrics_address, self.metrics_text
                )
            for feature in self._features:
                if feature.start is not None:
                    tg.start_soon(feature.start, self)
            self._flush_envelopes()  # what a previous run committed but never sent
        except BaseException:
            tg.cancel_scope.cancel()
            await tg.__aexit__(None, None, None)
            self._tg = None
            self._close()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> bool | None:
        tg, self._tg = self._tg, None
        if tg is None:
            return None
        tg.cancel_scope.cancel()
        try:
            return await tg.__aexit__(*exc_info)  # type: ignore[arg-type]
        finally:
            if self._send_stream is not None:
                self._send_stream.close()
            if self._transport is not None and self._node is not None:
                self._transport.detach(self._node.route)
            self._close()

    async def serve(
        self, *, task_status: anyio.abc.TaskStatus[Agent] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Run until :meth:`stop` (or cancellation); for ``await tg.start(agent.serve)``."""
        async with self:
            task_status.started(self)
            await self._stopped.wait()

    def stop(self) -> None:
        """Ask :meth:`serve` to return (a clean shutdown)."""
        self._stopped.set()

    @property
    def running(self) -> bool:
        return self._tg is not None

    def _open(self) -> None:
        config = self.config
        os.makedirs(config.data_dir, mode=0o700, exist_ok=True)
        key = self._secret.storage_key(config.key_parameters_path, SystemRandom())
        probe = SqliteStorage(config.database_path, secrets_key=key)
        try:
            identity = DeviceIdentity.load_or_create(probe, SystemRandom())
        finally:
            probe.close()
        effects = build_effects(
            ExecutionMode.PRODUCTION,
            device=identity.device,
            storage_path=config.database_path,
            secrets_key=key,
        )
        try:
            features = (
                self._explicit_features
                if self._explicit_features is not None
                else discover_features(BUILTIN_FEATURES, enabled=config.features)
            )
            now = effects.time.monotonic()
            self._started_at = now
            node = AgentNode(
                route=str(identity.device),
                identity=identity,
                storage=effects.storage,
                random=effects.random,
                time=effects.time,
                order_clock=effects.order_clock,
                features=features,
                now=now,
                settings=NodeSettings(
                    sync=AntiEntropyConfig(
                        interval_s=config.sync_interval_s,
                        # Frames travel in sealed relay envelopes (at most 256 KiB each).
                        reconciliation=ReconciliationConfig(
                            frame_limit=128 * 1024, fact_chunk_bytes=96 * 1024
                        ),
                    ),
                    relays=config.relays,
                ),
                metrics=self.metrics,
            )
            board = SignalBoard(effects.reactive, node.reader)
            for feature in features:
                board.add_all(feature.signals)
            node.listen(board.journal_changed)
            board.flush()
        except BaseException:
            effects.storage.close()
            raise
        self._effects, self._node, self._board, self._features = (
            effects,
            node,
            board,
            list(features),
        )
        if self._transport is not None:
            self._transport.attach(node.route, self.deliver_frame)

    def _close(self) -> None:
        if self._effects is not None:
            self._effects.storage.close()
        self._effects = self._node = self._board = None

    # ------------------------------------------------------------------ accessors

    @property
    def node(self) -> AgentNode:
        """The sans-IO core (for advanced hosts and tests)."""
        if self._node is None:
            raise InvalidInput("the agent is not running; use 'async with Agent(...)'")
        return self._node

    @property
    def effects(self) -> Effects:
        if self._effects is None:
            raise InvalidInput("the agent is not running; use 'async with Agent(...)'")
        return self._effects

    @property
    def device(self) -> DeviceId:
        return self.node.identity.device

    @property
    def account(self) -> AccountRecord | None:
        return self.node.account

    @property
    def authority(self) -> AuthorityId | None:
        account = self.node.account
        return None if account is None else account.authority

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(feature.name for feature in self._features)

    @property
    def operations(self) -> Mapping[str, str]:
        """Workflows this agent can run, with their operation category (A, B or C)."""
        return self.node.operations

    @property
    def signals(self) -> SignalBoard:
        if self._board is None:
            raise InvalidInput("the agent is not running; use 'async with Agent(...)'")
        return self._board

    # ------------------------------------------------------------------ workflows

    async def create_account(self) -> AccountRecord:
        """Create a 1-of-1 account on this device (its tree genesis is the first fact).

        With the ``devices`` feature loaded (it is built in) the key is kept as a
        custody share, so devices can be added and guardians seated later; without
        it, as a plain Ed25519 seed.
        """
        node = self.node
        if node.account is not None:
            raise InvalidInput(f"this device already belongs to {node.account.authority}")
        if "devices.create_account" in node.operations:
            record: AccountRecord = await self.run("devices.create_account")
            return record
        effects = self.effects
        record, seed, genesis = create_solo_account(
            node.identity, random=effects.random, order_clock=effects.order_clock, time=effects.time
        )
        store_account(effects.storage, record, seed=seed)
        node.add_facts(record.namespace, [genesis])
        node.attach_account(record, self._now())
        self._after_command()
        return record

    async def run(self, operation: str, /, **args: Any) -> Any:
        """Run a feature workflow by name (``chat.send``, ``notes.add`` ...)."""
        result = self.node.run_workflow(operation, args, self._now())
        self._after_command()
        return result

    def query(self, name: str, /, **args: Any) -> Any:
        """Ask a feature a read-only question (``chat.history`` ...)."""
        return self.node.query(name, args)

    def latest(self, signal: str, default: Any = None) -> Any:
        """The current value of a signal (after the pending batch, if any, is flushed)."""
        self.signals.flush()
        return self.effects.reactive.latest(signal, default)

    def subscribe(self, signal: str) -> SignalSubscription:
        """An async iterator over a signal's values; it always yields the newest one."""
        return self.effects.reactive.subscribe(signal)

    def set_peers(
        self, namespace: JournalNamespace, peers: Mapping[str, AuthorityId | None]
    ) -> None:
        """Sync ``namespace`` with these routes (normally done by the feature that joined it)."""
        self.node.set_peers(namespace, peers, self._now())
        self._after_command()

    def sync_now(self) -> None:
        """Start an anti-entropy round with every peer of every journal now."""
        node = self.node
        now = self._now()
        for namespace in node.book.namespaces:
            node.sync_now(namespace, now)
        self._after_command()

    # ------------------------------------------------------------------ status

    def status(self) -> StatusSnapshot:
        node = self.node
        now = self._now()
        spent, limit, peak = self._flow_figures()
        board = self.signals
        return StatusSnapshot(
            device=str(node.identity.device),
            authority=None if node.account is None else str(node.account.authority),
            uptime_s=max(0.0, now - self._started_at),
            features=self.features,
            journals=len(node.book.namespaces),
            facts=node.book.fact_count(),
            contexts=sum(1 for ns in node.book.namespaces if ns.is_context),
            receipts_accepted=self.metrics.receipts_accepted,
            receipts_rejected=self.metrics.receipts_rejected,
            consensus_backlog=node.consensus.backlog,
            consensus_decided=node.consensus.decided,
            flow_spent=spent,
            flow_limit=limit,
            flow_max_utilization=peak,
            anti_entropy_lag_s=self.metrics.anti_entropy_lag(now),
            anti_entropy_sessions=self.metrics.anti_entropy_sessions,
            anti_entropy_failures=self.metrics.anti_entropy_failures,
            outbox_pending=len(node.pending_envelopes()),
            signal_emissions=board.emissions,
            corrupt_records=node.book.corrupt_records,
            relays=self.metrics.relay_health(tuple(r.address for r in self.config.relays)),
            frames_received=self.metrics.frames_received,
            frames_refused=self.metrics.frames_refused,
        )

    def _flow_figures(self) -> tuple[int, int, float]:
        """(spent, limit, highest single utilization) over the flow budgets of this agent."""
        guards = self.node.guards
        if guards is None:
            return 0, 0, 0.0
        spent_total = limit_total = 0
        peak = 0.0
        with self.effects.storage.transaction(readonly=True) as txn:
            for context in guards.memberships.contexts:
                membership = guards.memberships.get(context)
                limits = self.node.flow_limits
                limit = None if limits is None else limits.limit_for(membership.token, context)
                for peer in membership.roster.members:
                    if peer == membership.authority:
                        continue
                    spent, _epoch = read_flow_row(txn, context, peer)
                    spent_total += spent
                    if limit:
                        limit_total += limit
                        peak = max(peak, spent / limit)
        return spent_total, limit_total, peak

    def metrics_text(self) -> str:
        """The status in Prometheus text exposition format."""
        return render_prometheus(self.status())

    # ------------------------------------------------------------------ driving the core

    def _now(self) -> float:
        return self.effects.time.monotonic()

    def deliver_frame(self, source: str, frame: bytes) -> None:
        """A transport hands an arriving frame to the core (a :data:`FrameSink`)."""
        if self._node is None:
            return
        outputs = self._node.receive(Incoming(source, frame), self._now())
        self._emit(outputs)
        self._after_command()

    def _after_command(self) -> None:
        node = self.node
        self._emit(node.take_outgoing())
        self._flush_envelopes()
        deposits = node.take_deposits()
        if deposits:
            self._relay_queue.extend((deposit, None) for deposit in deposits)
            self._wake_relays()
        if self._wake is not None:
            self._wake.set()

    def _wake_relays(self) -> None:
        if self._relay_wake is not None:
            self._relay_wake.set()

    def _emit(self, outputs: Sequence[Outgoing]) -> None:
        stream = self._send_stream
        if stream is None:
            return
        for out in outputs:
            try:
                stream.send_nowait(out)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                return

    def _flush_envelopes(self) -> None:
        node = self._node
        if node is None or self._tg is None:
            return
        pending = node.pending_envelopes()
        if not pending:
            return
        if self._transport is not None:
            self._tg.start_soon(self._deliver_envelopes, pending)
            return
        queued = {entry for _deposit, entry in self._relay_queue}
        for entry_id, out in pending:
            if entry_id in queued:
                continue
            deposit = node.seal_route(out.destination, out.payload)
            if deposit is not None:
                self._relay_queue.append((deposit, entry_id))
        self._wake_relays()

    async def _deliver_envelopes(self, pending: list[tuple[int, Outgoing]]) -> None:
        transport = self._transport
        node = self._node
        if transport is None or node is None:
            return
        for entry_id, out in pending:
            try:
                await transport.deliver(node.route, out.destination, out.payload)
            except AuraError:
                continue  # stays in the outbox; retried on the next flush
            node.acknowledge_envelope(entry_id)

    async def _drive(self) -> None:
        while True:
            node = self.node
            now = self._now()
            deadline = node.next_timer()
            if deadline is not None and deadline <= now:
                self._emit(node.on_timer(now))
                self._flush_envelopes()
                await anyio.lowlevel.checkpoint()
                continue
            self._wake = anyio.Event()
            wait = math.inf if deadline is None else deadline - now
            with anyio.move_on_after(wait):
                await self._wake.wait()
            self._wake = None

    async def _send_loop(self, receive: anyio.abc.ObjectReceiveStream[Outgoing]) -> None:
        async with receive:
            async for out in receive:
                transport = self._transport
                node = self._node
                if node is None:
                    continue
                if transport is None:
                    if self._direct is not None and await self._direct.send(
                        out.destination, out.payload
                    ):
                        continue
                    deposit = node.seal_route(out.destination, out.payload)
                    if deposit is not None:
                        self._relay_queue.append((deposit, None))
                        self._wake_relays()
                    continue  # no way there yet: sync and consensus retry on their own
                try:
                    await transport.deliver(node.route, out.destination, out.payload)
                except AuraError:
                    continue  # sync and consensus frames are retried by their protocols

    # ------------------------------------------------------------------ relays

    async def _relay_loop(self) -> None:
        """Leave queued envelopes at relays and read this agent's mailboxes, every poll period."""
        while True:
            await self._relay_round()
            self._relay_wake = anyio.Event()
            with anyio.move_on_after(self.config.relay_poll_s):
                await self._relay_wake.wait()
            self._relay_wake = None

    async def _relay_round(self) -> None:
        node = self.node
        queue, self._relay_queue = self._relay_queue, []
        by_relay: dict[RelayHint, list[tuple[Deposit, int | None]]] = {}
        for deposit, entry in queue:
            if deposit.relays:
                by_relay.setdefault(deposit.relays[0], []).append((deposit, entry))
        watches: dict[RelayHint, list[MailboxWatch]] = {}
        for watch in node.mailboxes():
            for relay in watch.relays:
                watches.setdefault(relay, []).append(watch)
        for relay in sorted(set(by_relay) | set(watches)):
            pending = by_relay.get(relay, [])
            # A relay that vanishes mid-request must not stall the loop: bound the round.
            round_timeout = min(10.0, max(1.0, 20 * self.config.relay_poll_s))
            try:
                with anyio.fail_after(round_timeout):
                    await self._relay_session(relay, pending, watches.get(relay, []))
                self.metrics.relay_result(relay.address, True, self._now())
            except (AuraError, OSError, TimeoutError):
                self.metrics.relay_result(relay.address, False, self._now())
                self._relay_queue.extend(pending)  # what the relay did not take: next round

    async def _relay_session(
        self,
        relay: RelayHint,
        pending: list[tuple[Deposit, int | None]],
        watches: list[MailboxWatch],
    ) -> None:
        """One connection: leave ``pending`` (cleared once the relay took them), read ``watches``."""
        node = self.node
        async with RelayClient.connect(
            self.effects.network, relay, random=self.effects.random
        ) as client:
            if pending:
                results = await client.deposit_many([deposit.envelope for deposit, _ in pending])
                for (_deposit, entry), result in zip(pending, results, strict=True):
                    if entry is not None and not isinstance(result, AuraError):
                        node.acknowledge_envelope(entry)
                pending.clear()
            for watch in watches:
                await self._read_mailbox(client, watch)

    async def _read_mailbox(self, client: RelayClient, watch: MailboxWatch) -> None:
        node = self.node
        while True:
            page = await client.fetch(watch.key)
            for envelope in page.envelopes:
                self._emit(node.open_mail(watch, envelope, self._now()))
            if page.envelopes:
                await client.ack(watch.key, [envelope.envelope_id for envelope in page.envelopes])
            self._after_command()
            if not page.more:
                return
