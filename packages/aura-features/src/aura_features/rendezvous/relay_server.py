"""The relay server: a network service holding sealed envelopes for recipients who are offline.

Transport. Clients connect over Noise (``IKpsk2``, the same channels as every
Aura link, on TCP or WebSocket). The relay's static key is public (it is in
descriptors and relay hints), and the PSK is derived from it alone
(:func:`relay_psk`), so anyone who knows the relay may connect and a
handshake meant for one relay cannot complete at another. Clients use a
fresh random static key per connection: the relay authenticates itself to
them, they stay anonymous to it, and an on-path observer sees only Noise
traffic. Confidentiality of the *contents* does not depend on this link:
envelopes are sealed end to end to the recipient.

Processing. Each connection's reader decodes requests, applies connection
quotas and receipt checks, and queues them; one committer applies whatever
is queued as a batch in one durable SQLite transaction (group commit), in a
worker thread so the event loop keeps serving; each connection's responder
sends the answers in request order. A malformed frame gets an error answer
and the connection keeps working; a broken Noise frame ends that connection
only; nothing a client sends can take the relay down or touch other
clients' envelopes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from contextlib import AsyncExitStack

import anyio
import anyio.abc
import anyio.lowlevel
import attrs
import nacl.bindings

from aura_core.effects import (
    ChannelKeys,
    NetworkEffects,
    PhysicalTimeEffects,
    RandomEffects,
    SecureChannel,
)
from aura_core.errors import AuraError, InvalidEncoding, InvalidInput, StorageError, TransportError
from aura_core.hashing import kdf
from aura_effects.noise_network import NoiseNetwork, parse_address
from aura_effects.system_time import SystemTime
from aura_features.rendezvous.receipt_check import ReceiptVerifier
from aura_features.rendezvous.relay_hint import RelayHint
from aura_features.rendezvous.relay_limits import RelayLimits
from aura_features.rendezvous.relay_store import RelayStore, SweepRequest
from aura_features.rendezvous.relay_wire import (
    Acked,
    AckRequest,
    Deposited,
    DepositRequest,
    EnvelopeRefusal,
    Refused,
    RelayRequest,
    RelayResponse,
    decode_request,
    encode_response,
    request_id_of,
)
from aura_features.rendezvous.sealed_envelope import SealedEnvelope

__all__ = [
    "DEFAULT_WS_PATH",
    "RELAY_PSK_CONTEXT",
    "RelayEndpoint",
    "RelayServer",
    "client_channel_keys",
    "relay_channel_keys",
    "relay_psk",
    "relay_public_key",
    "run_relay",
]

RELAY_PSK_CONTEXT = "AURA_RELAY_PSK_V1"
DEFAULT_WS_PATH = "/aura-relay"
_log = logging.getLogger("aura_features.relay")


def relay_public_key(relay_key: bytes) -> bytes:
    """The X25519 public key of a relay's 32-byte static private key."""
    if type(relay_key) is not bytes or len(relay_key) != 32:
        raise InvalidInput("a relay key is a 32-byte X25519 private key")
    return _x25519_public(relay_key)


def _x25519_public(private: bytes) -> bytes:
    return nacl.bindings.crypto_scalarmult_base(private)


def relay_psk(relay_public: bytes) -> bytes:
    """The public PSK of a relay's Noise handshakes: bound to the relay's key, secret to nobody."""
    if type(relay_public) is not bytes or len(relay_public) != 32:
        raise InvalidInput("a relay public key is 32 bytes")
    return kdf(RELAY_PSK_CONTEXT, relay_public, 32)


def relay_channel_keys(relay_key: bytes) -> ChannelKeys:
    if type(relay_key) is not bytes or len(relay_key) != 32:
        raise InvalidInput("a relay key is a 32-byte X25519 private key")
    return ChannelKeys(static_private=relay_key, psk=relay_psk(_x25519_public(relay_key)))


def client_channel_keys(relay_public: bytes, random: RandomEffects) -> ChannelKeys:
    """Keys for one anonymous connection to a relay: a fresh static key, the relay's PSK."""
    return ChannelKeys(static_private=random.random_bytes(32), psk=relay_psk(relay_public))


@attrs.frozen
class RelayEndpoint:
    """Where a running relay listens and the key clients must expect."""

    addresses: tuple[str, ...]
    public_key: bytes = attrs.field(repr=lambda k: k.hex()[:16] + "…")

    @property
    def hints(self) -> tuple[RelayHint, ...]:
        return tuple(RelayHint(address, self.public_key) for address in self.addresses)


