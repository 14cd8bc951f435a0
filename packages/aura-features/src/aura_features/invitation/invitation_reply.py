"""Getting an acceptance back to the inviter before the two share anything: the reply path.

The inviter names, in the invite, an X25519 sealing key, a mailbox tag and
relays. Both keys are derived by DKD from the inviter's root key and the
invitation nonce, so each invitation has its own mailbox and nothing links two
invitations of one authority at a relay. The invitee seals the acceptance fact
to that key (signed with its own key, which the acceptance pins) and deposits
it; the inviter fetches with the mailbox key, opens, and admits it.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import nacl.bindings

from aura_core.effects import CryptoEffects
from aura_core.errors import CryptoError, InvalidInput
from aura_core.hashing import derive_context_key
from aura_core.identifiers import AuthorityId, ContextId
from aura_features.ed25519_signer import Ed25519Signer
from aura_features.invitation.invitation_book import Acceptance
from aura_features.invitation.invitation_facts import ACCEPTED_TYPE_ID, InvitationAccepted
from aura_features.invitation.invite_code import ReplyPath, SignedInvite
from aura_features.rendezvous.mailbox import MailboxKey
from aura_features.rendezvous.relay_hint import RelayHint
from aura_features.rendezvous.sealed_envelope import SealedEnvelope, open_envelope, seal_envelope
from aura_journal.facts import Fact

__all__ = ["REPLY_SEAL_PURPOSE", "ReplyKeys", "open_acceptance", "seal_acceptance"]

REPLY_SEAL_PURPOSE = "invitation-reply-seal-x25519"


def _reply_context(nonce: bytes) -> ContextId:
    return ContextId.derive("invitation-reply", nonce)


@attrs.frozen(repr=False)
class ReplyKeys:
    """The inviter's secrets for one invitation's reply path."""

    mailbox: MailboxKey
    seal_private: bytes

    @classmethod
    def derive(cls, root_key: bytes, *, authority: AuthorityId, nonce: bytes) -> ReplyKeys:
        if type(nonce) is not bytes or len(nonce) != 16:
            raise InvalidInput("the invitation nonce is 16 bytes")
        context = _reply_context(nonce)
        seal = derive_context_key(
            root_key,
            authority=authority.raw,
            context=context.raw,
            epoch=0,
            purpose=REPLY_SEAL_PURPOSE,
        )
        return cls(MailboxKey.derive(root_key, authority=authority, context=context), seal)

    @property
    def seal_public(self) -> bytes:
        return nacl.bindings.crypto_scalarmult_base(self.seal_private)

    def path(self, relays: Sequence[RelayHint]) -> ReplyPath:
        """What to put in the invite's ``reply``."""
        return ReplyPath(self.seal_public, self.mailbox.tag, tuple(relays))

    def __repr__(self) -> str:
        return f"ReplyKeys(<secret>, mailbox={self.mailbox.tag})"


def seal_acceptance(
    crypto: CryptoEffects, acceptance: Acceptance, invite: SignedInvite, signer: Ed25519Signer
) -> SealedEnvelope:
    """The acceptance, sealed for the inviter's reply path (the invite must have one)."""
    reply = invite.invite.reply
    if reply is None:
        raise InvalidInput("this invitation names no reply path; deliver the acceptance directly")
    if acceptance.invitation != invite.invitation_id:
        raise InvalidInput("the acceptance answers another invitation")
    return seal_envelope(
        crypto,
        recipient_seal_key=reply.seal_key,
        tag=reply.mailbox,
        context=acceptance.context,
        sender=_invitee(acceptance),
        signer=signer,
        body=acceptance.fact.encode(),
    )


def _invitee(acceptance: Acceptance) -> AuthorityId:
    body = acceptance.fact.cached_body
    if not isinstance(body, InvitationAccepted):
        raise InvalidInput("the acceptance fact has no decoded body")
    return body.invitee


def open_acceptance(crypto: CryptoEffects, keys: ReplyKeys, envelope: SealedEnvelope) -> Fact:
    """Open a reply envelope and return the acceptance fact inside (not yet admitted).

    The envelope must be signed by the very key the acceptance pins for the
    invitee, and name the context the acceptance founds.
    """
    opened = open_envelope(crypto, seal_private_key=keys.seal_private, envelope=envelope)
    fact = Fact.decode(opened.body)
    if fact.type_id != ACCEPTED_TYPE_ID:
        raise InvalidInput(f"the reply holds a {fact.type_id} fact, not an acceptance")
    body = InvitationAccepted.from_canonical(fact.payload_value())
    if opened.sender != body.invitee or opened.sender_key != body.invitee_key:
        raise CryptoError("the reply is not signed by the invitee the acceptance names")
    if opened.context != body.context:
        raise CryptoError("the reply names another context than the acceptance founds")
    return fact
