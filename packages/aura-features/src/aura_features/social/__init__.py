"""Social structure: homes, neighborhoods, moderation, and relay selection.

* homes (:class:`HomeActor`, :class:`HomeState`): members with their keys,
  moderators, a storage quota, pinned items, mutes and bans — facts in the
  home's context journal, replayed deterministically under one rule book
  (only moderators moderate; caps and quotas hold);
* neighborhoods (:func:`mutual_neighbors`, :func:`link_id`): homes linked one
  hop, both ways, at most four links per home;
* relay selection (:func:`select_relays`): own home's relays, then the
  neighborhood's, then public ones; deterministic; unreachable ones skipped.

See ``docs/features-social.md``.
"""

from aura_features.social.home_actor import HomeActor
from aura_features.social.home_facts import (
    HOME_FACT_TYPE_IDS,
    MAX_HOME_NAME_CHARS,
    MAX_REASON_CHARS,
    HomeCreated,
    HomeMembership,
    HomeModeration,
    HomeNeighbor,
    HomeQuota,
    HomeRole,
    HomeStorage,
    MembershipOp,
    ModerationOp,
    NeighborOp,
    RoleOp,
    StorageOp,
    home_context,
    home_id_for,
)
from aura_features.social.home_state import (
    HOME,
    MAX_HOME_MEMBERS,
    MAX_NEIGHBORS,
    HomeLog,
    HomeReducer,
    HomeState,
    home_fact_types,
)
from aura_features.social.neighborhood import link_id, mutual_neighbors, neighborhood_members
from aura_features.social.relay_selection import (
    RankedRelay,
    RelayCandidate,
    RelayTier,
    select_relays,
)
from aura_features.social.social_errors import HomeRuleViolation, HomeStorageFull, NotAHomeModerator
from aura_features.social.social_registry import register_social

OPERATION_CATEGORIES = {
    "home.create": "A",
    "home.add_member": "B",
    "home.leave": "A",
    "home.grant_moderator": "B",
    "home.revoke_moderator": "B",
    "home.set_quota": "A",
    "home.charge_storage": "A",
    "home.release_storage": "A",
    "neighborhood.link": "B",
    "neighborhood.unlink": "A",
    "moderation.mute": "A",
    "moderation.unmute": "A",
    "moderation.pin": "A",
    "moderation.unpin": "A",
    "moderation.kick": "B",
    "moderation.ban": "B",
    "moderation.unban": "B",
}
"""Changes of who belongs (members, moderators, bans, kicks) and links, which the other side
must confirm, are shown pending until the facts meet (B); the rest apply at once (A)."""

__all__ = [
    "HOME",
    "HOME_FACT_TYPE_IDS",
    "MAX_HOME_MEMBERS",
    "MAX_HOME_NAME_CHARS",
    "MAX_NEIGHBORS",
    "MAX_REASON_CHARS",
    "OPERATION_CATEGORIES",
    "HomeActor",
    "HomeCreated",
    "HomeLog",
    "HomeMembership",
    "HomeModeration",
    "HomeNeighbor",
    "HomeQuota",
    "HomeReducer",
    "HomeRole",
    "HomeRuleViolation",
    "HomeState",
    "HomeStorage",
    "HomeStorageFull",
    "MembershipOp",
    "ModerationOp",
    "NeighborOp",
    "NotAHomeModerator",
    "RankedRelay",
    "RelayCandidate",
    "RelayTier",
    "RoleOp",
    "StorageOp",
    "home_context",
    "home_fact_types",
    "home_id_for",
    "link_id",
    "mutual_neighbors",
    "neighborhood_members",
    "register_social",
    "select_relays",
]
