"""The facts of invitations and contacts, and the rules a journal applies to them.

Authority journal (one authority's own record, signed by its key):

* ``invitation.issued`` — the inviter made an invitation (the signed invite);
* ``invitation.cancelled`` — the inviter withdrew it;
* ``invitation.redeemed`` — the inviter admitted an acceptance (a code works once);
* ``invitation.answered`` — the invitee accepted or declined (so a code is
  never answered twice);
* ``contact.petname`` — a private name for a contact.

Context journal (the relational context the two authorities share):

* ``invitation.accepted`` — the first fact of the context: the signed invite,
  the invitee, its key, its seed, its nickname, signed by the invitee. The
  context id is derived from both sides' contributions (see
  :func:`relational_context_id`), and the journal checks that it is the one
  the fact lives in;
* ``contact.profile`` — how an authority wants to be called in the context,
  signed with the key the acceptance pinned for it.

Every fact carries a threshold attestation by the authority's key (a 1-of-1
key or a FROST group signature).
"""

from __future__ import annotations

import enum
from typing import Any, ClassVar

import attrs
import nacl.bindings

from aura_core.canonical_fields import (
    as_encoding_error,
    read_authority,
    read_bytes,
    read_choice,
    read_context,
    read_map,
    read_text,
)
from aura_core.errors import InvalidEncoding, InvalidInput, ValidationError
from aura_core.hashing import kdf
from aura_core.identifiers import AuthorityId, ContextId
from aura_core.time_domains import PhysicalTime
from aura_features.invitation.invite_code import (
    MAX_NICKNAME_CHARS,
    SEED_BYTES,
    InvitationId,
    SignedInvite,
)
from aura_features.rendezvous.member_keys import member_key
from aura_journal.attestation import ThresholdAttestation
from aura_journal.errors import AttestationInvalid, MissingDependency
from aura_journal.fact_registry import FactType
from aura_journal.facts import Fact
from aura_journal.journal import Journal
from aura_journal.namespace import JournalNamespace

__all__ = [
    "ACCEPTED_TYPE_ID",
    "ANSWERED_TYPE_ID",
    "CANCELLED_TYPE_ID",
    "CONTEXT_SECRET_KDF",
    "ISSUED_TYPE_ID",
    "PETNAME_TYPE_ID",
    "PROFILE_TYPE_ID",
    "REDEEMED_TYPE_ID",
    "Answer",
    "ContactPetname",
    "ContactProfile",
    "InvitationAccepted",
    "InvitationAnswered",
    "InvitationCancelled",
    "InvitationIssued",
    "InvitationRedeemed",
    "invitation_fact_types",
    "relational_context_id",
    "relational_context_secret",
]

ISSUED_TYPE_ID = "invitation.issued"
CANCELLED_TYPE_ID = "invitation.cancelled"
REDEEMED_TYPE_ID = "invitation.redeemed"
ANSWERED_TYPE_ID = "invitation.answered"
ACCEPTED_TYPE_ID = "invitation.accepted"
PROFILE_TYPE_ID = "contact.profile"
PETNAME_TYPE_ID = "contact.petname"
CONTEXT_SECRET_KDF = "AURA_RELATIONAL_CONTEXT_SECRET_V1"
_LEDGER_VIEW = "invitation_ledger"


def relational_context_id(
    invitation: InvitationId,
    inviter: AuthorityId,
    invitee: AuthorityId,
    inviter_seed: bytes,
    invitee_seed: bytes,
) -> ContextId:
    """The id of the context an accepted invitation creates: both sides' seeds, both ids."""
    return ContextId.derive(
        "relational-context",
        invitation.raw,
        inviter.raw,
        invitee.raw,
        inviter_seed,
        invitee_seed,
    )


def relational_context_secret(
    context: ContextId, inviter_seed: bytes, invitee_seed: bytes
) -> bytes:
    """A secret only the two parties hold: the invitee's seed never leaves the context.

    It keys what must stay between members (the Noise PSK of the context's
    channels). The inviter's seed is in the code, so anyone who saw the code
    knows half; the invitee's half travels only sealed, inside the context.
    """
    material = b"".join(
        (context.raw, len(inviter_seed).to_bytes(2, "big"), inviter_seed, invitee_seed)
    )
    return kdf(CONTEXT_SECRET_KDF, material, 32)


