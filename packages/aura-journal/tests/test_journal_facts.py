"""Facts: canonical encoding, content ids, strict decoding, attestations, the registry."""

from __future__ import annotations

import hashlib

import attrs
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from aura_core.content_id import content_id_of_bytes
from aura_core.dag_cbor import decode, encode
from aura_core.errors import AuraError, InvalidEncoding, InvalidInput, ValidationError
from aura_core.identifiers import AuthorityId, ContextId, DeviceId
from aura_core.time_domains import LogicalTime, OrderTime, PhysicalTime, RangeTime
from aura_journal import (
    UNATTESTED,
    AttestationInvalid,
    AttestationRequired,
    DeviceAttestation,
    Fact,
    FactMetadata,
    FactRegistry,
    FactType,
    FlowCharge,
    Journal,
    JournalNamespace,
    ThresholdAttestation,
    UnknownFactType,
    default_registry,
    order_time_from_entropy,
)

AUTHORITY = JournalNamespace.authority(AuthorityId(b"\x01" * 16))
OTHER = JournalNamespace.authority(AuthorityId(b"\x02" * 16))
CONTEXT_ID = ContextId(b"\x03" * 16)
CONTEXT = JournalNamespace.context(CONTEXT_ID)
DEVICE = DeviceId(b"\x04" * 16)
DEVICE_KEY = SigningKey(b"\x05" * 32)
PEER = AuthorityId(b"\x06" * 16)


def meta(label: object, stamp: object = None) -> FactMetadata:
    order = order_time_from_entropy(hashlib.sha256(repr(label).encode()).digest())
    return FactMetadata(order, stamp if stamp is not None else PhysicalTime(1_700_000_000_000))


def charge(label: object = 0, cost: int = 1, context: ContextId = CONTEXT_ID) -> Fact:
    return Fact.create(FlowCharge(context, PEER, 1, cost), meta(label))


def signed(fact: Fact, namespace: JournalNamespace = AUTHORITY) -> Fact:
    return fact.signed_by_device(namespace, DEVICE, DEVICE_KEY)


@attrs.frozen
class Note:
    """A feature-defined fact type used to exercise the registry."""

    TYPE_ID = "test.note"
    text: str

    def to_canonical(self) -> dict[str, str]:
        return {"text": self.text}

    @classmethod
    def from_canonical(cls, value: object) -> Note:
        if type(value) is not dict or set(value) != {"text"} or type(value["text"]) is not str:
            raise InvalidEncoding("note must be {'text': str}")
        return cls(value["text"])


def no_shouting(fact: Fact, body: Note, namespace: JournalNamespace) -> None:
    if body.text.isupper():
        raise ValidationError(f"note {body.text!r} is shouting")


def note_registry() -> FactRegistry:
    return default_registry().register(
        FactType.for_body(Note, attestations=frozenset({"none", "device"}), validate=no_shouting)
    )


# --------------------------------------------------------------------------- encoding


@pytest.mark.parametrize(
    "stamp",
    [
        PhysicalTime(5, 2),
        LogicalTime.from_mapping({DEVICE: 3}, 4),
        OrderTime(b"\x09" * 32),
        RangeTime(1, 9),
    ],
)
def test_round_trip_in_every_time_domain(stamp):
    fact = signed(Fact.create(FlowCharge(CONTEXT_ID, PEER, 2, 3), meta("x", stamp)))
    data = fact.encode()
    back = Fact.decode(data)
    assert back == fact
    assert back.encode() == data
    assert back.cid == fact.cid == content_id_of_bytes(data)
    assert back.metadata.timestamp == stamp


def test_content_id_is_the_cid_of_the_canonical_bytes_and_differs_per_content():
    a, b = charge(1), charge(2)
    assert a.cid == content_id_of_bytes(encode(a.to_canonical()))
    assert a.cid != b.cid
    assert charge(1).cid == a.cid  # same content, same id
    assert a.cid.hash_code == 0x1E and a.cid.codec == 0x71


def test_attestation_kinds_round_trip():
    fact = charge()
    threshold = fact.signed_by_single_key(AUTHORITY, SigningKey(b"\x07" * 32))
    for variant in (fact, signed(fact), threshold):
        assert Fact.decode(variant.encode()) == variant
    assert type(threshold.attestation) is ThresholdAttestation
    assert threshold.attestation.signer_count == 1
    assert len({fact.cid, signed(fact).cid, threshold.cid}) == 3


