"""Rendezvous pieces without sockets: sealed envelopes, mailbox tags, descriptors, the relay's
wire format, and the relay store checked against a model."""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from pathlib import Path

import nacl.bindings
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from aura_core import dag_cbor
from aura_core.errors import CryptoError, InvalidEncoding, InvalidInput
from aura_core.identifiers import AuthorityId, ContextId, Epoch, Hash32
from aura_effects import SodiumCrypto, SystemRandom
from aura_features import rendezvous
from aura_features.ed25519_signer import KeySigner
from aura_features.rendezvous import (
    Acked,
    AckRequest,
    Deposited,
    DepositRequest,
    EnvelopeRefusal,
    Fetched,
    FetchRequest,
    MailboxKey,
    MailboxTag,
    Refused,
    RelayHint,
    RelayLimits,
    RelayStore,
    RendezvousDescriptor,
    SealedEnvelope,
    decode_request,
    decode_response,
    encode_request,
    encode_response,
    open_envelope,
    padded_size,
    publish_descriptor,
    roster_from_descriptors,
    seal_envelope,
)
from aura_journal import FactMetadata
from aura_journal.errors import AttestationInvalid, MissingDependency
from aura_journal.facts import order_time_from_entropy
from aura_protocol.guards import ContextIdentity, Receipt, verify_receipt_chain
from aura_testkit import ManualClock


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
CRYPTO = SodiumCrypto(SystemRandom())
SEAL_PRIVATE = b"\x21" * 32
SEAL_PUBLIC = nacl.bindings.crypto_scalarmult_base(SEAL_PRIVATE)
SENDER = AuthorityId(b"\x0a" * 16)
SIGNER = KeySigner(b"\x0b" * 32)
CONTEXT = ContextId(b"\x0c" * 16)
MAILBOX = MailboxKey(b"\x0d" * 32)


def _seal(body: bytes, tag: MailboxTag = MAILBOX.tag) -> SealedEnvelope:
    return seal_envelope(
        CRYPTO,
        recipient_seal_key=SEAL_PUBLIC,
        tag=tag,
        context=CONTEXT,
        sender=SENDER,
        signer=SIGNER,
        body=body,
    )


# --------------------------------------------------------------------------- envelopes


def test_envelope_round_trip_and_open() -> None:
    envelope = _seal(b"hello")
    decoded = SealedEnvelope.decode(envelope.encode())
    assert decoded == envelope and decoded.envelope_id == envelope.envelope_id
    opened = open_envelope(
        CRYPTO,
        seal_private_key=SEAL_PRIVATE,
        envelope=decoded,
        expected_sender_key=SIGNER.public_key,
    )
    assert (opened.context, opened.sender, opened.body) == (CONTEXT, SENDER, b"hello")


def test_only_the_recipient_opens_and_tampering_fails() -> None:
    envelope = _seal(b"for bob only")
    with pytest.raises(CryptoError):
        open_envelope(CRYPTO, seal_private_key=os.urandom(32), envelope=envelope)
    flipped = bytearray(envelope.ciphertext)
    flipped[40] ^= 1
    with pytest.raises(CryptoError):
        open_envelope(
            CRYPTO,
            seal_private_key=SEAL_PRIVATE,
            envelope=SealedEnvelope(envelope.tag, bytes(flipped)),
        )
    moved = SealedEnvelope(MailboxKey(os.urandom(32)).tag, envelope.ciphertext)
    with pytest.raises(CryptoError):  # the tag is associated data: no moving between mailboxes
        open_envelope(CRYPTO, seal_private_key=SEAL_PRIVATE, envelope=moved)
    with pytest.raises(CryptoError, match="signed by another key"):
        open_envelope(
            CRYPTO,
            seal_private_key=SEAL_PRIVATE,
            envelope=envelope,
            expected_sender_key=KeySigner(os.urandom(32)).public_key,
        )


def test_padding_hides_the_length_within_a_bucket() -> None:
    sizes = {len(_seal(b"x" * n).ciphertext) for n in (0, 1, 10, 30)}
    assert len(sizes) == 1
    assert len(_seal(b"x" * 5000).ciphertext) > len(_seal(b"x" * 30).ciphertext)