def _invitation_id(value: object, what: str) -> InvitationId:
    return InvitationId(read_bytes(value, what, size=32))


def _valid_key(value: object, what: str) -> bytes:
    key = read_bytes(value, what, size=32)
    if not nacl.bindings.crypto_core_ed25519_is_valid_point(key):
        raise InvalidEncoding(f"{what} is not a valid Ed25519 public key")
    return key


def _optional_nickname(value: object, what: str) -> str | None:
    if value is None:
        return None
    return read_text(value, what, max_length=MAX_NICKNAME_CHARS, min_length=1)


def _check_nickname(value: object, what: str, *, allow_empty: bool = False) -> None:
    if value is None and not allow_empty:
        return
    if type(value) is not str or len(value) > MAX_NICKNAME_CHARS or (not value and not allow_empty):
        raise InvalidInput(f"{what} must be 1..{MAX_NICKNAME_CHARS} characters")
    if any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in value):
        raise InvalidInput(f"{what} contains control characters")


# --------------------------------------------------------------------------- authority journal


@attrs.frozen
class InvitationIssued:
    """The inviter issued ``invite`` (kept so acceptances can be checked against it)."""

    TYPE_ID: ClassVar[str] = ISSUED_TYPE_ID
    invite: SignedInvite

    def to_canonical(self) -> dict[str, Any]:
        return {"invite": self.invite.to_canonical()}

    @classmethod
    def from_canonical(cls, value: Any) -> InvitationIssued:
        fields = read_map(value, "invitation.issued", ("invite",))
        return cls(SignedInvite.from_canonical(fields["invite"]))


@attrs.frozen
class InvitationCancelled:
    """The inviter withdrew invitation ``invitation``."""

    TYPE_ID: ClassVar[str] = CANCELLED_TYPE_ID
    invitation: InvitationId

    def to_canonical(self) -> dict[str, Any]:
        return {"id": self.invitation.raw}

    @classmethod
    def from_canonical(cls, value: Any) -> InvitationCancelled:
        fields = read_map(value, "invitation.cancelled", ("id",))
        return cls(_invitation_id(fields["id"], "cancelled invitation id"))


@attrs.frozen
class InvitationRedeemed:
    """The inviter admitted ``invitee``'s acceptance, creating ``context``."""

    TYPE_ID: ClassVar[str] = REDEEMED_TYPE_ID
    invitation: InvitationId
    invitee: AuthorityId
    context: ContextId

    def to_canonical(self) -> dict[str, Any]:
        return {"id": self.invitation.raw, "invitee": self.invitee.raw, "ctx": self.context.raw}

    @classmethod
    def from_canonical(cls, value: Any) -> InvitationRedeemed:
        fields = read_map(value, "invitation.redeemed", ("id", "invitee", "ctx"))
        return cls(
            _invitation_id(fields["id"], "redeemed invitation id"),
            read_authority(fields["invitee"], "invitee"),
            read_context(fields["ctx"], "redeemed context"),
        )


class Answer(enum.StrEnum):
    ACCEPTED = "accepted"
    DECLINED = "declined"


@attrs.frozen
class InvitationAnswered:
    """The invitee answered invitation ``invitation`` from ``inviter`` (``context`` if accepted)."""

    TYPE_ID: ClassVar[str] = ANSWERED_TYPE_ID
    invitation: InvitationId
    inviter: AuthorityId
    answer: Answer = attrs.field(converter=Answer)
    context: ContextId | None = None

    def __attrs_post_init__(self) -> None:
        if (self.answer is Answer.ACCEPTED) != (self.context is not None):
            raise InvalidInput("an accepted invitation names its context; a declined one does not")

    def to_canonical(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "id": self.invitation.raw,
            "inviter": self.inviter.raw,
            "answer": self.answer.value,
        }
        if self.context is not None:
            value["ctx"] = self.context.raw
        return value

    @classmethod
    def from_canonical(cls, value: Any) -> InvitationAnswered:
        fields = read_map(value, "invitation.answered", ("id", "inviter", "answer"), ("ctx",))
        context = fields.get("ctx")
        try:
            return cls(
                _invitation_id(fields["id"], "answered invitation id"),
                read_authority(fields["inviter"], "inviter"),
                read_choice(fields["answer"], "answer", [a.value for a in Answer]),
                None if context is None else read_context(context, "accepted context"),
            )
        except InvalidEncoding:
            raise
        except InvalidInput as exc:
            raise as_encoding_error("invitation.answered", exc) from None


