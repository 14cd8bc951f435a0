"""Choosing relays: the social graph first, public relays as a fallback.

Candidates are ranked in three tiers — relays run by members of one's own
home, then by members of neighboring homes (mutual links only), then
everything else ("public") — and within a tier by a salted hash of the
relay's key and address, so different users spread over the relays of a tier
while each user's choice stays stable. The result depends only on the
inputs: the same candidates (in any order), homes, reachability and salt
give the same list. Unreachable relays are skipped, and relays run by an
authority banned from one's home are never used.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Iterable

import attrs

from aura_core.errors import InvalidInput
from aura_core.hashing import tagged_hash
from aura_core.identifiers import AuthorityId, HomeId
from aura_features.rendezvous.relay_hint import RelayHint
from aura_features.social.home_state import HomeState
from aura_features.social.neighborhood import neighborhood_members

__all__ = ["RankedRelay", "RelayCandidate", "RelayTier", "select_relays"]

_RANK_DOMAIN = "AURA_RELAY_RANK_V1"


class RelayTier(enum.IntEnum):
    HOME = 0
    NEIGHBORHOOD = 1
    PUBLIC = 2


@attrs.frozen
class RelayCandidate:
    """A relay someone advertised, and (if known) the authority that runs it."""

    hint: RelayHint = attrs.field(validator=attrs.validators.instance_of(RelayHint))
    operator: AuthorityId | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(AuthorityId))
    )


@attrs.frozen
class RankedRelay:
    hint: RelayHint
    tier: RelayTier
    operator: AuthorityId | None


def _tier(
    operator: AuthorityId | None, home: frozenset[AuthorityId], neighborhood: frozenset[AuthorityId]
) -> RelayTier:
    if operator is not None and operator in home:
        return RelayTier.HOME
    if operator is not None and operator in neighborhood:
        return RelayTier.NEIGHBORHOOD
    return RelayTier.PUBLIC


def select_relays(
    candidates: Iterable[RelayCandidate],
    *,
    home: HomeState | None = None,
    neighbors: Iterable[HomeState] = (),
    unreachable: Collection[str] | Callable[[RelayHint], bool] = (),
    salt: bytes = b"",
    limit: int | None = None,
) -> tuple[RankedRelay, ...]:
    """Rank ``candidates`` for use, best first (see the module docstring for the order).

    ``neighbors`` are home states of other homes; only those linked with
    ``home`` both ways count. ``unreachable`` is a set of addresses or a
    predicate on hints. ``salt`` (for instance the user's authority id)
    spreads load within a tier.
    """
    if type(salt) is not bytes:
        raise InvalidInput("salt must be bytes")
    if limit is not None and (type(limit) is not int or limit < 0):
        raise InvalidInput("limit must be a non-negative int or None")
    if callable(unreachable):
        is_down: Callable[[RelayHint], bool] = unreachable
    else:
        down = frozenset(unreachable)
        is_down = lambda hint: hint.address in down  # noqa: E731
    own = frozenset(home.members) if home is not None else frozenset()
    banned = home.banned if home is not None else frozenset()
    nearby: frozenset[AuthorityId] = frozenset()
    if home is not None and home.home is not None:
        table: dict[HomeId, HomeState] = {s.home: s for s in neighbors if s.home is not None}
        nearby = neighborhood_members(home, table)
    best: dict[RelayHint, RankedRelay] = {}
    for candidate in candidates:
        if not isinstance(candidate, RelayCandidate):
            raise InvalidInput(f"expected RelayCandidate values, got {type(candidate).__name__}")
        if candidate.operator is not None and candidate.operator in banned:
            continue
        if is_down(candidate.hint):
            continue
        ranked = RankedRelay(
            candidate.hint, _tier(candidate.operator, own, nearby), candidate.operator
        )
        current = best.get(candidate.hint)
        if current is None or _key(ranked, salt) < _key(current, salt):
            best[candidate.hint] = ranked
    ordered = sorted(best.values(), key=lambda ranked: _key(ranked, salt))
    return tuple(ordered if limit is None else ordered[:limit])


def _key(ranked: RankedRelay, salt: bytes) -> tuple[int, bytes, bytes]:
    hint = ranked.hint
    spread = tagged_hash(_RANK_DOMAIN, salt, hint.relay_key, hint.address.encode())
    operator = ranked.operator.raw if ranked.operator is not None else b""
    return (int(ranked.tier), spread, operator)
