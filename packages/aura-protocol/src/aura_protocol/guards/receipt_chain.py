"""Checking a message's receipt chain before accepting or relaying it.

A chain is valid for a node when it is rooted in a context the node belongs
to (every receipt names that context and every signer is a member), it is in
the context's current epoch, every hop links to the one before (``prev``) and
continues where it left off (``src`` of hop i is ``dst`` of hop i-1), every
signature verifies under the signer's context key, and the last hop is
addressed to the node. Each failure raises an error that names the hop and
the rule, never key material.
"""

from __future__ import annotations

from collections.abc import Sequence

from aura_core.errors import ErrorKind, InvalidInput, ValidationError
from aura_core.identifiers import AuthorityId, Hash32
from aura_protocol.guards.context_roster import ContextRoster
from aura_protocol.guards.receipt import Receipt

__all__ = ["MAX_RECEIPT_HOPS", "verify_receipt_chain"]

MAX_RECEIPT_HOPS = 8
"""Longest relay path accepted (origin plus seven relays)."""

_ZERO = Hash32.zero()


def verify_receipt_chain(
    receipts: Sequence[Receipt], *, roster: ContextRoster, recipient: AuthorityId
) -> None:
    """Raise unless ``receipts`` (oldest first) entitle ``recipient`` to accept the message."""
    if not isinstance(roster, ContextRoster):
        raise InvalidInput("verify_receipt_chain needs the ContextRoster of the context")
    chain = tuple(receipts)
    if not chain:
        raise ValidationError("message carries no receipt: nobody paid for it")
    if len(chain) > MAX_RECEIPT_HOPS:
        raise ValidationError(f"receipt chain has {len(chain)} hops, more than {MAX_RECEIPT_HOPS}")
    if recipient not in roster:
        raise ValidationError(f"{recipient} is not a member of {roster.context}")
    senders: set[AuthorityId] = set()
    previous: Receipt | None = None
    for hop, receipt in enumerate(chain):
        if not isinstance(receipt, Receipt):
            raise InvalidInput("a receipt chain holds Receipt values")
        if receipt.ctx != roster.context:
            raise ValidationError(
                f"receipt {hop} belongs to {receipt.ctx}, not to {roster.context} "
                f"(a chain must be rooted in a context this node belongs to)"
            )
        if receipt.epoch < roster.epoch:
            raise ValidationError(
                f"receipt {hop} is from stale {receipt.epoch}; {roster.context} is at {roster.epoch}"
            )
        if receipt.epoch > roster.epoch:
            raise ValidationError(
                f"receipt {hop} is from {receipt.epoch}, ahead of the known {roster.epoch}; "
                "refresh the context state",
                kind=ErrorKind.TRANSIENT,
            )
        if previous is None:
            if receipt.prev != _ZERO:
                raise ValidationError("receipt chain broken: the first hop must have a zero prev")
        else:
            if receipt.prev != previous.link_hash:
                raise ValidationError(
                    f"receipt chain broken at hop {hop}: prev does not link to hop {hop - 1}"
                )
            if receipt.src != previous.dst:
                raise ValidationError(
                    f"receipt chain broken at hop {hop}: sent by {receipt.src} "
                    f"but hop {hop - 1} went to {previous.dst}"
                )
        if receipt.src == receipt.dst or receipt.src in senders:
            raise ValidationError(f"receipt chain loops at hop {hop} ({receipt.src})")
        senders.add(receipt.src)
        previous = receipt
    assert previous is not None
    if previous.dst != recipient:
        raise ValidationError(f"receipt chain ends at {previous.dst}, not at {recipient}")
    for receipt in chain:  # signatures last: the cheap rules reject most garbage first
        receipt.verify_signature(roster.member(receipt.src).signing_key)
