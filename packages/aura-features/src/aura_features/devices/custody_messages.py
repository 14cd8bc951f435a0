"""The messages of a custody change (``custody.*``), between devices and guardians.

Flow (``C`` coordinator, ``D`` dealers, ``R`` recipients, ``S`` signers)::

    C -> D, R   TransferStart(change, authorization, dealers, round)
    D -> R      ShareDeal(commitment, sealed shares)             signed by the dealer
    R -> C      ShareReceived(new public key package)            signed by the recipient
    C -> S      AttestRequest(unsigned facts, receipts)
    S -> C      AttestCommitments(one FROST commitment per fact)
    C -> S      AttestSign(one signing package per fact)
    S -> C      AttestShares(one signature share per fact)
    C -> all    ChangeComplete(signed facts)                     or ChangeAborted(reason)

Consensus messages travel inside :class:`ConsensusFrame`. A new device asks
to join with :class:`EnrollmentRequest`, signed by the key it will hold the
leaf with. Key shares only ever travel sealed to the recipient's X25519 key.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import attrs

from aura_core.canonical_fields import (
    U16_MAX,
    U32_MAX,
    read_authority,
    read_bytes,
    read_choice,
    read_list,
    read_str,
    read_uint,
)
from aura_core.errors import InvalidInput
from aura_core.identifiers import AuthorityId
from aura_features.devices.share_holders import (
    DeviceProfile,
    identity_signature_valid,
)
from aura_features.devices.wire_codec import (
    MessageCodec,
    exact_fields,
    signed_payload,
    signing_domain,
)

__all__ = [
    "AUTHORIZATION_KINDS",
    "CUSTODY_CODEC",
    "AttestCommitments",
    "AttestRequest",
    "AttestShares",
    "AttestSign",
    "ChangeAborted",
    "ChangeComplete",
    "ConsensusFrame",
    "EnrollmentRequest",
    "ShareDeal",
    "ShareReceived",
    "TransferStart",
    "sign_message",
    "signature_valid",
]

AUTHORIZATION_KINDS = ("consensus", "single", "recovery")
_MAX_FACTS = 4096
_MAX_FACT_BYTES = 256 * 1024
_MAX_BLOB = 1 << 20
_MAX_HOLDERS = 64
_NO_SIGNATURE = bytes(64)


def _facts(value: object, what: str) -> tuple[bytes, ...]:
    return tuple(
        read_bytes(item, what, max_size=_MAX_FACT_BYTES)
        for item in read_list(value, what, max_items=_MAX_FACTS)
    )


def _identifiers(value: object, what: str) -> tuple[int, ...]:
    items = tuple(
        read_uint(item, what, minimum=1, maximum=U16_MAX)
        for item in read_list(value, what, max_items=_MAX_HOLDERS)
    )
    if list(items) != sorted(set(items)):
        raise InvalidInput(f"{what} must be sorted with no repeats")
    return items


def _hash32(value: object, what: str) -> bytes:
    return read_bytes(value, what, size=32)


def sign_message(message: Any, sign: Any) -> Any:
    """``message`` with ``sig`` set by ``sign(domain, payload)`` (a holder's identity key)."""
    return attrs.evolve(message, signature=sign(signing_domain(message), signed_payload(message)))


def signature_valid(message: Any, public_key: bytes) -> bool:
    return identity_signature_valid(
        public_key, signing_domain(message), signed_payload(message), message.signature
    )


@attrs.frozen
class ConsensusFrame:
    """A consensus message (``aura_protocol.consensus``) between the account's devices."""

    TYPE: ClassVar[str] = "custody.consensus"
    payload: bytes

    def fields(self) -> dict[str, Any]:
        return {"b": self.payload}

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> Self:
        f = exact_fields(fields, cls.TYPE, ("b",))
        return cls(read_bytes(f["b"], "consensus payload", max_size=_MAX_BLOB))


@attrs.frozen
class EnrollmentRequest:
    """A new device asks to join ``account``; signed by its leaf key (proof of possession)."""

    TYPE: ClassVar[str] = "custody.enroll"
    account: AuthorityId
    profile: DeviceProfile
    requested_at_ms: int
    signature: bytes = _NO_SIGNATURE

    def fields(self) -> dict[str, Any]:
        return {
            "account": self.account.raw,
            "profile": self.profile.to_canonical(),
            "at": self.requested_at_ms,
            "sig": self.signature,
        }

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> Self:
        f = exact_fields(fields, cls.TYPE, ("account", "profile", "at", "sig"))
        return cls(
            read_authority(f["account"], "enrollment account"),
            DeviceProfile.from_canonical(f["profile"]),
            read_uint(f["at"], "enrollment time"),
            read_bytes(f["sig"], "enrollment signature", size=64),
        )

    def verify(self) -> bool:
        return signature_valid(self, self.profile.leaf_key)


@attrs.frozen
class TransferStart:
    """Coordinator to dealers and recipients: deal for this change (its authorization attached)."""

    TYPE: ClassVar[str] = "custody.start"
    change: bytes
    """The canonical bytes of the :class:`CustodyChange`."""
    kind: str
    """How the change was authorized: ``consensus``, ``single`` (1-of-1 account) or ``recovery``."""
    authorization: bytes
    coordinator: str
    dealers: tuple[int, ...]
    round: int
    journal: tuple[bytes, ...] = ()
    """The account journal's facts, for recipients that have none yet (a new device, a guardian)."""

    def fields(self) -> dict[str, Any]:
        return {
            "change": self.change,
            "kind": self.kind,
            "auth": self.authorization,
            "coordinator": self.coordinator,
            "dealers": list(self.dealers),
            "round": self.round,
            "journal": list(self.journal),
        }

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> Self:
        f = exact_fields(
            fields,
            cls.TYPE,
            ("change", "kind", "auth", "coordinator", "dealers", "round", "journal"),
        )
        return cls(
            read_bytes(f["change"], "change", max_size=64 * 1024),
            read_choice(f["kind"], "authorization kind", AUTHORIZATION_KINDS),
            read_bytes(f["auth"], "authorization", max_size=_MAX_BLOB),
            read_str(f["coordinator"], "coordinator address", min_length=1, max_length=256),
            _identifiers(f["dealers"], "dealers"),
            read_uint(f["round"], "round", minimum=1, maximum=U32_MAX),
            _facts(f["journal"], "journal facts"),
        )


@attrs.frozen
class ShareDeal:
    """A dealer's contribution: its reshare commitment and one sealed share per recipient."""

    TYPE: ClassVar[str] = "custody.deal"
    change_hash: bytes
    round: int
    dealer: int
    commitment: bytes
    """``aura_core.crypto.to_bytes`` of the dealer's ``ReshareCommitment``."""
    shares: tuple[tuple[int, bytes], ...]
    """(recipient, sealed ``ReshareShare``), sorted by recipient."""
    journal: tuple[bytes, ...] = ()
    """Guardians dealing in a recovery attach their copy of the account journal."""
    signature: bytes = _NO_SIGNATURE

    def fields(self) -> dict[str, Any]:
        return {
            "change": self.change_hash,
            "round": self.round,
            "dealer": self.dealer,
            "commitment": self.commitment,
            "shares": [[recipient, sealed] for recipient, sealed in self.shares],
            "journal": list(self.journal),
            "sig": self.signature,
        }

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> Self:
        f = exact_fields(
            fields,
            cls.TYPE,
            ("change", "round", "dealer", "commitment", "shares", "journal", "sig"),
        )
        shares = []
        for entry in read_list(f["shares"], "sealed shares", max_items=_MAX_HOLDERS):
            pair = read_list(entry, "sealed share", min_items=2, max_items=2)
            shares.append(
                (
                    read_uint(pair[0], "share recipient", minimum=1, maximum=U16_MAX),
                    read_bytes(pair[1], "sealed share", max_size=1024),
                )
            )
        if [r for r, _ in shares] != sorted({r for r, _ in shares}):
            raise InvalidInput("sealed shares must be sorted by recipient with no repeats")
        return cls(
            _hash32(f["change"], "change hash"),
            read_uint(f["round"], "round", minimum=1, maximum=U32_MAX),
            read_uint(f["dealer"], "dealer", minimum=1, maximum=U16_MAX),
            read_bytes(f["commitment"], "reshare commitment", max_size=64 * 1024),
            tuple(shares),
            _facts(f["journal"], "journal facts"),
            read_bytes(f["sig"], "deal signature", size=64),
        )


@attrs.frozen
class ShareReceived:
    """A recipient to the coordinator: my new share checks out; here is the public key package."""

    TYPE: ClassVar[str] = "custody.received"
    change_hash: bytes
    round: int
    holder: int
    package: bytes
    """``aura_core.crypto.to_bytes`` of the new ``PublicKeyPackage`` as this recipient computed it."""
    signature: bytes = _NO_SIGNATURE

    def fields(self) -> dict[str, Any]:
        return {
            "change": self.change_hash,
            "round": self.round,
            "holder": self.holder,
            "package": self.package,
            "sig": self.signature,
        }

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> Self:
        f = exact_fields(fields, cls.TYPE, ("change", "round", "holder", "package", "sig"))
        return cls(
            _hash32(f["change"], "change hash"),
            read_uint(f["round"], "round", minimum=1, maximum=U32_MAX),
            read_uint(f["holder"], "holder", minimum=1, maximum=U16_MAX),
            read_bytes(f["package"], "public key package", max_size=16 * 1024),
            read_bytes(f["sig"], "receipt signature", size=64),
        )


@attrs.frozen
class AttestRequest:
    """Coordinator to signers: the facts to sign, and every recipient's signed receipt."""

    TYPE: ClassVar[str] = "custody.attest"
    change_hash: bytes
    round: int
    facts: tuple[bytes, ...]
    """Unsigned facts (canonical bytes), in the order they apply."""
    signers: tuple[int, ...]
    receipts: tuple[bytes, ...]
    """Encoded :class:`ShareReceived` of every recipient."""
    journal: tuple[bytes, ...] = ()

    def fields(self) -> dict[str, Any]:
        return {
            "change": self.change_hash,
            "round": self.round,
            "facts": list(self.facts),
            "signers": list(self.signers),
            "receipts": list(self.receipts),
            "journal": list(self.journal),
        }

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> Self:
        f = exact_fields(
            fields, cls.TYPE, ("change", "round", "facts", "signers", "receipts", "journal")
        )
        return cls(
            _hash32(f["change"], "change hash"),
            read_uint(f["round"], "round", minimum=1, maximum=U32_MAX),
            _facts(f["facts"], "facts to sign"),
            _identifiers(f["signers"], "signers"),
            tuple(
                read_bytes(item, "receipt", max_size=32 * 1024)
                for item in read_list(f["receipts"], "receipts", max_items=_MAX_HOLDERS)
            ),
            _facts(f["journal"], "journal facts"),
        )


@attrs.frozen
class AttestCommitments:
    """A signer's FROST round-one commitments, one per fact (empty for a 1-of-1 key)."""

    TYPE: ClassVar[str] = "custody.commitments"
    change_hash: bytes
    round: int
    signer: int
    commitments: tuple[bytes, ...]

    def fields(self) -> dict[str, Any]:
        return {
            "change": self.change_hash,
            "round": self.round,
            "signer": self.signer,
            "commitments": list(self.commitments),
        }

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> Self:
        f = exact_fields(fields, cls.TYPE, ("change", "round", "signer", "commitments"))
        return cls(
            _hash32(f["change"], "change hash"),
            read_uint(f["round"], "round", minimum=1, maximum=U32_MAX),
            read_uint(f["signer"], "signer", minimum=1, maximum=U16_MAX),
            tuple(
                read_bytes(item, "signing commitments", max_size=512)
                for item in read_list(f["commitments"], "commitments", max_items=_MAX_FACTS)
            ),
        )


@attrs.frozen
class AttestSign:
    """Coordinator to signers: one FROST signing package per fact."""

    TYPE: ClassVar[str] = "custody.sign"
    change_hash: bytes
    round: int
    packages: tuple[bytes, ...]

    def fields(self) -> dict[str, Any]:
        return {"change": self.change_hash, "round": self.round, "packages": list(self.packages)}

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> Self:
        f = exact_fields(fields, cls.TYPE, ("change", "round", "packages"))
        return cls(
            _hash32(f["change"], "change hash"),
            read_uint(f["round"], "round", minimum=1, maximum=U32_MAX),
            tuple(
                read_bytes(item, "signing package", max_size=64 * 1024)
                for item in read_list(f["packages"], "signing packages", max_items=_MAX_FACTS)
            ),
        )


@attrs.frozen
class AttestShares:
    """A signer's signature shares, one per fact (plain signatures for a 1-of-1 key)."""

    TYPE: ClassVar[str] = "custody.shares"
    change_hash: bytes
    round: int
    signer: int
    shares: tuple[bytes, ...]

    def fields(self) -> dict[str, Any]:
        return {
            "change": self.change_hash,
            "round": self.round,
            "signer": self.signer,
            "shares": list(self.shares),
        }

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> Self:
        f = exact_fields(fields, cls.TYPE, ("change", "round", "signer", "shares"))
        return cls(
            _hash32(f["change"], "change hash"),
            read_uint(f["round"], "round", minimum=1, maximum=U32_MAX),
            read_uint(f["signer"], "signer", minimum=1, maximum=U16_MAX),
            tuple(
                read_bytes(item, "signature share", max_size=256)
                for item in read_list(f["shares"], "signature shares", max_items=_MAX_FACTS)
            ),
        )


@attrs.frozen
class ChangeComplete:
    """Coordinator to everyone involved: the signed facts; new shares take effect."""

    TYPE: ClassVar[str] = "custody.complete"
    change_hash: bytes
    facts: tuple[bytes, ...]

    def fields(self) -> dict[str, Any]:
        return {"change": self.change_hash, "facts": list(self.facts)}

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> Self:
        f = exact_fields(fields, cls.TYPE, ("change", "facts"))
        return cls(_hash32(f["change"], "change hash"), _facts(f["facts"], "signed facts"))


@attrs.frozen
class ChangeAborted:
    """Coordinator to everyone involved: the change failed; drop what it produced."""

    TYPE: ClassVar[str] = "custody.aborted"
    change_hash: bytes
    round: int
    reason: str

    def fields(self) -> dict[str, Any]:
        return {"change": self.change_hash, "round": self.round, "reason": self.reason}

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> Self:
        f = exact_fields(fields, cls.TYPE, ("change", "round", "reason"))
        return cls(
            _hash32(f["change"], "change hash"),
            read_uint(f["round"], "round", minimum=1, maximum=U32_MAX),
            read_str(f["reason"], "abort reason", max_length=512),
        )


CUSTODY_CODEC = MessageCodec(
    (
        ConsensusFrame,
        EnrollmentRequest,
        TransferStart,
        ShareDeal,
        ShareReceived,
        AttestRequest,
        AttestCommitments,
        AttestSign,
        AttestShares,
        ChangeComplete,
        ChangeAborted,
    )
)
"""Codec of every ``custody.*`` message."""
