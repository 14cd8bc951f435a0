"""The shared view of a relational context: who the two parties are, their keys, their names.

Reduced from the context journal alone, so both parties (and each of their
devices) compute the same relationship from the same facts: the founding
acceptance pins each side's key, and ``contact.profile`` facts carry the
names each side chose, newest first by timestamp, fact order breaking ties.
The state answers :class:`~aura_features.rendezvous.MemberKeys`, which is how
descriptors and profiles in this context are checked against the right key.
"""

from __future__ import annotations

from typing import Any

from aura_core.identifiers import AuthorityId, ContextId
from aura_features.invitation.invitation_facts import (
    ACCEPTED_TYPE_ID,
    PROFILE_TYPE_ID,
    ContactProfile,
    InvitationAccepted,
)
from aura_features.invitation.invite_code import InvitationId, InviteKind
from aura_journal.facts import Fact

__all__ = ["RELATIONSHIP", "Relationship", "RelationshipReducer"]


class Relationship:
    """State of :data:`RELATIONSHIP` for one context journal."""

    __slots__ = ("_founding", "_profiles")

    def __init__(self) -> None:
        self._founding: tuple[Any, InvitationAccepted] | None = None
        self._profiles: dict[AuthorityId, tuple[Any, str]] = {}

    def apply(self, fact: Fact, body: Any) -> None:
        if isinstance(body, InvitationAccepted):
            rank = fact.sort_key
            if self._founding is None or rank < self._founding[0]:
                self._founding = (rank, body)
        elif isinstance(body, ContactProfile):
            rank = (getattr(fact.metadata.timestamp, "ts_ms", 0), fact.sort_key)
            current = self._profiles.get(body.authority)
            if current is None or rank > current[0]:
                self._profiles[body.authority] = (rank, body.nickname)

    @property
    def founding(self) -> InvitationAccepted | None:
        """The acceptance that created the context, once it is known."""
        return None if self._founding is None else self._founding[1]

    @property
    def established(self) -> bool:
        return self._founding is not None

    @property
    def context(self) -> ContextId | None:
        founding = self.founding
        return None if founding is None else founding.context

    @property
    def kind(self) -> InviteKind | None:
        founding = self.founding
        return None if founding is None else founding.invite.invite.kind

    @property
    def invitation(self) -> InvitationId | None:
        founding = self.founding
        return None if founding is None else founding.invitation

    @property
    def parties(self) -> tuple[AuthorityId, AuthorityId] | None:
        """(inviter, invitee)."""
        founding = self.founding
        return None if founding is None else (founding.inviter, founding.invitee)

    def member_key(self, authority: AuthorityId) -> bytes | None:
        founding = self.founding
        if founding is None:
            return None
        if authority == founding.inviter:
            return founding.invite.invite.inviter_key
        if authority == founding.invitee:
            return founding.invitee_key
        return None

    def peer_of(self, authority: AuthorityId) -> AuthorityId | None:
        parties = self.parties
        if parties is None or authority not in parties:
            return None
        return parties[1] if parties[0] == authority else parties[0]

    def nickname(self, authority: AuthorityId) -> str | None:
        """The name ``authority`` chose: its newest profile, else the one given at invitation."""
        entry = self._profiles.get(authority)
        if entry is not None:
            return entry[1]
        founding = self.founding
        if founding is None:
            return None
        if authority == founding.inviter:
            return founding.invite.invite.nickname
        if authority == founding.invitee:
            return founding.nickname
        return None

    def context_secret(self) -> bytes | None:
        founding = self.founding
        return None if founding is None else founding.context_secret()


class RelationshipReducer:
    name = "relationship"
    fact_types = frozenset({ACCEPTED_TYPE_ID, PROFILE_TYPE_ID})
    provides_member_keys = True

    def initial(self) -> Relationship:
        return Relationship()

    def apply(self, state: Relationship, fact: Fact, body: Any) -> Relationship:
        state.apply(fact, body)
        return state


RELATIONSHIP = RelationshipReducer()