class _Pending:
    """One request on its way through the committer; the responder waits on ``done``.

    ``refused`` holds, for a deposit some of whose envelopes were refused
    before storage (connection quota, receipts), the refusal of each position
    (``None`` where the envelope went on to the store).
    """

    __slots__ = ("done", "refused", "request", "response")

    def __init__(
        self,
        request: RelayRequest | SweepRequest | None,
        response: RelayResponse | None = None,
        refused: list[EnvelopeRefusal | None] | None = None,
    ) -> None:
        self.request = request
        self.response = response
        self.refused = refused
        self.done = anyio.Event()
        if response is not None:
            self.done.set()

    def answer(self) -> RelayResponse:
        response = self.response
        assert response is not None
        refused = self.refused
        if refused is None or not isinstance(response, Deposited):
            return response
        stored = iter(response.results)
        merged = tuple(next(stored) if item is None else item for item in refused)
        return Deposited(response.request_id, merged)


class _ConnectionQuota:
    """Token bucket on deposits plus a lifetime byte budget, for one (anonymous) connection."""

    __slots__ = ("_bytes", "_last", "_limits", "_tokens")

    def __init__(self, limits: RelayLimits, now: float) -> None:
        self._limits = limits
        self._tokens = float(limits.connection_deposit_burst)
        self._last = now
        self._bytes = 0

    def charge(self, size: int, now: float) -> str | None:
        limits = self._limits
        elapsed = max(now - self._last, 0.0)
        self._last = now
        self._tokens = min(
            float(limits.connection_deposit_burst),
            self._tokens + elapsed * limits.connection_deposit_rate,
        )
        if self._tokens < 1.0:
            return (
                f"connection deposit quota exhausted: at most {limits.connection_deposit_rate:g} "
                f"envelopes per second (burst {limits.connection_deposit_burst}); slow down"
            )
        if self._bytes + size > limits.connection_max_bytes:
            return (
                f"connection byte quota exhausted: {self._bytes} of {limits.connection_max_bytes} "
                "bytes deposited on this connection"
            )
        self._tokens -= 1.0
        self._bytes += size
        return None


