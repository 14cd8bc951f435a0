"""What moves through relays: deposits a node wants made and mailboxes it wants read.

The core stays sans-IO: a feature service that reaches peers through
untrusted relays returns a :class:`Deposit` (a sealed envelope and the relays
to leave it at) and lists the :class:`MailboxWatch` es it reads; the live
agent's relay loop does the network part. Routes for peers in a relational
context are ``relay:<context>:<authority>``.
"""

from __future__ import annotations

from typing import Any

import attrs

from aura_core.errors import InvalidInput
from aura_core.identifiers import AuthorityId, ContextId
from aura_features.rendezvous import MailboxKey, RelayHint, SealedEnvelope

__all__ = ["ROUTE_PREFIX", "Deposit", "MailboxWatch", "context_route", "parse_context_route"]

ROUTE_PREFIX = "relay:"


@attrs.frozen
class Deposit:
    """A sealed envelope to leave at one of ``relays`` (the first that takes it)."""

    relays: tuple[RelayHint, ...]
    envelope: SealedEnvelope


@attrs.frozen(repr=False)
class MailboxWatch:
    """A mailbox to fetch from ``relays``; ``owner`` is the feature that opens what arrives."""

    owner: str
    key: MailboxKey
    relays: tuple[RelayHint, ...]
    label: Any = None
    """The owner's note of what the mailbox is for (a context, an invitation...)."""

    def __repr__(self) -> str:
        return f"MailboxWatch({self.owner}, {self.key.tag}, {len(self.relays)} relays)"


def context_route(context: ContextId, authority: AuthorityId) -> str:
    """The route of ``authority`` in ``context`` (how the core names that peer)."""
    return f"{ROUTE_PREFIX}{context.uuid}:{authority.uuid}"


def parse_context_route(route: str) -> tuple[ContextId, AuthorityId] | None:
    """``(context, authority)`` of a relay route, ``None`` for any other route."""
    if not isinstance(route, str) or not route.startswith(ROUTE_PREFIX):
        return None
    parts = route[len(ROUTE_PREFIX) :].split(":")
    if len(parts) != 2:
        return None
    try:
        return ContextId.parse(parts[0]), AuthorityId.parse(parts[1])
    except InvalidInput:
        return None
