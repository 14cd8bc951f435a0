"""The relay server over real loopback sockets (TCP and WebSocket): delivery, privacy of its
database, TTL, quotas, replays, receipt chains, hostile clients, restarts."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import anyio
import nacl.bindings
import pytest

from aura_core.effects import ChannelKeys
from aura_core.errors import InvalidInput, StorageError, TransportError
from aura_core.identifiers import AuthorityId, ContextId, Epoch, Hash32
from aura_effects import NoiseNetwork, SodiumCrypto, SystemRandom, SystemTime
from aura_features.ed25519_signer import KeySigner
from aura_features.invitation import ReplyKeys, open_acceptance, seal_acceptance
from aura_features.rendezvous import (
    EnvelopeReplayed,
    MailboxKey,
    ReceiptChainRejected,
    RelayBusy,
    RelayClient,
    RelayEndpoint,
    RelayLimits,
    RelayQuotaExceeded,
    RelayServer,
    RelayStore,
    RelayUnavailable,
    RosterReceiptVerifier,
    SealedEnvelope,
    client_channel_keys,
    decode_response,
    open_envelope,
    run_relay,
    seal_envelope,
)
from aura_features.rendezvous.relay_wire import Refused
from aura_protocol.guards import ContextIdentity, ContextRoster, Receipt
from aura_testkit import ManualClock

pytestmark = pytest.mark.anyio


def _load_parties():
    name = "aura_features_test_parties"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("features_parties.py")
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


P = _load_parties()
RANDOM = SystemRandom()
CRYPTO = SodiumCrypto(RANDOM)
TRANSPORTS = ["tcp", "ws"]
PLAINTEXT = b"the secret plans for saturday: meet at the old mill at nine"


class Recipient:
    """Bob's side of a context: a sealing key and a mailbox."""

    def __init__(self) -> None:
        self.authority = AuthorityId(os.urandom(16))
        self.context = ContextId(os.urandom(16))
        self.seal_private = os.urandom(32)
        self.seal_public = nacl.bindings.crypto_scalarmult_base(self.seal_private)
        self.mailbox = MailboxKey.derive(
            os.urandom(32), authority=self.authority, context=self.context
        )


class Sender:
    def __init__(self) -> None:
        self.authority = AuthorityId(os.urandom(16))
        self.signer = KeySigner(os.urandom(32))

    def envelope(self, to: Recipient, body: bytes = PLAINTEXT) -> SealedEnvelope:
        return seal_envelope(
            CRYPTO,
            recipient_seal_key=to.seal_public,
            tag=to.mailbox.tag,
            context=to.context,
            sender=self.authority,
            signer=self.signer,
            body=body,
        )


@asynccontextmanager
async def relay(
    tmp_path: Path, *, ws: bool = True, **options: object
) -> AsyncIterator[RelayEndpoint]:
    """A relay on loopback (TCP and WebSocket) for the duration of the block."""
    options.setdefault("sweep_interval_s", None)
    caught: BaseException | None = None
    async with anyio.create_task_group() as tg:
        endpoint = await tg.start(
            partial(
                run_relay,
                "127.0.0.1",
                0,
                tmp_path / "relay.db",
                relay_key=options.pop("relay_key", os.urandom(32)),  # type: ignore[arg-type]
                ws_port=0 if ws else None,
                **options,  # type: ignore[arg-type]
            )
        )
        try:
            yield endpoint
        except BaseException as exc:  # re-raised below, unwrapped, so failures read plainly
            caught = exc
        finally:
            tg.cancel_scope.cancel()
    if caught is not None:
        raise caught


def _hint(endpoint: RelayEndpoint, transport: str):
    return next(h for h in endpoint.hints if h.address.startswith(transport))


@asynccontextmanager
async def client(endpoint: RelayEndpoint, transport: str = "tcp") -> AsyncIterator[RelayClient]:
    async with RelayClient.connect(NoiseNetwork(), _hint(endpoint, transport), random=RANDOM) as c:
        yield c


