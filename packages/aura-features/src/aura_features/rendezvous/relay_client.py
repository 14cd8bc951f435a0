"""The client side of a relay: deposit sealed envelopes, fetch and acknowledge a mailbox.

One :class:`RelayClient` is one anonymous Noise connection (fresh static key)
to one relay. Requests are pipelined: each carries an id, a reader task
matches responses to waiting callers, so :meth:`RelayClient.deposit_many`
puts many envelopes in flight at once and the relay commits them together.
The relay is untrusted here too: responses are decoded strictly, and a
malformed one ends the connection with ``TransportError``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager

import anyio

from aura_core.effects import NetworkEffects, RandomEffects, SecureChannel
from aura_core.errors import AuraError, InvalidEncoding, InvalidInput, TransportError
from aura_features.rendezvous.mailbox import MailboxKey
from aura_features.rendezvous.relay_errors import RelayRefused, relay_error
from aura_features.rendezvous.relay_hint import RelayHint
from aura_features.rendezvous.relay_server import client_channel_keys
from aura_features.rendezvous.relay_wire import (
    MAX_DEPOSIT_BATCH,
    MAX_FETCH,
    MAX_FRAME_BYTES,
    Acked,
    AckRequest,
    Deposited,
    DepositRequest,
    EnvelopeRefusal,
    Fetched,
    FetchRequest,
    Refused,
    RelayRequest,
    RelayResponse,
    decode_response,
    encode_request,
)
from aura_features.rendezvous.sealed_envelope import EnvelopeId, SealedEnvelope

__all__ = ["DEFAULT_TTL_S", "FetchedPage", "RelayClient"]

DEFAULT_TTL_S = 24 * 3600
_U32_MAX = 2**32 - 1
_BATCH_BYTES = MAX_FRAME_BYTES // 2


class FetchedPage:
    """Envelopes fetched from one mailbox, and whether more are waiting."""

    __slots__ = ("envelopes", "more")

    def __init__(self, envelopes: tuple[SealedEnvelope, ...], more: bool) -> None:
        self.envelopes = envelopes
        self.more = more

    def __len__(self) -> int:
        return len(self.envelopes)


class _Waiter:
    __slots__ = ("done", "error", "response")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.response: RelayResponse | None = None
        self.error: AuraError | None = None


class RelayClient:
    """An open connection to one relay. Create with :meth:`connect`."""

    def __init__(self, channel: SecureChannel) -> None:
        self._channel = channel
        self._waiting: dict[int, _Waiter] = {}
        self._next_id = 1
        self._failure: AuraError | None = None

    @classmethod
    @asynccontextmanager
    async def connect(
        cls, network: NetworkEffects, relay: RelayHint, *, random: RandomEffects
    ) -> AsyncIterator[RelayClient]:
        """Open an anonymous connection to ``relay`` (its key is checked by the handshake)."""
        if not isinstance(relay, RelayHint):
            raise InvalidInput(f"expected a RelayHint, got {type(relay).__name__}")
        keys = client_channel_keys(relay.relay_key, random)
        async with network.connect(relay.address, keys, remote_static=relay.relay_key) as channel:
            client = cls(channel)
            caught: Exception | None = None
            async with anyio.create_task_group() as tg:
                tg.start_soon(client._read_loop)
                try:
                    yield client
                except Exception as exc:  # re-raised below, outside the task group, unwrapped
                    caught = exc
                finally:
                    tg.cancel_scope.cancel()
            if caught is not None:
                raise caught

    # ------------------------------------------------------------------ operations

    async def deposit(self, envelope: SealedEnvelope, *, ttl_s: int = DEFAULT_TTL_S) -> EnvelopeId:
        """Hand ``envelope`` to the relay; raises a :class:`RelayRefused` subclass if refused."""
        result = (await self.deposit_many([envelope], ttl_s=ttl_s))[0]
        if isinstance(result, RelayRefused):
            raise result
        return result

    async def deposit_many(
        self, envelopes: Iterable[SealedEnvelope], *, ttl_s: int = DEFAULT_TTL_S
    ) -> list[EnvelopeId | RelayRefused]:
        """Deposit envelopes in pipelined batches; one result per envelope, refusals included.

        Batches hold up to :data:`MAX_DEPOSIT_BATCH` envelopes and stay under
        the relay's frame limit, so any number of envelopes may be passed.
        """
        batches: list[list[SealedEnvelope]] = []
        current: list[SealedEnvelope] = []
        size = 0
        for envelope in envelopes:
            if not isinstance(envelope, SealedEnvelope):
                raise InvalidInput(f"expected SealedEnvelope values, got {type(envelope).__name__}")
            weight = len(envelope.ciphertext) + 64 + 256 * len(envelope.receipts)
            if current and (len(current) == MAX_DEPOSIT_BATCH or size + weight > _BATCH_BYTES):
                batches.append(current)
                current, size = [], 0
            current.append(envelope)
            size += weight
        if current:
            batches.append(current)
        requests = [DepositRequest(self._take_id(), tuple(batch), ttl_s) for batch in batches]
        responses = await self._call_many(requests)
        results: list[EnvelopeId | RelayRefused] = []
        for request, response in zip(requests, responses, strict=True):
            if not isinstance(response, Deposited):
                raise self._unexpected(response)
            if len(response.results) != len(request.envelopes):
                raise TransportError(
                    "the relay answered a deposit with the wrong number of results"
                )
            for envelope, result in zip(request.envelopes, response.results, strict=True):
                if isinstance(result, EnvelopeRefusal):
                    results.append(relay_error(result.code, result.message))
                elif result == envelope.envelope_id:
                    results.append(result)
                else:
                    raise TransportError(
                        "the relay acknowledged a different envelope than was deposited"
                    )
        return results

    async def fetch(self, mailbox: MailboxKey, *, limit: int = 256) -> FetchedPage:
        """Up to ``limit`` envelopes waiting in ``mailbox`` (oldest first); they stay until acked."""
        if type(limit) is not int or not 1 <= limit <= MAX_FETCH:
            raise InvalidInput(f"fetch limit must be 1..{MAX_FETCH}")
        response = await self._call(FetchRequest(self._take_id(), mailbox, limit))
        if not isinstance(response, Fetched):
            raise self._unexpected(response)
        if response.tag != mailbox.tag:
            raise TransportError("the relay answered a fetch with another mailbox's envelopes")
        return FetchedPage(response.envelopes, response.more)

    async def ack(self, mailbox: MailboxKey, envelope_ids: Sequence[EnvelopeId]) -> int:
        """Delete delivered envelopes from ``mailbox``; returns how many the relay removed."""
        ids = tuple(envelope_ids)
        if not ids:
            return 0
        response = await self._call(AckRequest(self._take_id(), mailbox, ids))
        if not isinstance(response, Acked):
            raise self._unexpected(response)
        return response.removed

    async def drain(self, mailbox: MailboxKey, *, page: int = 256) -> list[SealedEnvelope]:
        """Fetch and acknowledge everything in ``mailbox``; returns the envelopes in order.

        Each page's acknowledgement travels with the next page's fetch (the
        relay applies a connection's requests in order), so draining costs
        one round trip per page.
        """
        if type(page) is not int or not 1 <= page <= MAX_FETCH:
            raise InvalidInput(f"page must be 1..{MAX_FETCH}")
        collected: list[SealedEnvelope] = []
        fetched = await self.fetch(mailbox, limit=page)
        while True:
            collected.extend(fetched.envelopes)
            ids = tuple(envelope.envelope_id for envelope in fetched.envelopes)
            if not ids:
                return collected
            requests: list[RelayRequest] = [AckRequest(self._take_id(), mailbox, ids)]
            if fetched.more:
                requests.append(FetchRequest(self._take_id(), mailbox, page))
            responses = await self._call_many(requests)
            if not isinstance(responses[0], Acked):
                raise self._unexpected(responses[0])
            if not fetched.more:
                return collected
            response = responses[1]
            if not isinstance(response, Fetched):
                raise self._unexpected(response)
            if response.tag != mailbox.tag:
                raise TransportError("the relay answered a fetch with another mailbox's envelopes")
            fetched = FetchedPage(response.envelopes, response.more)

    # ------------------------------------------------------------------ plumbing

    def _take_id(self) -> int:
        request_id = self._next_id
        self._next_id = 1 if request_id >= _U32_MAX else request_id + 1
        return request_id

    def _unexpected(self, response: RelayResponse) -> AuraError:
        if isinstance(response, Refused):
            return relay_error(response.code, response.message)
        return TransportError(f"the relay answered with an unexpected {type(response).__name__}")

    async def _call(self, request: RelayRequest) -> RelayResponse:
        return (await self._call_many([request]))[0]

    async def _call_many(self, requests: Sequence[RelayRequest]) -> list[RelayResponse]:
        if self._failure is not None:
            raise self._failure
        waiters = []
        for request in requests:
            waiter = _Waiter()
            self._waiting[request.request_id] = waiter
            waiters.append(waiter)
        try:
            if self._failure is not None:
                raise self._failure
            for request in requests:
                await self._channel.send(encode_request(request))
            responses: list[RelayResponse] = []
            for waiter in waiters:
                await waiter.done.wait()
                if waiter.error is not None:
                    raise waiter.error
                assert waiter.response is not None
                responses.append(waiter.response)
            return responses
        finally:
            for request in requests:
                self._waiting.pop(request.request_id, None)

    async def _read_loop(self) -> None:
        try:
            while True:
                raw = await self._channel.recv()
                try:
                    response = decode_response(raw)
                except InvalidEncoding as exc:
                    raise TransportError(
                        f"the relay sent a malformed response: {exc.message}"
                    ) from None
                waiter = self._waiting.get(response.request_id)
                if waiter is None:
                    if isinstance(response, Refused) and response.request_id == 0:
                        raise relay_error(response.code, response.message)
                    continue  # an answer nobody waits for any more (the caller was cancelled)
                waiter.response = response
                waiter.done.set()
        except AuraError as exc:
            self._failure = exc
            for waiter in self._waiting.values():
                waiter.error = exc
                waiter.done.set()
