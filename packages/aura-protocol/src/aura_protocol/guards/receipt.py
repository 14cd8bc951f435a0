"""Flow receipts: signed, epoch-bound, hash-chained proof that a hop paid for a send.

``Receipt{ctx, src, dst, epoch, cost, nonce, prev, sig}``. The sender of each
hop signs the other seven fields (Ed25519, its per-context key) under the
domain tag ``AURA_FLOW_RECEIPT_V1``; ``prev`` is the link hash (domain-tagged BLAKE3 of the
canonical encoding, signature included) of the previous hop's receipt (all zero for the first hop), so a chain cannot be reordered,
truncated in the middle or spliced from two messages. Receipts are also facts
of their context's journal (type ``guard.receipt``); their metadata is derived
from the receipt itself, so sender and receiver store the very same fact and
a receipt is recorded once however often it arrives.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from aura_core import dag_cbor
from aura_core.canonical_fields import U32_MAX, decode_canonical, read_bytes, read_map, read_uint
from aura_core.errors import CryptoError, InvalidEncoding, InvalidInput, ValidationError
from aura_core.hashing import tagged_hash
from aura_core.identifiers import AuthorityId, ContextId, Epoch, Hash32
from aura_core.time_domains import OrderTime
from aura_journal.fact_registry import FactType
from aura_journal.facts import Fact, FactMetadata
from aura_journal.namespace import JournalNamespace

__all__ = [
    "NONCE_BYTES",
    "RECEIPT_FACT_TYPE",
    "RECEIPT_LINK_DOMAIN",
    "RECEIPT_SIGNING_DOMAIN",
    "Receipt",
    "receipt_fact",
    "receipt_fact_type",
]

RECEIPT_SIGNING_DOMAIN = "AURA_FLOW_RECEIPT_V1"
RECEIPT_LINK_DOMAIN = "AURA_FLOW_RECEIPT_LINK_V1"
RECEIPT_FACT_TYPE = "guard.receipt"
NONCE_BYTES = 16
_ORDER_DOMAIN = "AURA_FLOW_RECEIPT_ORDER_V1"
_BODY_KEYS = ("ctx", "src", "dst", "epoch", "cost", "nonce", "prev")
_KEYS = frozenset((*_BODY_KEYS, "sig"))
_MAX_ENCODED = 512


def _check_nonce(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not bytes or len(value) != NONCE_BYTES:
        raise InvalidInput(f"receipt nonce must be {NONCE_BYTES} bytes")


def _check_cost(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not int or not 0 <= value <= U32_MAX:
        raise InvalidInput(f"receipt cost must be in 0..2**32-1, got {value!r:.40}")


def _check_sig(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not bytes or len(value) != 64:
        raise InvalidInput("receipt signature must be 64 bytes")


_ZERO_SIG = bytes(64)


@attrs.frozen
class Receipt:
    """One hop's receipt. Build with :meth:`issue`; check with :meth:`verify_signature`."""

    TYPE_ID: ClassVar[str] = RECEIPT_FACT_TYPE

    ctx: ContextId = attrs.field(validator=attrs.validators.instance_of(ContextId))
    src: AuthorityId = attrs.field(validator=attrs.validators.instance_of(AuthorityId))
    dst: AuthorityId = attrs.field(validator=attrs.validators.instance_of(AuthorityId))
    epoch: Epoch = attrs.field(validator=attrs.validators.instance_of(Epoch))
    cost: int = attrs.field(validator=_check_cost)
    nonce: bytes = attrs.field(validator=_check_nonce, repr=lambda n: n.hex())
    prev: Hash32 = attrs.field(validator=attrs.validators.instance_of(Hash32))
    sig: bytes = attrs.field(default=_ZERO_SIG, validator=_check_sig, repr=lambda s: s[:8].hex())
    _encoded: bytes | None = attrs.field(default=None, init=False, eq=False, hash=False, repr=False)

    # ------------------------------------------------------------------ signing

    def body_canonical(self) -> dict[str, Any]:
        return {
            "ctx": self.ctx.raw,
            "src": self.src.raw,
            "dst": self.dst.raw,
            "epoch": self.epoch.value,
            "cost": self.cost,
            "nonce": self.nonce,
            "prev": self.prev.raw,
        }

    def signing_message(self) -> bytes:
        """The 32-byte digest the sender signs: every field but ``sig``, domain-tagged."""
        return tagged_hash(RECEIPT_SIGNING_DOMAIN, dag_cbor.encode(self.body_canonical()))

    def signed(self, signature: bytes) -> Receipt:
        return Receipt(
            self.ctx, self.src, self.dst, self.epoch, self.cost, self.nonce, self.prev, signature
        )

    def verify_signature(self, public_key: bytes) -> None:
        """Raise ``CryptoError`` unless ``sig`` is ``src``'s signature under ``public_key``."""
        try:
            VerifyKey(public_key).verify(self.signing_message(), self.sig)
        except (BadSignatureError, ValueError, TypeError):
            raise CryptoError(
                f"receipt signature from {self.src} to {self.dst} does not verify "
                f"(forged or signed with another key)"
            ) from None

    @property
    def link_hash(self) -> Hash32:
        """What the next hop's ``prev`` must be: the hash of this whole receipt, signature included."""
        return Hash32(tagged_hash(RECEIPT_LINK_DOMAIN, self.encode()))

    # ------------------------------------------------------------------ encoding

    def to_canonical(self) -> dict[str, Any]:
        body = self.body_canonical()
        body["sig"] = self.sig
        return body

    @classmethod
    def from_canonical(cls, value: Any) -> Receipt:
        fields = read_map(value, "receipt", _KEYS)
        try:
            return cls(
                ContextId(read_bytes(fields["ctx"], "receipt ctx", size=16, max_size=16)),
                AuthorityId(read_bytes(fields["src"], "receipt src", size=16, max_size=16)),
                AuthorityId(read_bytes(fields["dst"], "receipt dst", size=16, max_size=16)),
                Epoch(read_uint(fields["epoch"], "receipt epoch")),
                read_uint(fields["cost"], "receipt cost", maximum=U32_MAX),
                read_bytes(fields["nonce"], "receipt nonce", size=NONCE_BYTES, max_size=32),
                Hash32(read_bytes(fields["prev"], "receipt prev", size=32, max_size=32)),
                read_bytes(fields["sig"], "receipt sig", size=64, max_size=64),
            )
        except InvalidEncoding:
            raise
        except InvalidInput as exc:
            raise InvalidEncoding(f"receipt: {exc.message}") from None

    def encode(self) -> bytes:
        """Canonical DAG-CBOR of every field (computed once)."""
        encoded = self._encoded
        if encoded is None:
            encoded = dag_cbor.encode(self.to_canonical())
            object.__setattr__(self, "_encoded", encoded)
        return encoded

    @classmethod
    def decode(cls, data: bytes) -> Receipt:
        """Strict decode of :meth:`encode`; anything else raises ``InvalidEncoding``."""
        receipt = cls.from_canonical(decode_canonical(data, "receipt", max_bytes=_MAX_ENCODED))
        if receipt.encode() != data:  # pragma: no cover - the strict codec admits one encoding
            raise InvalidEncoding("receipt is not canonically encoded")
        return receipt


