"""Contacts: what one authority sees of the relationships it is in.

A contact is a reduction, never stored: the relationship view of the shared
context (who, which key, the name the contact chose) plus this authority's
private petname for it, if any. Both parties compute theirs from the same
context facts, so A's view of B and B's view of A name the same context,
kind and keys.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from aura_core.identifiers import AuthorityId, ContextId
from aura_features.invitation.invitation_ledger import Petnames
from aura_features.invitation.invite_code import InviteKind
from aura_features.invitation.relationship import Relationship

__all__ = ["Contact", "contact_of", "contacts_of"]


@attrs.frozen
class Contact:
    """One relationship seen from ``me``'s side."""

    peer: AuthorityId
    context: ContextId
    kind: InviteKind
    peer_key: bytes = attrs.field(repr=lambda k: k.hex()[:16] + "…")
    nickname: str | None
    """The name to show: my petname for the peer, else the name the peer chose."""
    chosen_name: str | None
    """The name the peer chose for itself in this context."""
    invited_by_me: bool


def contact_of(
    me: AuthorityId, relationship: Relationship, petnames: Petnames | None = None
) -> Contact | None:
    """``me``'s contact in ``relationship`` (``None`` if not established or ``me`` is no party)."""
    founding = relationship.founding
    if founding is None:
        return None
    peer = relationship.peer_of(me)
    if peer is None:
        return None
    key = relationship.member_key(peer)
    assert key is not None
    chosen = relationship.nickname(peer)
    petname = petnames.get(peer) if petnames is not None else None
    return Contact(
        peer=peer,
        context=founding.context,
        kind=founding.invite.invite.kind,
        peer_key=key,
        nickname=petname if petname is not None else chosen,
        chosen_name=chosen,
        invited_by_me=founding.inviter == me,
    )


def contacts_of(
    me: AuthorityId, relationships: Iterable[Relationship], petnames: Petnames | None = None
) -> tuple[Contact, ...]:
    """Every established contact of ``me``, ordered by context."""
    found = (contact_of(me, relationship, petnames) for relationship in relationships)
    return tuple(sorted((c for c in found if c is not None), key=lambda c: c.context))