# --------------------------------------------------------------------------- delivery


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_two_clients_deposit_and_fetch(tmp_path: Path, transport: str) -> None:
    alice, bob = Sender(), Recipient()
    async with relay(tmp_path) as endpoint:
        sent = [alice.envelope(bob, PLAINTEXT + bytes([i])) for i in range(5)]
        async with client(endpoint, transport) as alice_link:
            ids = await alice_link.deposit_many(sent)
            assert ids == [e.envelope_id for e in sent]
        async with client(endpoint, "ws" if transport == "tcp" else "tcp") as bob_link:
            page = await bob_link.fetch(bob.mailbox, limit=10)
            assert [e.envelope_id for e in page.envelopes] == ids and not page.more
            for i, envelope in enumerate(page.envelopes):
                opened = open_envelope(
                    CRYPTO,
                    seal_private_key=bob.seal_private,
                    envelope=envelope,
                    expected_sender_key=alice.signer.public_key,
                )
                assert opened.body == PLAINTEXT + bytes([i])
                assert opened.sender == alice.authority and opened.context == bob.context
            assert await bob_link.ack(bob.mailbox, ids) == 5
            assert len(await bob_link.fetch(bob.mailbox)) == 0


async def test_paging_and_drain_keep_arrival_order(tmp_path: Path) -> None:
    alice, bob = Sender(), Recipient()
    sent = [alice.envelope(bob, bytes([i]) * 10) for i in range(40)]
    async with relay(tmp_path, ws=False) as endpoint, client(endpoint) as link:
        await link.deposit_many(sent)
        page = await link.fetch(bob.mailbox, limit=15)
        assert len(page) == 15 and page.more
        drained = await link.drain(bob.mailbox, page=7)
        assert [e.envelope_id for e in drained] == [e.envelope_id for e in sent]
        assert len(await link.fetch(bob.mailbox)) == 0


async def test_relay_database_holds_no_plaintext(tmp_path: Path) -> None:
    alice, bob = Sender(), Recipient()
    async with relay(tmp_path) as endpoint:
        async with client(endpoint) as link:
            await link.deposit_many([alice.envelope(bob) for _ in range(3)])
        files = sorted(tmp_path.glob("relay.db*"))
        assert files, "the relay wrote its database"
        stored = b"".join(path.read_bytes() for path in files)
        assert bob.mailbox.tag.raw in stored  # the opaque tag is what the relay keys on
        for secret in (
            PLAINTEXT,
            PLAINTEXT[:16],
            bob.authority.raw,
            str(bob.authority).encode(),
            alice.authority.raw,
            bob.context.raw,
            bob.mailbox.secret,
            bob.seal_public,
            alice.signer.public_key,
        ):
            assert secret not in stored


async def test_ttl_expiry_and_sweep(tmp_path: Path) -> None:
    clock = ManualClock()
    alice, bob = Sender(), Recipient()
    envelope = alice.envelope(bob)
    async with relay(tmp_path, time=clock) as endpoint, client(endpoint) as link:
        await link.deposit(envelope, ttl_s=60)
        clock.advance(59)
        assert len(await link.fetch(bob.mailbox)) == 1
        clock.advance(2)
        assert len(await link.fetch(bob.mailbox)) == 0  # expired: invisible at once
        store = RelayStore(tmp_path / "relay.db")
        try:
            assert store.stats().envelopes == 1  # still on disk until swept
            assert store.sweep(clock.now().ts_ms) == 1
            assert store.stats().envelopes == 0
        finally:
            store.close()
        # once its TTL is over the same envelope is new again (not a replay)
        assert await link.deposit(envelope, ttl_s=60) == envelope.envelope_id


async def test_mailbox_quota_is_a_clear_transient_error(tmp_path: Path) -> None:
    alice, bob = Sender(), Recipient()
    limits = RelayLimits(mailbox_max_envelopes=3)
    async with relay(tmp_path, limits=limits) as endpoint, client(endpoint) as link:
        results = await link.deposit_many([alice.envelope(bob) for _ in range(5)])
        accepted = [r for r in results if not isinstance(r, Exception)]
        refused = [r for r in results if isinstance(r, Exception)]
        assert len(accepted) == 3 and len(refused) == 2
        assert all(isinstance(r, RelayQuotaExceeded) for r in refused)
        assert "mailbox quota exhausted" in refused[0].message
        assert refused[0].kind.value == "transient"
        with pytest.raises(RelayQuotaExceeded, match="must fetch and acknowledge first"):
            await link.deposit(alice.envelope(bob))
        other = Recipient()
        await link.deposit(alice.envelope(other))  # other mailboxes are unaffected
        await link.drain(bob.mailbox)
        await link.deposit(alice.envelope(bob))  # room again after the recipient acknowledged