def receipt_fact(receipt: Receipt) -> Fact:
    """The context-journal fact recording ``receipt``; a pure function of the receipt.

    Its ``OrderTime`` (used as the timestamp too) is a hash of the receipt, so
    the sender and every hop derive the identical fact and content id.
    """
    if not isinstance(receipt, Receipt):
        raise InvalidInput(f"expected a Receipt, got {type(receipt).__name__}")
    order = OrderTime(tagged_hash(_ORDER_DOMAIN, receipt.link_hash.raw))
    return Fact.create(receipt, FactMetadata(order, order))


def _validate_receipt_fact(fact: Fact, body: Receipt, namespace: JournalNamespace) -> None:
    if body.ctx != namespace.owner:
        raise ValidationError(
            f"a receipt of {body.ctx} does not belong in the journal of {namespace.owner}"
        )
    if fact != receipt_fact(body):
        raise ValidationError("a receipt fact's metadata must be derived from the receipt")


def receipt_fact_type() -> FactType:
    """Receipts live in context journals; their own signature is their attestation.

    The signature is checked against the context roster wherever a receipt is
    acted on (:func:`~aura_protocol.guards.verify_receipt_chain`); the journal
    rule keeps a receipt in its own context and its metadata canonical.
    """
    return FactType(
        RECEIPT_FACT_TYPE,
        Receipt.from_canonical,
        attestations=frozenset({"none"}),
        namespaces=frozenset({"context"}),
        validate=_validate_receipt_fact,
    )