class RelayServer:
    """Serves the mailboxes of ``store`` on the given addresses until cancelled."""

    def __init__(
        self,
        store: RelayStore,
        relay_key: bytes,
        *,
        time: PhysicalTimeEffects,
        network: NetworkEffects | None = None,
        receipt_verifier: ReceiptVerifier | None = None,
        sweep_interval_s: float | None = 60.0,
        offload_storage: bool = True,
    ) -> None:
        if not isinstance(time, PhysicalTimeEffects):
            raise InvalidInput("RelayServer needs PhysicalTimeEffects")
        if receipt_verifier is not None and not isinstance(receipt_verifier, ReceiptVerifier):
            raise InvalidInput("receipt_verifier must implement ReceiptVerifier")
        if sweep_interval_s is not None and not sweep_interval_s > 0:
            raise InvalidInput("sweep_interval_s must be positive or None")
        self._keys = relay_channel_keys(relay_key)
        self._public = _x25519_public(relay_key)
        if not isinstance(store, RelayStore):
            raise InvalidInput(f"RelayServer needs a RelayStore, got {type(store).__name__}")
        self._store = store
        self._limits = store.limits
        self._time = time
        self._network = network if network is not None else NoiseNetwork()
        self._verifier = receipt_verifier
        self._sweep_interval = sweep_interval_s
        self._offload = offload_storage
        self._queue: anyio.abc.ObjectSendStream[_Pending] | None = None
        self._connections = 0
        self._endpoint: RelayEndpoint | None = None

    @property
    def public_key(self) -> bytes:
        return self._public

    @property
    def store(self) -> RelayStore:
        return self._store

    @property
    def endpoint(self) -> RelayEndpoint | None:
        """Where the relay listens, once :meth:`serve` has started."""
        return self._endpoint

    @property
    def connections(self) -> int:
        return self._connections

    # ------------------------------------------------------------------ lifecycle

    async def serve(
        self,
        addresses: Sequence[str],
        *,
        task_status: anyio.abc.TaskStatus[RelayEndpoint] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Listen on every address (``tcp://`` and/or ``ws://``) until cancelled.

        Use with ``await task_group.start(server.serve, [...])`` to get the
        bound :class:`RelayEndpoint` (real ports, public key) once it listens.
        """
        if not addresses:
            raise InvalidInput("a relay needs at least one address to listen on")
        for address in addresses:
            parse_address(address)
        if self._queue is not None:
            raise InvalidInput("this relay is already serving")
        send, receive = anyio.create_memory_object_stream[_Pending](self._limits.batch_max * 4)
        self._queue = send
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._commit_loop, receive)
                if self._sweep_interval is not None:
                    tg.start_soon(self._sweep_loop)
                async with AsyncExitStack() as stack:
                    bound = []
                    for address in addresses:
                        listener = await stack.enter_async_context(
                            self._network.listen(address, self._keys, self._serve_channel)
                        )
                        bound.append(listener.address)
                    self._endpoint = RelayEndpoint(tuple(bound), self._public)
                    _log.info("relay listening on %s", ", ".join(bound))
                    task_status.started(self._endpoint)
                    await anyio.sleep_forever()
        finally:
            self._queue = None
            self._endpoint = None
            send.close()

    async def sweep_now(self) -> int:
        """Remove expired envelopes now (through the committer); returns how many went."""
        pending = _Pending(SweepRequest())
        await self._submit(pending)
        await pending.done.wait()
        response = pending.response
        return response.removed if isinstance(response, Acked) else 0

    async def _submit(self, pending: _Pending) -> None:
        queue = self._queue
        if queue is None:
            raise TransportError("the relay is not serving")
        try:
            queue.send_nowait(pending)  # no yield: a reader queues all it has buffered at once
        except anyio.WouldBlock:
            await queue.send(pending)

    async def _sweep_loop(self) -> None:
        assert self._sweep_interval is not None
        while True:
            await self._time.sleep(self._sweep_interval)
            removed = await self.sweep_now()
            if removed:
                _log.info("relay swept %d expired envelopes", removed)

    async def _commit_loop(self, receive: anyio.abc.ObjectReceiveStream[_Pending]) -> None:
        limit = self._limits.batch_max
        async with receive:
            async for first in receive:
                batch = [first]
                yielded = False
                while len(batch) < limit:
                    try:
                        batch.append(receive.receive_nowait())
                    except anyio.WouldBlock:
                        if yielded:
                            break
                        # let readers that are ready queue what they hold, then commit together
                        await anyio.lowlevel.checkpoint()
                        yielded = True
                    except anyio.EndOfStream:
                        break
                requests = [pending.request for pending in batch]
                now_ms = self._time.now().ts_ms
                try:
                    if self._offload:
                        responses = await anyio.to_thread.run_sync(
                            self._store.execute, requests, now_ms
                        )
                    else:
                        responses = self._store.execute(requests, now_ms)  # type: ignore[arg-type]
                except Exception as exc:  # a failed batch must not take the relay down
                    kind = exc.kind.value if isinstance(exc, StorageError) else type(exc).__name__
                    _log.error("relay batch failed (%s); %d requests refused", kind, len(batch))
                    responses = [
                        Refused(
                            getattr(request, "request_id", 0),
                            "unavailable",
                            "the relay's storage failed; nothing was applied, try again later",
                        )
                        for request in requests
                    ]
                for pending, response in zip(batch, responses, strict=True):
                    pending.response = response
                    pending.done.set()

    # ------------------------------------------------------------------ connections

    async def _serve_channel(self, channel: SecureChannel) -> None:
        limits = self._limits
        if self._connections >= limits.max_connections:
            await channel.send(
                encode_response(
                    Refused(0, "busy", "the relay serves too many connections; retry later")
                )
            )
            return
        self._connections += 1
        try:
            quota = _ConnectionQuota(limits, self._time.monotonic())
            send, receive = anyio.create_memory_object_stream[_Pending](limits.max_in_flight)
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._respond, channel, receive, tg.cancel_scope)
                async with send:
                    while True:
                        raw: bytes | None = None
                        with anyio.move_on_after(limits.idle_timeout_s):
                            try:
                                raw = await channel.recv()
                            except TransportError:
                                break
                        if raw is None:
                            break  # idle for too long
                        pending = await self._admit(raw, quota)
                        try:
                            send.send_nowait(pending)
                        except anyio.WouldBlock:
                            await send.send(pending)
        finally:
            self._connections -= 1

    async def _respond(
        self,
        channel: SecureChannel,
        receive: anyio.abc.ObjectReceiveStream[_Pending],
        scope: anyio.CancelScope,
    ) -> None:
        async with receive:
            while True:
                # Take answers without yielding while they are ready, so the reader refills
                # the window in one go and the committer sees a large batch.
                try:
                    pending = receive.receive_nowait()
                except anyio.WouldBlock:
                    try:
                        pending = await receive.receive()
                    except anyio.EndOfStream:
                        return
                except anyio.EndOfStream:
                    return
                if not pending.done.is_set():
                    await pending.done.wait()
                try:
                    await channel.send(encode_response(pending.answer()))
                except TransportError:
                    scope.cancel()  # the client is gone; stop reading for it too
                    return

    async def _admit(self, raw: bytes, quota: _ConnectionQuota) -> _Pending:
        """Decode and pre-check one request; refusals are answered without touching storage."""
        try:
            request = decode_request(raw)
        except InvalidEncoding as exc:
            return _Pending(None, Refused(request_id_of(raw), "malformed", exc.message))
        if isinstance(request, DepositRequest):
            return await self._admit_deposit(request, quota)
        if isinstance(request, AckRequest) and len(request.envelope_ids) > self._limits.ack_max:
            return _Pending(
                None,
                Refused(
                    request.request_id,
                    "malformed",
                    f"an ack names at most {self._limits.ack_max} envelope ids at this relay",
                ),
            )
        pending = _Pending(request)
        await self._submit(pending)
        return pending

    async def _admit_deposit(self, request: DepositRequest, quota: _ConnectionQuota) -> _Pending:
        """Connection quota and receipt chain, envelope by envelope; the rest goes to the store."""
        refused: list[EnvelopeRefusal | None] = []
        accepted: list[SealedEnvelope] = []
        now = self._time.monotonic()
        for envelope in request.envelopes:
            outcome = self._check_envelope(envelope, quota, now)
            if isinstance(outcome, EnvelopeRefusal):
                refused.append(outcome)
            else:
                refused.append(None)
                accepted.append(outcome)
        if not accepted:
            return _Pending(None, Deposited(request.request_id, tuple(refused)))  # type: ignore[arg-type]
        stored = DepositRequest(request.request_id, tuple(accepted), request.ttl_s)
        pending = _Pending(stored, refused=refused if len(accepted) < len(refused) else None)
        await self._submit(pending)
        return pending

    def _check_envelope(
        self, envelope: SealedEnvelope, quota: _ConnectionQuota, now: float
    ) -> SealedEnvelope | EnvelopeRefusal:
        refusal = quota.charge(len(envelope.ciphertext), now)
        if refusal is not None:
            return EnvelopeRefusal("quota", refusal)
        if envelope.receipts:
            if self._verifier is None:
                return EnvelopeRefusal(
                    "receipts",
                    "this relay does not check receipt chains; send the envelope without one",
                )
            try:
                self._verifier.verify(envelope.receipts)
            except AuraError as exc:
                return EnvelopeRefusal("receipts", exc.message)
            return envelope.without_receipts()
        if self._limits.require_receipts:
            return EnvelopeRefusal(
                "receipts", "this relay forwards only envelopes that carry a receipt chain"
            )
        return envelope


async def run_relay(
    host: str,
    port: int,
    db_path: str | os.PathLike[str],
    *,
    relay_key: bytes,
    ws_port: int | None = None,
    ws_path: str = DEFAULT_WS_PATH,
    limits: RelayLimits | None = None,
    receipt_verifier: ReceiptVerifier | None = None,
    time: PhysicalTimeEffects | None = None,
    network: NetworkEffects | None = None,
    sweep_interval_s: float | None = 60.0,
    task_status: anyio.abc.TaskStatus[RelayEndpoint] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Run a relay on ``tcp://host:port`` (and ``ws://host:ws_port/ws_path``) until cancelled.

    The database at ``db_path`` (SQLite, WAL, fsynced commits) survives
    restarts; ``relay_key`` is the relay's 32-byte X25519 static private key,
    which the host keeps (clients pin its public key). Port 0 picks a free
    port; ``task_status`` reports the bound :class:`RelayEndpoint`.
    Cancelling the caller's scope stops listening, lets the batch being
    committed finish, and closes the database.
    """
    shown_host = f"[{host}]" if ":" in host else host
    addresses = [f"tcp://{shown_host}:{port}"]
    if ws_port is not None:
        if not ws_path.startswith("/"):
            raise InvalidInput(f"ws_path must start with '/', got {ws_path!r}")
        addresses.append(f"ws://{shown_host}:{ws_port}{ws_path}")
    relay_channel_keys(relay_key)  # refuse a malformed key before creating any file
    store = RelayStore(db_path, limits)
    try:
        server = RelayServer(
            store,
            relay_key,
            time=time if time is not None else SystemTime(),
            network=network,
            receipt_verifier=receipt_verifier,
            sweep_interval_s=sweep_interval_s,
        )
        await server.serve(addresses, task_status=task_status)
    finally:
        store.close()