def test_decode_rejects_non_canonical_and_malformed_input():
    good = charge().to_canonical()
    cases = {
        "extra field": {**good, "extra": 1},
        "missing field": {k: v for k, v in good.items() if k != "time"},
        "wrong version": {**good, "v": 2},
        "bool version": {**good, "v": True},
        "bad type id": {**good, "type": "Flow Charge"},
        "payload not bytes": {**good, "payload": "text"},
        "short order": {**good, "order": b"\x00" * 31},
        "unknown attestation": {**good, "att": {"kind": "magic"}},
        "attestation extra": {**good, "att": {"kind": "none", "x": 1}},
        "bad signer count": {
            **good,
            "att": {"kind": "threshold", "key": b"k" * 32, "sig": b"s" * 64, "signers": 0},
        },
        "bad time": {**good, "time": {"domain": "physical"}},
    }
    for name, value in cases.items():
        with pytest.raises(InvalidEncoding):
            Fact.decode(encode(value))
        assert name
    data = charge().encode()
    for bad in (data[:-1], data + b"\x00", b"", b"\xa0", encode([1, 2])):
        with pytest.raises(InvalidEncoding):
            Fact.decode(bad)
    with pytest.raises(InvalidEncoding):
        Fact.decode("not bytes")  # type: ignore[arg-type]


def test_decode_rejects_floats_in_the_envelope():
    value = {**charge().to_canonical(), "v": 1.0}
    with pytest.raises(InvalidEncoding):
        Fact.decode(encode(value))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
@example(b"\xbf\xff")
@example(b"\x9f\x01\xff")
def test_random_bytes_only_ever_raise_invalid_encoding(data):
    try:
        Fact.decode(data)
    except InvalidEncoding:
        pass


@settings(max_examples=200, deadline=None)
@given(position=st.integers(min_value=0), flip=st.integers(min_value=1, max_value=255))
def test_mutated_fact_is_refused_or_fails_verification(position, flip):
    fact = signed(charge("mutate"))
    data = bytearray(fact.encode())
    data[position % len(data)] ^= flip
    journal = Journal(AUTHORITY, default_registry())
    try:
        journal.ingest(bytes(data))
    except AuraError:
        assert len(journal) == 0
        return
    # A mutation that still decodes and verifies must be the same fact (impossible for a
    # single byte flip under a signature), so reaching here is a failure.
    pytest.fail("a mutated, signed fact was accepted")


# --------------------------------------------------------------------------- attestations


def test_device_signature_binds_namespace_content_and_signer():
    fact = signed(charge("bind"))
    fact.verify_attestation(AUTHORITY)
    with pytest.raises(AttestationInvalid):
        fact.verify_attestation(OTHER)  # replay into another namespace
    tampered = Fact(fact.type_id, charge("bind", cost=2).payload, fact.attestation, fact.metadata)
    with pytest.raises(AttestationInvalid):
        tampered.verify_attestation(AUTHORITY)
    other_device = DeviceAttestation(
        DeviceId(b"\x0b" * 16), fact.attestation.public_key, fact.attestation.signature
    )
    with pytest.raises(AttestationInvalid):
        fact.with_attestation(other_device).verify_attestation(AUTHORITY)


def test_threshold_signature_binds_signer_count():
    key = SigningKey(b"\x07" * 32)
    fact = charge("count").signed_by_single_key(AUTHORITY, key)
    inflated = ThresholdAttestation(
        fact.attestation.group_public_key, fact.attestation.signature, 3
    )
    with pytest.raises(AttestationInvalid):
        fact.with_attestation(inflated).verify_attestation(AUTHORITY)


def test_small_order_and_garbage_keys_are_refused():
    fact = charge("keys")
    for key in (bytes(32), b"\x01" + bytes(31), b"\xff" * 32):
        forged = fact.with_attestation(DeviceAttestation(DEVICE, key, bytes(64)))
        with pytest.raises(AttestationInvalid):
            forged.verify_attestation(AUTHORITY)


def test_attestation_values_check_their_fields():
    with pytest.raises(InvalidInput):
        DeviceAttestation(DEVICE, b"short", bytes(64))
    with pytest.raises(InvalidInput):
        ThresholdAttestation(bytes(32), bytes(64), 0)
    with pytest.raises(InvalidInput):
        Fact("tree.op", b"", "none", meta(1))  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        Fact("Tree", b"", UNATTESTED, meta(1))


def test_order_time_from_entropy():
    a = order_time_from_entropy(b"\x00" * 16)
    assert a == order_time_from_entropy(b"\x00" * 16)
    assert a != order_time_from_entropy(b"\x01" * 16)
    with pytest.raises(InvalidInput):
        order_time_from_entropy(b"short")