@given(st.integers(0, 1_000_000), st.integers(0, 1_000_000))
def test_padded_size_is_monotone_and_covers(a: int, b: int) -> None:
    assert padded_size(a) >= a
    if a <= b:
        assert padded_size(a) <= padded_size(b)


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda v: v.update(v=2), "unsupported envelope version"),
        (lambda v: v.update(x=1), "unexpected field"),
        (lambda v: v.pop("ct"), "missing field"),
        (lambda v: v.update(tag=b"\x00" * 31), "must be 32 bytes"),
        (lambda v: v.update(ct=b"short"), "ciphertext"),
        (lambda v: v.update(rc=[]), "1..8 items"),
    ],
)
def test_envelope_decoding_is_strict(mutate, needle: str) -> None:
    value = _seal(b"x").to_canonical()
    mutate(value)
    with pytest.raises(InvalidEncoding, match=needle):
        SealedEnvelope.decode(dag_cbor.encode(value))


@settings(max_examples=200)
@given(st.binary(max_size=300))
def test_hostile_envelope_and_request_bytes_raise_only_invalid_encoding(data: bytes) -> None:
    for decoder in (SealedEnvelope.decode, decode_request, decode_response):
        try:
            decoder(data)
        except InvalidEncoding:
            pass


def test_mailbox_tags_are_per_context_and_epoch() -> None:
    root = os.urandom(32)
    bob = AuthorityId(os.urandom(16))
    one = MailboxKey.derive(root, authority=bob, context=CONTEXT)
    assert one == MailboxKey.derive(root, authority=bob, context=CONTEXT, epoch=0)
    other_context = MailboxKey.derive(root, authority=bob, context=ContextId(os.urandom(16)))
    next_epoch = MailboxKey.derive(root, authority=bob, context=CONTEXT, epoch=Epoch(1))
    tags = {one.tag, other_context.tag, next_epoch.tag}
    assert len(tags) == 3
    assert one.secret not in repr(one).encode() and "secret" in repr(one)


# --------------------------------------------------------------------------- wire


def test_wire_round_trips() -> None:
    envelope = _seal(b"wire")
    requests = [
        DepositRequest(1, (envelope, _seal(b"two")), 60),
        FetchRequest(2, MAILBOX, 10),
        AckRequest(3, MAILBOX, (envelope.envelope_id,)),
    ]
    for request in requests:
        assert decode_request(encode_request(request)) == request
    responses = [
        Deposited(1, (envelope.envelope_id, EnvelopeRefusal("quota", "full"))),
        Fetched(2, MAILBOX.tag, (envelope.ciphertext,), True),
        Acked(3, 1),
        Refused(4, "malformed", "bad"),
    ]
    for response in responses:
        assert decode_response(encode_response(response)) == response
    with pytest.raises(InvalidInput):
        DepositRequest(1, (), 60)
    with pytest.raises(InvalidInput):
        FetchRequest(1, MAILBOX, 0)


# --------------------------------------------------------------------------- descriptors


def _descriptor(authority: AuthorityId, *, epoch: int = 0, expires_ms: int, mailbox=MAILBOX):
    identity = ContextIdentity.derive(os.urandom(32), authority=authority, context=CONTEXT)
    return RendezvousDescriptor(
        authority=authority,
        epoch=Epoch(epoch),
        addresses=("tcp://192.0.2.1:7000",),
        relays=(RelayHint("ws://relay.example:443/aura-relay", os.urandom(32)),),
        noise_key=identity.channel_public,
        seal_key=SEAL_PUBLIC,
        receipt_key=identity.signing_public,
        mailbox=mailbox.tag,
        expires_ms=expires_ms,
    ), identity


@pytest.fixture
def shared_context():
    clock = ManualClock()
    alice, bob = P.make_party("alice", clock), P.make_party("bob", clock)
    acceptance = bob.book.accept(alice.book.create().code())
    context = alice.book.admit_acceptance(acceptance.fact)
    return clock, alice, bob, context


def _stamp(clock: ManualClock) -> FactMetadata:
    return FactMetadata(order_time_from_entropy(os.urandom(16)), clock.now())


def test_descriptors_are_signed_context_facts(shared_context) -> None:
    clock, alice, bob, context = shared_context
    journal = alice.book.relationships[context]
    now = clock.now().ts_ms
    descriptor, _ = _descriptor(bob.authority, expires_ms=now + 60_000)
    fact = publish_descriptor(
        descriptor, context=context, signer=bob.signer, metadata=_stamp(clock)
    )
    assert journal.add(fact)
    book = journal.state("rendezvous_descriptors")
    assert book.current(bob.authority, now) == descriptor
    assert book.current(bob.authority, now + 60_000) is None  # expired
    assert book.latest(bob.authority) == descriptor
    assert type(descriptor).from_canonical(descriptor.to_canonical()) == descriptor

    impostor = publish_descriptor(
        descriptor, context=context, signer=alice.signer, metadata=_stamp(clock)
    )
    with pytest.raises(AttestationInvalid, match="not its key"):
        journal.add(impostor)
    stranger = AuthorityId(os.urandom(16))
    unknown, _ = _descriptor(stranger, expires_ms=now + 1)
    with pytest.raises(MissingDependency, match="before"):
        journal.add(
            publish_descriptor(
                unknown, context=context, signer=KeySigner(os.urandom(32)), metadata=_stamp(clock)
            )
        )