async def test_connection_rate_quota(tmp_path: Path) -> None:
    alice, bob = Sender(), Recipient()
    limits = RelayLimits(connection_deposit_burst=4, connection_deposit_rate=0.001)
    async with relay(tmp_path, limits=limits) as endpoint:
        async with client(endpoint) as link:
            results = await link.deposit_many([alice.envelope(bob) for _ in range(6)])
            assert [isinstance(r, RelayQuotaExceeded) for r in results] == [False] * 4 + [True] * 2
            assert "connection deposit quota exhausted" in results[-1].message
        async with client(endpoint) as fresh:  # the quota belongs to the connection
            await fresh.deposit(alice.envelope(bob))


async def test_relay_storage_cap(tmp_path: Path) -> None:
    alice, bob = Sender(), Recipient()
    limits = RelayLimits(store_max_bytes=500)
    async with relay(tmp_path, limits=limits) as endpoint, client(endpoint) as link:
        await link.deposit(alice.envelope(bob))
        with pytest.raises(RelayQuotaExceeded, match="relay storage full"):
            await link.deposit(alice.envelope(Recipient()))


async def test_replayed_envelope_is_refused_even_after_delivery(tmp_path: Path) -> None:
    alice, bob = Sender(), Recipient()
    envelope = alice.envelope(bob)
    async with relay(tmp_path) as endpoint, client(endpoint) as link:
        await link.deposit(envelope)
        with pytest.raises(EnvelopeReplayed, match="already deposited"):
            await link.deposit(envelope)
        results = await link.deposit_many([envelope, envelope])
        assert all(isinstance(r, EnvelopeReplayed) for r in results)
        assert len(await link.drain(bob.mailbox)) == 1
        with pytest.raises(EnvelopeReplayed):
            await link.deposit(envelope)  # acknowledged, but still within its TTL
        assert len(await link.fetch(bob.mailbox)) == 0


async def test_fetch_and_ack_need_the_mailbox_key(tmp_path: Path) -> None:
    alice, bob = Sender(), Recipient()
    async with relay(tmp_path) as endpoint, client(endpoint) as link:
        eid = await link.deposit(alice.envelope(bob))
        thief = MailboxKey(os.urandom(32))
        assert len(await link.fetch(thief)) == 0
        assert await link.ack(thief, [eid]) == 0
        assert len(await link.fetch(bob.mailbox)) == 1


async def test_durable_across_restart(tmp_path: Path) -> None:
    alice, bob = Sender(), Recipient()
    key = os.urandom(32)
    envelope = alice.envelope(bob)
    async with relay(tmp_path, relay_key=key) as endpoint, client(endpoint) as link:
        await link.deposit(envelope)
    async with relay(tmp_path, relay_key=key) as endpoint, client(endpoint) as link:
        (again,) = (await link.fetch(bob.mailbox)).envelopes
        assert again == envelope
        with pytest.raises(EnvelopeReplayed):
            await link.deposit(envelope)
    store = RelayStore(tmp_path / "relay.db")
    try:
        assert store.integrity_check() == "ok"
    finally:
        store.close()


# --------------------------------------------------------------------------- receipts


def _receipt_world():
    context = ContextId(os.urandom(16))
    ids = {name: AuthorityId(os.urandom(16)) for name in ("alice", "relay", "bob")}
    identities = {
        name: ContextIdentity.derive(os.urandom(32), authority=authority, context=context)
        for name, authority in ids.items()
    }
    roster = ContextRoster.of(context, Epoch(0), [i.member() for i in identities.values()])
    return context, ids, identities, roster


def _chain(identities, context, src: str, dst: str, ids) -> tuple[Receipt, ...]:
    receipt = Receipt(context, ids[src], ids[dst], Epoch(0), 1, os.urandom(16), Hash32.zero())
    return (receipt.signed(identities[src].sign(receipt.signing_message())),)