@attrs.frozen
class ContactPetname:
    """A private name for ``contact`` (empty: clear it)."""

    TYPE_ID: ClassVar[str] = PETNAME_TYPE_ID
    contact: AuthorityId
    petname: str

    def __attrs_post_init__(self) -> None:
        _check_nickname(self.petname, "petname", allow_empty=True)

    def to_canonical(self) -> dict[str, Any]:
        return {"contact": self.contact.raw, "name": self.petname}

    @classmethod
    def from_canonical(cls, value: Any) -> ContactPetname:
        fields = read_map(value, "contact.petname", ("contact", "name"))
        return cls(
            read_authority(fields["contact"], "petname contact"),
            read_text(fields["name"], "petname", max_length=MAX_NICKNAME_CHARS),
        )


# --------------------------------------------------------------------------- context journal


@attrs.frozen
class InvitationAccepted:
    """The founding fact of a relational context: the invitation and the invitee's half."""

    TYPE_ID: ClassVar[str] = ACCEPTED_TYPE_ID
    invite: SignedInvite
    invitee: AuthorityId
    invitee_key: bytes = attrs.field(repr=lambda k: k.hex()[:16] + "…")
    invitee_seed: bytes = attrs.field(repr=False)
    nickname: str | None = None

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.invite, SignedInvite) or not isinstance(self.invitee, AuthorityId):
            raise InvalidInput(
                "InvitationAccepted needs a SignedInvite and the invitee's AuthorityId"
            )
        if type(self.invitee_key) is not bytes or len(self.invitee_key) != 32:
            raise InvalidInput("invitee_key must be a 32-byte Ed25519 key")
        if type(self.invitee_seed) is not bytes or len(self.invitee_seed) != SEED_BYTES:
            raise InvalidInput(f"invitee_seed must be {SEED_BYTES} bytes")
        _check_nickname(self.nickname, "invitee nickname")
        if self.invitee == self.invite.invite.inviter:
            raise InvalidInput("an authority cannot accept its own invitation")

    @property
    def invitation(self) -> InvitationId:
        return self.invite.invitation_id

    @property
    def inviter(self) -> AuthorityId:
        return self.invite.invite.inviter

    @property
    def context(self) -> ContextId:
        invite = self.invite.invite
        return relational_context_id(
            self.invitation, invite.inviter, self.invitee, invite.context_seed, self.invitee_seed
        )

    def context_secret(self) -> bytes:
        return relational_context_secret(
            self.context, self.invite.invite.context_seed, self.invitee_seed
        )

    def to_canonical(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "invite": self.invite.to_canonical(),
            "invitee": self.invitee.raw,
            "key": self.invitee_key,
            "seed": self.invitee_seed,
        }
        if self.nickname is not None:
            value["nick"] = self.nickname
        return value

    @classmethod
    def from_canonical(cls, value: Any) -> InvitationAccepted:
        fields = read_map(
            value, "invitation.accepted", ("invite", "invitee", "key", "seed"), ("nick",)
        )
        try:
            return cls(
                SignedInvite.from_canonical(fields["invite"]),
                read_authority(fields["invitee"], "invitee"),
                _valid_key(fields["key"], "invitee key"),
                read_bytes(fields["seed"], "invitee seed", size=SEED_BYTES),
                _optional_nickname(fields.get("nick"), "invitee nickname"),
            )
        except InvalidEncoding:
            raise
        except InvalidInput as exc:
            raise as_encoding_error("invitation.accepted", exc) from None


@attrs.frozen
class ContactProfile:
    """How ``authority`` wants to be called in this context."""

    TYPE_ID: ClassVar[str] = PROFILE_TYPE_ID
    authority: AuthorityId
    nickname: str

    def __attrs_post_init__(self) -> None:
        _check_nickname(self.nickname, "nickname")

    def to_canonical(self) -> dict[str, Any]:
        return {"authority": self.authority.raw, "nick": self.nickname}

    @classmethod
    def from_canonical(cls, value: Any) -> ContactProfile:
        fields = read_map(value, "contact.profile", ("authority", "nick"))
        return cls(
            read_authority(fields["authority"], "profile authority"),
            read_text(fields["nick"], "nickname", max_length=MAX_NICKNAME_CHARS, min_length=1),
        )