def test_newest_descriptor_wins_in_any_order(shared_context) -> None:
    clock, alice, bob, context = shared_context
    now = clock.now().ts_ms
    old, _ = _descriptor(bob.authority, epoch=0, expires_ms=now + 10_000)
    newer, _ = _descriptor(bob.authority, epoch=0, expires_ms=now + 20_000)
    next_epoch, _ = _descriptor(bob.authority, epoch=1, expires_ms=now + 5_000)
    facts = [
        publish_descriptor(d, context=context, signer=bob.signer, metadata=_stamp(clock))
        for d in (old, newer, next_epoch)
    ]
    for order in (facts, facts[::-1], [facts[1], facts[2], facts[0]]):
        journal = P.Journal(
            alice.book.relationships[context].namespace, alice.book.journal.registry
        )
        journal.add(alice.book.relationships[context].facts_of_type("invitation.accepted")[0])
        for fact in order:
            journal.add(fact)
        assert journal.state("rendezvous_descriptors").latest(bob.authority) == next_epoch


def test_roster_from_descriptors_checks_receipts(shared_context) -> None:
    clock, alice, bob, context = shared_context
    journal = alice.book.relationships[context]
    now = clock.now().ts_ms
    identities = {}
    for party in (alice, bob):
        descriptor, identity = _descriptor(party.authority, expires_ms=now + 60_000)
        identities[party.name] = identity
        journal.add(
            publish_descriptor(
                descriptor, context=context, signer=party.signer, metadata=_stamp(clock)
            )
        )
    roster = roster_from_descriptors(
        context, Epoch(0), journal.state("rendezvous_descriptors"), now
    )
    assert set(roster.members) == {alice.authority, bob.authority}
    receipt = Receipt(
        context, alice.authority, bob.authority, Epoch(0), 1, os.urandom(16), Hash32.zero()
    )
    signed = receipt.signed(identities["alice"].sign(receipt.signing_message()))
    verify_receipt_chain([signed], roster=roster, recipient=bob.authority)


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("addresses", ("ftp://x",), "unsupported address"),
        ("addresses", tuple(f"tcp://h:{i}" for i in range(9)), "at most 8 addresses"),
        ("receipt_key", b"\x00" * 32, "not a valid Ed25519 key"),
        ("expires_ms", 0, "positive u64"),
    ],
)
def test_descriptor_rules(field: str, value: object, needle: str) -> None:
    descriptor, _ = _descriptor(SENDER, expires_ms=5)
    fields = {a.name: getattr(descriptor, a.name) for a in descriptor.__attrs_attrs__}
    fields[field] = value
    with pytest.raises(InvalidInput, match=needle):
        RendezvousDescriptor(**fields)


def test_operation_categories_are_declared() -> None:
    assert set(rendezvous.OPERATION_CATEGORIES.values()) <= {"A", "B", "C"}


# --------------------------------------------------------------------------- store vs. a model


POOL_TAGS = [MailboxKey(bytes([i]) * 32) for i in range(3)]
POOL = [_seal(bytes([i]) * 20, POOL_TAGS[i % 3].tag) for i in range(12)]
LIMITS = RelayLimits(mailbox_max_envelopes=3, fetch_max=4)
TTL_S = 10


