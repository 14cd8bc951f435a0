"""A home's state, replayed from its facts, and the rules every action must pass.

The state is a pure function of the fact set: facts are replayed in a total
order — their Lamport timestamp (every home fact carries a
:class:`~aura_core.time_domains.LogicalTime` one above the highest its author
had seen, so a fact always sorts after everything it could depend on), then
``OrderTime`` and content id for concurrent facts — and each is applied only if
it is allowed *at that point* (the actor is a moderator, the key is the
actor's, caps and quotas hold).
Refused facts are kept in the journal but change nothing, and are listed in
:attr:`HomeState.refused`, so every replica reaches the same state whatever
order the facts arrived in.

The same rules decide admission: :func:`home_fact_types` refuses at once an
action that is not allowed against the journal's current state, with an
error naming the rule, so a user learns immediately that, say, only
moderators may ban.

Rules (``by`` is the acting authority; its signing key must be the one the
home registered for it):

* ``created``: the first creation in the replay order founds the home; its
  creator is the first member and moderator.
* ``membership add``: moderators only; not banned; at most
  :data:`MAX_HOME_MEMBERS`. ``leave``: a member, for itself; the last
  moderator cannot leave.
* ``role grant``: moderators, to a member. ``revoke``: moderators; never the
  last moderator.
* ``quota``: moderators. ``storage charge``: a member, while the quota has
  room. ``release``: the member who charged the item, or a moderator.
* ``neighbor link``: moderators; at most :data:`MAX_NEIGHBORS` links.
* ``moderation``: moderators only; ``ban`` and ``kick`` remove a member and
  never touch a moderator (revoke first); a banned authority cannot be added
  until unbanned; ``mute`` may end at ``until_ms``; ``pin`` names an item.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

from aura_core.identifiers import AuthorityId, HomeId
from aura_core.time_domains import LogicalTime
from aura_features.social.home_facts import (
    HOME_BODIES,
    HOME_FACT_TYPE_IDS,
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
)
from aura_features.social.social_errors import (
    HomeRuleViolation,
    HomeStorageFull,
    NotAHomeModerator,
)
from aura_journal.attestation import ThresholdAttestation
from aura_journal.errors import MissingDependency
from aura_journal.fact_registry import FactType
from aura_journal.facts import Fact
from aura_journal.journal import Journal
from aura_journal.namespace import JournalNamespace

__all__ = [
    "HOME",
    "MAX_HOME_MEMBERS",
    "MAX_NEIGHBORS",
    "HomeLog",
    "HomeReducer",
    "HomeState",
    "home_fact_types",
]

MAX_HOME_MEMBERS = 32
MAX_NEIGHBORS = 4


@attrs.frozen
class HomeState:
    """What a home is at the end of the replay (``founded`` is False until its creation is known)."""

    home: HomeId | None
    name: str | None
    creator: AuthorityId | None
    members: Mapping[AuthorityId, bytes]
    moderators: frozenset[AuthorityId]
    banned: frozenset[AuthorityId]
    muted: Mapping[AuthorityId, int | None]
    pinned: tuple[bytes, ...]
    quota_bytes: int
    used_bytes: int
    items: Mapping[bytes, tuple[AuthorityId, int]]
    neighbors: frozenset[HomeId]
    refused: tuple[tuple[bytes, str], ...]
    """(content id, reason) of every fact the replay did not apply."""

    @property
    def founded(self) -> bool:
        return self.home is not None

    @property
    def remaining_bytes(self) -> int:
        return max(self.quota_bytes - self.used_bytes, 0)

    def member_key(self, authority: AuthorityId) -> bytes | None:
        return self.members.get(authority)

    def is_member(self, authority: AuthorityId) -> bool:
        return authority in self.members

    def is_moderator(self, authority: AuthorityId) -> bool:
        return authority in self.moderators

    def is_muted(self, authority: AuthorityId, now_ms: int) -> bool:
        if authority not in self.muted:
            return False
        until = self.muted[authority]
        return until is None or now_ms < until


class _Replay:
    """The mutable state while facts are replayed; one rule book for admission and replay."""

    def __init__(self) -> None:
        self.created: HomeCreated | None = None
        self.members: dict[AuthorityId, bytes] = {}
        self.moderators: set[AuthorityId] = set()
        self.banned: set[AuthorityId] = set()
        self.muted: dict[AuthorityId, int | None] = {}
        self.pinned: dict[bytes, None] = {}
        self.quota = 0
        self.used = 0
        self.items: dict[bytes, tuple[AuthorityId, int]] = {}
        self.neighbors: set[HomeId] = set()
        self.refused: list[tuple[bytes, str]] = []

    # ------------------------------------------------------------------ rules

    def refusal(self, fact: Fact, body: Any) -> tuple[type[Exception], str] | None:
        """Why ``body`` may not apply now (error class and message), or ``None``."""
        key = (
            fact.attestation.group_public_key
            if isinstance(fact.attestation, ThresholdAttestation)
            else None
        )
        if isinstance(body, HomeCreated):
            if self.created is not None:
                return HomeRuleViolation, f"{body.home} already exists"
            if key != body.creator_key:
                return NotAHomeModerator, "a home must be created under its creator's key"
            return None
        if self.created is None:
            return MissingDependency, "the home's creation is not known yet"
        if body.home != self.created.home:
            return HomeRuleViolation, f"the fact is about {body.home}, not {self.created.home}"
        actor = body.by
        if actor not in self.members:
            return NotAHomeModerator, f"{actor} is not a member of {self.created.home}"
        if key != self.members[actor]:
            return NotAHomeModerator, f"the fact is not signed with {actor}'s key in this home"
        moderator = actor in self.moderators
        if isinstance(body, HomeMembership):
            return self._membership(body, moderator)
        if isinstance(body, HomeRole):
            return self._role(body, moderator)
        if isinstance(body, HomeQuota):
            return None if moderator else (NotAHomeModerator, "only moderators set the quota")
        if isinstance(body, HomeStorage):
            return self._storage(body, moderator)
        if isinstance(body, HomeNeighbor):
            return self._neighbor(body, moderator)
        if isinstance(body, HomeModeration):
            return self._moderation(body, moderator)
        return HomeRuleViolation, f"{type(body).__name__} is not a home fact"  # pragma: no cover

    def _membership(
        self, body: HomeMembership, moderator: bool
    ) -> tuple[type[Exception], str] | None:
        if body.op is MembershipOp.ADD:
            if not moderator:
                return NotAHomeModerator, "only moderators add members"
            if body.member in self.members:
                return HomeRuleViolation, f"{body.member} is already a member"
            if body.member in self.banned:
                return HomeRuleViolation, f"{body.member} is banned from this home; unban first"
            if len(self.members) >= MAX_HOME_MEMBERS:
                return HomeRuleViolation, f"a home has at most {MAX_HOME_MEMBERS} members"
            return None
        if body.member != body.by:
            return NotAHomeModerator, "a member leaves only for itself (moderators kick)"
        if body.member in self.moderators and len(self.moderators) == 1:
            return (
                HomeRuleViolation,
                "the last moderator cannot leave; grant moderation to someone first",
            )
        return None

    def _role(self, body: HomeRole, moderator: bool) -> tuple[type[Exception], str] | None:
        if not moderator:
            return NotAHomeModerator, "only moderators grant or revoke moderation"
        if body.op is RoleOp.GRANT:
            if body.subject not in self.members:
                return HomeRuleViolation, f"{body.subject} is not a member"
            if body.subject in self.moderators:
                return HomeRuleViolation, f"{body.subject} is already a moderator"
            return None
        if body.subject not in self.moderators:
            return HomeRuleViolation, f"{body.subject} is not a moderator"
        if len(self.moderators) == 1:
            return HomeRuleViolation, "the last moderator cannot be revoked"
        return None

    def _storage(self, body: HomeStorage, moderator: bool) -> tuple[type[Exception], str] | None:
        held = self.items.get(body.item)
        if body.op is StorageOp.CHARGE:
            if held is not None:
                return HomeRuleViolation, "this item is already stored in the home"
            if self.used + body.size > self.quota:
                return (
                    HomeStorageFull,
                    f"home storage quota exhausted: {self.used} of {self.quota} bytes used, "
                    f"{body.size} more requested",
                )
            return None
        if held is None:
            return HomeRuleViolation, "this item is not stored in the home"
        if held[0] != body.by and not moderator:
            return (
                NotAHomeModerator,
                "only the member who stored an item, or a moderator, releases it",
            )
        return None

    def _neighbor(self, body: HomeNeighbor, moderator: bool) -> tuple[type[Exception], str] | None:
        if not moderator:
            return NotAHomeModerator, "only moderators link or unlink neighbors"
        if body.op is NeighborOp.LINK:
            if body.neighbor in self.neighbors:
                return HomeRuleViolation, f"already linked to {body.neighbor}"
            if len(self.neighbors) >= MAX_NEIGHBORS:
                return HomeRuleViolation, f"a home links at most {MAX_NEIGHBORS} neighbors"
            return None
        if body.neighbor not in self.neighbors:
            return HomeRuleViolation, f"not linked to {body.neighbor}"
        return None

    def _moderation(
        self, body: HomeModeration, moderator: bool
    ) -> tuple[type[Exception], str] | None:
        if not moderator:
            return NotAHomeModerator, f"only moderators may {body.op.value}"
        op, subject = body.op, body.subject
        if op in (ModerationOp.PIN, ModerationOp.UNPIN):
            pinned = body.target in self.pinned
            if op is ModerationOp.PIN and pinned:
                return HomeRuleViolation, "this item is already pinned"
            if op is ModerationOp.UNPIN and not pinned:
                return HomeRuleViolation, "this item is not pinned"
            return None
        assert subject is not None
        if op is ModerationOp.UNBAN:
            return (
                None if subject in self.banned else (HomeRuleViolation, f"{subject} is not banned")
            )
        if op is ModerationOp.BAN and subject in self.banned:
            return HomeRuleViolation, f"{subject} is already banned"
        if (
            op in (ModerationOp.BAN, ModerationOp.KICK, ModerationOp.MUTE)
            and subject in self.moderators
        ):
            return HomeRuleViolation, f"{subject} is a moderator; revoke moderation first"
        if op in (ModerationOp.KICK, ModerationOp.MUTE) and subject not in self.members:
            return HomeRuleViolation, f"{subject} is not a member"
        if op is ModerationOp.UNMUTE and subject not in self.muted:
            return HomeRuleViolation, f"{subject} is not muted"
        return None

    # ------------------------------------------------------------------ effects

    def apply(self, body: Any) -> None:
        if isinstance(body, HomeCreated):
            self.created = body
            self.members[body.creator] = body.creator_key
            self.moderators.add(body.creator)
            self.quota = body.quota_bytes
        elif isinstance(body, HomeMembership):
            if body.op is MembershipOp.ADD:
                assert body.member_key is not None
                self.members[body.member] = body.member_key
            else:
                self._remove(body.member)
        elif isinstance(body, HomeRole):
            if body.op is RoleOp.GRANT:
                self.moderators.add(body.subject)
                self.muted.pop(body.subject, None)
            else:
                self.moderators.discard(body.subject)
        elif isinstance(body, HomeQuota):
            self.quota = body.quota_bytes
        elif isinstance(body, HomeStorage):
            if body.op is StorageOp.CHARGE:
                self.items[body.item] = (body.by, body.size)
                self.used += body.size
            else:
                _owner, size = self.items.pop(body.item)
                self.used -= size
        elif isinstance(body, HomeNeighbor):
            if body.op is NeighborOp.LINK:
                self.neighbors.add(body.neighbor)
            else:
                self.neighbors.discard(body.neighbor)
        elif isinstance(body, HomeModeration):
            self._moderate(body)

    def _remove(self, member: AuthorityId) -> None:
        self.members.pop(member, None)
        self.moderators.discard(member)
        self.muted.pop(member, None)

    def _moderate(self, body: HomeModeration) -> None:
        op, subject = body.op, body.subject
        if op is ModerationOp.PIN:
            assert body.target is not None
            self.pinned[body.target] = None
        elif op is ModerationOp.UNPIN:
            self.pinned.pop(body.target, None)  # type: ignore[arg-type]
        elif op is ModerationOp.MUTE:
            assert subject is not None
            self.muted[subject] = body.until_ms
        elif op is ModerationOp.UNMUTE:
            self.muted.pop(subject, None)  # type: ignore[arg-type]
        elif op is ModerationOp.BAN:
            assert subject is not None
            self._remove(subject)
            self.banned.add(subject)
        elif op is ModerationOp.UNBAN:
            self.banned.discard(subject)  # type: ignore[arg-type]
        elif op is ModerationOp.KICK:
            assert subject is not None
            self._remove(subject)

    def snapshot(self) -> HomeState:
        created = self.created
        return HomeState(
            home=None if created is None else created.home,
            name=None if created is None else created.name,
            creator=None if created is None else created.creator,
            members=MappingProxyType(dict(self.members)),
            moderators=frozenset(self.moderators),
            banned=frozenset(self.banned),
            muted=MappingProxyType(dict(self.muted)),
            pinned=tuple(self.pinned),
            quota_bytes=self.quota,
            used_bytes=self.used,
            items=MappingProxyType(dict(self.items)),
            neighbors=frozenset(self.neighbors),
            refused=tuple(self.refused),
        )


def _replay_key(fact: Fact) -> tuple[int, bytes, bytes]:
    timestamp = fact.metadata.timestamp
    lamport = timestamp.lamport if isinstance(timestamp, LogicalTime) else 0
    return (lamport, *fact.sort_key)


class HomeLog:
    """State of :data:`HOME`: the home's facts in replay order, replayed on demand (cached)."""

    __slots__ = ("_cached", "_entries", "_lamport")

    def __init__(self) -> None:
        self._entries: list[tuple[tuple[int, bytes, bytes], Fact, Any]] = []
        self._cached: _Replay | None = None
        self._lamport = 0

    def add(self, fact: Fact, body: Any) -> None:
        key = _replay_key(fact)
        insort(self._entries, (key, fact, body), key=lambda entry: entry[0])
        self._lamport = max(self._lamport, key[0])
        self._cached = None

    def next_timestamp(self) -> LogicalTime:
        """The timestamp of a new fact: one above every fact of the home seen so far."""
        return LogicalTime(lamport=self._lamport + 1)

    def _replayed(self) -> _Replay:
        replay = self._cached
        if replay is None:
            replay = _Replay()
            for _key, fact, body in self._entries:
                reason = replay.refusal(fact, body)
                if reason is None:
                    replay.apply(body)
                else:
                    replay.refused.append((fact.cid.raw, reason[1]))
            self._cached = replay
        return replay

    def current(self) -> HomeState:
        return self._replayed().snapshot()

    def member_key(self, authority: AuthorityId) -> bytes | None:
        return self._replayed().members.get(authority)

    def check(self, fact: Fact, body: Any) -> None:
        """Raise the rule's error if ``body`` may not apply to the current state."""
        reason = self._replayed().refusal(fact, body)
        if reason is not None:
            error, message = reason
            raise error(message)

    def __len__(self) -> int:
        return len(self._entries)


