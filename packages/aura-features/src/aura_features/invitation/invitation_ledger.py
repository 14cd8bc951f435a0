"""One authority's invitations, reduced from its own journal: issued, cancelled, redeemed, answered.

The ledger is what refuses a cancelled or already-used code on the
inviter's side and an already-answered code on the invitee's side. It is a
commutative fold, so every device of the authority reaches the same ledger
whatever order the facts arrive in. If two devices redeem one invitation
concurrently (two acceptances admitted before their facts met), both are
kept and :meth:`InvitationLedger.redemption` names the first by fact order.
"""

from __future__ import annotations

import enum
from typing import Any

from aura_core.identifiers import AuthorityId, ContextId
from aura_features.invitation.invitation_facts import (
    ANSWERED_TYPE_ID,
    CANCELLED_TYPE_ID,
    ISSUED_TYPE_ID,
    PETNAME_TYPE_ID,
    REDEEMED_TYPE_ID,
    ContactPetname,
    InvitationAnswered,
    InvitationCancelled,
    InvitationIssued,
    InvitationRedeemed,
)
from aura_features.invitation.invite_code import InvitationId, SignedInvite
from aura_journal.facts import Fact

__all__ = [
    "CONTACT_PETNAMES",
    "INVITATION_LEDGER",
    "InvitationLedger",
    "InvitationLedgerReducer",
    "InvitationStatus",
    "PetnameReducer",
    "Petnames",
]


class InvitationStatus(enum.StrEnum):
    OPEN = "open"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    REDEEMED = "redeemed"


def _rank(fact: Fact) -> tuple[Any, ...]:
    return fact.sort_key


class InvitationLedger:
    """State of :data:`INVITATION_LEDGER`."""

    __slots__ = ("_answered", "_cancelled", "_issued", "_redeemed")

    def __init__(self) -> None:
        self._issued: dict[InvitationId, SignedInvite] = {}
        self._cancelled: set[InvitationId] = set()
        self._redeemed: dict[InvitationId, tuple[Any, InvitationRedeemed]] = {}
        self._answered: dict[InvitationId, tuple[Any, InvitationAnswered]] = {}

    def apply(self, fact: Fact, body: Any) -> None:
        if isinstance(body, InvitationIssued):
            self._issued[body.invite.invitation_id] = body.invite
        elif isinstance(body, InvitationCancelled):
            self._cancelled.add(body.invitation)
        elif isinstance(body, InvitationRedeemed):
            self._keep_first(self._redeemed, body.invitation, fact, body)
        elif isinstance(body, InvitationAnswered):
            self._keep_first(self._answered, body.invitation, fact, body)

    @staticmethod
    def _keep_first(table: dict, key: InvitationId, fact: Fact, body: Any) -> None:
        rank = _rank(fact)
        current = table.get(key)
        if current is None or rank < current[0]:
            table[key] = (rank, body)

    # ------------------------------------------------------------------ inviter side

    def issued(self, invitation: InvitationId) -> SignedInvite | None:
        return self._issued.get(invitation)

    @property
    def issued_ids(self) -> tuple[InvitationId, ...]:
        return tuple(sorted(self._issued))

    def is_cancelled(self, invitation: InvitationId) -> bool:
        return invitation in self._cancelled

    def redemption(self, invitation: InvitationId) -> InvitationRedeemed | None:
        entry = self._redeemed.get(invitation)
        return None if entry is None else entry[1]

    def status(self, invitation: InvitationId, now_ms: int) -> InvitationStatus | None:
        """What became of an invitation this authority issued (``None`` if it never did)."""
        signed = self._issued.get(invitation)
        if signed is None:
            return None
        if invitation in self._redeemed:
            return InvitationStatus.REDEEMED
        if invitation in self._cancelled:
            return InvitationStatus.CANCELLED
        if signed.invite.is_expired(now_ms):
            return InvitationStatus.EXPIRED
        return InvitationStatus.OPEN

    # ------------------------------------------------------------------ invitee side

    def answer(self, invitation: InvitationId) -> InvitationAnswered | None:
        entry = self._answered.get(invitation)
        return None if entry is None else entry[1]

    def accepted_contexts(self) -> dict[ContextId, AuthorityId]:
        """Contexts this authority created by accepting, with the inviter of each."""
        return {
            body.context: body.inviter
            for _, body in self._answered.values()
            if body.context is not None
        }

    def redeemed_contexts(self) -> dict[ContextId, AuthorityId]:
        """Contexts created by this authority's invitations, with the invitee of each."""
        return {body.context: body.invitee for _, body in self._redeemed.values()}


class InvitationLedgerReducer:
    name = "invitation_ledger"
    fact_types = frozenset({ISSUED_TYPE_ID, CANCELLED_TYPE_ID, REDEEMED_TYPE_ID, ANSWERED_TYPE_ID})

    def initial(self) -> InvitationLedger:
        return InvitationLedger()

    def apply(self, state: InvitationLedger, fact: Fact, body: Any) -> InvitationLedger:
        state.apply(fact, body)
        return state


INVITATION_LEDGER = InvitationLedgerReducer()


class Petnames:
    """Private names for contacts: the latest by timestamp (then fact order) wins."""

    __slots__ = ("_names",)

    def __init__(self) -> None:
        self._names: dict[AuthorityId, tuple[Any, str]] = {}

    def offer(self, fact: Fact, body: ContactPetname) -> None:
        timestamp = getattr(fact.metadata.timestamp, "ts_ms", 0)
        rank = (timestamp, fact.sort_key)
        current = self._names.get(body.contact)
        if current is None or rank > current[0]:
            self._names[body.contact] = (rank, body.petname)

    def get(self, contact: AuthorityId) -> str | None:
        entry = self._names.get(contact)
        return entry[1] if entry is not None and entry[1] else None


class PetnameReducer:
    name = "contact_petnames"
    fact_types = frozenset({PETNAME_TYPE_ID})

    def initial(self) -> Petnames:
        return Petnames()

    def apply(self, state: Petnames, fact: Fact, body: ContactPetname) -> Petnames:
        state.offer(fact, body)
        return state


CONTACT_PETNAMES = PetnameReducer()
