"""A guardian authority's side: answering invitations, holding recovery shares, serving recoveries.

A :class:`GuardianAgent` serves any number of accounts ("wards"). For each
it keeps its recovery share (a share of the guardian sharing of the
account's key) and a copy of the account journal (which it validates fact by
fact, so it always knows the current tree, devices and guardian set).

Recovery, from the guardian's seat:

1. a :class:`RecoveryRequest` arrives; it must be signed by the new device,
   keep only devices the account has and imply a valid change
   (:class:`RecoveryRequested` is reported — the guardian should confirm
   with the owner out of band);
2. :meth:`GuardianAgent.approve_recovery` signs an approval and sends it to
   the requester **and to every device of the account**, which may dispute;
   a guardian approves at most one open recovery per account (so with a
   majority threshold two recoveries can never both gather enough
   approvals);
3. when the requester asks the guardian to deal (``custody.start`` of kind
   ``recovery`` with enough approvals), the guardian deals only once its own
   dispute window — counted from its approval, by its own clock, with the
   length the account set — has passed with no dispute. A valid dispute
   from any device of the account cancels the recovery for good.

Inputs: ``receive``, ``on_timer``, ``accept``/``decline`` (invitations),
``approve_recovery``/``deny_recovery``. Outputs: messages and
``take_events()`` (:mod:`.recovery_events`; persist shares and facts).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aura_core.crypto import KeyPackage, PublicKeyPackage, RandomSource, to_bytes
from aura_core.effects import CryptoEffects, Incoming, Outgoing
from aura_core.errors import (
    AuraError,
    AuthorizationDenied,
    CryptoError,
    InvalidEncoding,
    InvalidInput,
    NotFound,
    ProtocolViolation,
    ValidationError,
)
from aura_core.identifiers import AuthorityId
from aura_features.devices import (
    ACCOUNT_CUSTODY,
    CUSTODY_CODEC,
    ChangeAborted,
    ChangeComplete,
    CustodyChange,
    GuardianKeys,
    GuardianSet,
    KeyEpoch,
    MessageRejected,
    ShareCollector,
    ShareDeal,
    ShareReceived,
    TransferStart,
    authorize_consensus,
    authorize_single,
    change_reached,
    derive_ops,
    make_deal,
    message_type,
    sign_message,
)
from aura_features.invitation import InviteKind, SignedInvite
from aura_features.recovery.recovery_authorization import (
    RecoveryAuthorization,
    authorize_recovery,
    check_dispute,
    recovery_change,
)
from aura_features.recovery.recovery_events import (
    GuardianFactsAdded,
    GuardianInvited,
    GuardianShareActivated,
    GuardianShareErased,
    GuardianSharePending,
    RecoveryCompleted,
    RecoveryDisputed,
    RecoveryReleased,
    RecoveryRequested,
)
from aura_features.recovery.recovery_messages import (
    RECOVERY_CODEC,
    GuardianInvitation,
    GuardianResponse,
    RecoveryApproval,
    RecoveryCancelled,
    RecoveryDispute,
    RecoveryRequest,
)
from aura_features.recovery.recovery_registry import recovery_registry
from aura_journal import COMMITMENT_TREE, Fact, FactRegistry, Journal, JournalNamespace, TreeState

__all__ = ["GuardianAgent"]

_MAX_INVITATIONS = 64
_MAX_RECOVERIES = 16
_STALE_AFTER_S = 7 * 24 * 3600
"""An approved recovery nobody asked to release is dropped this long after its window."""


class _Recovery:
    def __init__(
        self, request: RecoveryRequest, data: bytes, change: CustodyChange, now: float
    ) -> None:
        self.request = request
        self.data = data
        self.change = change
        self.received_at = now
        self.approved_at: float | None = None
        self.release_at: float | None = None
        self.disputed = False
        self.start: TransferStart | None = None
        self.dealt = False
        self.closed = False


class _Ward:
    """One account this guardian serves."""

    def __init__(self, account: AuthorityId, group_key: bytes, registry: FactRegistry) -> None:
        self.account = account
        self.group_key = group_key
        self.journal = Journal(JournalNamespace.authority(account), registry)
        self.key_package: KeyPackage | None = None
        self.collector: ShareCollector | None = None
        self.change: CustodyChange | None = None
        self.start: TransferStart | None = None
        self.pending: tuple[KeyPackage, PublicKeyPackage] | None = None
        self.recoveries: dict[bytes, _Recovery] = {}

    @property
    def guardian_set(self) -> GuardianSet | None:
        return self.journal.state(ACCOUNT_CUSTODY.name).guardian_set

    @property
    def key_epoch(self) -> KeyEpoch | None:
        return self.journal.state(ACCOUNT_CUSTODY.name).key_epoch

    @property
    def tree(self) -> TreeState | None:
        return self.journal.state(COMMITMENT_TREE.name).head

    def open_recovery(self) -> _Recovery | None:
        for recovery in self.recoveries.values():
            if recovery.approved_at is not None and not recovery.closed:
                return recovery
        return None


class GuardianAgent:
    """A guardian authority: its keys, its wards, and its part in their recoveries."""

    def __init__(
        self,
        *,
        keys: GuardianKeys,
        rng: RandomSource,
        crypto: CryptoEffects,
        registry: FactRegistry | None = None,
        wards: Mapping[AuthorityId, tuple[bytes, Iterable[Fact], KeyPackage | None]] = {},
    ) -> None:
        if not isinstance(keys, GuardianKeys):
            raise InvalidInput("keys must be GuardianKeys")
        self.keys = keys
        self.profile = keys.profile
        self._rng = rng
        self._crypto = crypto
        self._registry = registry if registry is not None else recovery_registry()
        self._wards: dict[AuthorityId, _Ward] = {}
        self._invitations: dict[bytes, tuple[AuthorityId, bytes, str, SignedInvite]] = {}
        self._events: list[Any] = []
        for account, (group_key, facts, key_package) in wards.items():
            ward = _Ward(account, group_key, self._registry)
            ward.journal.load_trusted(facts)
            ward.key_package = key_package
            self._wards[account] = ward

    # ------------------------------------------------------------------ reading

    @property
    def address(self) -> str:
        return self.profile.address

    @property
    def accounts(self) -> tuple[AuthorityId, ...]:
        return tuple(self._wards)

    def share_for(self, account: AuthorityId) -> KeyPackage | None:
        ward = self._wards.get(account)
        return None if ward is None else ward.key_package

    def journal_for(self, account: AuthorityId) -> Journal | None:
        ward = self._wards.get(account)
        return None if ward is None else ward.journal

    def guardian_set_for(self, account: AuthorityId) -> GuardianSet | None:
        ward = self._wards.get(account)
        return None if ward is None else ward.guardian_set

    def take_events(self) -> list[Any]:
        events, self._events = self._events, []
        return events

    # ------------------------------------------------------------------ sans-IO surface

    def receive(self, message: Incoming, now: float) -> list[Outgoing]:
        source, data = message.source, message.payload
        try:
            kind = message_type(data)
            codec = RECOVERY_CODEC if kind.startswith("recovery.") else CUSTODY_CODEC
            decoded = codec.decode(data)
        except InvalidEncoding as exc:
            self._events.append(MessageRejected(source, exc.message))
            return []
        handler = self._handlers.get(type(decoded))
        if handler is None:
            self._events.append(MessageRejected(source, f"a guardian does not take {kind}"))
            return []
        try:
            return handler(self, source, decoded, now)
        except AuraError as exc:
            self._events.append(MessageRejected(source, f"{kind}: {exc.message}"))
            return []

    def next_timer(self) -> float | None:
        deadlines = []
        for ward in self._wards.values():
            for recovery in ward.recoveries.values():
                if recovery.closed or recovery.release_at is None:
                    continue
                if recovery.start is not None and not recovery.dealt:
                    deadlines.append(recovery.release_at)
                deadlines.append(recovery.release_at + _STALE_AFTER_S)
        return min(deadlines) if deadlines else None

    def on_timer(self, now: float) -> list[Outgoing]:
        out: list[Outgoing] = []
        for ward in self._wards.values():
            for recovery in list(ward.recoveries.values()):
                if recovery.closed or recovery.release_at is None:
                    continue
                if recovery.start is not None and not recovery.dealt and now >= recovery.release_at:
                    out += self._release(ward, recovery)
                if now >= recovery.release_at + _STALE_AFTER_S:
                    recovery.closed = True
        return out

    def _send(self, address: str, message: Any) -> Outgoing:
        codec = RECOVERY_CODEC if message.TYPE.startswith("recovery.") else CUSTODY_CODEC
        return Outgoing(address, codec.encode(message))

    def _ward(self, account: AuthorityId) -> _Ward:
        ward = self._wards.get(account)
        if ward is None:
            raise NotFound(f"this guardian does not serve {account}")
        return ward

    # ------------------------------------------------------------------ invitations

    def _on_invitation(
        self, source: str, message: GuardianInvitation, now: float
    ) -> list[Outgoing]:
        signed = SignedInvite.parse(message.code)
        signed.verify()
        invite = signed.invite
        if invite.kind is not InviteKind.GUARDIAN:
            raise ValidationError(f"the invitation is of kind {invite.kind.value}, not guardian")
        if invite.inviter != message.account:
            raise ValidationError("the invitation is signed for another account than it names")
        if invite.is_expired(int(now * 1000)):
            raise ValidationError("the guardian invitation has expired")
        if len(self._invitations) >= _MAX_INVITATIONS:
            raise ProtocolViolation("too many unanswered guardian invitations")
        identifier = signed.invitation_id.raw
        self._invitations[identifier] = (
            message.account,
            invite.inviter_key,
            message.reply_to,
            signed,
        )
        self._events.append(GuardianInvited(message.account, signed))
        return []

    def _answer(
        self, invitation: bytes, accepted: bool, now: float
    ) -> tuple[AuthorityId, bytes, list[Outgoing]]:
        entry = self._invitations.pop(invitation, None)
        if entry is None:
            raise NotFound("no open guardian invitation with that id")
        account, group_key, reply_to, _signed = entry
        response = GuardianResponse(account, invitation, accepted, self.profile, int(now * 1000))
        return account, group_key, [self._send(reply_to, sign_message(response, self.keys.sign))]

    def accept(self, invitation: bytes, now: float) -> list[Outgoing]:
        """Accept: the account may now seat this authority as a guardian."""
        account, group_key, out = self._answer(invitation, True, now)
        if account not in self._wards:
            self._wards[account] = _Ward(account, group_key, self._registry)
        return out

    def decline(self, invitation: bytes, now: float) -> list[Outgoing]:
        """Decline: the account is told; nothing is kept."""
        _account, _key, out = self._answer(invitation, False, now)
        return out

    # ------------------------------------------------------------------ custody changes

    def _ingest(self, ward: _Ward, facts: Iterable[bytes | Fact], what: str) -> tuple[Fact, ...]:
        trial = ward.journal.copy()
        report = trial.ingest_many(facts)
        if report.rejected:
            raise ValidationError(
                f"{what}: {len(report.rejected)} fact(s) refused: {report.rejected[0][1].message}"
            )
        ward.journal = trial
        accepted = set(report.accepted)
        return tuple(f for f in trial if f.cid in accepted)

    def _on_start(self, source: str, start: TransferStart, now: float) -> list[Outgoing]:
        change = CustodyChange.decode(start.change)
        ward = self._ward(change.account)
        if start.kind == "recovery":
            return self._on_release(ward, change, start, now)
        if start.kind not in ("consensus", "single"):
            raise AuthorizationDenied(f"a guardian takes no {start.kind} authorization")
        if (
            ward.start is not None
            and ward.change is not None
            and ward.change.hash == change.hash
            and (ward.start == start or ward.start.round > start.round)
        ):
            return []
        journal = ward.journal
        if start.journal and not len(ward.journal):
            self._ingest(ward, start.journal, "attached journal")
        try:
            epoch, head = ward.key_epoch, ward.tree
            if epoch is None or head is None:
                raise ValidationError("this guardian has no copy of the account's journal")
            if epoch.group_key != ward.group_key:
                raise CryptoError("the journal is for another group key than the invitation's")
            # A one-device account decides alone: its key's signature is the authorization.
            check = authorize_consensus if start.kind == "consensus" else authorize_single
            authorized = check(epoch, head, change, start.authorization)
            member = next((m for m in change.guardians if m.profile == self.profile), None)
            if change.rebuilds != "guardians" or member is None:
                raise ProtocolViolation("this guardian receives no share in the change")
        except AuraError:
            ward.journal = journal
            raise
        ward.change = change
        ward.start = start
        ward.pending = None
        ward.collector = ShareCollector(
            identifier=member.identifier,
            change=change,
            round_=start.round,
            dealers=start.dealers,
            dealer_package=authorized.dealer_package,
            dealer_keys=authorized.dealer_keys,
            encryption_private=self.keys.encryption_private,
            crypto=self._crypto,
        )
        return []

    def _on_deal(self, source: str, deal: ShareDeal, now: float) -> list[Outgoing]:
        ward = next(
            (
                w
                for w in self._wards.values()
                if w.change is not None and w.change.hash == deal.change_hash
            ),
            None,
        )
        if ward is None or ward.collector is None or ward.start is None:
            raise ProtocolViolation("a deal for a change this guardian receives no share in")
        collector = ward.collector
        if not collector.add(deal) or not collector.complete:
            return []
        key_package, public = collector.finalize()
        ward.pending = (key_package, public)
        self._events.append(GuardianSharePending(ward.account, key_package, public))
        receipt = ShareReceived(
            deal.change_hash, collector.round, collector.identifier, to_bytes(public)
        )
        return [self._send(ward.start.coordinator, sign_message(receipt, self.keys.sign))]

    def _on_complete(self, source: str, message: ChangeComplete, now: float) -> list[Outgoing]:
        facts = [Fact.decode(item) for item in message.facts]
        accounts = {self._account_of(f) for f in facts if f.attestation.kind == "threshold"}
        if len(accounts) != 1:
            raise ValidationError("a completion must carry facts of one account")
        ward = self._ward(accounts.pop())
        head = ward.tree
        added = self._ingest(ward, facts, "completion")
        if added:
            self._events.append(GuardianFactsAdded(ward.account, added))
        guardian_set = ward.guardian_set
        mine = None if guardian_set is None else guardian_set.guardian_for(self.profile.authority)
        if ward.change is not None and change_reached(ward.journal, head, ward.change):
            if ward.pending is not None and guardian_set is not None:
                key_package, public = ward.pending
                if public == guardian_set.guardian_package:
                    ward.key_package = key_package
                    self._events.append(GuardianShareActivated(ward.account, key_package, public))
            ward.change = ward.start = ward.collector = ward.pending = None
        if mine is None or mine.profile != self.profile:
            if ward.key_package is not None:
                self._events.append(GuardianShareErased(ward.account, "no longer a guardian"))
            del self._wards[ward.account]
            return []
        for recovery in ward.recoveries.values():
            if not recovery.closed and change_reached(ward.journal, head, recovery.change):
                recovery.closed = True
                self._events.append(RecoveryCompleted(recovery.request.recovery_id))
        return []

    def _account_of(self, fact: Fact) -> AuthorityId:
        """The ward whose group key attests ``fact`` (group keys are one per account)."""
        key = getattr(fact.attestation, "group_public_key", None)
        for ward in self._wards.values():
            if key == ward.group_key:
                return ward.account
        raise ValidationError("a completion of no account this guardian serves")

    def _on_aborted(self, source: str, message: ChangeAborted, now: float) -> list[Outgoing]:
        for ward in self._wards.values():
            if ward.change is not None and ward.change.hash == message.change_hash:
                if ward.start is None or ward.start.coordinator != source:
                    raise ProtocolViolation(
                        "an abort from someone who does not coordinate that change"
                    )
                if ward.pending is not None:
                    self._events.append(
                        GuardianShareErased(ward.account, "pending share of an aborted change")
                    )
                ward.change = ward.start = ward.collector = ward.pending = None
            for recovery in ward.recoveries.values():
                if (
                    recovery.change.hash == message.change_hash
                    and recovery.start is not None
                    and recovery.start.coordinator == source
                ):
                    recovery.closed = True
        return []

    # ------------------------------------------------------------------ recovery

    def _on_request(self, source: str, request: RecoveryRequest, now: float) -> list[Outgoing]:
        ward = self._ward(request.account)
        guardian_set, head = ward.guardian_set, ward.tree
        if ward.key_package is None or guardian_set is None or head is None:
            raise ValidationError("this guardian holds no recovery share for the account yet")
        if not request.verify():
            raise CryptoError("the recovery request is not signed by the new device's key")
        data = RECOVERY_CODEC.encode(request)
        held = ward.recoveries.get(request.recovery_id)
        if held is not None:
            if held.data != data:
                raise ProtocolViolation("two different requests under one recovery id")
            return []
        if len(ward.recoveries) >= _MAX_RECOVERIES:
            raise ProtocolViolation("too many recoveries of this account are open")
        change = recovery_change(request, guardian_set)
        derived = derive_ops(head, change)
        if derived.signers_needed > len(change.devices):
            raise ValidationError(
                f"the recovered devices ({len(change.devices)}) could not sign the tree update, "
                f"which needs {derived.signers_needed}"
            )
        ward.recoveries[request.recovery_id] = _Recovery(request, data, change, now)
        self._events.append(RecoveryRequested(request))
        return []

    def _recovery(self, recovery_id: bytes) -> tuple[_Ward, _Recovery]:
        for ward in self._wards.values():
            recovery = ward.recoveries.get(recovery_id)
            if recovery is not None:
                return ward, recovery
        raise NotFound("no recovery with that id")

    def approve_recovery(self, recovery_id: bytes, now: float) -> list[Outgoing]:
        """Approve (after confirming with the owner); the dispute window starts now."""
        ward, recovery = self._recovery(recovery_id)
        if recovery.closed or recovery.disputed:
            raise ValidationError("the recovery is closed")
        if recovery.approved_at is not None:
            return []
        other = ward.open_recovery()
        if other is not None:
            raise ValidationError(
                "this guardian already approved another open recovery of the account; "
                "it approves one at a time"
            )
        guardian_set = ward.guardian_set
        assert guardian_set is not None
        set_fact = next(
            f
            for f in ward.journal.facts_of_type(GuardianSet.TYPE_ID)
            if ward.journal.registry.body(f) == guardian_set
        )
        recovery.approved_at = now
        recovery.release_at = now + guardian_set.dispute_window_s
        approval = RecoveryApproval(
            recovery.data, self.profile.authority, set_fact.encode(), int(now * 1000)
        )
        signed = sign_message(approval, self.keys.sign)
        targets = {recovery.request.device.address} | {
            m.profile.address for m in guardian_set.devices
        }
        return [self._send(address, signed) for address in sorted(targets)]

    def deny_recovery(self, recovery_id: bytes) -> None:
        """Refuse a request (nothing is sent; the requester never gets this guardian's approval)."""
        _ward, recovery = self._recovery(recovery_id)
        recovery.closed = True

    def _on_dispute(self, source: str, dispute: RecoveryDispute, now: float) -> list[Outgoing]:
        ward, recovery = self._recovery(dispute.recovery_id)
        guardian_set = ward.guardian_set
        if guardian_set is None:  # pragma: no cover - a recovery needs a guardian set
            raise ValidationError("no guardian set")
        member = check_dispute(dispute, recovery.request, guardian_set)
        if recovery.disputed:
            return []
        if recovery.dealt:
            raise ValidationError("the dispute came after this guardian released its share")
        recovery.disputed = True
        recovery.closed = True
        self._events.append(
            RecoveryDisputed(dispute.recovery_id, member.identifier, dispute.reason)
        )
        notice = RecoveryCancelled(
            dispute.recovery_id, self.profile.authority, RECOVERY_CODEC.encode(dispute)
        )
        return [self._send(recovery.request.device.address, sign_message(notice, self.keys.sign))]

    def _on_release(
        self, ward: _Ward, change: CustodyChange, start: TransferStart, now: float
    ) -> list[Outgoing]:
        guardian_set = ward.guardian_set
        if guardian_set is None or ward.key_package is None:
            raise ValidationError("this guardian holds no recovery share for the account")
        authorization = RecoveryAuthorization.decode(start.authorization)
        request = RECOVERY_CODEC.decode_as(authorization.request, RecoveryRequest)
        recovery = ward.recoveries.get(request.recovery_id)
        if recovery is None or recovery.data != authorization.request:
            raise ValidationError("this guardian does not know that recovery request")
        if recovery.disputed or recovery.closed:
            raise ValidationError("the recovery was disputed or closed")
        if recovery.approved_at is None:
            raise AuthorizationDenied("this guardian has not approved the recovery")
        me = guardian_set.guardian_for(self.profile.authority)
        if me is None or me.identifier not in start.dealers:
            raise ProtocolViolation("this guardian is not a dealer of the release")
        authorized = authorize_recovery(start.authorization, change, guardian_set)
        if set(start.dealers) - set(authorized.dealer_keys):
            raise ValidationError("a dealer of the release did not approve the recovery")
        if len(start.dealers) != guardian_set.guardian_threshold:
            raise ValidationError("a release names exactly the guardian threshold of dealers")
        if recovery.start is not None and recovery.start.round >= start.round:
            return []
        recovery.start = start
        recovery.dealt = False
        if now >= (recovery.release_at or now):
            return self._release(ward, recovery)
        return []

    def _release(self, ward: _Ward, recovery: _Recovery) -> list[Outgoing]:
        start = recovery.start
        guardian_set = ward.guardian_set
        if start is None or guardian_set is None or ward.key_package is None or recovery.disputed:
            return []
        change = recovery.change
        deal = make_deal(
            change=change,
            round_=start.round,
            key_package=ward.key_package,
            dealer_package=guardian_set.guardian_package,
            dealers=start.dealers,
            recipient_keys={m.identifier: m.profile.encryption_key for m in change.devices},
            sign=self.keys.sign,
            rng=self._rng,
            crypto=self._crypto,
            journal=tuple(sorted(f.encode() for f in ward.journal)),
        )
        recovery.dealt = True
        self._events.append(RecoveryReleased(recovery.request.recovery_id))
        return [self._send(m.profile.address, deal) for m in change.devices]

    _handlers: Mapping[type, Any] = {
        GuardianInvitation: _on_invitation,
        TransferStart: _on_start,
        ShareDeal: _on_deal,
        ChangeComplete: _on_complete,
        ChangeAborted: _on_aborted,
        RecoveryRequest: _on_request,
        RecoveryDispute: _on_dispute,
    }