# --------------------------------------------------------------------------- registry and validation


def test_registry_is_local_and_explicit():
    extended = note_registry()
    assert extended.knows("test.note")
    assert not default_registry().knows("test.note")  # no global mutation
    with pytest.raises(InvalidInput):
        extended.register(FactType.for_body(Note))
    with pytest.raises(InvalidInput):
        FactRegistry().register(FactType("Bad Name", Note.from_canonical))
    copy = extended.copy()
    copy.register(FactType("test.other", Note.from_canonical))
    assert not extended.knows("test.other")


def test_unknown_type_is_rejected():
    journal = Journal(AUTHORITY, default_registry())
    fact = Fact.create(Note("hi"), meta("unknown"))
    with pytest.raises(UnknownFactType):
        journal.add(fact)
    assert len(journal) == 0


def test_type_rules_apply_before_acceptance():
    journal = Journal(AUTHORITY, note_registry())
    assert journal.add(Fact.create(Note("hello"), meta(1)))
    with pytest.raises(ValidationError, match="shouting"):
        journal.add(Fact.create(Note("HELLO"), meta(2)))
    threshold = Fact.create(Note("x"), meta(3)).signed_by_single_key(
        AUTHORITY, SigningKey(b"\x07" * 32)
    )
    with pytest.raises(AttestationRequired):
        journal.add(threshold)
    with pytest.raises(AttestationRequired):
        journal.add(charge("unsigned"))  # flow charges need a signature
    assert len(journal) == 1


def test_malformed_payload_is_invalid_encoding():
    journal = Journal(AUTHORITY, note_registry())
    for payload in (encode({"text": 5}), encode({"text": "a", "x": 1}), b"\xff", encode(1.5)):
        fact = Fact("test.note", payload, UNATTESTED, meta(payload))
        with pytest.raises(InvalidEncoding):
            journal.add(fact)
    bad_charge = Fact("flow.charge", encode({"context": b"x"}), UNATTESTED, meta("c"))
    with pytest.raises(InvalidEncoding, match=r"flow\.charge"):
        journal.add(signed(bad_charge))
    assert len(journal) == 0


def test_namespace_rules():
    context_journal = Journal(CONTEXT, default_registry())
    assert context_journal.add(signed(charge("ok"), CONTEXT))
    foreign = signed(charge("foreign", context=ContextId(b"\x0c" * 16)), CONTEXT)
    with pytest.raises(ValidationError, match="does not belong"):
        context_journal.add(foreign)
    # a fact signed for one authority journal does not verify in another
    with pytest.raises(AttestationInvalid):
        Journal(OTHER, default_registry()).add(signed(charge("moved")))


def test_body_decoding_is_cached_and_strict():
    registry = default_registry()
    fact = signed(charge("cache"))
    data = fact.encode()
    received = Fact.decode(data)
    assert received.cached_body is None
    body = registry.body(received)
    assert body == FlowCharge(CONTEXT_ID, PEER, 1, 1)
    assert registry.body(received) is body
    assert decode(received.payload) == body.to_canonical()


canonical_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64 - 1)
    | st.binary(max_size=40)
    | st.text(max_size=12)
    | st.sampled_from(["add_leaf", "remove_leaf", "any", "threshold", "device", "revoked"]),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.sampled_from(
                [
                    "kind",
                    "op",
                    "leaf",
                    "under",
                    "id",
                    "device",
                    "role",
                    "key",
                    "parent_epoch",
                    "parent_commitment",
                    "branches",
                    "leaves",
                    "covered",
                    "reductions",
                    "state_hash",
                    "context",
                    "peer",
                    "epoch",
                    "cost",
                    "m",
                    "n",
                    "policy",
                    "affected",
                    "keys",
                    "node",
                ]
            ),
            children,
            max_size=6,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(default_registry().type_ids)), canonical_values)
@example(
    "tree.op",
    {
        "op": {"kind": "add_leaf", "leaf": {}, "under": 0},
        "parent_epoch": 0,
        "parent_commitment": b"\x00" * 32,
    },
)
@example("tree.genesis", {"branches": [], "leaves": []})
@example("journal.snapshot", {"covered": [], "reductions": [], "state_hash": b""})
def test_hostile_bodies_only_raise_invalid_encoding(type_id, value):
    """Every built-in body decoder refuses arbitrary canonical values with InvalidEncoding."""
    fact = Fact(type_id, encode(value), UNATTESTED, meta(("hostile", type_id)))
    try:
        default_registry().body(fact)
    except InvalidEncoding:
        pass
