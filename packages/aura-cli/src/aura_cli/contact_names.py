"""Naming a contact on the command line: by nickname (as ``aura contact list`` shows) or id.

People type nicknames; the agent wants an ``AuthorityId``. A name that
matches no contact, or more than one, is refused with the candidates listed,
never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aura_agent import Agent
from aura_cli.command_failure import UsageError
from aura_core.errors import InvalidInput, NotFound
from aura_core.identifiers import AuthorityId

__all__ = ["contact_rows", "contacts_of_agent", "resolve_contact"]


def contacts_of_agent(agent: Agent) -> tuple[Any, ...]:
    """The agent's contacts (the ``contacts`` feature's views), or () without that feature."""
    if "contacts" not in agent.features:
        return ()
    return tuple(agent.query("contacts.list"))


def contact_rows(contacts: Iterable[Any]) -> list[dict[str, Any]]:
    return [
        {
            "authority": str(c.authority),
            "nickname": c.nickname,
            "context": str(c.context),
            "invited_by_me": bool(c.invited_by_me),
            "reachable": bool(c.reachable),
        }
        for c in contacts
    ]


def resolve_contact(agent: Agent, name: str) -> AuthorityId:
    """The authority of the contact called ``name`` (a nickname or ``authority-<uuid>``)."""
    contacts = contacts_of_agent(agent)
    try:
        authority = AuthorityId.parse(name)
    except InvalidInput:
        authority = None
    if authority is not None:
        if not any(c.authority == authority for c in contacts):
            raise NotFound(f"{authority} is not one of your contacts")
        return authority
    wanted = name.casefold()
    matches = [c for c in contacts if (c.nickname or "").casefold() == wanted]
    if len(matches) == 1:
        return matches[0].authority
    known = ", ".join(sorted(c.nickname or str(c.authority) for c in contacts)) or "none"
    if not matches:
        raise NotFound(f"no contact is called {name!r} (contacts: {known})")
    raise UsageError(f"{len(matches)} contacts are called {name!r}; name one by its authority id")
