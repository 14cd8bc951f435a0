"""Receipt chains at a relay: checked before an envelope is accepted for forwarding.

A relay run by a member of a context (a home member relaying for the home)
may be handed envelopes with the sender's receipt chain attached, proving
that every hop paid its flow budget. The relay checks the chain with
:func:`aura_protocol.guards.verify_receipt_chain` against the context's
roster: rooted in that context, current epoch, linked hop to hop, signed by
members, last hop addressed to the relay's own authority. Anonymous public
relays hold no roster and refuse attached chains they cannot check. Chains
are dropped after the check; the store never sees them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, runtime_checkable

from aura_core.errors import InvalidInput, ValidationError
from aura_core.identifiers import AuthorityId, ContextId
from aura_protocol.guards.context_roster import ContextRoster
from aura_protocol.guards.receipt import Receipt
from aura_protocol.guards.receipt_chain import verify_receipt_chain

__all__ = ["ReceiptVerifier", "RosterReceiptVerifier"]


@runtime_checkable
class ReceiptVerifier(Protocol):
    """Decides whether a receipt chain entitles an envelope to pass this relay."""

    def verify(self, receipts: Sequence[Receipt]) -> None:
        """Return if the chain is valid; raise an ``AuraError`` naming the broken rule otherwise."""
        ...


class RosterReceiptVerifier:
    """Checks chains against the rosters of the contexts this relay's operator belongs to.

    ``rosters`` maps a context to its current roster, or is a callable that
    looks one up (returning ``None`` for contexts the operator is not in),
    so the agent can hand in live views.
    """

    def __init__(
        self,
        relay_authority: AuthorityId,
        rosters: Mapping[ContextId, ContextRoster] | Callable[[ContextId], ContextRoster | None],
    ) -> None:
        if not isinstance(relay_authority, AuthorityId):
            raise InvalidInput("RosterReceiptVerifier needs the relay operator's AuthorityId")
        self._authority = relay_authority
        if isinstance(rosters, Mapping):
            table = dict(rosters)
            self._lookup: Callable[[ContextId], ContextRoster | None] = table.get
        elif callable(rosters):
            self._lookup = rosters
        else:
            raise InvalidInput("rosters must be a mapping or a lookup function")

    def verify(self, receipts: Sequence[Receipt]) -> None:
        chain = tuple(receipts)
        if not chain:
            raise ValidationError("the envelope carries an empty receipt chain")
        context = chain[0].ctx
        roster = self._lookup(context)
        if roster is None:
            raise ValidationError(
                "this relay is not a member of the chain's context and cannot check its receipts"
            )
        verify_receipt_chain(chain, roster=roster, recipient=self._authority)
