"""One member's chat in one context: a sans-IO core a runtime (or the simulator) drives.

Inputs: user operations (or parsed commands), guarded envelopes that arrive,
facts that anti-entropy brings, and time (``now``, the driver's monotonic
seconds). Outputs: envelopes committed to the guard stack's outbox (the
driver hands them to a transport), view updates (:meth:`take_updates`), and
the view itself (:attr:`view`). No sockets, no sleeping; durable state goes
through the storage effect, and only through the guard chain when it leaves.

How a message travels::

    send_message -> dry-run the guard chain for every recipient (capability,
    budget) -> seal with this member's AMP chain -> chat.message_sent fact
    -> one guarded send per recipient (charge + receipt + fact + outbox row,
    one transaction each) -> retried at cost ``retry_cost`` until the
    recipient's AMP ack arrives.

    receive_envelope -> strict decode, only chat facts, a valid ack -> the
    guarded receiver (receipt chain, fact signatures and rules, recorded
    once) -> the journal view -> the frame goes to the AMP endpoint, which
    opens it, orders it per sender and acknowledges it (acks are coalesced
    for ``ack_delay_s`` and travel with a ``chat.delivery_updated`` fact).

A refusal by the guard chain (``AuthorizationDenied``, ``InsufficientBudget``
...) raises before anything is sealed, written or sent. Hostile envelopes
raise an ``AuraError`` and leave storage, journal and keys as they were.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from aura_core.canonical_fields import U64_MAX
from aura_core.effects import Incoming, Outgoing
from aura_core.errors import (
    AuraError,
    AuthorizationDenied,
    CryptoError,
    InvalidInput,
    JournalCommitFailed,
    NotFound,
    ProtocolViolation,
    StorageError,
    ValidationError,
)
from aura_core.identifiers import AuthorityId, ChannelId, ContextId
from aura_features.chat.channel_state import ChannelState, MemberStatus
from aura_features.chat.chat_commands import (
    Ban,
    ChatCommand,
    Invite,
    Join,
    Kick,
    Leave,
    Me,
    Msg,
    Mute,
    Nick,
    SendText,
    Topic,
    Unban,
    Unmute,
)
from aura_features.chat.chat_config import ChatConfig
from aura_features.chat.chat_fact_types import CHAT_TYPE_IDS, ChatKeyBook, install_chat_facts
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
    NicknameSet,
    Position,
    check_channel_name,
    check_nick,
)
from aura_features.chat.chat_identifiers import (
    CHANNEL_SALT_BYTES,
    MessageId,
    channel_id_for,
    direct_channel_id,
    message_id,
)
from aura_features.chat.chat_payload import ChatPayload, PayloadKind
from aura_features.chat.chat_state import CHAT_REDUCER, ChatReducer, ChatState
from aura_features.chat.chat_updates import (
    ChannelChanged,
    ChatUpdate,
    DeliveryChanged,
    MessageChanged,
    MessageShown,
    MessagesLost,
    NickChanged,
)
from aura_features.chat.chat_view import ChatView
from aura_features.chat.epoch_secret import (
    BOX_KEY_SECRET_PREFIX,
    EPOCH_SECRET_BYTES,
    box_public_key,
    open_epoch_secret,
    seal_epoch_secret,
)
from aura_features.chat.history_opener import HistoryOpener
from aura_features.chat.message_body import MessageBody, MessageKind, check_message_text
from aura_features.chat.own_chain import OwnChains
from aura_features.chat.retry_queue import RetryQueue
from aura_journal.facts import Fact, FactMetadata, order_time_from_entropy
from aura_journal.journal import Journal
from aura_journal.namespace import JournalNamespace
from aura_protocol.amp import events as amp_events
from aura_protocol.amp.channel_keyring import UnknownSender
from aura_protocol.amp.endpoint import AmpEndpoint
from aura_protocol.amp.frames import (
    AckFrame,
    DataFrame,
    decode_frame,
    encode_frame,
    make_ack,
    verify_ack,
)
from aura_protocol.guards.envelope import Envelope
from aura_protocol.guards.guard_ledgers import journal_name, read_flow_row
from aura_protocol.guards.guard_stack import GuardStack
from aura_protocol.guards.guarded_receiver import Delivery
from aura_protocol.guards.receipt import NONCE_BYTES
from aura_protocol.guards.send_request import MAX_COUPLED_FACTS, GuardSnapshot, SendRequest

__all__ = ["ChatService", "CommandOutcome"]

_ERROR_HISTORY = 256
_FACTS_PAYLOAD = ChatPayload(PayloadKind.FACTS).encode()


@attrs.frozen
class CommandOutcome:
    """What a typed command did: ``action`` names it; ids are set when relevant."""

    action: str
    channel: ChannelId | None = None
    message: MessageId | None = None


class ChatService:
    """The chat of member ``stack.authority`` in ``context``."""

    def __init__(
        self,
        *,
        stack: GuardStack,
        context: ContextId,
        config: ChatConfig | None = None,
        now: float = 0.0,
        box_private: bytes | None = None,
    ) -> None:
        """``box_private``: this member's chat box key when the host derives it (so another
        device of the same account, or a recovered one, opens the same epoch secrets);
        without it a random key is drawn once and kept in storage."""
        if not isinstance(stack, GuardStack):
            raise InvalidInput("ChatService needs the member's GuardStack")
        if not isinstance(context, ContextId):
            raise InvalidInput("ChatService needs a ContextId")
        self.stack = stack
        self.context = context
        self.me = stack.authority
        self.config = config if config is not None else ChatConfig()
        self._random = stack.sender.random
        self._time = stack.sender.time
        self._storage = stack.sender.storage
        self.keys: ChatKeyBook = install_chat_facts(stack.registry, stack.memberships)
        self.keys.remember(stack.memberships.get(context).roster)
        registry = stack.registry.copy()
        registry.register_reducer(ChatReducer())
        self.namespace = JournalNamespace.context(context)
        self.journal = Journal(self.namespace, registry)
        self._journal_name = journal_name(self.namespace)
        self.amp = AmpEndpoint(self.me.raw, config=self.config.amp)
        self._chains = OwnChains(context, self.me.raw)
        self._bodies: dict[MessageId, MessageBody | None] = {}
        self.view = ChatView(self.state, self._bodies, self.me)
        self._updates: list[ChatUpdate] = []
        self._retries: dict[tuple[ChannelId, AuthorityId], RetryQueue] = {}
        self._acks: dict[tuple[ChannelId, AuthorityId, int], bytes] = {}
        self._ack_due: float | None = None
        self._installed: dict[ChannelId, int] = {}
        self._swept: dict[ChannelId, int] = {}
        self._opener = HistoryOpener(context)
        self._unopened: dict[tuple[ChannelId, AuthorityId], dict[tuple[int, int], DataFrame]] = {}
        self._unopened_count = 0
        self._highest: dict[tuple[ChannelId, AuthorityId, int], int] = {}
        self._refeeding = False
        self._queued: dict[ChannelId, list[MessageBody]] = {}
        self._loading = False
        self.errors: deque[tuple[str, AuraError]] = deque(maxlen=_ERROR_HISTORY)
        """Recent problems the service absorbed (a retry refused by the guard chain...)."""
        if box_private is not None and (type(box_private) is not bytes or len(box_private) != 32):
            raise InvalidInput("box_private must be a 32-byte X25519 private key")
        self._box_private = box_private if box_private is not None else self._box_key()
        self.box_key = box_public_key(self._box_private)
        self._load(now)

    # ================================================================== state

    def state(self) -> ChatState:
        """The reduced chat state of the context (the journal's incremental view)."""
        return self.journal.state(CHAT_REDUCER)

    def take_updates(self) -> list[ChatUpdate]:
        """What changed since the last call, oldest first."""
        updates, self._updates = self._updates, []
        return updates

    def _emit(self, update: ChatUpdate) -> None:
        if not self._loading:
            self._updates.append(update)

    def _box_key(self) -> bytes:
        name = BOX_KEY_SECRET_PREFIX + str(self.context)
        with self._storage.transaction() as txn:
            key = txn.get_secret(name)
            if key is None:
                key = self._random.random_bytes(32)
                txn.put_secret(name, key)
        if type(key) is not bytes or len(key) != 32:
            raise StorageError("the stored chat box key is malformed")
        return key

    # ================================================================== loading (restart)

    def _load(self, now: float) -> None:
        """Rebuild journal, keys, chains, opened bodies and retries from storage."""
        with self._storage.transaction(readonly=True) as txn:
            stored = txn.scan_facts(self._journal_name)
        facts = []
        for item in stored:
            fact = Fact.decode(item.body)
            if fact.type_id in CHAT_TYPE_IDS:
                facts.append(fact)
        self._loading = True
        try:
            self.journal.load_trusted(facts)
            state = self.state()
            for channel in list(state.channels):
                cs = state.channel(channel)
                if cs is None:
                    continue
                self._install_ready(channel, now)
                for (sender, _epoch, _generation), fid in sorted(cs.frames.items()):
                    if sender != self.me:
                        self._feed(channel, sender, _frame_of(cs, fid), now)
            self._rebuild_retries(now)
        finally:
            self._loading = False
        self._acks.clear()
        self._ack_due = None

    def _rebuild_retries(self, now: float) -> None:
        state = self.state()
        for channel, cs in state.channels.items():
            if cs.created is None:
                continue
            for (sender, epoch, generation), fid in sorted(cs.frames.items()):
                if sender != self.me or not self.amp.keyring(self.context, channel).retained(epoch):
                    continue
                rekey = cs.epoch_of(epoch)
                if rekey is None:
                    continue
                record = cs.messages.get(fid) or cs.edits.get(fid)
                assert record is not None
                for member in rekey.members:
                    if (
                        member != self.me
                        and cs.delivered_below(member, self.me, epoch) <= generation
                    ):
                        self._retry_queue(channel, member).add(
                            epoch, generation, record.fact.encode(), now
                        )

    # ================================================================== facts in

    def _absorb(self, facts: Sequence[Fact], now: float) -> None:
        """Facts newly in the journal: install epochs, open frames, report changes."""
        touched: set[ChannelId] = set()
        for fact in facts:
            body = self.journal.registry.body(fact)
            kind = type(body)
            if kind is NicknameSet:
                self._emit(NickChanged(body.author))
                continue
            channel = body.channel
            if kind is MessageSent or kind is MessageEdited:
                self._on_sealed(channel, body, now)
            elif kind is MessageDeleted:
                self._emit(MessageChanged(channel, body.target))
            elif kind is Moderation and body.message is not None:
                self._emit(MessageChanged(channel, body.message))
            elif kind is MessageRead or kind is DeliveryUpdated:
                self._emit(DeliveryChanged(channel))
            else:
                touched.add(channel)
                self._emit(ChannelChanged(channel))
                if kind is ChannelCreated:
                    self._on_created(body, now)
        for channel in sorted(touched):
            if self.state().channel(channel) is not None:
                self._install_ready(channel, now)
                self._maybe_rekey(channel, now)

    def _on_created(self, body: ChannelCreated, now: float) -> None:
        if (
            body.mode is ChannelMode.DIRECT
            and body.peer == self.me
            and self.config.auto_join_direct
            and not self._loading
        ):
            cs = self.state().channel(body.channel)
            if cs is not None and cs.status(self.me) == MemberStatus.OUTSIDE:
                try:
                    self.join(body.channel, now)
                except AuraError as exc:
                    self.errors.append(("auto-join", exc))

    def _on_sealed(self, channel: ChannelId, body: MessageSent | MessageEdited, now: float) -> None:
        frame = body.frame
        header = frame.header
        if body.author == self.me:
            fid = message_id(self.context, channel, self.me, header.epoch, header.generation)
            if fid not in self._bodies:  # a frame of this member not sealed by this process
                if (
                    not self._loading
                    and header.epoch == self._chains.current_epoch(channel)
                    and self._chains.can_send(channel)
                    and header.generation >= self._chains.next_generation(channel)
                ):
                    # another device of this account sealed it: never reuse its generations
                    self._chains.fast_forward(channel, header.generation + 1)
                self._open_direct(channel, self.me, frame, now)
            else:
                self._shown(channel, fid)
            return
        self._feed(channel, body.author, frame, now)

    def _shown(self, channel: ChannelId, fid: MessageId) -> None:
        cs = self.state().channels.get(channel)
        if cs is None:
            return
        if fid in cs.messages:
            self._emit(MessageShown(channel, fid))
        elif fid in cs.edits:
            self._emit(MessageChanged(channel, cs.edits[fid].target))

    def _open_direct(
        self, channel: ChannelId, sender: AuthorityId, frame: DataFrame, now: float
    ) -> None:
        """Open a frame from its epoch's secret (an epoch the endpoint does not hold, or ours)."""
        header = frame.header
        fid = message_id(self.context, channel, sender, header.epoch, header.generation)
        if fid in self._bodies:
            return
        secret = self._epoch_secret(channel, header.epoch)
        if secret is None:
            return  # not a member of that epoch: the text stays sealed for this member
        try:
            plaintext = self._opener.open(frame, secret)
        except AuraError as exc:
            self.errors.append((f"frame from {sender}", exc))
            return
        self._bodies[fid] = _decode_body(plaintext)
        self._shown(channel, fid)
        if sender != self.me:
            summary = self._opener.summary(channel, header.epoch, sender.raw)
            if summary is not None:
                ack = make_ack(
                    self._opener.ack_key(channel, header.epoch, secret),
                    self.context,
                    channel,
                    header.epoch,
                    self.me.raw,
                    sender.raw,
                    summary[0],
                    summary[1],
                )
                self._queue_acks(
                    channel, sender, header.epoch, [Outgoing(str(sender), encode_frame(ack))], now
                )

    def _feed(self, channel: ChannelId, sender: AuthorityId, frame: DataFrame, now: float) -> None:
        """Give a peer's frame to the AMP endpoint; keep it if it can be opened later."""
        header = frame.header
        slot = (header.epoch, header.generation)
        key = (channel, sender)
        waiting = self._unopened.setdefault(key, {})
        installed = self._installed.get(channel)
        if installed is None or header.epoch > installed:
            self._hold(waiting, slot, frame)  # its epoch is not known here yet
            return
        keyring = self.amp.keyring(self.context, channel)
        if not keyring.retained(header.epoch):
            if waiting.pop(slot, None) is not None:
                self._unopened_count -= 1
            self._open_direct(channel, sender, frame, now)
            return
        errors = self.amp.errors
        last = errors[-1] if errors else None
        outputs = self.amp.receive(Incoming(str(sender), encode_frame(frame)), now)
        error = errors[-1][1] if errors and errors[-1] is not last else None
        self._queue_acks(channel, sender, header.epoch, outputs, now)
        if keyring.was_received(header):
            mark = (channel, sender, header.epoch)
            if header.generation > self._highest.get(mark, -1):
                self._highest[mark] = header.generation
            if waiting.pop(slot, None) is not None:
                self._unopened_count -= 1
            self._take_amp_events()
            if waiting and not self._refeeding:
                self._refeed(channel, sender, now)
            return
        ahead = header.generation > self._highest.get((channel, sender, header.epoch), -1)
        if ahead and not isinstance(error, CryptoError | UnknownSender):
            self._hold(waiting, slot, frame)
        else:
            if waiting.pop(slot, None) is not None:
                self._unopened_count -= 1
            if error is not None:
                self.errors.append((f"frame from {sender}", error))
        self._take_amp_events()

    def _hold(
        self, waiting: dict[tuple[int, int], DataFrame], slot: tuple[int, int], frame: DataFrame
    ) -> None:
        if slot in waiting:
            return
        if self._unopened_count >= self.config.max_unopened:
            self.errors.append(
                ("unopened", ValidationError("too many frames wait to be opened; one was dropped"))
            )
            return
        waiting[slot] = frame
        self._unopened_count += 1

    def _refeed(self, channel: ChannelId, sender: AuthorityId | None, now: float) -> None:
        """Try frames that waited (an epoch arrived, or earlier frames of their sender did)."""
        self._refeeding = True
        try:
            for key in [k for k in self._unopened if k[0] == channel]:
                if sender is not None and key[1] != sender:
                    continue
                waiting = self._unopened[key]
                for slot in sorted(waiting):
                    frame = waiting.get(slot)
                    if frame is not None:
                        self._feed(channel, key[1], frame, now)
        finally:
            self._refeeding = False

    def _take_amp_events(self) -> None:
        for event in self.amp.take_events():
            channel = event.channel
            if isinstance(event, amp_events.MessageDelivered):
                sender = AuthorityId(event.sender)
                fid = message_id(self.context, channel, sender, event.epoch, event.generation)
                if fid in self._bodies:
                    continue
                self._bodies[fid] = _decode_body(event.plaintext)
                self._shown(channel, fid)
            elif isinstance(event, amp_events.MessagesLost):
                self._emit(
                    MessagesLost(channel, AuthorityId(event.sender), event.epoch, event.count)
                )

    # ================================================================== epochs

    def _epoch_secret(self, channel: ChannelId, epoch: int) -> bytes | None:
        cs = self.state().channel(channel)
        rekey = None if cs is None else cs.epoch_of(epoch)
        sealed = None if rekey is None else rekey.secret_for(self.me)
        if sealed is None:
            return None
        try:
            return open_epoch_secret(
                sealed,
                self._box_private,
                context=self.context,
                channel=channel,
                epoch=epoch,
                member=self.me,
            )
        except CryptoError as exc:
            self.errors.append(("epoch-secret", exc))
            return None

    def _install_ready(self, channel: ChannelId, now: float) -> None:
        """Install every epoch newer than the installed one, in order.

        An epoch whose rekey arrives after a later one was installed is never
        installed in the endpoint; its frames are opened from its secret.
        """
        cs = self.state().channel(channel)
        if cs is None:
            return
        installed = self._installed.get(channel)
        progressed = False
        for rekey in cs.epochs():
            if installed is not None and rekey.epoch <= installed:
                continue
            self._install(channel, cs, rekey, now)
            installed = rekey.epoch
            progressed = True
        if progressed:
            self._refeed(channel, None, now)
            self._flush_queued(channel, now)
        known_epochs = len(cs.epochs())
        if installed is None or self._swept.get(channel) == known_epochs:
            return
        # an epoch became known (perhaps one older than the installed one): open what it holds
        self._swept[channel] = known_epochs
        keyring = self.amp.keyring(self.context, channel)
        for (sender, epoch, _generation), fid in sorted(cs.frames.items()):
            if fid not in self._bodies and not keyring.retained(epoch):
                self._open_direct(channel, sender, _frame_of(cs, fid), now)

    def _install(
        self, channel: ChannelId, cs: ChannelState, rekey: ChannelRekeyed, now: float
    ) -> None:
        secret = self._epoch_secret(channel, rekey.epoch) if self.me in rekey.members else None
        members = {member.raw: str(member) for member in rekey.members}
        self.amp.install_epoch(
            self.context, channel, rekey.epoch, secret or bytes(EPOCH_SECRET_BYTES), members, now
        )
        self._chains.install(channel, rekey.epoch, secret)
        self._installed[channel] = rekey.epoch
        if secret is None:
            return
        own = [
            (generation, fid)
            for (sender, epoch, generation), fid in cs.frames.items()
            if sender == self.me and epoch == rekey.epoch
        ]
        if own:
            self._chains.fast_forward(channel, max(g for g, _ in own) + 1)
            for _generation, fid in sorted(own):
                if fid not in self._bodies:
                    self._open_direct(channel, self.me, _frame_of(cs, fid), now)
        self._emit(ChannelChanged(channel))

    def _maybe_rekey(self, channel: ChannelId, now: float) -> None:
        if self._loading or not self.config.auto_approve:
            return
        cs = self.state().channel(channel)
        if cs is None or cs.creator != self.me or cs.closed_at is not None:
            return
        if cs.desired_members() != cs.epoch_members():
            try:
                self.approve_pending(channel, now)
            except AuraError as exc:
                self.errors.append(("rekey", exc))

    def approve_pending(self, channel: ChannelId, now: float) -> int | None:
        """The creator's agreement: a new epoch whose members are those who should be in.

        Returns the new epoch, or ``None`` when membership already matches.
        """
        cs = self._known(channel)
        if cs.creator != self.me:
            raise AuthorizationDenied(f"only the creator of {self._label(cs)} issues its epochs")
        desired = cs.desired_members()
        if desired == cs.epoch_members():
            return None
        current = cs.current_epoch
        epoch = 1 if current is None else current.epoch + 1
        if self._installed.get(channel, 0) >= epoch:
            raise InvalidInput(f"epoch {epoch} of {self._label(cs)} is already installed")
        secret = self._random.random_bytes(EPOCH_SECRET_BYTES)
        keys = cs.box_keys()
        members = sorted(desired)
        sealed = [
            seal_epoch_secret(
                secret,
                keys[m],
                context=self.context,
                channel=channel,
                epoch=epoch,
                member=m,
                random=self._random,
            )
            for m in members
        ]
        fact = self._fact(ChannelRekeyed(channel, self.me, self._clock(), epoch, members, sealed))
        self._publish(set(members) | cs.epoch_members(), [fact], now)
        return epoch

    # ================================================================== facts out

    def _clock(self) -> int:
        """One more than any clock seen (saturating: a member who jumped to the end of the
        range degrades ordering to the tie-breaks, it cannot stop anyone from writing)."""
        return min(self.state().max_clock + 1, U64_MAX)

    def _fact(self, body: Any) -> Fact:
        identity = self.stack.memberships.get(self.context).identity
        metadata = FactMetadata(
            order_time_from_entropy(self._random.random_bytes(32)), self._time.now()
        )
        return Fact.create(body, metadata).signed_by_single_key(
            self.namespace, identity.signing_key
        )

    def _address(self, peer: AuthorityId) -> str:
        roster = self.stack.memberships.get(self.context).roster
        member = roster.members.get(peer)
        if member is None:
            raise ValidationError(f"{peer} is not a member of {self.context}")
        if member.address is None:
            raise ValidationError(f"no address is known for {peer} in {self.context}")
        return member.address

    def _reachable(self, peers: Iterable[AuthorityId]) -> list[AuthorityId]:
        roster = self.stack.memberships.get(self.context).roster
        return sorted(p for p in set(peers) if p != self.me and p in roster)

    def _dry_run(self, peers: Sequence[AuthorityId], cost: int) -> None:
        """Evaluate the guard chain for each recipient without committing anything.

        A sealed message burns a generation of the AMP chain, so the chain's
        verdict must be known before sealing: any refusal raises here.
        """
        if not peers:
            return
        membership = self.stack.memberships.get(self.context)
        now = self._time.now()
        capability, flow_budget = self.stack.chain.guards[0], self.stack.chain.guards[1]
        with self._storage.transaction(readonly=True) as txn:
            for index, peer in enumerate(peers):
                spent, flow_epoch = read_flow_row(txn, self.context, peer)
                snapshot = GuardSnapshot(
                    sender=self.me,
                    now=now,
                    epoch=membership.roster.epoch,
                    token=membership.token,
                    flow_spent=spent,
                    flow_epoch=flow_epoch,
                    leakage={},
                    nonce=bytes(NONCE_BYTES),
                    order_entropy=bytes(32),
                    authorization_facts=membership.authorization_facts,
                )
                request = SendRequest(
                    context=self.context,
                    peer=peer,
                    address=self._address(peer),
                    payload=b"",
                    capability=self.config.capability,
                    cost=cost,
                )
                if index == 0:
                    capability.check(request, snapshot)
                flow_budget.check(request, snapshot)

    def _commit(
        self,
        peers: Sequence[AuthorityId],
        facts: Sequence[Fact],
        *,
        cost: int,
        payload: bytes = _FACTS_PAYLOAD,
    ) -> int:
        """One guarded send per peer (facts written by the first); returns how many committed."""
        fact_types = tuple(sorted({fact.type_id for fact in facts}))
        committed = 0
        for peer in peers:
            self.stack.sender.commit(
                SendRequest(
                    context=self.context,
                    peer=peer,
                    address=self._address(peer),
                    payload=payload,
                    capability=self.config.capability,
                    cost=cost,
                    facts=tuple(facts),
                    fact_types=fact_types,
                )
            )
            committed += 1
        if not peers and facts:
            try:
                with self._storage.transaction() as txn:
                    txn.append_facts(self._journal_name, [(f.cid.raw, f.encode()) for f in facts])
            except StorageError as exc:
                raise JournalCommitFailed(
                    f"chat facts could not be stored: {exc.message}"
                ) from None
        return committed

    def _publish(
        self, recipients: Iterable[AuthorityId], facts: Sequence[Fact], now: float
    ) -> None:
        """Dry-run, commit to every reachable recipient, then take the facts in locally."""
        peers = self._reachable(recipients)
        self._dry_run(peers, self.config.send_cost)
        self._commit(peers, facts, cost=self.config.send_cost)
        self._local(facts, now)

    def _local(self, facts: Sequence[Fact], now: float) -> None:
        fresh = [fact for fact in facts if fact not in self.journal]
        self.journal.load_trusted(fresh)
        self._absorb(fresh, now)

    def _send_sealed(
        self, cs: ChannelState, items: Sequence[tuple[Any, MessageBody]], now: float
    ) -> list[MessageId]:
        """Seal each body in the channel's current epoch and publish the facts ``build(frame, clock)``.

        Up to 32 facts travel in one envelope per recipient (one guarded
        transaction, charged ``send_cost`` per message). The whole batch is
        dry-run through the guard chain before anything is sealed.
        """
        channel = cs.channel
        current = self._chains.current_epoch(channel)
        rekey = None if current is None else cs.epoch_of(current)
        if rekey is None or not self._chains.can_send(channel):
            raise InvalidInput(
                f"{self._label(cs)}: this member holds no key of its current epoch yet"
            )
        epoch = rekey.epoch
        peers = self._reachable(rekey.members)
        self._dry_run(peers, self.config.send_cost * len(items))
        sealed: list[tuple[MessageId, Fact, int]] = []
        clock = self._clock()
        for offset, (build, plaintext) in enumerate(items):
            frame = self._chains.seal(channel, plaintext.encode())
            header = frame.header
            fid = message_id(self.context, channel, self.me, header.epoch, header.generation)
            self._bodies[fid] = plaintext
            sealed.append((fid, self._fact(build(frame, clock + offset)), header.generation))
        stored = 0
        failure: AuraError | None = None
        for start in range(0, len(sealed), MAX_COUPLED_FACTS):
            chunk = [fact for _fid, fact, _g in sealed[start : start + MAX_COUPLED_FACTS]]
            committed = 0
            for peer in peers:
                try:
                    self._commit([peer], chunk, cost=self.config.send_cost * len(chunk))
                except AuraError as exc:
                    failure = exc
                    if committed == 0:
                        break
                    self.errors.append((f"send to {peer}", exc))  # retried like a lost one
                    continue
                committed += 1
            if not peers:
                try:
                    self._commit([], chunk, cost=0)
                    committed = 1
                except AuraError as exc:
                    failure = exc
            if committed == 0:
                break
            stored += len(chunk)
        if stored < len(sealed):
            # Frames never stored never left: their generations are free again.
            assert failure is not None
            self._chains.reset(
                channel, epoch, self._epoch_secret(channel, epoch), sealed[stored][2]
            )
            for fid, _fact, _g in sealed[stored:]:
                self._bodies.pop(fid, None)
            if stored == 0:
                raise failure
            self.errors.append(("send", failure))
        kept = sealed[:stored]
        for peer in peers:
            queue = self._retry_queue(channel, peer)
            for _fid, fact, generation in kept:
                queue.add(epoch, generation, fact.encode(), now)
        self._local([fact for _fid, fact, _g in kept], now)
        return [fid for fid, _fact, _g in kept]

    def _retry_queue(self, channel: ChannelId, peer: AuthorityId) -> RetryQueue:
        queue = self._retries.get((channel, peer))
        if queue is None:
            queue = self._retries[(channel, peer)] = RetryQueue(self.config.retry)
        return queue

    # ================================================================== acknowledgements

    def _queue_acks(
        self,
        channel: ChannelId,
        sender: AuthorityId,
        epoch: int,
        outputs: Sequence[Outgoing],
        now: float,
    ) -> None:
        """Keep the newest acknowledgement to ``sender`` for ``epoch`` (each covers the earlier)."""
        if not outputs:
            return
        self._acks[(channel, sender, epoch)] = outputs[-1].payload
        if self._loading:
            return
        due = now + self.config.ack_delay_s
        self._ack_due = due if self._ack_due is None else min(self._ack_due, due)
        if self.config.ack_delay_s == 0:
            self._flush_acks(now)

    def _flush_acks(self, now: float) -> None:
        acks, self._acks = self._acks, {}
        self._ack_due = None
        for (channel, sender, epoch), raw in sorted(acks.items(), key=lambda kv: kv[0]):
            frame = decode_frame(raw)
            assert isinstance(frame, AckFrame)
            facts = []
            cs = self.state().channels.get(channel)
            known = 0 if cs is None else cs.delivered_below(self.me, sender, epoch)
            if frame.received_below > known:
                facts.append(
                    self._fact(
                        DeliveryUpdated(
                            channel, self.me, self._clock(), sender, epoch, frame.received_below
                        )
                    )
                )
            elif cs is not None and known > 0:
                # a repeated acknowledgement: the mark it follows may have been lost with it
                previous = cs.delivery_fact(self.me, sender, epoch)
                if previous is not None:
                    facts.append(previous)
            payload = ChatPayload(PayloadKind.ACK, raw).encode()
            try:
                if sender not in self.stack.memberships.get(self.context).roster:
                    continue
                self._commit([sender], facts, cost=self.config.ack_cost, payload=payload)
            except AuraError as exc:
                self.errors.append(("ack", exc))
                continue
            self._local(facts, now)

    def _verify_ack(self, raw: bytes, origin: AuthorityId) -> AckFrame:
        frame = decode_frame(raw)
        if not isinstance(frame, AckFrame):
            raise ProtocolViolation("an ack payload must hold an AMP acknowledgement")
        if frame.context != self.context:
            raise ValidationError("the acknowledgement belongs to another context")
        if frame.sender != self.me.raw:
            raise ValidationError("the acknowledgement is addressed to another member")
        if frame.acker != origin.raw:
            raise ValidationError("the acknowledgement is not from the envelope's origin")
        if frame.channel not in self._installed:
            raise ValidationError(f"acknowledgement for unknown channel {frame.channel}")
        key = self.amp.keyring(self.context, frame.channel).ack_key(frame.epoch)
        if key is None:
            raise ValidationError(f"acknowledgement for epoch {frame.epoch}, whose keys are gone")
        verify_ack(frame, key)
        return frame

    def _on_ack(self, frame: AckFrame, now: float) -> None:
        queue = self._retries.get((frame.channel, AuthorityId(frame.acker)))
        if queue is None:
            return
        again = queue.acknowledge(frame.epoch, frame.received_below, frame.received_also, now)
        self._resend(frame.channel, AuthorityId(frame.acker), again)

    def _resend(self, channel: ChannelId, peer: AuthorityId, encoded: Sequence[bytes]) -> None:
        batch = self.config.max_retry_batch
        for start in range(0, len(encoded), batch):
            facts = [Fact.decode(raw) for raw in encoded[start : start + batch]]
            try:
                self._commit([peer], facts, cost=self.config.retry_cost)
            except AuraError as exc:
                self.errors.append(("retry", exc))
                return

    # ================================================================== network side

    def receive_envelope(self, data: bytes, now: float) -> Delivery:
        """Check, record and process one guarded envelope from a peer.

        Raises ``InvalidEncoding``, ``ValidationError``, ``CryptoError`` or
        ``ProtocolViolation`` for anything hostile; nothing is written then.
        A retransmitted envelope is recognised and changes nothing.
        """
        if not isinstance(data, bytes):
            raise InvalidInput(f"an envelope is bytes, got {type(data).__name__}")
        envelope = Envelope.decode(data)
        if envelope.context != self.context:
            raise ValidationError(
                f"an envelope of {envelope.context} reached the chat of {self.context}"
            )
        if envelope.destination != self.me:
            raise ProtocolViolation("chat envelopes are delivered end to end, not relayed")
        payload = ChatPayload.decode(envelope.payload)
        for index, raw in enumerate(envelope.facts):
            if Fact.decode(raw).type_id not in CHAT_TYPE_IDS:
                raise ValidationError(f"coupled fact {index} is not a chat fact")
        ack = None
        if payload.kind is PayloadKind.ACK:
            assert payload.ack_frame is not None
            ack = self._verify_ack(payload.ack_frame, envelope.origin)
        delivery = self.stack.receiver.accept(data, context=self.context)
        if delivery.duplicate:
            return delivery
        known = [fact for fact in delivery.facts if fact in self.journal]
        self._local(delivery.facts, now)
        for fact in known:
            # A resent message we hold: our acknowledgement was lost, so acknowledge again.
            body = self.journal.registry.body(fact)
            if type(body) in (MessageSent, MessageEdited) and body.author != self.me:
                self._feed(body.channel, body.author, body.frame, now)
        if ack is not None:
            self._on_ack(ack, now)
        return delivery

    def accept_synced(self, facts: Sequence[Fact], now: float) -> None:
        """Facts anti-entropy put into the journal: store them durably and process them."""
        if not facts:
            return
        with self._storage.transaction() as txn:
            txn.append_facts(self._journal_name, [(f.cid.raw, f.encode()) for f in facts])
        self._absorb(facts, now)

    def next_timer(self) -> float | None:
        times = []
        amp = self.amp.next_timer()
        if amp is not None:
            times.append(amp)
        for queue in self._retries.values():
            due = queue.next_due()
            if due is not None:
                times.append(due)
        if self._ack_due is not None:
            times.append(self._ack_due)
        return min(times) if times else None

    def on_timer(self, now: float) -> None:
        self.amp.on_timer(now)
        self._take_amp_events()
        for (channel, peer), queue in list(self._retries.items()):
            keyring = self.amp.keyring(self.context, channel)
            for epoch in sorted(queue.epochs):
                if not keyring.retained(epoch):
                    queue.drop_epoch(epoch)
            due, _failed = queue.due(now)
            if due:
                self._resend(channel, peer, due)
        if self._ack_due is not None and now >= self._ack_due - 1e-6:
            self._flush_acks(now)

    # ================================================================== user operations

    def _known(self, channel: ChannelId) -> ChannelState:
        if not isinstance(channel, ChannelId):
            raise InvalidInput("expected a ChannelId")
        cs = self.state().channel(channel)
        if cs is None:
            raise NotFound(f"no channel {channel} is known here")
        return cs

    def _label(self, cs: ChannelState) -> str:
        created = cs.created
        return f"#{created.name}" if created is not None and created.name else str(cs.channel)

    def _member_of(self, channel: ChannelId) -> ChannelState:
        cs = self._known(channel)
        if cs.status(self.me) not in (MemberStatus.MEMBER,):
            raise InvalidInput(
                f"{self._label(cs)}: this member is {cs.status(self.me).replace('_', ' ')}, "
                "not a member yet"
            )
        return cs

    def _writable(self, channel: ChannelId) -> ChannelState:
        cs = self._member_of(channel)
        if cs.closed_at is not None:
            raise InvalidInput(f"{self._label(cs)} is closed")
        if cs.is_banned(self.me):
            raise AuthorizationDenied(f"this member is banned from {self._label(cs)}")
        if cs.is_muted(self.me):
            raise AuthorizationDenied(f"this member is muted in {self._label(cs)}")
        return cs

    def create_channel(
        self, name: str, now: float, *, topic: str = "", mode: ChannelMode = ChannelMode.OPEN
    ) -> ChannelId:
        """A new open or invite-only channel; an open one is announced to the whole context."""
        check_channel_name(name)
        mode = ChannelMode(mode)
        if mode is ChannelMode.DIRECT:
            raise InvalidInput("use open_direct for a direct channel")
        salt = self._random.random_bytes(CHANNEL_SALT_BYTES)
        channel = channel_id_for(self.context, self.me, salt)
        created = ChannelCreated(
            channel, self.me, self._clock(), mode, name, topic, self.box_key, salt
        )
        announce: set[AuthorityId] = set()
        if mode is ChannelMode.OPEN:
            announce = set(self.stack.memberships.get(self.context).roster.members)
        self._create(created, announce, now)
        return channel

    def open_direct(self, peer: AuthorityId, now: float) -> ChannelId:
        """The direct channel with ``peer`` (an existing one, or a new one it is told about)."""
        if not isinstance(peer, AuthorityId) or peer == self.me:
            raise InvalidInput("a direct channel needs another member")
        if peer not in self.stack.memberships.get(self.context).roster:
            raise NotFound(f"{peer} is not a member of {self.context}")
        existing = self.view.direct_channel_with(peer)
        if existing is not None:
            return existing
        channel = direct_channel_id(self.context, self.me, peer)
        created = ChannelCreated(
            channel, self.me, self._clock(), ChannelMode.DIRECT, "", "", self.box_key, b"", peer
        )
        self._create(created, {peer}, now)
        return channel

    def _create(self, created: ChannelCreated, announce: set[AuthorityId], now: float) -> None:
        channel = created.channel
        if self.state().channel(channel) is not None:
            raise InvalidInput(f"channel {channel} exists already")
        secret = self._random.random_bytes(EPOCH_SECRET_BYTES)
        sealed = seal_epoch_secret(
            secret,
            self.box_key,
            context=self.context,
            channel=channel,
            epoch=1,
            member=self.me,
            random=self._random,
        )
        first = self._fact(created)
        rekey = self._fact(
            ChannelRekeyed(channel, self.me, created.clock + 1, 1, [self.me], [sealed])
        )
        peers = self._reachable(announce)
        self._dry_run(peers, self.config.send_cost)
        self._commit(peers, [first], cost=self.config.send_cost)
        self._commit([], [rekey], cost=0)
        self._local([first, rekey], now)

    def send_message(
        self, channel: ChannelId, text: str, now: float, *, kind: MessageKind = MessageKind.TEXT
    ) -> MessageId:
        """Seal and send ``text`` to the channel; returns its id."""
        body = MessageBody(MessageKind(kind), check_message_text(text))
        cs = self._writable(channel)
        return self._send_sealed(
            cs, [(lambda frame, clock: MessageSent(channel, self.me, clock, frame), body)], now
        )[0]

    def send_messages(
        self,
        channel: ChannelId,
        texts: Sequence[str],
        now: float,
        *,
        kind: MessageKind = MessageKind.TEXT,
    ) -> list[MessageId]:
        """Send several messages at once (a burst, a backlog), in this order.

        Each is its own sealed message and is paid for as one, but up to 32
        share an envelope and a transaction per recipient. Raises if none
        could be stored; if only some could (storage failing mid-way), returns
        those and records the error in :attr:`errors`.
        """
        if not texts:
            return []
        bodies = [MessageBody(MessageKind(kind), check_message_text(t)) for t in texts]
        cs = self._writable(channel)
        return self._send_sealed(
            cs,
            [
                (lambda frame, clock: MessageSent(channel, self.me, clock, frame), body)
                for body in bodies
            ],
            now,
        )

    def edit_message(self, message: MessageId, text: str, now: float) -> MessageId:
        """New text for one of this member's messages; returns the edit's id."""
        cs = self._channel_of(message)
        record = cs.messages[message]
        if record.author != self.me:
            raise AuthorizationDenied("only a message's author can edit it")
        if cs.is_deleted(message):
            raise InvalidInput("a deleted message cannot be edited")
        original = self._bodies.get(message)
        kind = original.kind if original is not None else MessageKind.TEXT
        body = MessageBody(kind, check_message_text(text))
        self._writable(cs.channel)
        return self._send_sealed(
            cs,
            [
                (
                    lambda frame, clock: MessageEdited(cs.channel, self.me, clock, message, frame),
                    body,
                )
            ],
            now,
        )[0]

    def delete_message(self, message: MessageId, now: float) -> None:
        cs = self._channel_of(message)
        record = cs.messages[message]
        if record.author != self.me and self.me not in cs.moderators:
            raise AuthorizationDenied("only the author or a moderator can delete a message")
        self._member_of(cs.channel)
        fact = self._fact(MessageDeleted(cs.channel, self.me, self._clock(), message))
        self._publish(cs.epoch_members(), [fact], now)

    def mark_read(
        self, channel: ChannelId, now: float, *, through: MessageId | None = None
    ) -> bool:
        """Mark the channel read up to ``through`` (default: its newest message).

        Returns ``False`` when nothing moved (no message, or already read that far).
        """
        cs = self._member_of(channel)
        history = cs.history()
        if through is None:
            if not history:
                return False
            through = history[-1]
        index = cs.history_index(through)
        if index is None:
            raise NotFound(f"no message {through} in {self._label(cs)}")
        read = cs.read_through(self.me)
        if read is not None and read >= index:
            return False
        fact = self._fact(MessageRead(channel, self.me, self._clock(), through))
        self._publish(cs.epoch_members(), [fact], now)
        return True

    def set_topic(self, channel: ChannelId, topic: str, now: float) -> None:
        cs = self._member_of(channel)
        if self.me not in cs.moderators:
            raise AuthorizationDenied(f"only moderators set the topic of {self._label(cs)}")
        fact = self._fact(ChannelUpdated(channel, self.me, self._clock(), topic))
        self._publish(cs.epoch_members(), [fact], now)

    def close_channel(self, channel: ChannelId, now: float) -> None:
        cs = self._known(channel)
        if cs.creator != self.me:
            raise AuthorizationDenied(f"only the creator closes {self._label(cs)}")
        fact = self._fact(ChannelClosed(channel, self.me, self._clock()))
        self._publish(cs.epoch_members(), [fact], now)

    def set_nickname(self, nick: str, now: float) -> None:
        check_nick(nick)
        fact = self._fact(NicknameSet(self.me, self._clock(), nick))
        self._publish(self.stack.memberships.get(self.context).roster.members, [fact], now)

    def invite(self, channel: ChannelId, member: AuthorityId, now: float) -> None:
        """Invite ``member`` (it receives the channel's creation fact with the invitation)."""
        cs = self._member_of(channel)
        if cs.created is not None and cs.created.mode is ChannelMode.DIRECT:
            raise InvalidInput("nobody else can be invited into a direct channel")
        if member not in self.stack.memberships.get(self.context).roster:
            raise NotFound(f"{member} is not a member of {self.context}")
        if cs.is_banned(member):
            raise InvalidInput(f"{member} is banned from {self._label(cs)}")
        fact = self._fact(MemberInvited(channel, self.me, self._clock(), member))
        created = self._facts_of(ChannelCreated.TYPE_ID, channel)
        peers = self._reachable(cs.epoch_members() | {member})
        self._dry_run(peers, self.config.send_cost)
        for peer in peers:
            facts = [fact, *created] if peer == member else [fact]
            self._commit([peer], facts, cost=self.config.send_cost)
        if not peers:
            self._commit([], [fact], cost=0)
        self._local([fact], now)

    def join(self, channel: ChannelId, now: float) -> None:
        """Ask to be in the channel (pending until the creator's next epoch lists this member)."""
        cs = self._known(channel)
        created = cs.created
        assert created is not None
        if cs.status(self.me) in (MemberStatus.MEMBER, MemberStatus.PENDING_JOIN):
            raise InvalidInput(f"already in {self._label(cs)} (or waiting to be)")
        if cs.is_banned(self.me):
            raise AuthorizationDenied(f"this member is banned from {self._label(cs)}")
        allowed = (
            created.mode is ChannelMode.OPEN
            or cs.invited(self.me)
            or (created.mode is ChannelMode.DIRECT and created.peer == self.me)
        )
        if not allowed:
            raise AuthorizationDenied(
                f"{self._label(cs)} is invite-only and nobody invited this member"
            )
        fact = self._fact(MemberJoined(channel, self.me, self._clock(), self.box_key))
        self._publish(cs.epoch_members() | {created.author}, [fact], now)

    def leave(self, channel: ChannelId, now: float) -> None:
        cs = self._known(channel)
        if cs.creator == self.me:
            raise InvalidInput(f"the creator does not leave {self._label(cs)}; it closes it")
        if cs.status(self.me) in (MemberStatus.OUTSIDE, MemberStatus.PENDING_LEAVE):
            raise InvalidInput(f"not in {self._label(cs)}")
        fact = self._fact(MemberLeft(channel, self.me, self._clock()))
        creator = cs.creator
        assert creator is not None  # a known channel has its creation fact
        self._publish(cs.epoch_members() | {creator}, [fact], now)

    def moderate(
        self,
        channel: ChannelId,
        action: ModerationAction,
        now: float,
        *,
        member: AuthorityId | None = None,
        message: MessageId | None = None,
        reason: str = "",
    ) -> None:
        """A moderation action; only moderators (the creator for roles) may take one."""
        action = ModerationAction(action)
        cs = self._known(channel)
        if action.creator_only:
            if cs.creator != self.me:
                raise AuthorizationDenied(
                    f"only the creator grants or revokes moderators of {self._label(cs)}"
                )
        elif self.me not in cs.moderators:
            raise AuthorizationDenied(f"only moderators of {self._label(cs)} can {action.value}")
        if member is not None and member == cs.creator and not action.creator_only:
            raise AuthorizationDenied(f"the creator of {self._label(cs)} cannot be {action.value}d")
        cutoff = Position(0, 0)
        if member is not None:
            positions = [r.position for r in cs.messages.values() if r.author == member]
            if positions:
                last = max(positions)
                cutoff = Position(last.epoch, last.generation + 1)
        elif message is not None and message not in cs.messages:
            raise NotFound(f"no message {message} in {self._label(cs)}")
        fact = self._fact(
            Moderation(channel, self.me, self._clock(), action, member, message, cutoff, reason)
        )
        targets = set(cs.epoch_members())
        if member is not None:
            targets.add(member)
        self._publish(targets, [fact], now)

    def _channel_of(self, message: MessageId) -> ChannelState:
        if not isinstance(message, MessageId):
            raise InvalidInput("expected a MessageId")
        for cs in self.state().channels.values():
            if message in cs.messages and cs.created is not None:
                return cs
        raise NotFound(f"no message {message} is known here")

    def _facts_of(self, type_id: str, channel: ChannelId) -> list[Fact]:
        registry = self.journal.registry
        return [
            f for f in self.journal.facts_of_type(type_id) if registry.body(f).channel == channel
        ]

    def _flush_queued(self, channel: ChannelId, now: float) -> None:
        queued = self._queued.get(channel)
        if not queued or self._loading:
            return
        cs = self.state().channel(channel)
        if cs is None or cs.status(self.me) != MemberStatus.MEMBER or len(cs.epoch_members()) < 2:
            return
        del self._queued[channel]
        for body in queued:
            try:
                self.send_message(channel, body.text, now, kind=body.kind)
            except AuraError as exc:
                self.errors.append(("queued", exc))

    # ================================================================== commands

    def execute(
        self, command: ChatCommand, now: float, *, channel: ChannelId | None = None
    ) -> CommandOutcome:
        """Carry out a parsed command; ``channel`` is the one the user is looking at."""

        def current() -> ChannelId:
            if channel is None:
                raise InvalidInput("this command acts on the current channel, and none is selected")
            return channel

        if isinstance(command, SendText):
            target = current()
            return CommandOutcome("sent", target, self.send_message(target, command.text, now))
        if isinstance(command, Me):
            target = current()
            mid = self.send_message(target, command.text, now, kind=MessageKind.ACTION)
            return CommandOutcome("sent", target, mid)
        if isinstance(command, Msg):
            if command.target.startswith("#"):
                target = self.view.find_channel(command.target)
                return CommandOutcome("sent", target, self.send_message(target, command.text, now))
            peer = self.view.resolve_member(command.target)
            target = self.open_direct(peer, now)
            cs = self._known(target)
            if cs.status(self.me) == MemberStatus.MEMBER and len(cs.epoch_members()) >= 2:
                return CommandOutcome("sent", target, self.send_message(target, command.text, now))
            self._queued.setdefault(target, []).append(MessageBody(MessageKind.TEXT, command.text))
            return CommandOutcome("queued", target)
        if isinstance(command, Nick):
            self.set_nickname(command.nick, now)
            return CommandOutcome("nick")
        if isinstance(command, Join):
            target = self.view.find_channel(command.channel)
            self.join(target, now)
            return CommandOutcome("joined", target)
        if isinstance(command, Leave):
            target = self.view.find_channel(command.channel) if command.channel else current()
            self.leave(target, now)
            return CommandOutcome("left", target)
        if isinstance(command, Topic):
            target = current()
            self.set_topic(target, command.topic, now)
            return CommandOutcome("topic", target)
        if isinstance(command, Invite):
            target = current()
            self.invite(target, self.view.resolve_member(command.member), now)
            return CommandOutcome("invited", target)
        actions = {
            Kick: ModerationAction.KICK,
            Ban: ModerationAction.BAN,
            Mute: ModerationAction.MUTE,
            Unmute: ModerationAction.UNMUTE,
            Unban: ModerationAction.UNBAN,
        }
        action = actions.get(type(command))
        if action is None:
            raise InvalidInput(f"not a chat command: {type(command).__name__}")
        target = current()
        reason = getattr(command, "reason", "")
        self.moderate(
            target, action, now, member=self.view.resolve_member(command.member), reason=reason
        )
        return CommandOutcome(action.value, target)


def _decode_body(plaintext: bytes | None) -> MessageBody | None:
    if plaintext is None:
        return None
    try:
        return MessageBody.decode(plaintext)
    except AuraError:
        return None


def _frame_of(cs: ChannelState, fid: MessageId) -> DataFrame:
    record = cs.messages.get(fid)
    if record is not None:
        return record.body.frame
    return cs.edits[fid].body.frame
