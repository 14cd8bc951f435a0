"""Neighborhoods: homes linked one hop, both ways.

A home declares links (``home.neighbor``, at most four) in its own journal;
a link counts only when the other home declares it too, so no home can drag
another into its neighborhood. The neighborhood of a home is the home and
its mutual neighbors: one hop, never transitive. Each mutual link has an id
derived from the pair, the same whichever side computes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aura_core.errors import InvalidInput
from aura_core.identifiers import AuthorityId, HomeId, NeighborhoodId
from aura_features.social.home_state import HomeState

__all__ = ["link_id", "mutual_neighbors", "neighborhood_members"]


def link_id(a: HomeId, b: HomeId) -> NeighborhoodId:
    """The id of the link between two homes (symmetric)."""
    if a == b:
        raise InvalidInput("a home is not linked to itself")
    low, high = sorted((a, b))
    return NeighborhoodId.derive("link", low.raw, high.raw)


def mutual_neighbors(home: HomeState, known: Mapping[HomeId, HomeState]) -> tuple[HomeState, ...]:
    """The homes ``home`` links to that link back (among the ``known`` home states), by id."""
    if home.home is None:
        return ()
    found = [
        other
        for neighbor in sorted(home.neighbors)
        if (other := known.get(neighbor)) is not None and home.home in other.neighbors
    ]
    return tuple(found)


def neighborhood_members(
    home: HomeState, known: Mapping[HomeId, HomeState] | Iterable[HomeState]
) -> frozenset[AuthorityId]:
    """Members of ``home``'s mutual neighbors (not of ``home`` itself)."""
    table = (
        known
        if isinstance(known, Mapping)
        else {state.home: state for state in known if state.home is not None}
    )
    members: set[AuthorityId] = set()
    for neighbor in mutual_neighbors(home, table):
        members.update(neighbor.members)
    return frozenset(members)
