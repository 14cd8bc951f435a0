"""Envelopes for untrusted relays: sealed to the recipient, addressed by an opaque mailbox tag.

Outer (what a relay sees): ``{v: 1, tag, ct, rc?}`` in canonical DAG-CBOR —
the mailbox tag, the sealed ciphertext and, when the sender attaches one for
a relay that is a member of the context, a receipt chain. Nothing else: no
context, no sender, no recipient. The envelope id is
``BLAKE3("AURA_ENVELOPE_ID_V1", tag, ct)``; receipts are left out because
each hop changes them, so a replayed envelope has the same id however it is
re-wrapped.

Inner (only the recipient sees it): ``{v, ctx, from, key, body, sig, pad}``,
sealed with :meth:`~aura_core.effects.CryptoEffects.seal` (X25519 +
XChaCha20-Poly1305, fresh ephemeral key) to the recipient's sealing key with
the tag as associated data. ``sig`` is the sender's Ed25519 signature over
(context, sender, tag, body) under ``key``; binding the tag means a recipient
cannot re-seal a signed message into a third party's mailbox. ``pad`` rounds
the plaintext up to a size bucket so ciphertext lengths say little about the
message.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from aura_core import dag_cbor
from aura_core.canonical_fields import (
    as_encoding_error,
    decode_canonical,
    read_authority,
    read_bytes,
    read_context,
    read_list,
    read_map,
    read_uint,
)
from aura_core.effects import CryptoEffects
from aura_core.errors import CryptoError, InvalidEncoding, InvalidInput
from aura_core.hashing import tagged_hash
from aura_core.identifiers import AuthorityId, ContextId, Hash32
from aura_effects.sodium_crypto import SEALED_OVERHEAD
from aura_features.ed25519_signer import Ed25519Signer, ed25519_valid
from aura_features.rendezvous.mailbox import MailboxTag
from aura_protocol.guards.receipt import Receipt
from aura_protocol.guards.receipt_chain import MAX_RECEIPT_HOPS

__all__ = [
    "ENVELOPE_ID_DOMAIN",
    "ENVELOPE_VERSION",
    "MAX_BODY_BYTES",
    "MAX_SEALED_ENVELOPE_BYTES",
    "EnvelopeId",
    "OpenedEnvelope",
    "SealedEnvelope",
    "open_envelope",
    "padded_size",
    "seal_envelope",
]

ENVELOPE_VERSION = 1
ENVELOPE_ID_DOMAIN = "AURA_ENVELOPE_ID_V1"
_SENDER_DOMAIN = "AURA_ENVELOPE_SENDER_V1"
MAX_BODY_BYTES = 256 * 1024
"""Largest message body one envelope carries."""
_MAX_INNER_BYTES = MAX_BODY_BYTES + 64 * 1024 + 512
MAX_SEALED_ENVELOPE_BYTES = _MAX_INNER_BYTES + SEALED_OVERHEAD + 8 * 512 + 64
"""Largest encoded outer envelope (ciphertext, tag, up to eight receipts)."""
_OUTER_REQUIRED = ("v", "tag", "ct")
_INNER_KEYS = ("v", "ctx", "from", "key", "body", "sig", "pad")
_MIN_BUCKET = 256
_LARGE_STEP = 64 * 1024


class EnvelopeId(Hash32):
    """Content id of an envelope (tag and ciphertext): what relays deduplicate on."""

    prefix: ClassVar[str] = "envelope"


def _check_ct(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if (
        type(value) is not bytes
        or not SEALED_OVERHEAD < len(value) <= _MAX_INNER_BYTES + SEALED_OVERHEAD
    ):
        raise InvalidInput(
            f"envelope ciphertext must be bytes of {SEALED_OVERHEAD + 1}.."
            f"{_MAX_INNER_BYTES + SEALED_OVERHEAD} bytes"
        )


def _check_receipts(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not tuple or len(value) > MAX_RECEIPT_HOPS:
        raise InvalidInput(f"an envelope carries a tuple of at most {MAX_RECEIPT_HOPS} receipts")
    if not all(isinstance(r, Receipt) for r in value):
        raise InvalidInput("an envelope's receipt chain holds Receipt values")


@attrs.frozen
class SealedEnvelope:
    """What travels through relays: a mailbox tag, a sealed ciphertext, maybe a receipt chain."""

    tag: MailboxTag = attrs.field(validator=attrs.validators.instance_of(MailboxTag))
    ciphertext: bytes = attrs.field(validator=_check_ct, repr=lambda c: f"<{len(c)} bytes>")
    receipts: tuple[Receipt, ...] = attrs.field(default=(), validator=_check_receipts)
    _id: EnvelopeId | None = attrs.field(default=None, init=False, eq=False, repr=False)

    @property
    def envelope_id(self) -> EnvelopeId:
        cached = self._id
        if cached is None:
            cached = EnvelopeId(tagged_hash(ENVELOPE_ID_DOMAIN, self.tag.raw, self.ciphertext))
            object.__setattr__(self, "_id", cached)
        return cached

    def without_receipts(self) -> SealedEnvelope:
        return self if not self.receipts else SealedEnvelope(self.tag, self.ciphertext)

    def with_receipts(self, receipts: tuple[Receipt, ...]) -> SealedEnvelope:
        return SealedEnvelope(self.tag, self.ciphertext, tuple(receipts))

    def to_canonical(self) -> dict[str, Any]:
        value: dict[str, Any] = {"v": ENVELOPE_VERSION, "tag": self.tag.raw, "ct": self.ciphertext}
        if self.receipts:
            value["rc"] = [receipt.to_canonical() for receipt in self.receipts]
        return value

    def encode(self) -> bytes:
        return dag_cbor.encode(self.to_canonical())

    @classmethod
    def from_canonical(cls, value: Any) -> SealedEnvelope:
        fields = read_map(value, "envelope", _OUTER_REQUIRED, ("rc",))
        if read_uint(fields["v"], "envelope version") != ENVELOPE_VERSION:
            raise InvalidEncoding(
                f"unsupported envelope version {fields['v']} (this software reads {ENVELOPE_VERSION})"
            )
        receipts: tuple[Receipt, ...] = ()
        if "rc" in fields:
            items = read_list(
                fields["rc"], "envelope receipts", min_items=1, max_items=MAX_RECEIPT_HOPS
            )
            receipts = tuple(Receipt.from_canonical(item) for item in items)
        try:
            return cls(
                MailboxTag(read_bytes(fields["tag"], "envelope tag", size=32)),
                read_bytes(
                    fields["ct"], "envelope ciphertext", max_size=_MAX_INNER_BYTES + SEALED_OVERHEAD
                ),
                receipts,
            )
        except InvalidEncoding:
            raise
        except InvalidInput as exc:
            raise as_encoding_error("envelope", exc) from None

    @classmethod
    def decode(cls, data: bytes) -> SealedEnvelope:
        """Strict decode; anything malformed raises ``InvalidEncoding`` naming the problem."""
        return cls.from_canonical(
            decode_canonical(data, "envelope", max_bytes=MAX_SEALED_ENVELOPE_BYTES)
        )


@attrs.frozen
class OpenedEnvelope:
    """An envelope's contents after unsealing; the signature has been checked against ``sender_key``."""

    context: ContextId
    sender: AuthorityId
    sender_key: bytes = attrs.field(repr=lambda k: k.hex()[:16] + "…")
    body: bytes = attrs.field(repr=lambda b: f"<{len(b)} bytes>")


