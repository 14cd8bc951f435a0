"""Which key speaks for an authority inside one context journal.

Rendezvous facts must be signed by the authority they describe, but which
key that is depends on how the context came to be: a relationship formed by
an invitation pins both sides' keys, a home lists its members' keys. Any
reducer that sets ``provides_member_keys = True`` and whose state answers
:class:`MemberKeys` takes part; this module asks every such view of a journal,
so rendezvous stays independent of the features that create contexts.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from aura_core.identifiers import AuthorityId
from aura_journal.journal import Journal

__all__ = ["MemberKeys", "member_key"]


@runtime_checkable
class MemberKeys(Protocol):
    """A reducer state that knows the signing keys of a context's members."""

    def member_key(self, authority: AuthorityId) -> bytes | None:
        """The Ed25519 key ``authority`` signs this context's facts with, if it is a member."""
        ...


def member_key(
    journal: Journal, authority: AuthorityId, *, skip: frozenset[str] = frozenset()
) -> bytes | None:
    """The first key any membership view of ``journal`` knows for ``authority``."""
    for reducer in journal.registry.reducers:
        if reducer.name in skip or not getattr(reducer, "provides_member_keys", False):
            continue
        state = journal.state(reducer.name)
        if isinstance(state, MemberKeys):
            key = state.member_key(authority)
            if key is not None:
                return key
    return None