# --------------------------------------------------------------------------- rules


def _signing_key(fact: Fact) -> bytes:
    attestation = fact.attestation
    if not isinstance(attestation, ThresholdAttestation):  # pragma: no cover - types demand it
        raise ValidationError(f"{fact.type_id} must be signed by an authority key")
    return attestation.group_public_key


def _validate_issued(fact: Fact, body: InvitationIssued, namespace: JournalNamespace) -> None:
    invite = body.invite.invite
    if namespace.owner != invite.inviter:
        raise ValidationError(f"{invite.inviter}'s invitation does not belong in {namespace}")
    if _signing_key(fact) != invite.inviter_key:
        raise AttestationInvalid("an issued invitation must be recorded under the inviter's key")


def _issued(journal: Journal, invitation: InvitationId) -> SignedInvite | None:
    """The issued invitation, from the ledger view (``invitation_ledger``, registered alongside)."""
    ledger = journal.state(_LEDGER_VIEW)
    return ledger.issued(invitation)  # type: ignore[no-any-return]


def _admit_cancelled(journal: Journal, fact: Fact, body: InvitationCancelled) -> None:
    signed = _issued(journal, body.invitation)
    if signed is None:
        raise MissingDependency(f"{body.invitation} was never issued by {journal.namespace}")
    if _signing_key(fact) != signed.invite.inviter_key:
        raise AttestationInvalid("only the inviter's key can cancel its invitation")


def _admit_redeemed(journal: Journal, fact: Fact, body: InvitationRedeemed) -> None:
    signed = _issued(journal, body.invitation)
    if signed is None:
        raise MissingDependency(f"{body.invitation} was never issued by {journal.namespace}")
    if _signing_key(fact) != signed.invite.inviter_key:
        raise AttestationInvalid("only the inviter's key can record a redemption")


def _validate_answered(fact: Fact, body: InvitationAnswered, namespace: JournalNamespace) -> None:
    if namespace.owner == body.inviter:
        raise ValidationError("an authority does not answer its own invitation")


def _validate_accepted(fact: Fact, body: InvitationAccepted, namespace: JournalNamespace) -> None:
    if namespace.owner != body.context:
        raise ValidationError(
            f"this acceptance founds {body.context}, not {namespace.owner}: the context id must "
            "be derived from both sides' seeds"
        )
    if _signing_key(fact) != body.invitee_key:
        raise AttestationInvalid("an acceptance must be signed by the invitee's key it names")
    timestamp = fact.metadata.timestamp
    if isinstance(timestamp, PhysicalTime) and timestamp.ts_ms >= body.invite.invite.expires_ms:
        raise ValidationError("the acceptance is dated after the invitation expired")


def _admit_profile(journal: Journal, fact: Fact, body: ContactProfile) -> None:
    known = member_key(journal, body.authority)
    if known is None:
        raise MissingDependency(
            f"{body.authority} is not (yet) known as a member of {journal.namespace}"
        )
    if _signing_key(fact) != known:
        raise AttestationInvalid(
            f"a profile of {body.authority} must be signed with its key in {journal.namespace}"
        )


def invitation_fact_types() -> tuple[FactType, ...]:
    """Every invitation and contact fact type, with its rules."""
    signed = frozenset({"threshold"})
    authority = frozenset({"authority"})
    context = frozenset({"context"})
    return (
        FactType.for_body(
            InvitationIssued, attestations=signed, namespaces=authority, validate=_validate_issued
        ),
        FactType.for_body(
            InvitationCancelled, attestations=signed, namespaces=authority, admit=_admit_cancelled
        ),
        FactType.for_body(
            InvitationRedeemed, attestations=signed, namespaces=authority, admit=_admit_redeemed
        ),
        FactType.for_body(
            InvitationAnswered,
            attestations=signed,
            namespaces=authority,
            validate=_validate_answered,
        ),
        FactType.for_body(ContactPetname, attestations=signed, namespaces=authority),
        FactType.for_body(
            InvitationAccepted, attestations=signed, namespaces=context, validate=_validate_accepted
        ),
        FactType.for_body(
            ContactProfile, attestations=signed, namespaces=context, admit=_admit_profile
        ),
    )