def padded_size(length: int) -> int:
    """The size bucket a plaintext of ``length`` bytes is padded to."""
    if length <= _MIN_BUCKET:
        return _MIN_BUCKET
    if length <= _LARGE_STEP:
        return 1 << (length - 1).bit_length()
    return -(-length // _LARGE_STEP) * _LARGE_STEP


def _sender_message(context: ContextId, sender: AuthorityId, tag: MailboxTag, body: bytes) -> bytes:
    return tagged_hash(_SENDER_DOMAIN, context.raw, sender.raw, tag.raw, body)


def _inner_bytes(fields: dict[str, Any]) -> bytes:
    fields["pad"] = b""
    base = len(dag_cbor.encode(fields))
    target = padded_size(base)
    pad = target - base
    encoded = b""
    for _ in range(4):  # the pad's own length header may grow by a few bytes
        fields["pad"] = bytes(max(pad, 0))
        encoded = dag_cbor.encode(fields)
        excess = len(encoded) - target
        if excess == 0 or pad <= 0:
            break
        pad -= excess
    return encoded


def seal_envelope(
    crypto: CryptoEffects,
    *,
    recipient_seal_key: bytes,
    tag: MailboxTag,
    context: ContextId,
    sender: AuthorityId,
    signer: Ed25519Signer,
    body: bytes,
) -> SealedEnvelope:
    """Sign ``body`` as ``sender`` and seal it to ``recipient_seal_key`` for mailbox ``tag``."""
    if not isinstance(tag, MailboxTag):
        raise InvalidInput(f"tag must be a MailboxTag, got {type(tag).__name__}")
    if not isinstance(context, ContextId) or not isinstance(sender, AuthorityId):
        raise InvalidInput("seal_envelope needs a ContextId and the sender's AuthorityId")
    if type(body) is not bytes or len(body) > MAX_BODY_BYTES:
        raise InvalidInput(f"envelope body must be bytes of at most {MAX_BODY_BYTES}")
    if type(recipient_seal_key) is not bytes or len(recipient_seal_key) != 32:
        raise InvalidInput("recipient_seal_key must be a 32-byte X25519 public key")
    signature = signer.sign(_sender_message(context, sender, tag, body))
    inner = _inner_bytes(
        {
            "v": ENVELOPE_VERSION,
            "ctx": context.raw,
            "from": sender.raw,
            "key": signer.public_key,
            "body": body,
            "sig": signature,
        }
    )
    return SealedEnvelope(tag, crypto.seal(recipient_seal_key, inner, tag.raw))


def open_envelope(
    crypto: CryptoEffects,
    *,
    seal_private_key: bytes,
    envelope: SealedEnvelope,
    expected_sender_key: bytes | None = None,
) -> OpenedEnvelope:
    """Unseal and check the sender's signature.

    ``CryptoError`` if the box does not open (not for us, or tampered) or the
    signature fails; ``InvalidEncoding`` if the plaintext is malformed. With
    ``expected_sender_key`` the signing key must also be that one: callers
    pass the key they know for the claimed sender, because a signature under
    a key the envelope itself names proves nothing about who sent it.
    """
    if not isinstance(envelope, SealedEnvelope):
        raise InvalidInput(f"expected a SealedEnvelope, got {type(envelope).__name__}")
    plaintext = crypto.unseal(seal_private_key, envelope.ciphertext, envelope.tag.raw)
    fields = read_map(
        decode_canonical(plaintext, "envelope contents", max_bytes=_MAX_INNER_BYTES),
        "envelope contents",
        _INNER_KEYS,
    )
    if read_uint(fields["v"], "envelope contents version") != ENVELOPE_VERSION:
        raise InvalidEncoding(f"unsupported envelope contents version {fields['v']}")
    context = read_context(fields["ctx"], "envelope context")
    sender = read_authority(fields["from"], "envelope sender")
    key = read_bytes(fields["key"], "envelope sender key", size=32)
    body = read_bytes(fields["body"], "envelope body", max_size=MAX_BODY_BYTES)
    signature = read_bytes(fields["sig"], "envelope signature", size=64)
    pad = read_bytes(fields["pad"], "envelope padding", max_size=_MAX_INNER_BYTES)
    if pad.count(0) != len(pad):
        raise InvalidEncoding("envelope padding must be zero bytes")
    if not ed25519_valid(key, _sender_message(context, sender, envelope.tag, body), signature):
        raise CryptoError(f"envelope from {sender} carries a signature that does not verify")
    if expected_sender_key is not None and key != expected_sender_key:
        raise CryptoError(f"envelope claims to be from {sender} but is signed by another key")
    return OpenedEnvelope(context, sender, key, body)
