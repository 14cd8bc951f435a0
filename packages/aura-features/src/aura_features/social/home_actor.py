"""One authority acting in one home: user intentions in, signed home facts out.

Every method builds the fact (timestamped one Lamport tick above everything
the home's journal holds), signs it with the actor's key and adds it to the
home's journal, which runs the home's rules first; a refused action
raises the rule's error (:class:`NotAHomeModerator`,
:class:`HomeStorageFull`, :class:`HomeRuleViolation`) and writes nothing.
The returned fact is what the agent persists and syncs to the other members.
"""

from __future__ import annotations

from aura_core.effects import OrderClockEffects, RandomEffects
from aura_core.errors import InvalidInput
from aura_core.identifiers import AuthorityId, HomeId
from aura_features.ed25519_signer import Ed25519Signer, attest_fact
from aura_features.social.home_facts import (
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
from aura_features.social.home_state import HOME, HomeLog, HomeState
from aura_journal.fact_registry import FactRegistry
from aura_journal.facts import Fact, FactBody, FactMetadata
from aura_journal.journal import Journal
from aura_journal.namespace import JournalNamespace

__all__ = ["HomeActor"]


class HomeActor:
    """``authority`` (signing with ``signer``) acting in the home whose journal is ``journal``."""

    def __init__(
        self,
        authority: AuthorityId,
        signer: Ed25519Signer,
        journal: Journal,
        *,
        order_clock: OrderClockEffects,
    ) -> None:
        if not isinstance(authority, AuthorityId):
            raise InvalidInput("a home actor is an AuthorityId")
        if not isinstance(journal, Journal) or not journal.namespace.is_context:
            raise InvalidInput("a home actor works on a home's context journal")
        journal.registry.reducer(HOME.name)  # raises unless the home types are registered
        self._authority = authority
        self._signer = signer
        self._journal = journal
        self._order_clock = order_clock

    @classmethod
    def create(
        cls,
        authority: AuthorityId,
        signer: Ed25519Signer,
        registry: FactRegistry,
        *,
        name: str,
        quota_bytes: int,
        random: RandomEffects,
        order_clock: OrderClockEffects,
    ) -> HomeActor:
        """Found a new home (its creator is its first member and moderator)."""
        home = home_id_for(authority, random.random_bytes(32))
        journal = Journal(JournalNamespace.context(home_context(home)), registry)
        actor = cls(authority, signer, journal, order_clock=order_clock)
        actor._sign(HomeCreated(home, name, authority, signer.public_key, quota_bytes))
        return actor

    # ------------------------------------------------------------------ reading

    @property
    def journal(self) -> Journal:
        return self._journal

    @property
    def state(self) -> HomeState:
        log: HomeLog = self._journal.state(HOME.name)
        return log.current()

    @property
    def home(self) -> HomeId:
        home = self.state.home
        if home is None:
            raise InvalidInput("this journal holds no home creation yet")
        return home

    # ------------------------------------------------------------------ members and roles

    def add_member(self, member: AuthorityId, key: bytes) -> Fact:
        return self._sign(HomeMembership(self.home, MembershipOp.ADD, member, self._authority, key))

    def leave(self) -> Fact:
        return self._sign(
            HomeMembership(self.home, MembershipOp.LEAVE, self._authority, self._authority)
        )

    def grant_moderator(self, subject: AuthorityId) -> Fact:
        return self._sign(HomeRole(self.home, RoleOp.GRANT, subject, self._authority))

    def revoke_moderator(self, subject: AuthorityId) -> Fact:
        return self._sign(HomeRole(self.home, RoleOp.REVOKE, subject, self._authority))

    # ------------------------------------------------------------------ storage

    def set_quota(self, quota_bytes: int) -> Fact:
        return self._sign(HomeQuota(self.home, quota_bytes, self._authority))

    def charge_storage(self, item: bytes, size: int) -> Fact:
        return self._sign(HomeStorage(self.home, StorageOp.CHARGE, item, size, self._authority))

    def release_storage(self, item: bytes) -> Fact:
        held = self.state.items.get(item)
        size = 0 if held is None else held[1]
        return self._sign(HomeStorage(self.home, StorageOp.RELEASE, item, size, self._authority))

    # ------------------------------------------------------------------ neighborhood

    def link_neighbor(self, neighbor: HomeId) -> Fact:
        return self._sign(HomeNeighbor(self.home, NeighborOp.LINK, neighbor, self._authority))

    def unlink_neighbor(self, neighbor: HomeId) -> Fact:
        return self._sign(HomeNeighbor(self.home, NeighborOp.UNLINK, neighbor, self._authority))

    # ------------------------------------------------------------------ moderation

    def moderate(
        self,
        op: ModerationOp | str,
        *,
        subject: AuthorityId | None = None,
        target: bytes | None = None,
        until_ms: int | None = None,
        reason: str | None = None,
    ) -> Fact:
        """One of mute / unmute / ban / unban / kick (a ``subject``) or pin / unpin (a ``target``)."""
        return self._sign(
            HomeModeration(
                self.home, ModerationOp(op), self._authority, subject, target, until_ms, reason
            )
        )

    def mute(
        self, subject: AuthorityId, *, until_ms: int | None = None, reason: str | None = None
    ) -> Fact:
        return self.moderate(ModerationOp.MUTE, subject=subject, until_ms=until_ms, reason=reason)

    def ban(self, subject: AuthorityId, *, reason: str | None = None) -> Fact:
        return self.moderate(ModerationOp.BAN, subject=subject, reason=reason)

    def kick(self, subject: AuthorityId, *, reason: str | None = None) -> Fact:
        return self.moderate(ModerationOp.KICK, subject=subject, reason=reason)

    def pin(self, target: bytes) -> Fact:
        return self.moderate(ModerationOp.PIN, target=target)

    # ------------------------------------------------------------------ plumbing

    def _sign(self, body: FactBody) -> Fact:
        log: HomeLog = self._journal.state(HOME.name)
        metadata = FactMetadata(self._order_clock.next_order(), log.next_timestamp())
        fact = attest_fact(Fact.create(body, metadata), self._journal.namespace, self._signer)
        self._journal.add(fact)
        return fact
