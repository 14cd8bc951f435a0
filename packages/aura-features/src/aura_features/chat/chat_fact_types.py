"""How a journal checks chat facts: whose key must sign them, and what they must agree with.

Every chat fact is attested by its author's per-context signing key (the key
its guard receipts verify under, listed in the context roster) as a 1-of-1
threshold attestation. :class:`ChatKeyBook` answers "which keys may sign for
this authority in this context": the keys of every roster of the context
this member has seen, so facts written before a context epoch change still
verify. The same rule runs for facts arriving in guarded envelopes (before
anything is written) and through anti-entropy, so a member cannot put words
in another member's mouth on either path.

Rules that need the context (checked here, statelessly): a channel id must
be the one its creation fact derives, and an AMP frame inside a message fact
must name the journal's context, the fact's channel and the fact's author as
its sender.
"""

from __future__ import annotations

from typing import Any

from aura_core.errors import InvalidInput, ValidationError
from aura_core.identifiers import AuthorityId, ContextId
from aura_features.chat.chat_facts import (
    CHAT_FACT_BODIES,
    ChannelCreated,
    ChannelMode,
    MessageEdited,
    MessageSent,
)
from aura_features.chat.chat_identifiers import channel_id_for, direct_channel_id
from aura_journal.attestation import ThresholdAttestation
from aura_journal.errors import AttestationInvalid
from aura_journal.fact_registry import FactRegistry, FactType
from aura_journal.facts import Fact
from aura_journal.namespace import JournalNamespace
from aura_protocol.guards.context_membership import MembershipTable
from aura_protocol.guards.context_roster import ContextRoster

__all__ = ["CHAT_TYPE_IDS", "ChatKeyBook", "install_chat_facts"]

CHAT_TYPE_IDS = frozenset(body.TYPE_ID for body in CHAT_FACT_BODIES)
"""Type ids of every chat fact."""

_MAX_KEYS_PER_AUTHORITY = 64


class ChatKeyBook:
    """The signing keys each authority has had in each context, as this member saw the rosters."""

    def __init__(self, memberships: MembershipTable) -> None:
        if not isinstance(memberships, MembershipTable):
            raise InvalidInput("ChatKeyBook needs the guard stack's MembershipTable")
        self.memberships = memberships
        self._keys: dict[tuple[ContextId, AuthorityId], list[bytes]] = {}
        self._seen: dict[ContextId, object] = {}

    def remember(self, roster: ContextRoster) -> None:
        """Record every member key of ``roster`` (call with rosters of past context epochs too)."""
        if not isinstance(roster, ContextRoster):
            raise InvalidInput("remember needs a ContextRoster")
        for authority, member in roster.members.items():
            keys = self._keys.setdefault((roster.context, authority), [])
            if member.signing_key not in keys:
                keys.append(member.signing_key)
                del keys[:-_MAX_KEYS_PER_AUTHORITY]
        self._seen[roster.context] = roster

    def keys(self, context: ContextId, authority: AuthorityId) -> tuple[bytes, ...]:
        """Keys that may sign chat facts of ``authority`` in ``context`` (current roster first)."""
        if context in self.memberships:
            roster = self.memberships.get(context).roster
            if self._seen.get(context) is not roster:
                self.remember(roster)
        return tuple(self._keys.get((context, authority), ()))

    # ------------------------------------------------------------------ rules

    def validate(self, fact: Fact, body: Any, namespace: JournalNamespace) -> None:
        """Author's key, then the context-dependent rules of the body's type."""
        context = namespace.owner
        if not isinstance(context, ContextId):  # pragma: no cover - the type allows contexts only
            raise InvalidInput("chat facts live in context journals")
        attestation = fact.attestation
        if type(attestation) is not ThresholdAttestation or attestation.signer_count != 1:
            raise AttestationInvalid(f"{fact.type_id} must be signed by its author's context key")
        author = body.author
        if attestation.group_public_key not in self.keys(context, author):
            raise AttestationInvalid(
                f"{fact.type_id} claims author {author} but is not signed by a key "
                f"{author} holds in {context}"
            )
        if type(body) is ChannelCreated:
            expected = (
                direct_channel_id(context, author, body.peer)
                if body.mode is ChannelMode.DIRECT
                else channel_id_for(context, author, body.salt)
            )
            if expected != body.channel:
                raise ValidationError(
                    f"channel_created names {body.channel}, but its author and salt derive {expected}"
                )
        elif type(body) in (MessageSent, MessageEdited):
            header = body.frame.header
            if header.context != context or header.channel != body.channel:
                raise ValidationError(f"{fact.type_id}: the AMP frame belongs to another channel")
            if header.sender != author.raw:
                raise ValidationError(
                    f"{fact.type_id}: the AMP frame's sender is not the fact's author {author}"
                )

    def fact_types(self) -> tuple[FactType, ...]:
        return tuple(
            FactType.for_body(
                body,
                attestations=frozenset({"threshold"}),
                namespaces=frozenset({"context"}),
                validate=self.validate,
            )
            for body in CHAT_FACT_BODIES
        )


def install_chat_facts(registry: FactRegistry, memberships: MembershipTable) -> ChatKeyBook:
    """Register the chat fact types in ``registry`` (once); returns the key book they consult.

    Every chat service sharing a guard stack shares its registry and its
    membership table, hence one key book.
    """
    if not isinstance(registry, FactRegistry):
        raise InvalidInput("install_chat_facts needs a FactRegistry")
    if registry.knows(MessageSent.TYPE_ID):
        book = getattr(registry.fact_type(MessageSent.TYPE_ID).validate, "__self__", None)
        if not isinstance(book, ChatKeyBook) or book.memberships is not memberships:
            raise InvalidInput("this registry's chat facts are bound to another membership table")
        return book
    book = ChatKeyBook(memberships)
    for fact_type in book.fact_types():
        registry.register(fact_type)
    return book
