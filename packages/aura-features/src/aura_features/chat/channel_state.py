"""One channel's reduced state and the rules that decide what it means.

Facts are folded in by indexing them (:meth:`ChannelState.add` costs a dict
insert, plus a bisection for messages); every answer — who created the
channel, who moderates it, who is a member or pending, who is muted at which
point of their messages, which edit wins — is a deterministic function of
the indexed facts, computed on demand and cached until the next fact. The
fold is therefore order-independent by construction: any delivery order of
the same facts gives the same answers on every replica.

Conflicts are settled by a *stamp*: the fact's Lamport ``clock``, then its
journal sort key (order token, content id). Rules, in one place:

* The creator is fixed by the channel id (it derives from the creator);
  the earliest-stamped creation fact of that author counts.
* Moderators: the creator, plus members whose latest grant/revoke *by the
  creator* is a grant. A moderation fact counts only if its author is a
  moderator in that sense (evaluated on the final fact set, so revoking a
  moderator also voids what it did).
* Epochs: only the creator rekeys; for each epoch number the lowest-stamped
  rekey wins; the current epoch is the highest.
* Membership intent: the latest-stamped of a member's joins (valid if the
  channel is open, the member was invited, or it is the creator or the
  direct peer), leaves and kicks/bans. A banned member cannot be in.
  ``member`` = intends to be in and listed in the current epoch; ``pending``
  otherwise (category B: shown pending until the next rekey agrees).
* Mutes and bans hide a member's messages from the moderator's ``cutoff``
  position on (the latest-stamped applicable mute/unmute decides, likewise
  ban/unban); a closed channel hides messages stamped after the close.
* Edits: only the message's author's edits count; the latest-stamped wins.
  Deletes: by the author or a moderator; a deleted message stays deleted.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from typing import Any

import attrs

from aura_core.identifiers import AuthorityId, ChannelId
from aura_features.chat.chat_facts import (
    ChannelClosed,
    ChannelCreated,
    ChannelMode,
    ChannelRekeyed,
    ChannelUpdated,
    DeliveryUpdated,
    MemberInvited,
    MemberJoined,
    MemberLeft,
    MessageDeleted,
    MessageEdited,
    MessageRead,
    MessageSent,
    Moderation,
    ModerationAction,
    Position,
)
from aura_features.chat.chat_identifiers import MessageId, message_id
from aura_journal.facts import Fact

__all__ = ["ChannelState", "EditRecord", "MemberStatus", "MessageRecord", "Stamp"]

Stamp = tuple[int, tuple[bytes, bytes]]
"""(Lamport clock, fact sort key): how conflicts are settled, identically everywhere."""


def _stamp(fact: Fact, clock: int) -> Stamp:
    return (clock, fact.sort_key)


class MemberStatus:
    """A member's standing in a channel (plain strings so views print them directly)."""

    MEMBER = "member"
    PENDING_JOIN = "pending_join"
    PENDING_LEAVE = "pending_leave"
    OUTSIDE = "outside"


@attrs.frozen
class MessageRecord:
    """A message fact as indexed: where it sits in history and where its frame came from."""

    id: MessageId
    stamp: Stamp
    author: AuthorityId
    position: Position
    sent_at_ms: int | None
    fact: Fact = attrs.field(eq=False, repr=False)
    body: MessageSent = attrs.field(eq=False, repr=False)

    @property
    def history_key(self) -> tuple[int, bytes, int, int]:
        return (self.stamp[0], self.author.raw, self.position.epoch, self.position.generation)


@attrs.frozen
class EditRecord:
    frame_id: MessageId
    stamp: Stamp
    author: AuthorityId
    target: MessageId
    fact: Fact = attrs.field(eq=False, repr=False)
    body: MessageEdited = attrs.field(eq=False, repr=False)


