"""One authority's invitations and contacts: the operations, over its journals.

:class:`InvitationBook` holds the authority's own journal and one journal per
relational context it is in, and turns user intentions into signed facts:
create, cancel, accept, decline, admit an acceptance, set a nickname or a
petname. Every check happens before anything is written, so a refused code
leaves every journal as it was. The book keeps journals in memory; the agent
persists the facts each operation returns and syncs the context journals
with the peer.

The exchange, end to end::

    inviter: code = book.create(...).code()            # invitation.issued
    invitee: acceptance = book.accept(code)            # invitation.answered + new context
             ... acceptance.fact travels to the inviter (sealed, via its reply path)
    inviter: book.admit_acceptance(acceptance.fact)    # invitation.redeemed + same context

Both sides now hold the same context journal, so their contact views agree.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from aura_core.effects import OrderClockEffects, PhysicalTimeEffects, RandomEffects
from aura_core.errors import InvalidInput, ValidationError
from aura_core.identifiers import AuthorityId, ContextId
from aura_features.ed25519_signer import Ed25519Signer, attest_fact
from aura_features.invitation.contacts import Contact, contact_of, contacts_of
from aura_features.invitation.invitation_errors import (
    InvitationCancelled,
    InvitationExpired,
    InvitationNotFound,
    InvitationReplayed,
)
from aura_features.invitation.invitation_facts import (
    ACCEPTED_TYPE_ID,
    Answer,
    ContactPetname,
    ContactProfile,
    InvitationAccepted,
    InvitationAnswered,
    InvitationIssued,
    InvitationRedeemed,
)
from aura_features.invitation.invitation_facts import (
    InvitationCancelled as CancelledFact,
)
from aura_features.invitation.invitation_ledger import (
    CONTACT_PETNAMES,
    INVITATION_LEDGER,
    InvitationLedger,
    InvitationStatus,
)
from aura_features.invitation.invite_code import (
    NONCE_BYTES,
    SEED_BYTES,
    InvitationId,
    Invite,
    InviteKind,
    ReplyPath,
    SignedInvite,
    sign_invite,
)
from aura_features.invitation.relationship import RELATIONSHIP, Relationship
from aura_journal.fact_registry import FactRegistry
from aura_journal.facts import Fact, FactBody, FactMetadata
from aura_journal.journal import Journal
from aura_journal.namespace import JournalNamespace

__all__ = [
    "ACCEPTANCE_GRACE_MS",
    "DEFAULT_INVITATION_LIFETIME_S",
    "Acceptance",
    "InvitationBook",
]

DEFAULT_INVITATION_LIFETIME_S = 7 * 24 * 3600
ACCEPTANCE_GRACE_MS = 24 * 3600 * 1000
"""How long after expiry an acceptance made *before* expiry is still admitted (it may have
waited in a relay mailbox). Acceptances dated after expiry are always refused."""


@attrs.frozen
class Acceptance:
    """What accepting produced: the new context and the fact to deliver to the inviter."""

    context: ContextId
    invitation: InvitationId
    inviter: AuthorityId
    fact: Fact


class InvitationBook:
    """Invitations and contacts of ``authority``, signing with ``signer`` (its key)."""

    def __init__(
        self,
        authority: AuthorityId,
        signer: Ed25519Signer,
        journal: Journal,
        *,
        random: RandomEffects,
        time: PhysicalTimeEffects,
        order_clock: OrderClockEffects,
        relationships: Mapping[ContextId, Journal] | None = None,
    ) -> None:
        if not isinstance(authority, AuthorityId):
            raise InvalidInput("an invitation book belongs to an AuthorityId")
        if not isinstance(journal, Journal) or journal.namespace != JournalNamespace.authority(
            authority
        ):
            raise InvalidInput(f"the book needs the authority journal of {authority}")
        for view in (INVITATION_LEDGER.name, CONTACT_PETNAMES.name, RELATIONSHIP.name):
            journal.registry.reducer(view)  # raises unless the invitation types are registered
        self._authority = authority
        self._signer = signer
        self._journal = journal
        self._registry: FactRegistry = journal.registry
        self._random = random
        self._time = time
        self._order_clock = order_clock
        self._relationships: dict[ContextId, Journal] = dict(relationships or {})

    # ------------------------------------------------------------------ reading

    @property
    def authority(self) -> AuthorityId:
        return self._authority

    @property
    def journal(self) -> Journal:
        return self._journal

    @property
    def ledger(self) -> InvitationLedger:
        return self._journal.state(INVITATION_LEDGER.name)  # type: ignore[no-any-return]

    @property
    def relationships(self) -> Mapping[ContextId, Journal]:
        return dict(self._relationships)

    def relationship(self, context: ContextId) -> Relationship:
        journal = self._relationships.get(context)
        if journal is None:
            raise InvitationNotFound(f"{self._authority} has no relationship in {context}")
        return journal.state(RELATIONSHIP.name)  # type: ignore[no-any-return]

    def status(self, invitation: InvitationId) -> InvitationStatus:
        status = self.ledger.status(invitation, self._now_ms())
        if status is None:
            raise InvitationNotFound(f"{self._authority} never issued {invitation}")
        return status

    def contacts(self) -> tuple[Contact, ...]:
        petnames = self._journal.state(CONTACT_PETNAMES.name)
        return contacts_of(
            self._authority,
            (journal.state(RELATIONSHIP.name) for journal in self._relationships.values()),
            petnames,
        )

    def contact(self, context: ContextId) -> Contact:
        found = contact_of(
            self._authority, self.relationship(context), self._journal.state(CONTACT_PETNAMES.name)
        )
        if found is None:
            raise InvitationNotFound(f"no established contact in {context}")
        return found

    # ------------------------------------------------------------------ inviter

    def create(
        self,
        kind: InviteKind = InviteKind.CONTACT,
        *,
        valid_for_s: int = DEFAULT_INVITATION_LIFETIME_S,
        nickname: str | None = None,
        message: str | None = None,
        reply: ReplyPath | None = None,
        nonce: bytes | None = None,
    ) -> SignedInvite:
        """Issue an invitation (``invitation.issued``); share ``result.code()`` with the invitee."""
        if type(valid_for_s) is not int or valid_for_s <= 0:
            raise InvalidInput("valid_for_s must be a positive number of seconds")
        invite = Invite(
            kind=InviteKind(kind),
            inviter=self._authority,
            inviter_key=self._signer.public_key,
            context_seed=self._random.random_bytes(SEED_BYTES),
            nonce=self._random.random_bytes(NONCE_BYTES) if nonce is None else nonce,
            expires_ms=self._now_ms() + valid_for_s * 1000,
            nickname=nickname,
            message=message,
            reply=reply,
        )
        signed = sign_invite(invite, self._signer)
        self._record(self._journal, InvitationIssued(signed))
        return signed

    def cancel(self, invitation: InvitationId) -> Fact:
        """Withdraw an open invitation; a later acceptance of it is refused."""
        ledger = self.ledger
        if ledger.issued(invitation) is None:
            raise InvitationNotFound(f"{self._authority} never issued {invitation}")
        redeemed = ledger.redemption(invitation)
        if redeemed is not None:
            raise InvitationReplayed(
                f"{invitation} was already accepted by {redeemed.invitee}; it can no longer be cancelled"
            )
        return self._record(self._journal, CancelledFact(invitation))

    def admit_acceptance(self, acceptance: Fact | bytes) -> ContextId:
        """Check an invitee's acceptance of one of our invitations and join the new context.

        Refused (nothing written) if the invitation is not ours, was
        cancelled, has expired, or was already used by someone else.
        Admitting the same acceptance again is harmless and returns its context.
        """
        fact = Fact.decode(acceptance) if isinstance(acceptance, bytes | bytearray) else acceptance
        if not isinstance(fact, Fact) or fact.type_id != ACCEPTED_TYPE_ID:
            raise InvalidInput(f"expected an {ACCEPTED_TYPE_ID} fact")
        body: InvitationAccepted = self._registry.body(fact)
        invitation = body.invitation
        ledger = self.ledger
        issued = ledger.issued(invitation)
        if issued is None or body.inviter != self._authority:
            raise InvitationNotFound(
                f"{invitation} was not issued by {self._authority}; the acceptance is not for us"
            )
        if issued != body.invite:
            raise ValidationError(
                "the acceptance carries a different invitation than the one issued"
            )
        redeemed = ledger.redemption(invitation)
        if redeemed is not None:
            if redeemed.context == body.context and body.context in self._relationships:
                self._relationships[body.context].add(fact)
                return body.context
            raise InvitationReplayed(
                f"{invitation} was already accepted by {redeemed.invitee}; a code works once"
            )
        if ledger.is_cancelled(invitation):
            raise InvitationCancelled(f"{invitation} was cancelled; the acceptance is refused")
        if self._now_ms() >= issued.invite.expires_ms + ACCEPTANCE_GRACE_MS:
            raise InvitationExpired(f"{invitation} expired before its acceptance arrived")
        context = body.context
        journal = Journal(JournalNamespace.context(context), self._registry)
        journal.add(fact)  # every rule of the acceptance: signatures, context id, dating
        self._record(self._journal, InvitationRedeemed(invitation, body.invitee, context))
        self._relationships[context] = journal
        return context

    # ------------------------------------------------------------------ invitee

    def accept(self, code: str | SignedInvite, *, nickname: str | None = None) -> Acceptance:
        """Accept an invitation: create the relational context and the fact for the inviter."""
        signed = self._check_answerable(code)
        body = InvitationAccepted(
            signed,
            self._authority,
            self._signer.public_key,
            self._random.random_bytes(SEED_BYTES),
            nickname,
        )
        context = body.context
        journal = Journal(JournalNamespace.context(context), self._registry)
        fact = self._record(journal, body)
        invite = signed.invite
        self._record(
            self._journal,
            InvitationAnswered(signed.invitation_id, invite.inviter, Answer.ACCEPTED, context),
        )
        self._relationships[context] = journal
        return Acceptance(context, signed.invitation_id, invite.inviter, fact)

    def decline(self, code: str | SignedInvite) -> Fact:
        """Decline an invitation; the same code cannot be accepted afterwards."""
        signed = self._check_answerable(code)
        return self._record(
            self._journal,
            InvitationAnswered(signed.invitation_id, signed.invite.inviter, Answer.DECLINED),
        )

    def _check_answerable(self, code: str | SignedInvite) -> SignedInvite:
        signed = SignedInvite.parse(code) if isinstance(code, str) else code
        if not isinstance(signed, SignedInvite):
            raise InvalidInput("expected an invitation code or a SignedInvite")
        signed.verify()
        invite = signed.invite
        if invite.inviter == self._authority:
            raise InvalidInput("this is our own invitation; it is for someone else to accept")
        if invite.is_expired(self._now_ms()):
            raise InvitationExpired(
                f"the invitation from {invite.inviter} has expired; ask for a new one"
            )
        previous = self.ledger.answer(signed.invitation_id)
        if previous is not None:
            raise InvitationReplayed(
                f"this invitation from {invite.inviter} was already {previous.answer.value}; "
                "a code works once"
            )
        return signed

    # ------------------------------------------------------------------ names

    def set_nickname(self, context: ContextId, nickname: str) -> Fact:
        """How this authority wants to be called in ``context`` (``contact.profile``)."""
        if context not in self._relationships:
            raise InvitationNotFound(f"{self._authority} has no relationship in {context}")
        return self._record(self._relationships[context], ContactProfile(self._authority, nickname))

    def set_petname(self, contact: AuthorityId, petname: str) -> Fact:
        """A private name for ``contact`` (empty clears it); only this authority sees it."""
        return self._record(self._journal, ContactPetname(contact, petname))

    def add_context_fact(self, context: ContextId, fact: Fact | bytes) -> bool:
        """Merge a fact the peer wrote in a shared context (after sync); checked by every rule."""
        journal = self._relationships.get(context)
        if journal is None:
            raise InvitationNotFound(f"{self._authority} has no relationship in {context}")
        incoming = Fact.decode(fact) if isinstance(fact, bytes | bytearray) else fact
        return journal.add(incoming)

    # ------------------------------------------------------------------ plumbing

    def _now_ms(self) -> int:
        return self._time.now().ts_ms

    def _record(self, journal: Journal, body: FactBody) -> Fact:
        metadata = FactMetadata(self._order_clock.next_order(), self._time.now())
        fact = attest_fact(Fact.create(body, metadata), journal.namespace, self._signer)
        journal.add(fact)
        return fact
