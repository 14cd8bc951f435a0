"""Accepting guarded envelopes: receipts checked, facts validated, recorded exactly once.

:meth:`GuardedReceiver.accept` decodes an envelope strictly, requires it to be
of the context the channel belongs to (when the caller knows it), checks the
receipt chain against this node's roster of that context, validates the
coupled facts with the journal's rules for that context, and records the
receipts and facts in one transaction. The last receipt is unique per send
(its nonce), so a retransmitted envelope is recognised by that fact's
content id and reported as a duplicate without writing anything.
"""

from __future__ import annotations

import attrs

from aura_core.effects import StorageEffects
from aura_core.errors import InvalidEncoding, InvalidInput, ValidationError
from aura_core.identifiers import AuthorityId, ContextId
from aura_journal.fact_registry import FactRegistry
from aura_journal.facts import Fact
from aura_journal.namespace import JournalNamespace
from aura_protocol.guards.context_membership import MembershipTable
from aura_protocol.guards.envelope import Envelope
from aura_protocol.guards.guard_ledgers import journal_name
from aura_protocol.guards.receipt import Receipt, receipt_fact
from aura_protocol.guards.receipt_chain import verify_receipt_chain

__all__ = ["Delivery", "GuardedReceiver"]


@attrs.frozen
class Delivery:
    """An accepted envelope. ``duplicate``: it was accepted before; nothing new was recorded."""

    envelope: Envelope
    facts: tuple[Fact, ...]
    duplicate: bool

    @property
    def context(self) -> ContextId:
        return self.envelope.context

    @property
    def origin(self) -> AuthorityId:
        return self.envelope.origin

    @property
    def sender(self) -> AuthorityId:
        """The authority of the last hop (the one that paid to send it here)."""
        return self.envelope.last_receipt.src

    @property
    def payload(self) -> bytes:
        return self.envelope.payload

    @property
    def for_me(self) -> bool:
        """Whether this node is the final destination (otherwise it is a relay)."""
        return self.envelope.destination == self.envelope.last_receipt.dst


class GuardedReceiver:
    """Verifies and records what arrives for one authority."""

    def __init__(
        self, *, storage: StorageEffects, memberships: MembershipTable, registry: FactRegistry
    ) -> None:
        if not isinstance(memberships, MembershipTable) or not isinstance(registry, FactRegistry):
            raise InvalidInput("GuardedReceiver needs a MembershipTable and a FactRegistry")
        self.storage = storage
        self.memberships = memberships
        self.registry = registry
        self.authority = memberships.authority

    def accept(self, data: bytes, *, context: ContextId | None = None) -> Delivery:
        """Check and record one envelope; raises ``InvalidEncoding``/``ValidationError``/``CryptoError``."""
        envelope = Envelope.decode(data)
        if context is not None and envelope.context != context:
            raise ValidationError(
                f"an envelope of {envelope.context} arrived on a channel of {context}"
            )
        roster = self.memberships.get(envelope.context).roster
        verify_receipt_chain(envelope.receipts, roster=roster, recipient=self.authority)
        first: Receipt = envelope.receipts[0]
        if envelope.origin != first.src:
            raise ValidationError("the envelope's origin is not the first hop's sender")
        if envelope.destination not in roster:
            raise ValidationError(f"the destination is not a member of {envelope.context}")
        namespace = JournalNamespace.context(envelope.context)
        facts = []
        for index, raw in enumerate(envelope.facts):
            fact = Fact.decode(raw)
            try:
                self.registry.check(fact, namespace)
            except (ValidationError, InvalidEncoding):
                raise
            except InvalidInput as exc:
                raise ValidationError(f"coupled fact {index}: {exc.message}") from None
            facts.append(fact)
        if envelope.destination != self.authority:
            # A relay records nothing on arrival: forwarding commits its own hop.
            return Delivery(envelope, tuple(facts), duplicate=False)
        name = journal_name(namespace)
        last = receipt_fact(envelope.last_receipt)
        with self.storage.transaction() as txn:
            if not txn.append_fact(name, last.cid.raw, last.encode()):
                return Delivery(envelope, tuple(facts), duplicate=True)
            for receipt in envelope.receipts[:-1]:
                fact = receipt_fact(receipt)
                txn.append_fact(name, fact.cid.raw, fact.encode())
            for fact in facts:
                txn.append_fact(name, fact.cid.raw, fact.encode())
        return Delivery(envelope, tuple(facts), duplicate=False)
