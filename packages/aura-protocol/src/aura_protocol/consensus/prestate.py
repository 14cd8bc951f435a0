"""The state a consensus instance starts from, and its hash.

Witnesses only sign an operation against the prestate they hold themselves,
so the prestate hash is what makes "the same operation on a different state"
a different decision. The hash is
``H("AURA_PRESTATE_V1" || n || (authority, commitment)* || context commitment)``
with the authorities in ascending id order, so every replica that holds the
same commitments computes the same bytes.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import attrs

from aura_core.errors import InvalidInput
from aura_core.hashing import tagged_hash
from aura_core.identifiers import AuthorityId

__all__ = ["PRESTATE_DOMAIN", "Prestate"]

PRESTATE_DOMAIN = "AURA_PRESTATE_V1"

_MAX_AUTHORITIES = 1024


def _to_entries(value: object) -> tuple[tuple[AuthorityId, bytes], ...]:
    if isinstance(value, bytes | str) or not isinstance(value, Iterable):
        raise InvalidInput("prestate authorities must be (AuthorityId, commitment) pairs")
    entries: list[tuple[AuthorityId, bytes]] = []
    for item in value:
        if not isinstance(item, tuple) or len(item) != 2:
            raise InvalidInput("prestate authorities must be (AuthorityId, commitment) pairs")
        authority, commitment = item
        if not isinstance(authority, AuthorityId):
            raise InvalidInput(
                f"prestate authority must be an AuthorityId, got {type(authority).__name__}"
            )
        if type(commitment) is not bytes or len(commitment) != 32:
            raise InvalidInput(f"commitment of {authority} must be 32 bytes")
        entries.append((authority, commitment))
    entries.sort(key=lambda entry: entry[0].raw)
    for (a, _), (b, _) in itertools.pairwise(entries):
        if a == b:
            raise InvalidInput(f"prestate lists {a} twice")
    if len(entries) > _MAX_AUTHORITIES:
        raise InvalidInput(f"prestate lists more than {_MAX_AUTHORITIES} authorities")
    return tuple(entries)


def _check_commitment(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not bytes or len(value) != 32:
        raise InvalidInput(f"Prestate.{attribute.name} must be 32 bytes")


@attrs.frozen
class Prestate:
    """The commitments of the authorities an operation touches, plus the context's."""

    authorities: tuple[tuple[AuthorityId, bytes], ...] = attrs.field(converter=_to_entries)
    context_commitment: bytes = attrs.field(validator=_check_commitment)
    _hash: bytes = attrs.field(init=False, repr=False, eq=False, hash=False)

    def __attrs_post_init__(self) -> None:
        parts = [len(self.authorities).to_bytes(8, "big")]
        for authority, commitment in self.authorities:
            parts.append(authority.raw)
            parts.append(commitment)
        parts.append(self.context_commitment)
        object.__setattr__(self, "_hash", tagged_hash(PRESTATE_DOMAIN, *parts))

    @property
    def hash(self) -> bytes:
        """The 32-byte prestate hash witnesses compare and sign over."""
        return self._hash
