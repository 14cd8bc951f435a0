"""Facts: content-addressed, immutable records of evidence.

A fact is a type id, a canonical payload (the DAG-CBOR bytes of a typed
body), an attestation and metadata (an ``OrderTime`` token for deterministic
ordering and a timestamp in one of the four time domains). Its content id is
the CID of its canonical encoding, so equal facts collapse on merge and a
fact fetched by id can be checked against the id.

``Fact.decode`` is strict: one canonical encoding per fact, exact field sets,
typed fields. Type-specific rules (body shape, required attestation, domain
checks) live in the fact type registered with a
:class:`~aura_journal.fact_registry.FactRegistry`.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

import attrs
from nacl.signing import SigningKey

from aura_core.canonical_fields import of_type, read_bytes, read_map, read_str
from aura_core.content_id import CID, content_id_of_bytes
from aura_core.dag_cbor import decode, encode
from aura_core.errors import InvalidEncoding, InvalidInput
from aura_core.hashing import tagged_hash
from aura_core.identifiers import DeviceId
from aura_core.time_domains import (
    LogicalTime,
    OrderTime,
    PhysicalTime,
    RangeTime,
    TimeStamp,
    timestamp_from_canonical,
    timestamp_to_canonical,
)
from aura_journal.attestation import (
    UNATTESTED,
    Attestation,
    DeviceAttestation,
    ThresholdAttestation,
    Unattested,
    attestation_from_canonical,
    attestation_to_canonical,
)
from aura_journal.namespace import JournalNamespace

__all__ = [
    "FACT_ENCODING_VERSION",
    "MAX_FACT_BYTES",
    "Fact",
    "FactBody",
    "FactMetadata",
    "check_type_id",
    "order_time_from_entropy",
]

FACT_ENCODING_VERSION = 1
MAX_FACT_BYTES = 8 * 1024 * 1024
"""Largest encoded fact accepted (snapshots listing many covered ids are the big ones)."""

_TYPE_ID = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+")
_MAX_TYPE_ID = 64
_ATTESTATION_DOMAIN = "AURA_FACT_ATTESTATION_V1"
_ORDER_DOMAIN = "AURA_ORDER_TIME_V1"
_FIELDS = ("v", "type", "payload", "att", "order", "time")
_NO_BODY = object()
_TIMESTAMP_TYPES = (PhysicalTime, LogicalTime, OrderTime, RangeTime)


def order_time_from_entropy(entropy: bytes) -> OrderTime:
    """An ``OrderTime`` token: BLAKE3 of a domain tag and caller-supplied random bytes.

    Hashing hides the entropy source's structure; callers draw ``entropy``
    from their ``RandomEffects`` (at least 16 bytes).
    """
    if type(entropy) is not bytes or len(entropy) < 16:
        raise InvalidInput("order-time entropy must be at least 16 random bytes")
    return OrderTime(tagged_hash(_ORDER_DOMAIN, entropy))


def check_type_id(value: object) -> str:
    """A fact type id is a dotted lower-case name (``tree.op``, ``chat.message_sent``)."""
    if type(value) is not str or len(value) > _MAX_TYPE_ID or not _TYPE_ID.fullmatch(value):
        raise InvalidInput(
            f"fact type id must be a dotted lower-case name like 'tree.op' (<= {_MAX_TYPE_ID} chars), got {value!r:.80}"
        )
    return value


def _check_type_id(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    check_type_id(value)


def _check_payload(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not bytes:
        raise InvalidInput(
            f"fact payload must be canonical DAG-CBOR bytes, got {type(value).__name__}"
        )


def _check_attestation(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if type(value) not in (Unattested, DeviceAttestation, ThresholdAttestation):
        raise InvalidInput(f"fact attestation has unknown type {type(value).__name__}")


@runtime_checkable
class FactBody(Protocol):
    """A typed fact payload: knows its type id and its canonical form."""

    TYPE_ID: ClassVar[str]

    def to_canonical(self) -> Any: ...

    @classmethod
    def from_canonical(cls, value: Any) -> Self: ...


@attrs.frozen
class FactMetadata:
    """When and where in the deterministic order a fact sits."""

    order: OrderTime = attrs.field(validator=of_type(OrderTime))
    timestamp: TimeStamp = attrs.field(validator=of_type(*_TIMESTAMP_TYPES))


@attrs.frozen(slots=True)
class Fact:
    """One immutable record. Equal facts have equal encodings and equal content ids."""

    type_id: str = attrs.field(validator=_check_type_id)
    payload: bytes = attrs.field(validator=_check_payload, repr=lambda p: f"<{len(p)} bytes>")
    attestation: Attestation = attrs.field(validator=_check_attestation)
    metadata: FactMetadata = attrs.field(validator=of_type(FactMetadata))
    _encoded: bytes | None = attrs.field(default=None, init=False, eq=False, hash=False, repr=False)
    _cid: CID | None = attrs.field(default=None, init=False, eq=False, hash=False, repr=False)
    _body: object = attrs.field(default=_NO_BODY, init=False, eq=False, hash=False, repr=False)

    # ------------------------------------------------------------------ construction

    @classmethod
    def create(
        cls, body: FactBody, metadata: FactMetadata, attestation: Attestation = UNATTESTED
    ) -> Fact:
        """A fact holding ``body`` (encoded canonically); the typed body is kept cached."""
        fact = cls(body.TYPE_ID, encode(body.to_canonical()), attestation, metadata)
        object.__setattr__(fact, "_body", body)
        return fact

    def with_attestation(self, attestation: Attestation) -> Fact:
        """The same content with another attestation (a different fact, a different id)."""
        fact = Fact(self.type_id, self.payload, attestation, self.metadata)
        if self._body is not _NO_BODY:
            object.__setattr__(fact, "_body", self._body)
        return fact

    # ------------------------------------------------------------------ identity and encoding

    def to_canonical(self) -> dict[str, Any]:
        return {
            "v": FACT_ENCODING_VERSION,
            "type": self.type_id,
            "payload": self.payload,
            "att": attestation_to_canonical(self.attestation),
            "order": self.metadata.order.token,
            "time": timestamp_to_canonical(self.metadata.timestamp),
        }

    def encode(self) -> bytes:
        """The canonical DAG-CBOR bytes (computed once)."""
        encoded = self._encoded
        if encoded is None:
            encoded = encode(self.to_canonical())
            object.__setattr__(self, "_encoded", encoded)
        return encoded

    @property
    def cid(self) -> CID:
        """Content id: CIDv1 (dag-cbor, BLAKE3-256) of :meth:`encode`."""
        cid = self._cid
        if cid is None:
            cid = content_id_of_bytes(self.encode())
            object.__setattr__(self, "_cid", cid)
        return cid

    @property
    def order(self) -> OrderTime:
        return self.metadata.order

    @property
    def sort_key(self) -> tuple[bytes, bytes]:
        """Deterministic position: ``OrderTime`` first, content id breaks ties."""
        return (self.metadata.order.token, self.cid.raw)

    @classmethod
    def decode(cls, data: bytes) -> Fact:
        """Parse a fact from its canonical bytes; anything else raises ``InvalidEncoding``."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidEncoding(f"a fact must be decoded from bytes, got {type(data).__name__}")
        data = bytes(data)
        if len(data) > MAX_FACT_BYTES:
            raise InvalidEncoding(f"fact is {len(data)} bytes, more than {MAX_FACT_BYTES}")
        value = decode(data, allow_floats=False)
        fields = read_map(value, "fact", _FIELDS)
        if type(fields["v"]) is not int or fields["v"] != FACT_ENCODING_VERSION:
            raise InvalidEncoding(f"unsupported fact encoding version {fields['v']!r:.20}")
        type_id = read_str(fields["type"], "fact type", max_length=_MAX_TYPE_ID)
        if not _TYPE_ID.fullmatch(type_id):
            raise InvalidEncoding(f"fact type {type_id!r} is not a dotted lower-case name")
        payload = read_bytes(fields["payload"], "fact payload", max_size=MAX_FACT_BYTES)
        attestation = attestation_from_canonical(fields["att"])
        try:
            order = OrderTime(read_bytes(fields["order"], "fact order", size=32))
        except InvalidEncoding:
            raise
        except InvalidInput as exc:
            raise InvalidEncoding(f"fact order: {exc}") from None
        timestamp = timestamp_from_canonical(fields["time"])
        fact = cls(type_id, payload, attestation, FactMetadata(order, timestamp))
        object.__setattr__(fact, "_encoded", data)
        return fact

    # ------------------------------------------------------------------ payload

    def payload_value(self) -> Any:
        """The payload decoded (strictly, no floats) as a plain canonical value."""
        return decode(self.payload, allow_floats=False)

    @property
    def cached_body(self) -> object | None:
        """The typed body if it has been decoded or supplied, else ``None``."""
        body = self._body
        return None if body is _NO_BODY else body

    def cache_body(self, body: object) -> None:
        """Remember the typed body decoded from the payload (registry use)."""
        object.__setattr__(self, "_body", body)

    # ------------------------------------------------------------------ attestation

    def attestation_message(
        self, namespace: JournalNamespace, binding: tuple[bytes, ...] | None = None
    ) -> bytes:
        """The 32-byte digest a signer signs.

        It binds the namespace (no replay into another journal), the type,
        payload and metadata, and the attestation's signer identity
        (``binding``: the device and its key, or the group key and signer
        count), defaulting to this fact's own attestation.
        """
        if not isinstance(namespace, JournalNamespace):
            raise InvalidInput(
                f"namespace must be a JournalNamespace, got {type(namespace).__name__}"
            )
        if binding is None:
            binding = self.attestation.binding()
        return tagged_hash(
            _ATTESTATION_DOMAIN,
            namespace.to_bytes(),
            self.type_id.encode("ascii"),
            self.payload,
            self.metadata.order.token,
            encode(timestamp_to_canonical(self.metadata.timestamp)),
            *binding,
        )

    def signed_by_device(
        self, namespace: JournalNamespace, device: DeviceId, signing_key: SigningKey
    ) -> Fact:
        """This fact attested by one device's Ed25519 key."""
        public_key = bytes(signing_key.verify_key)
        binding = DeviceAttestation(device, public_key, bytes(64)).binding()
        signature = signing_key.sign(self.attestation_message(namespace, binding)).signature
        return self.with_attestation(DeviceAttestation(device, public_key, signature))

    def threshold_message(
        self, namespace: JournalNamespace, group_public_key: bytes, signer_count: int
    ) -> bytes:
        """The message a group signs (FROST or 1-of-1) to attest this fact."""
        binding = ThresholdAttestation(group_public_key, bytes(64), signer_count).binding()
        return self.attestation_message(namespace, binding)

    def signed_by_single_key(self, namespace: JournalNamespace, signing_key: SigningKey) -> Fact:
        """Attested by a 1-of-1 group: the group key is a plain Ed25519 key, one signer."""
        group_key = bytes(signing_key.verify_key)
        signature = signing_key.sign(self.threshold_message(namespace, group_key, 1)).signature
        return self.with_threshold_signature(group_key, signature, 1)

    def with_threshold_signature(
        self, group_public_key: bytes, signature: bytes, signer_count: int
    ) -> Fact:
        return self.with_attestation(
            ThresholdAttestation(group_public_key, signature, signer_count)
        )

    def verify_attestation(self, namespace: JournalNamespace) -> None:
        """Check the signature, if any; raises ``AttestationInvalid``."""
        attestation = self.attestation
        if type(attestation) is not Unattested:
            attestation.verify(self.attestation_message(namespace))