async def test_relay_checks_receipt_chains_and_drops_them(tmp_path: Path) -> None:
    context, ids, identities, roster = _receipt_world()
    verifier = RosterReceiptVerifier(ids["relay"], {context: roster})
    alice, bob = Sender(), Recipient()
    good = alice.envelope(bob).with_receipts(_chain(identities, context, "alice", "relay", ids))
    wrong_hop = alice.envelope(bob).with_receipts(_chain(identities, context, "alice", "bob", ids))
    forged_receipt = _chain(identities, context, "alice", "relay", ids)[0]
    forged = alice.envelope(bob).with_receipts((forged_receipt.signed(bytes(64)),))
    other_context, other_ids, other_identities, _ = _receipt_world()
    stranger = alice.envelope(bob).with_receipts(
        _chain(other_identities, other_context, "alice", "relay", other_ids)
    )
    async with relay(tmp_path, receipt_verifier=verifier) as endpoint, client(endpoint) as link:
        assert await link.deposit(good) == good.envelope_id
        with pytest.raises(ReceiptChainRejected, match="ends at"):
            await link.deposit(wrong_hop)
        with pytest.raises(ReceiptChainRejected, match="does not verify"):
            await link.deposit(forged)
        with pytest.raises(ReceiptChainRejected, match="not a member of the chain's context"):
            await link.deposit(stranger)
        (stored,) = (await link.fetch(bob.mailbox)).envelopes
        assert stored.receipts == () and stored.envelope_id == good.envelope_id


async def test_relays_without_rosters_refuse_chains_and_can_require_them(tmp_path: Path) -> None:
    context, ids, identities, _roster = _receipt_world()
    alice, bob = Sender(), Recipient()
    with_chain = alice.envelope(bob).with_receipts(
        _chain(identities, context, "alice", "relay", ids)
    )
    async with relay(tmp_path) as endpoint, client(endpoint) as link:
        with pytest.raises(ReceiptChainRejected, match="does not check receipt chains"):
            await link.deposit(with_chain)
    verifier = RosterReceiptVerifier(ids["relay"], {})
    async with (
        relay(
            tmp_path, receipt_verifier=verifier, limits=RelayLimits(require_receipts=True)
        ) as endpoint,
        client(endpoint) as link,
    ):
        with pytest.raises(ReceiptChainRejected, match="only envelopes that carry a receipt chain"):
            await link.deposit(alice.envelope(bob))
        with pytest.raises(ReceiptChainRejected, match="not a member of the chain's context"):
            await link.deposit(with_chain)


# --------------------------------------------------------------------------- hostile clients


async def _raw_channel(endpoint: RelayEndpoint):
    hint = _hint(endpoint, "tcp")
    return NoiseNetwork().connect(
        hint.address, client_channel_keys(hint.relay_key, RANDOM), remote_static=hint.relay_key
    )


async def test_malformed_frames_are_answered_and_nothing_is_lost(tmp_path: Path) -> None:
    alice, bob = Sender(), Recipient()
    async with relay(tmp_path) as endpoint:
        async with client(endpoint) as link:
            kept = await link.deposit(alice.envelope(bob))
        async with await _raw_channel(endpoint) as channel:
            answers = []
            for garbage in (
                b"\xff",
                b"not cbor at all",
                bytes.fromhex("a262696405626f7063707574"),  # {"id": 5, "op": "put"}
                bytes.fromhex("a1626f7063676574"),  # {"op": "get"}
                b"\xa0",
            ):
                await channel.send(garbage)
                with anyio.fail_after(5):
                    answers.append(decode_response(await channel.recv()))
            assert all(isinstance(a, Refused) and a.code == "malformed" for a in answers)
            assert [a.request_id for a in answers] == [0, 0, 5, 0, 0]
            assert "missing field" in answers[2].message
        async with client(endpoint) as link:
            (envelope,) = (await link.fetch(bob.mailbox)).envelopes
            assert envelope.envelope_id == kept
            await link.deposit(alice.envelope(bob))


