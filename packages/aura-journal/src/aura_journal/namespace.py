"""Journal namespaces: whose facts a journal holds.

An authority journal holds the facts one authority owns (its commitment tree,
its budgets); a context journal holds facts shared by the authorities of one
relational context. Facts never cross namespaces: signatures bind the
namespace, and merging journals of two namespaces is refused.
"""

from __future__ import annotations

from typing import Self

import attrs

from aura_core.errors import InvalidEncoding, InvalidIdentifier, InvalidInput
from aura_core.identifiers import AuthorityId, ContextId

__all__ = ["JournalNamespace"]

_KIND_BYTE = {AuthorityId: b"\x01", ContextId: b"\x02"}


@attrs.frozen(order=False)
class JournalNamespace:
    """``Authority(id)`` or ``Context(id)``; printed as the id (``authority-<uuid>``)."""

    owner: AuthorityId | ContextId = attrs.field()

    @owner.validator
    def _check_owner(self, _attribute: attrs.Attribute, value: object) -> None:
        if type(value) not in _KIND_BYTE:
            raise InvalidInput(
                f"a journal namespace is an AuthorityId or a ContextId, got {type(value).__name__}"
            )

    @classmethod
    def authority(cls, authority: AuthorityId) -> Self:
        return cls(authority)

    @classmethod
    def context(cls, context: ContextId) -> Self:
        return cls(context)

    @property
    def is_authority(self) -> bool:
        return type(self.owner) is AuthorityId

    @property
    def is_context(self) -> bool:
        return type(self.owner) is ContextId

    def to_bytes(self) -> bytes:
        """17 bytes: a kind byte (1 authority, 2 context) and the 16-byte id."""
        return _KIND_BYTE[type(self.owner)] + self.owner.raw

    @classmethod
    def from_bytes(cls, data: object) -> Self:
        if type(data) is not bytes or len(data) != 17:
            raise InvalidEncoding("a journal namespace is 17 bytes (kind byte + 16-byte id)")
        if data[:1] == b"\x01":
            return cls(AuthorityId(data[1:]))
        if data[:1] == b"\x02":
            return cls(ContextId(data[1:]))
        raise InvalidEncoding(f"unknown journal namespace kind byte {data[0]:#04x}")

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse ``authority-<uuid>`` or ``context-<uuid>`` (the prefix is required here)."""
        if isinstance(text, str):
            body = text.strip()
            if body.startswith("authority-"):
                return cls(AuthorityId.parse(body))
            if body.startswith("context-"):
                return cls(ContextId.parse(body))
        raise InvalidIdentifier(
            f"journal namespace must be 'authority-<uuid>' or 'context-<uuid>', got {text!r:.80}"
        )

    def __str__(self) -> str:
        return str(self.owner)