class HomeReducer:
    """A commutative fold (insertion into a sorted log); the state is replayed when read."""

    name = "home"
    fact_types = HOME_FACT_TYPE_IDS
    provides_member_keys = True

    def initial(self) -> HomeLog:
        return HomeLog()

    def apply(self, state: HomeLog, fact: Fact, body: Any) -> HomeLog:
        state.add(fact, body)
        return state


HOME = HomeReducer()


def _validate(fact: Fact, body: Any, namespace: JournalNamespace) -> None:
    if namespace.owner != home_context(body.home):
        raise HomeRuleViolation(f"facts of {body.home} belong in its own context journal")
    timestamp = fact.metadata.timestamp
    if not isinstance(timestamp, LogicalTime) or timestamp.lamport < 1:
        raise HomeRuleViolation("home facts carry a logical (Lamport) timestamp of at least 1")


def _admit(journal: Journal, fact: Fact, body: Any) -> None:
    log: HomeLog = journal.state(HOME.name)
    log.check(fact, body)


def home_fact_types() -> tuple[FactType, ...]:
    """The seven home fact types: context journals only, signed by the acting authority."""
    return tuple(
        FactType.for_body(
            body,
            attestations=frozenset({"threshold"}),
            namespaces=frozenset({"context"}),
            validate=_validate,
            admit=_admit,
        )
        for body in HOME_BODIES
    )
