"""The account as a UI shows it: authority, devices, guardians, threshold, epoch."""

from __future__ import annotations

import attrs

from aura_agent.feature import JournalReader
from aura_core.identifiers import AuthorityId, DeviceId
from aura_journal import COMMITMENT_TREE, JournalNamespace
from aura_journal.errors import UnknownFactType

__all__ = ["AccountView", "JournalCounts", "account_view", "journal_counts"]


@attrs.frozen
class AccountView:
    """What the commitment tree of this agent's authority says right now."""

    authority: AuthorityId | None
    devices: tuple[DeviceId, ...] = ()
    guardians: tuple[DeviceId, ...] = ()
    threshold: int = 0
    epoch: int = 0
    commitment: str = ""


@attrs.frozen
class JournalCounts:
    """How many facts each kind of journal holds (for status lines)."""

    authority_facts: int
    context_facts: int
    contexts: int


def account_view(reader: JournalReader) -> AccountView:
    authority = reader.authority
    if authority is None:
        return AccountView(None)
    namespace = JournalNamespace.authority(authority)
    if namespace not in reader.namespaces:
        return AccountView(authority)
    try:
        head = reader.journal(namespace).state(COMMITMENT_TREE).head
    except UnknownFactType:
        return AccountView(authority)
    if head is None:
        return AccountView(authority)
    return AccountView(
        authority,
        tuple(leaf.device for leaf in head.devices()),
        tuple(leaf.device for leaf in head.guardians()),
        head.required_signers(0),
        int(head.epoch),
        head.root_commitment.hex(),
    )


def journal_counts(reader: JournalReader) -> JournalCounts:
    authority_facts = context_facts = contexts = 0
    for namespace in reader.namespaces:
        size = len(reader.journal(namespace))
        if namespace.is_context:
            contexts += 1
            context_facts += size
        else:
            authority_facts += size
    return JournalCounts(authority_facts, context_facts, contexts)