class ChannelState:
    """Indexed facts of one channel, with the channel's rules as cached queries."""

    def __init__(self, channel: ChannelId) -> None:
        self.channel = channel
        self.version = 0
        self._created: list[tuple[Stamp, ChannelCreated]] = []
        self._topics: list[tuple[Stamp, ChannelUpdated]] = []
        self._closes: list[tuple[Stamp, ChannelClosed]] = []
        self._rekeys: dict[int, list[tuple[Stamp, ChannelRekeyed]]] = {}
        self._invited: dict[AuthorityId, list[Stamp]] = {}
        self._joins: dict[AuthorityId, list[tuple[Stamp, MemberJoined]]] = {}
        self._leaves: dict[AuthorityId, list[Stamp]] = {}
        self._moderation: list[tuple[Stamp, Moderation]] = []
        self.messages: dict[MessageId, MessageRecord] = {}
        self._history: list[tuple[tuple[int, bytes, int, int], MessageId]] = []
        self.edits: dict[MessageId, EditRecord] = {}
        self._edits_of: dict[MessageId, list[EditRecord]] = {}
        self._deletes: dict[MessageId, list[tuple[Stamp, AuthorityId]]] = {}
        self._reads: dict[AuthorityId, set[MessageId]] = {}
        self._delivered: dict[tuple[AuthorityId, AuthorityId, int], int] = {}
        self._delivery_facts: dict[tuple[AuthorityId, AuthorityId, int], Fact] = {}
        self.frames: dict[tuple[AuthorityId, int, int], MessageId] = {}
        """(sender, epoch, generation) -> id of the message or edit sealed there."""
        self._claims: dict[tuple[AuthorityId, int, int], dict[bytes, Stamp]] = {}
        self.equivocated: set[MessageId] = set()
        """Ids whose AMP position two different facts claim (the author equivocated)."""
        self._cache: dict[str, tuple[int, Any]] = {}

    # ------------------------------------------------------------------ folding

    def add(self, fact: Fact, body: Any) -> None:
        """Index one fact (any order, each fact once)."""
        self.version += 1
        kind = type(body)
        stamp = _stamp(fact, body.clock)
        if kind is MessageSent or kind is MessageEdited:
            self._add_sealed(fact, body, stamp)
        elif kind is MessageDeleted:
            self._deletes.setdefault(body.target, []).append((stamp, body.author))
        elif kind is MessageRead:
            self._reads.setdefault(body.author, set()).add(body.through)
        elif kind is DeliveryUpdated:
            key = (body.author, body.sender, body.epoch)
            known = self._delivery_facts.get(key)
            if known is None or (body.below, known.sort_key) > (
                self._delivered[key],
                fact.sort_key,
            ):
                self._delivered[key] = body.below
                self._delivery_facts[key] = fact
        elif kind is ChannelCreated:
            self._created.append((stamp, body))
        elif kind is ChannelUpdated:
            self._topics.append((stamp, body))
        elif kind is ChannelClosed:
            self._closes.append((stamp, body))
        elif kind is ChannelRekeyed:
            self._rekeys.setdefault(body.epoch, []).append((stamp, body))
        elif kind is MemberInvited:
            self._invited.setdefault(body.invitee, []).append(stamp)
        elif kind is MemberJoined:
            self._joins.setdefault(body.author, []).append((stamp, body))
        elif kind is MemberLeft:
            self._leaves.setdefault(body.author, []).append(stamp)
        elif kind is Moderation:
            self._moderation.append((stamp, body))

    def _add_sealed(self, fact: Fact, body: MessageSent | MessageEdited, stamp: Stamp) -> None:
        header = body.frame.header
        coords = (body.author, header.epoch, header.generation)
        fid = message_id(header.context, self.channel, body.author, header.epoch, header.generation)
        claims = self._claims.setdefault(coords, {})
        claims[fact.cid.raw] = stamp
        if len(claims) > 1:
            self.equivocated.add(fid)  # two facts sealed at one AMP position: neither is trusted
        current = self.messages.get(fid) or self.edits.get(fid)
        if current is not None and current.stamp <= stamp:
            return
        if isinstance(current, MessageRecord):
            del self._history[bisect_left(self._history, (current.history_key, fid))]
            del self.messages[fid]
        elif isinstance(current, EditRecord):
            self._edits_of[current.target].remove(current)
            del self.edits[fid]
        if type(body) is MessageSent:
            timestamp = fact.metadata.timestamp
            record = MessageRecord(
                fid,
                stamp,
                body.author,
                body.position,
                getattr(timestamp, "ts_ms", None),
                fact,
                body,
            )
            self.messages[fid] = record
            insort(self._history, (record.history_key, fid))
        else:
            edit = EditRecord(fid, stamp, body.author, body.target, fact, body)
            self.edits[fid] = edit
            self._edits_of.setdefault(body.target, []).append(edit)
        self.frames[coords] = fid

    def _cached(self, name: str, compute: Any) -> Any:
        hit = self._cache.get(name)
        if hit is not None and hit[0] == self.version:
            return hit[1]
        value = compute()
        self._cache[name] = (self.version, value)
        return value

    # ------------------------------------------------------------------ channel

    @property
    def created(self) -> ChannelCreated | None:
        """The creation fact that counts (earliest-stamped by the author the id derives from)."""
        return self._cached("created", self._compute_created)

    def _compute_created(self) -> ChannelCreated | None:
        return min(self._created, key=lambda item: item[0])[1] if self._created else None

    @property
    def creator(self) -> AuthorityId | None:
        created = self.created
        return None if created is None else created.author

    @property
    def topic(self) -> str:
        def compute() -> str:
            created = self.created
            if created is None:
                return ""
            moderators = self.moderators
            valid = [(s, u) for s, u in self._topics if u.author in moderators]
            return max(valid, key=lambda item: item[0])[1].topic if valid else created.topic

        return self._cached("topic", compute)

    @property
    def closed_at(self) -> int | None:
        """Clock of the creator's close, if closed (messages stamped later are hidden)."""

        def compute() -> int | None:
            creator = self.creator
            clocks = [s[0] for s, c in self._closes if c.author == creator]
            return min(clocks) if clocks else None

        return self._cached("closed", compute)

    # ------------------------------------------------------------------ roles

    @property
    def moderators(self) -> frozenset[AuthorityId]:
        return self._cached("moderators", self._compute_moderators)

    def _compute_moderators(self) -> frozenset[AuthorityId]:
        creator = self.creator
        if creator is None:
            return frozenset()
        latest: dict[AuthorityId, tuple[Stamp, bool]] = {}
        for stamp, action in self._moderation:
            if not action.action.creator_only or action.author != creator:
                continue
            assert action.member is not None
            grant = action.action is ModerationAction.GRANT_MODERATOR
            known = latest.get(action.member)
            if known is None or stamp > known[0]:
                latest[action.member] = (stamp, grant)
        return frozenset({creator} | {m for m, (_s, grant) in latest.items() if grant})

    def _effective_moderation(self) -> list[tuple[Stamp, Moderation]]:
        def compute() -> list[tuple[Stamp, Moderation]]:
            moderators, creator = self.moderators, self.creator
            return sorted(
                (
                    (stamp, action)
                    for stamp, action in self._moderation
                    if action.author in moderators
                    and not action.action.creator_only
                    and action.member != creator
                ),
                key=lambda item: item[0],
            )

        return self._cached("effective_moderation", compute)

    # ------------------------------------------------------------------ epochs and members

    def epochs(self) -> list[ChannelRekeyed]:
        """The winning rekey of each epoch, ascending (only the creator's count)."""

        def compute() -> list[ChannelRekeyed]:
            creator = self.creator
            chosen = []
            for epoch in sorted(self._rekeys):
                valid = [(s, r) for s, r in self._rekeys[epoch] if r.author == creator]
                if valid:
                    chosen.append(min(valid, key=lambda item: item[0])[1])
            return chosen

        return self._cached("epochs", compute)

    @property
    def current_epoch(self) -> ChannelRekeyed | None:
        epochs = self.epochs()
        return epochs[-1] if epochs else None

    def epoch_members(self) -> frozenset[AuthorityId]:
        current = self.current_epoch
        return frozenset() if current is None else frozenset(current.members)

    def box_keys(self) -> dict[AuthorityId, bytes]:
        """Each member's latest published box key (the creator's from the creation fact)."""

        def compute() -> dict[AuthorityId, bytes]:
            keys: dict[AuthorityId, tuple[Stamp, bytes]] = {}
            for member, joins in self._joins.items():
                stamp, join = max(joins, key=lambda item: item[0])
                keys[member] = (stamp, join.box_key)
            created = self.created
            if created is not None and created.author not in keys:
                keys[created.author] = ((0, (b"", b"")), created.box_key)
            return {member: key for member, (_s, key) in keys.items()}

        return self._cached("box_keys", compute)

    def _ban_state(self, member: AuthorityId) -> tuple[Stamp | None, bool]:
        latest: tuple[Stamp, bool] | None = None
        for stamp, action in self._effective_moderation():
            if action.member == member and action.action in (
                ModerationAction.BAN,
                ModerationAction.UNBAN,
            ):
                latest = (stamp, action.action is ModerationAction.BAN)
        return (None, False) if latest is None else latest

    def is_banned(self, member: AuthorityId) -> bool:
        return self._ban_state(member)[1]

    def _may_join(self, member: AuthorityId) -> bool:
        created = self.created
        if created is None:
            return False
        if member == created.author:
            return True
        if created.mode is ChannelMode.DIRECT:
            return member == created.peer
        return created.mode is ChannelMode.OPEN or member in self._invited

    def wants_in(self, member: AuthorityId) -> bool:
        """Whether ``member``'s latest membership intent is to be in the channel."""
        created = self.created
        if created is None:
            return False
        if member == created.author:
            return True
        if self.is_banned(member):
            return False
        events: list[tuple[Stamp, bool]] = []
        if self._may_join(member):
            events += [(stamp, True) for stamp, _join in self._joins.get(member, ())]
        events += [(stamp, False) for stamp in self._leaves.get(member, ())]
        events += [
            (stamp, False)
            for stamp, action in self._effective_moderation()
            if action.member == member
            and action.action in (ModerationAction.KICK, ModerationAction.BAN)
        ]
        return max(events, key=lambda item: item[0])[1] if events else False

    def status(self, member: AuthorityId) -> str:
        inside = member in self.epoch_members()
        wanted = self.wants_in(member)
        if inside and wanted:
            return MemberStatus.MEMBER
        if wanted:
            return MemberStatus.PENDING_JOIN
        if inside:
            return MemberStatus.PENDING_LEAVE
        return MemberStatus.OUTSIDE

    def known_members(self) -> frozenset[AuthorityId]:
        """Everyone the channel's facts mention: members of any epoch, joiners, invitees, targets."""
        people: set[AuthorityId] = set(self._joins) | set(self._invited)
        for rekey in self.epochs():
            people.update(rekey.members)
        people.update(a.member for _s, a in self._moderation if a.member is not None)
        if self.creator is not None:
            people.add(self.creator)
        return frozenset(people)

    def desired_members(self) -> frozenset[AuthorityId]:
        """Who should be in the next epoch: intends to be in and has published a box key."""
        keys = self.box_keys()
        return frozenset(m for m in self.known_members() if m in keys and self.wants_in(m))

    def invited(self, member: AuthorityId) -> bool:
        return member in self._invited

    # ------------------------------------------------------------------ moderation of messages

    def hidden_reason(self, record: MessageRecord) -> str | None:
        """Why a message is not shown (``"muted"``, ``"banned"``, ``"closed"``), or ``None``."""
        if record.id in self.equivocated:
            return "equivocated"
        closed = self.closed_at
        if closed is not None and record.stamp[0] > closed:
            return "closed"
        muted = banned = None
        for stamp, action in self._effective_moderation():
            if action.member != record.author or record.position < action.cutoff:
                continue
            if action.action in (ModerationAction.MUTE, ModerationAction.UNMUTE):
                muted = (stamp, action.action is ModerationAction.MUTE)
            elif action.action in (ModerationAction.BAN, ModerationAction.UNBAN):
                banned = (stamp, action.action is ModerationAction.BAN)
        if banned is not None and banned[1]:
            return "banned"
        if muted is not None and muted[1]:
            return "muted"
        return None

    def is_muted(self, member: AuthorityId) -> bool:
        """Whether ``member``'s next message would be hidden (latest mute/unmute is a mute)."""
        latest = None
        for stamp, action in self._effective_moderation():
            if action.member == member and action.action in (
                ModerationAction.MUTE,
                ModerationAction.UNMUTE,
            ):
                latest = (stamp, action.action is ModerationAction.MUTE)
        return latest is not None and latest[1]

    def pinned(self, target: MessageId) -> bool:
        latest = None
        for stamp, action in self._effective_moderation():
            if action.message == target:
                latest = (stamp, action.action is ModerationAction.PIN)
        return latest is not None and latest[1]

    def moderation_log(self) -> list[Moderation]:
        """Moderation actions that count, in stamp order."""
        return [action for _stamp, action in self._effective_moderation()]

    # ------------------------------------------------------------------ messages

    def history(self) -> list[MessageId]:
        """Every indexed message id, oldest first (clock, author, epoch, generation)."""
        return [mid for _key, mid in self._history]

    def history_index(self, target: MessageId) -> int | None:
        record = self.messages.get(target)
        if record is None:
            return None
        index = bisect_left(self._history, (record.history_key, target))
        return index

    def edits_of(self, target: MessageId) -> list[EditRecord]:
        """The author's edits of ``target``, latest-stamped first."""
        record = self.messages.get(target)
        if record is None:
            return []
        edits = [
            e
            for e in self._edits_of.get(target, ())
            if e.author == record.author and e.frame_id not in self.equivocated
        ]
        return sorted(edits, key=lambda e: e.stamp, reverse=True)

    def is_deleted(self, target: MessageId) -> bool:
        record = self.messages.get(target)
        if record is None:
            return False
        moderators = self.moderators
        return any(
            author == record.author or author in moderators
            for _stamp, author in self._deletes.get(target, ())
        )

    def read_through(self, member: AuthorityId) -> int | None:
        """History index of the furthest message ``member`` marked read (known messages only)."""
        indexes = [self.history_index(t) for t in self._reads.get(member, ())]
        known = [i for i in indexes if i is not None]
        return max(known) if known else None

    def delivered_below(self, recipient: AuthorityId, sender: AuthorityId, epoch: int) -> int:
        return self._delivered.get((recipient, sender, epoch), 0)

    def delivery_marks(self) -> dict[tuple[AuthorityId, AuthorityId, int], int]:
        return dict(self._delivered)

    def delivery_fact(self, recipient: AuthorityId, sender: AuthorityId, epoch: int) -> Fact | None:
        """The fact recording the furthest delivery mark (what a repeated ack carries again)."""
        return self._delivery_facts.get((recipient, sender, epoch))

    def epoch_of(self, epoch: int) -> ChannelRekeyed | None:
        for rekey in self.epochs():
            if rekey.epoch == epoch:
                return rekey
        return None
