"""Anti-entropy's view of a member's chat: the chat facts of the context, nothing else.

Wraps :class:`~aura_protocol.anti_entropy.JournalFactStore` over the chat
service's journal, so every arriving fact passes the same rules as one that
came in a guarded envelope (signature by the author's context key, channel
id and frame checks). Facts of other types are refused. What is accepted is
stored durably and handed to the service, which installs epochs and opens
frames exactly as for facts that came directly — so a member who was away
catches up from any peer that has the facts, even when their authors are
offline.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from aura_core.content_id import CID
from aura_core.errors import AuraError, ValidationError
from aura_features.chat.chat_fact_types import CHAT_TYPE_IDS
from aura_journal.facts import Fact
from aura_protocol.anti_entropy.fact_store import AcceptReport, JournalFactStore
from aura_protocol.anti_entropy.fingerprint_index import FingerprintIndex
from aura_protocol.anti_entropy.messages import TransferredFact

if TYPE_CHECKING:
    from aura_features.chat.chat_service import ChatService

__all__ = ["ChatFactStore"]


class ChatFactStore:
    """:class:`~aura_protocol.anti_entropy.FactStore` over one chat service."""

    def __init__(self, service: ChatService, now: Callable[[], float]) -> None:
        self._service = service
        self._inner = JournalFactStore(service.journal)
        self._now = now

    def id_index(self) -> FingerprintIndex:
        return self._inner.id_index()

    def fetch(self, raw_cid: bytes) -> bytes | None:
        return self._inner.fetch(raw_cid)

    def accept(self, facts: Sequence[TransferredFact]) -> AcceptReport:
        chat: list[TransferredFact] = []
        refused: list[tuple[CID, AuraError]] = []
        for item in facts:
            try:
                type_id = Fact.decode(item.data).type_id
            except AuraError as exc:
                refused.append((item.cid, exc))
                continue
            if type_id in CHAT_TYPE_IDS:
                chat.append(item)
            else:
                refused.append((item.cid, ValidationError(f"{type_id} is not a chat fact")))
        report = self._inner.accept(chat)
        journal = self._service.journal
        fresh = [fact for cid in report.accepted if (fact := journal.get(cid)) is not None]
        self._service.accept_synced(fresh, self._now())
        return AcceptReport(
            report.accepted,
            (*report.rejected, *refused),
            report.deferred,
        )
