"""What one authority holds for each context it is in: keys, roster, token, leakage policy.

The guarded sender and receiver of an agent share one
:class:`MembershipTable`; replacing a context's membership (a new epoch, a
new roster, a refreshed token) takes effect on the next send or receive.
"""

from __future__ import annotations

import attrs

from aura_core.errors import InvalidInput, ValidationError
from aura_core.identifiers import AuthorityId, ContextId
from aura_journal.authorization import DatalogFact, VerifiedToken
from aura_protocol.guards.context_identity import ContextIdentity
from aura_protocol.guards.context_roster import ContextRoster
from aura_protocol.guards.leakage_budget import LeakagePolicy

__all__ = ["ContextMembership", "MembershipTable"]


@attrs.frozen
class ContextMembership:
    """This authority's standing in one context."""

    identity: ContextIdentity = attrs.field(validator=attrs.validators.instance_of(ContextIdentity))
    roster: ContextRoster = attrs.field(validator=attrs.validators.instance_of(ContextRoster))
    token: VerifiedToken | None = attrs.field(default=None, eq=False)
    leakage: LeakagePolicy = attrs.field(factory=lambda: LeakagePolicy({}))
    authorization_facts: tuple[DatalogFact, ...] = ()

    def __attrs_post_init__(self) -> None:
        identity, roster = self.identity, self.roster
        if identity.context != roster.context or identity.epoch != roster.epoch:
            raise InvalidInput("the identity and the roster are of different contexts or epochs")
        member = roster.members.get(identity.authority)
        if member is None:
            raise InvalidInput(f"{identity.authority} is not in the roster of {roster.context}")
        if (member.signing_key, member.channel_key) != (
            identity.signing_public,
            identity.channel_public,
        ):
            raise InvalidInput("the roster lists other keys for this authority than its identity")

    @property
    def context(self) -> ContextId:
        return self.roster.context

    @property
    def authority(self) -> AuthorityId:
        return self.identity.authority


class MembershipTable:
    """The contexts one authority belongs to (mutable: memberships are replaced whole)."""

    def __init__(self, authority: AuthorityId) -> None:
        if not isinstance(authority, AuthorityId):
            raise InvalidInput("a membership table belongs to an AuthorityId")
        self.authority = authority
        self._table: dict[ContextId, ContextMembership] = {}

    def put(self, membership: ContextMembership) -> None:
        if not isinstance(membership, ContextMembership):
            raise InvalidInput("expected a ContextMembership")
        if membership.authority != self.authority:
            raise InvalidInput("the membership belongs to another authority")
        self._table[membership.context] = membership

    def remove(self, context: ContextId) -> None:
        self._table.pop(context, None)

    def get(self, context: ContextId) -> ContextMembership:
        """The membership, or ``ValidationError``: this authority is not in that context."""
        membership = self._table.get(context)
        if membership is None:
            raise ValidationError(f"{self.authority} is not a member of {context}")
        return membership

    def __contains__(self, context: object) -> bool:
        return context in self._table

    @property
    def contexts(self) -> tuple[ContextId, ...]:
        return tuple(sorted(self._table))
