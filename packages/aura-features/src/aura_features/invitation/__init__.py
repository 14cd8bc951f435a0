"""Invitations and contacts.

* codes (:class:`SignedInvite`, :meth:`SignedInvite.parse`): ``aura:v1:`` +
  base64url of a signed canonical invite; every malformed, tampered,
  truncated or wrong-version code is refused with an error naming why;
* facts (``invitation.*``, ``contact.*``) with their journal rules, and the
  views they reduce to: the authority's :class:`InvitationLedger`, the shared
  :class:`Relationship` of each context, :class:`Contact`;
* :class:`InvitationBook`: create / cancel / accept / decline / admit an
  acceptance / nickname / petname, over an authority's journals;
* reply paths (:class:`ReplyKeys`, :func:`seal_acceptance`,
  :func:`open_acceptance`): delivering an acceptance through a relay.

See ``docs/features-social.md``.
"""

from aura_features.invitation.contacts import Contact, contact_of, contacts_of
from aura_features.invitation.invitation_book import (
    ACCEPTANCE_GRACE_MS,
    DEFAULT_INVITATION_LIFETIME_S,
    Acceptance,
    InvitationBook,
)
from aura_features.invitation.invitation_errors import (
    InvalidInvitationCode,
    InvitationCancelled,
    InvitationExpired,
    InvitationForged,
    InvitationNotFound,
    InvitationReplayed,
)
from aura_features.invitation.invitation_facts import (
    ACCEPTED_TYPE_ID,
    ANSWERED_TYPE_ID,
    CANCELLED_TYPE_ID,
    ISSUED_TYPE_ID,
    PETNAME_TYPE_ID,
    PROFILE_TYPE_ID,
    REDEEMED_TYPE_ID,
    Answer,
    ContactPetname,
    ContactProfile,
    InvitationAccepted,
    InvitationAnswered,
    InvitationIssued,
    InvitationRedeemed,
    invitation_fact_types,
    relational_context_id,
    relational_context_secret,
)
from aura_features.invitation.invitation_facts import (
    InvitationCancelled as InvitationCancelledFact,
)
from aura_features.invitation.invitation_ledger import (
    CONTACT_PETNAMES,
    INVITATION_LEDGER,
    InvitationLedger,
    InvitationStatus,
    Petnames,
)
from aura_features.invitation.invitation_registry import register_invitations
from aura_features.invitation.invitation_reply import (
    ReplyKeys,
    open_acceptance,
    seal_acceptance,
)
from aura_features.invitation.invite_code import (
    CODE_PREFIX,
    INVITATION_VERSION,
    MAX_CODE_CHARS,
    InvitationId,
    Invite,
    InviteKind,
    ReplyPath,
    SignedInvite,
    sign_invite,
)
from aura_features.invitation.relationship import RELATIONSHIP, Relationship

OPERATION_CATEGORIES = {
    "invitation.create": "A",
    "invitation.cancel": "A",
    "invitation.decline": "A",
    "invitation.accept_contact": "B",
    "invitation.accept_guardian": "C",
    "invitation.accept_device": "C",
    "contact.set_nickname": "A",
    "contact.set_petname": "A",
}
"""Creating, cancelling and declining are local facts (A). A contact acceptance is pending
until the inviter admits it (B). Accepting a guardian or device invitation changes who
may act for the authority, which the commitment tree only does through consensus (C)."""

__all__ = [
    "ACCEPTANCE_GRACE_MS",
    "ACCEPTED_TYPE_ID",
    "ANSWERED_TYPE_ID",
    "CANCELLED_TYPE_ID",
    "CODE_PREFIX",
    "CONTACT_PETNAMES",
    "DEFAULT_INVITATION_LIFETIME_S",
    "INVITATION_LEDGER",
    "INVITATION_VERSION",
    "ISSUED_TYPE_ID",
    "MAX_CODE_CHARS",
    "OPERATION_CATEGORIES",
    "PETNAME_TYPE_ID",
    "PROFILE_TYPE_ID",
    "REDEEMED_TYPE_ID",
    "RELATIONSHIP",
    "Acceptance",
    "Answer",
    "Contact",
    "ContactPetname",
    "ContactProfile",
    "InvalidInvitationCode",
    "InvitationAccepted",
    "InvitationAnswered",
    "InvitationBook",
    "InvitationCancelled",
    "InvitationCancelledFact",
    "InvitationExpired",
    "InvitationForged",
    "InvitationId",
    "InvitationIssued",
    "InvitationLedger",
    "InvitationNotFound",
    "InvitationRedeemed",
    "InvitationReplayed",
    "InvitationStatus",
    "Invite",
    "InviteKind",
    "Petnames",
    "Relationship",
    "ReplyKeys",
    "ReplyPath",
    "SignedInvite",
    "contact_of",
    "contacts_of",
    "invitation_fact_types",
    "open_acceptance",
    "register_invitations",
    "relational_context_id",
    "relational_context_secret",
    "seal_acceptance",
    "sign_invite",
]