async def test_garbage_bytes_and_wrong_keys_do_not_take_the_relay_down(tmp_path: Path) -> None:
    alice, bob = Sender(), Recipient()
    async with relay(tmp_path) as endpoint:
        host, port = _hint(endpoint, "tcp").address.removeprefix("tcp://").rsplit(":", 1)
        for junk in (b"\x00\x05hello", os.urandom(300), b"GET / HTTP/1.1\r\n\r\n"):
            stream = await anyio.connect_tcp(host, int(port))
            await stream.send(junk)
            await stream.aclose()
        wrong = _hint(endpoint, "tcp")
        with pytest.raises(TransportError):
            async with NoiseNetwork(handshake_timeout_s=2).connect(
                wrong.address,
                ChannelKeys(static_private=os.urandom(32), psk=os.urandom(32)),
                remote_static=wrong.relay_key,
            ) as channel:
                await channel.send(b"x")
                await channel.recv()
        async with client(endpoint, "ws") as link:
            await link.deposit(alice.envelope(bob))
            assert len(await link.fetch(bob.mailbox)) == 1


async def test_client_refuses_an_impostor_relay(tmp_path: Path) -> None:
    async with relay(tmp_path) as endpoint:
        hint = _hint(endpoint, "tcp")
        impostor = type(hint)(hint.address, nacl.bindings.crypto_scalarmult_base(os.urandom(32)))
        with pytest.raises(TransportError):
            async with RelayClient.connect(
                NoiseNetwork(handshake_timeout_s=2), impostor, random=RANDOM
            ):
                pass


async def test_busy_relay_answers_busy(tmp_path: Path) -> None:
    alice, bob = Sender(), Recipient()
    limits = RelayLimits(max_connections=1)
    async with relay(tmp_path, limits=limits) as endpoint, client(endpoint) as first:
        await first.deposit(alice.envelope(bob))
        with pytest.raises((RelayBusy, TransportError)):
            async with client(endpoint) as second:
                with anyio.fail_after(5):
                    await second.fetch(bob.mailbox)


async def test_bad_relay_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="32-byte X25519 private key"):
        await run_relay("127.0.0.1", 0, tmp_path / "x.db", relay_key=b"short")
    assert not (tmp_path / "x.db").exists()


# --------------------------------------------------------------------------- invitations through a relay


async def test_invitation_acceptance_travels_through_the_relay(tmp_path: Path) -> None:
    clock = ManualClock(start_ms=SystemTime().now().ts_ms)
    alice, bob = P.make_party("alice", clock), P.make_party("bob", clock)
    async with relay(tmp_path) as endpoint:
        nonce = os.urandom(16)
        keys = ReplyKeys.derive(alice.root_key, authority=alice.authority, nonce=nonce)
        signed = alice.book.create(nickname="alice", nonce=nonce, reply=keys.path(endpoint.hints))
        code = signed.code()

        acceptance = bob.book.accept(code, nickname="bob")
        invite = type(signed).parse(code)
        envelope = seal_acceptance(CRYPTO, acceptance, invite, bob.signer)
        async with client(endpoint, "ws") as bob_link:
            await bob_link.deposit(envelope)

        async with client(endpoint, "tcp") as alice_link:
            (delivered,) = await alice_link.drain(keys.mailbox)
        fact = open_acceptance(CRYPTO, keys, delivered)
        context = alice.book.admit_acceptance(fact)
        assert context == acceptance.context
        assert alice.book.contact(context).nickname == "bob"
        assert bob.book.contact(context).nickname == "alice"


class FlakyStore(RelayStore):
    """A store whose next transaction fails (a disk error), then recovers."""

    fail_next = False

    def execute(self, requests, now_ms):
        if self.fail_next:
            self.fail_next = False
            raise StorageError("disk I/O error")
        return super().execute(requests, now_ms)


async def test_a_failed_commit_is_refused_as_unavailable_and_the_relay_recovers(
    tmp_path: Path,
) -> None:
    alice, bob = Sender(), Recipient()
    store = FlakyStore(tmp_path / "relay.db")
    server = RelayServer(store, os.urandom(32), time=SystemTime(), sweep_interval_s=None)
    try:
        async with anyio.create_task_group() as tg:
            endpoint = await tg.start(server.serve, ["tcp://127.0.0.1:0"])
            async with client(endpoint) as link:
                store.fail_next = True
                with pytest.raises(RelayUnavailable, match="nothing was applied"):
                    await link.deposit(alice.envelope(bob))
                assert store.stats().envelopes == 0
                await link.deposit(alice.envelope(bob))
                assert len(await link.fetch(bob.mailbox)) == 1
            tg.cancel_scope.cancel()
    finally:
        store.close()