@settings(
    max_examples=20,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
class RelayStoreMachine(RuleBasedStateMachine):
    """The SQLite store answers exactly like a dictionary model of the relay's rules."""

    @initialize()
    def open_store(self) -> None:
        self.directory = tempfile.TemporaryDirectory()
        self.store = RelayStore(Path(self.directory.name) / "relay.db", LIMITS)
        self.now = 1_000_000
        self.model: dict[bytes, dict] = {}  # eid -> {tag, expires, held, seq}
        self.seq = 0

    def teardown(self) -> None:
        store = getattr(self, "store", None)
        if store is not None:
            store.close()
            self.directory.cleanup()

    def _visible(self, tag: bytes) -> list[bytes]:
        rows = [
            (row["seq"], eid)
            for eid, row in self.model.items()
            if row["tag"] == tag and row["held"] and row["expires"] > self.now
        ]
        return [eid for _, eid in sorted(rows)]

    def _held(self, tag: bytes) -> int:
        return sum(1 for row in self.model.values() if row["tag"] == tag and row["held"])

    @rule(index=st.integers(0, len(POOL) - 1))
    def deposit(self, index: int) -> None:
        envelope = POOL[index]
        eid, tag = envelope.envelope_id.raw, envelope.tag.raw
        (response,) = self.store.execute([DepositRequest(1, (envelope,), TTL_S)], self.now)
        (result,) = response.results
        row = self.model.get(eid)
        if row is not None and row["expires"] > self.now:
            assert isinstance(result, EnvelopeRefusal) and result.code == "replay"
            return
        if self._held(tag) >= LIMITS.mailbox_max_envelopes:
            expired = [
                e
                for e, r in self.model.items()
                if r["tag"] == tag and r["held"] and r["expires"] <= self.now
            ]
            for e in expired:
                self.model[e]["held"] = False
            if self._held(tag) >= LIMITS.mailbox_max_envelopes:
                assert isinstance(result, EnvelopeRefusal) and result.code == "quota"
                return
        assert result == envelope.envelope_id
        self.seq += 1
        self.model[eid] = {
            "tag": tag,
            "expires": self.now + TTL_S * 1000,
            "held": True,
            "seq": self.seq,
        }

    @rule(box=st.integers(0, 2), limit=st.integers(1, 5))
    def fetch(self, box: int, limit: int) -> None:
        key = POOL_TAGS[box]
        (response,) = self.store.execute([FetchRequest(2, key, limit)], self.now)
        expected = self._visible(key.tag.raw)
        wanted = min(limit, LIMITS.fetch_max)
        got = [e.envelope_id.raw for e in response.envelopes]
        assert got == expected[:wanted]
        assert response.more == (len(expected) > wanted)

    @rule(
        box=st.integers(0, 2), picks=st.lists(st.integers(0, len(POOL) - 1), min_size=1, max_size=4)
    )
    def ack(self, box: int, picks: list[int]) -> None:
        key = POOL_TAGS[box]
        ids = tuple(dict.fromkeys(POOL[i].envelope_id for i in picks))
        (response,) = self.store.execute([AckRequest(3, key, ids)], self.now)
        expected = 0
        for eid in ids:
            row = self.model.get(eid.raw)
            if row is not None and row["tag"] == key.tag.raw and row["held"]:
                row["held"] = False
                expected += 1
        assert response.removed == expected

    @rule(seconds=st.integers(1, 15))
    def advance(self, seconds: int) -> None:
        self.now += seconds * 1000

    @precondition(lambda self: hasattr(self, "store"))
    @rule()
    def sweep(self) -> None:
        self.store.sweep(self.now)
        for eid in [e for e, r in self.model.items() if r["expires"] <= self.now]:
            del self.model[eid]

    @invariant()
    def counters_match(self) -> None:
        if not hasattr(self, "store"):
            return
        stats = self.store.stats()
        held = [row for row in self.model.values() if row["held"]]
        assert stats.envelopes == len(held)
        sizes = {e.envelope_id.raw: len(e.ciphertext) for e in POOL}
        assert stats.bytes == sum(sizes[eid] for eid, row in self.model.items() if row["held"])


TestRelayStoreMachine = RelayStoreMachine.TestCase


_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**64), 2**64 - 1),
    st.binary(max_size=40),
    st.text(max_size=12),
    st.sampled_from([b"\x00" * 32, b"\x01" * 16, "put", "get", "del", 1, 0]),
)
_KEYS = st.sampled_from(
    ["op", "id", "envs", "ttl", "key", "max", "ids", "v", "tag", "ct", "rc", "r", "res"]
)
_VALUES = st.recursive(
    _LEAVES,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_KEYS, inner, max_size=6)),
    max_leaves=20,
)


@settings(max_examples=300)
@given(st.dictionaries(_KEYS, _VALUES, max_size=6))
def test_structured_hostile_frames_raise_only_invalid_encoding(value: dict) -> None:
    data = dag_cbor.encode(value)
    for decoder in (decode_request, decode_response, SealedEnvelope.decode):
        try:
            decoder(data)
        except InvalidEncoding:
            pass
