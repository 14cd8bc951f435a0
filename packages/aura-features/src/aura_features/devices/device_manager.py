"""One device's part in its account's custody changes, as a sans-IO state machine.

A :class:`DeviceManager` runs on every device of an account (and on a device
that wants to join one). It holds the device's keys, its share of the
account key, and the account journal, and it plays every role of a custody
change:

* **proposer** — :meth:`DeviceManager.propose` puts a :class:`CustodyChange`
  to consensus among the account's devices (``aura_protocol.consensus``,
  one instance per tree state); a one-device account authorizes with its key;
* **witness** — votes for a proposal only if it applies to the device's own
  tree and the device's user approved it (:meth:`DeviceManager.approve` or
  the ``approval`` policy);
* **coordinator** — once a change is decided: asks the dealers to deal,
  collects every recipient's receipt, has the signers attest the facts,
  and sends them to everyone (:mod:`.custody_messages` has the flow);
* **dealer**, **recipient**, **signer** — checks the authorization of every
  round, deals sealed shares, assembles its new share, signs only facts it
  derived itself from the change and its own tree.

Inputs: ``receive(Incoming, now)``, ``on_timer(now)``, ``propose``,
``approve``, ``request_enrollment``, :meth:`DeviceManager.coordinate` (used by
a recovery). Outputs: the returned ``Outgoing`` messages and the events of
``take_events()`` (:mod:`.custody_events`: persist shares and facts before
sending). No clock, network or randomness of its own: ``now`` is passed in,
``rng`` and ``crypto`` are injected, so the simulator and the runtime drive
the same object. Messages to the device's own address are handled inside the
call (the coordinator is usually also a dealer, recipient and signer).

Extensions (:class:`DeviceExtension`, e.g. the recovery's) receive messages
whose type starts with their prefix and can authorize changes of their kind.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

import attrs

from aura_core.crypto import (
    KeyPackage,
    PublicKeyPackage,
    RandomSource,
    SigningCommitments,
    SigningNonces,
    SigningPackage,
    from_bytes,
    sign_single,
    to_bytes,
)
from aura_core.effects import CryptoEffects, Incoming, Outgoing
from aura_core.errors import (
    AuraError,
    AuthorizationDenied,
    CryptoError,
    InvalidEncoding,
    InvalidInput,
    ProtocolViolation,
    ValidationError,
)
from aura_core.identifiers import AuthorityId
from aura_core.time_domains import PhysicalTime
from aura_features.devices.attestation_checks import (
    change_reached,
    check_receipts,
    expected_facts,
)
from aura_features.devices.change_authorization import (
    Authorized,
    authorize_consensus,
    authorize_single,
    consensus_instance,
    single_authorization,
)
from aura_features.devices.change_coordinator import Coordination, CoordinatorRole
from aura_features.devices.custody_change import CustodyChange, DerivedOps, derive_ops
from aura_features.devices.custody_events import (
    ChangeCompleted,
    ChangeDecided,
    ChangeFailed,
    EnrollmentRequested,
    FactsAdded,
    MessageRejected,
    ShareActivated,
    ShareErased,
    SharePending,
)
from aura_features.devices.custody_facts import (
    ACCOUNT_CUSTODY,
    CustodyState,
    GuardianSet,
    KeyEpoch,
    custody_registry,
)
from aura_features.devices.custody_messages import (
    CUSTODY_CODEC,
    AttestCommitments,
    AttestRequest,
    AttestShares,
    AttestSign,
    ChangeAborted,
    ChangeComplete,
    ConsensusFrame,
    EnrollmentRequest,
    ShareDeal,
    ShareReceived,
    TransferStart,
    sign_message,
)
from aura_features.devices.custody_plans import (
    CustodyView,
    rotate_guardian_shares,
    rotate_shares,
)
from aura_features.devices.fact_signing import (
    commit_batch,
    fact_messages,
    sign_batch,
)
from aura_features.devices.share_holders import DeviceKeys, DeviceProfile
from aura_features.devices.share_transfer import ShareCollector, make_deal
from aura_features.devices.wire_codec import message_type
from aura_journal import (
    COMMITMENT_TREE,
    Fact,
    FactMetadata,
    FactRegistry,
    Journal,
    JournalNamespace,
    TreeState,
    order_time_from_entropy,
)
from aura_protocol.consensus import (
    CommitFact,
    ConsensusConfig,
    Decided,
    Initiator,
    VoteRecord,
    Witness,
    WitnessCredentials,
    WitnessInfo,
    WitnessSet,
    decode_message,
    fact_for_commit,
)
from aura_protocol.consensus import MessageRejected as ConsensusRejected
from aura_protocol.consensus.messages import CommitNotice, CommitOffer, ExecuteReply, Refusal

__all__ = ["CustodyConfig", "DeviceExtension", "DeviceManager"]

_MAX_LOCAL_HOPS = 10_000
_MAX_EARLY_DEALS = 16
_MAX_EARLY_DEAL_BYTES = 1 << 20


def _seconds(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value <= 86400:
        raise InvalidInput(f"CustodyConfig.{attribute.name} must be seconds in (0, 86400]")


@attrs.frozen
class CustodyConfig:
    """Timing of custody changes."""

    consensus: ConsensusConfig = attrs.field(factory=ConsensusConfig)
    phase_timeout_s: float = attrs.field(default=30.0, validator=_seconds)
    """How long a coordinator waits for one phase (deals, commitments, shares) before aborting."""
    decision_timeout_s: float = attrs.field(default=120.0, validator=_seconds)
    """How long a proposer waits for consensus before giving up on its proposal."""


class DeviceExtension(Protocol):
    """A feature riding on the device's custody machinery (the recovery is one)."""

    prefix: str
    """Messages whose type starts with this go to the extension."""

    def bind(self, manager: DeviceManager) -> None: ...

    def receive(self, source: str, data: bytes, now: float) -> list[Outgoing]: ...

    def next_timer(self) -> float | None: ...

    def on_timer(self, now: float) -> list[Outgoing]: ...

    def authorize(self, kind: str, blob: bytes, change: CustodyChange) -> Authorized | None:
        """Check an authorization of a kind this extension owns (``None``: not mine)."""
        ...

    def change_finished(
        self, change: CustodyChange, completed: bool, reason: str, now: float
    ) -> list[Outgoing]: ...


# --------------------------------------------------------------------------- state records


class _Participation:
    """This device's roles in one round of one change."""

    def __init__(
        self, change: CustodyChange, start: TransferStart, authorized: Authorized, now: float
    ) -> None:
        self.change = change
        self.start = start
        self.authorized = authorized
        self.collector: ShareCollector | None = None
        self.pending: tuple[KeyPackage, PublicKeyPackage] | None = None
        self.signing_key: KeyPackage | None = None
        self.facts: tuple[Fact, ...] = ()
        self.messages: list[bytes] = []
        self.nonces: tuple[SigningNonces, ...] | None = None
        self.commitments: tuple[SigningCommitments, ...] = ()
        self.signers: tuple[int, ...] = ()
        self.answered: tuple[AttestSign, Outgoing] | None = None
        """The signing request answered and the answer (a duplicate gets the same answer)."""
        self.started_at = now


# --------------------------------------------------------------------------- the manager


class DeviceManager(CoordinatorRole):
    """A device of an account: custody changes in every role (see the module doc)."""

    def __init__(
        self,
        *,
        keys: DeviceKeys,
        account: AuthorityId,
        rng: RandomSource,
        crypto: CryptoEffects,
        group_key: bytes | None = None,
        key_package: KeyPackage | None = None,
        facts: Iterable[Fact] = (),
        registry: FactRegistry | None = None,
        config: CustodyConfig | None = None,
        approval: Callable[[CustodyChange], bool] | None = None,
        votes: Iterable[VoteRecord] = (),
        decided: Iterable[CommitFact] = (),
        extensions: Sequence[DeviceExtension] = (),
    ) -> None:
        if not isinstance(keys, DeviceKeys):
            raise InvalidInput("keys must be DeviceKeys")
        if not isinstance(account, AuthorityId):
            raise InvalidInput("account must be an AuthorityId")
        self.keys = keys
        self.profile: DeviceProfile = keys.profile
        self.account = account
        self.namespace = JournalNamespace.authority(account)
        self._rng = rng
        self._crypto = crypto
        self.config = config if config is not None else CustodyConfig()
        self._approval = approval
        self.journal = Journal(
            self.namespace, registry if registry is not None else custody_registry()
        )
        if facts:
            self.journal.load_trusted(facts)
        self._group_key = group_key
        self.key_package = key_package
        self._approved: set[bytes] = set()
        self._proposals: dict[bytes, tuple[CustodyChange, float]] = {}
        self._participations: dict[bytes, _Participation] = {}
        self._coordinations: dict[bytes, Coordination] = {}
        self._completing: dict[bytes, CustodyChange] = {}
        self._settled: dict[bytes, None] = {}
        self._follow_ups: dict[bytes, Callable[[CustodyView], CustodyChange]] = {}
        self._early_deals: dict[bytes, list[tuple[str, ShareDeal]]] = {}
        self._events: list[Any] = []
        self._witness: Witness | None = None
        self._initiator: Initiator | None = None
        self._votes = list(votes)
        self._decided = list(decided)
        self._extensions = tuple(extensions)
        epoch = self.key_epoch
        if (
            self.key_package is not None
            and epoch is not None
            and self.key_package.verifying_key != epoch.public_key_package.verifying_key
        ):
            raise InvalidInput("the key package belongs to another group key than the journal's")
        self._sync_witness()
        for extension in self._extensions:
            extension.bind(self)

    # ------------------------------------------------------------------ reading

    @property
    def address(self) -> str:
        return self.profile.address

    @property
    def custody(self) -> CustodyState:
        return self.journal.state(ACCOUNT_CUSTODY.name)

    @property
    def key_epoch(self) -> KeyEpoch | None:
        return self.custody.key_epoch

    @property
    def guardian_set(self) -> GuardianSet | None:
        return self.custody.guardian_set

    @property
    def tree(self) -> TreeState | None:
        return self.journal.state(COMMITMENT_TREE.name).head

    @property
    def group_key(self) -> bytes | None:
        epoch = self.key_epoch
        return epoch.group_key if epoch is not None else self._group_key

    @property
    def identifier(self) -> int | None:
        """This device's seat in the current key epoch (``None`` if it holds none)."""
        epoch = self.key_epoch
        if epoch is None or self.key_package is None:
            return None
        member = epoch.device(self.key_package.identifier)
        if member is None or member.profile != self.profile:
            return None
        return member.identifier

    @property
    def is_member(self) -> bool:
        return self.identifier is not None

    @property
    def view(self) -> CustodyView:
        """The tree, key epoch and guardian set, for the change builders of :mod:`.custody_plans`."""
        epoch, head = self.key_epoch, self.tree
        if epoch is None or head is None:
            raise InvalidInput("this device does not know the account's keys yet")
        return CustodyView(head, epoch, self.guardian_set)

    @property
    def witness(self) -> Witness | None:
        return self._witness

    def take_events(self) -> list[Any]:
        events, self._events = self._events, []
        return events

    def emit(self, event: Any) -> None:
        """Report an event (extensions use it for theirs)."""
        self._events.append(event)

    def sign(self, domain: str, payload: bytes) -> bytes:
        """A signature by this device's leaf key (what its ceremony messages carry)."""
        return self.keys.sign(domain, payload)

    def record(self, body: Any, now: float) -> Fact:
        """Add a fact of ours (unattested, self-certifying bodies) to the journal and report it."""
        fact = Fact.create(body, self.metadata(now))
        if self.journal.add(fact):
            self._events.append(FactsAdded((fact,)))
        return fact

    def add_extension(self, extension: DeviceExtension) -> None:
        """Attach an extension after construction (a recovered device starts watching, say)."""
        self._extensions = (*self._extensions, extension)
        extension.bind(self)

    def journal_facts(self) -> tuple[bytes, ...]:
        """Every fact of the account journal, encoded (for holders joining)."""
        return tuple(sorted(fact.encode() for fact in self.journal))

    # ------------------------------------------------------------------ sans-IO surface

    def receive(self, message: Incoming, now: float) -> list[Outgoing]:
        return self._deliver(self._dispatch(message.source, message.payload, now), now)

    def next_timer(self) -> float | None:
        deadlines = [c.deadline for c in self._coordinations.values()]
        deadlines += [at + self.config.decision_timeout_s for _c, at in self._proposals.values()]
        for core in (self._witness, self._initiator):
            if core is not None and (at := core.next_timer()) is not None:
                deadlines.append(at)
        for extension in self._extensions:
            if (at := extension.next_timer()) is not None:
                deadlines.append(at)
        return min(deadlines) if deadlines else None

    def on_timer(self, now: float) -> list[Outgoing]:
        out: list[Outgoing] = []
        if self._witness is not None:
            out += self._consensus_out(self._witness.on_timer(now), now)
        if self._initiator is not None:
            out += self._consensus_out(self._initiator.on_timer(now), now)
        for change_hash, (change, at) in list(self._proposals.items()):
            if now >= at + self.config.decision_timeout_s:
                del self._proposals[change_hash]
                self._events.append(ChangeFailed(change_hash, "consensus did not decide in time"))
                out += self._finished(change, False, "consensus did not decide in time", now)
        for coordination in list(self._coordinations.values()):
            if now >= coordination.deadline:
                out += self._abort(coordination, f"timed out while {coordination.phase}", now)
        for extension in self._extensions:
            out += extension.on_timer(now)
        return self._deliver(out, now)

    # ------------------------------------------------------------------ user inputs

    def approve(self, change: CustodyChange | bytes) -> None:
        """The user agreed to this change: this device's witness may vote for it."""
        self._approved.add(change.hash if isinstance(change, CustodyChange) else change)

    def request_enrollment(self, sponsor: str, now: float) -> list[Outgoing]:
        """A new device asks a device of the account (at ``sponsor``) to propose adding it."""
        request = EnrollmentRequest(self.account, self.profile, int(now * 1000))
        return [self.send(sponsor, sign_message(request, self.sign))]

    def propose(self, change: CustodyChange, now: float) -> list[Outgoing]:
        """Put ``change`` to the account's devices (consensus) and coordinate it once decided."""
        return self._deliver(self._propose(change, now), now)

    def propose_emergency_rotation(
        self, now: float, *, revoke: int | None = None
    ) -> list[Outgoing]:
        """Rotate every share at once — the devices', then the guardians' — with no dispute window.

        For a share that may have leaked while the account still has a
        threshold of devices: ``revoke`` removes that device in the same
        step. Old device and guardian shares stop combining with new ones;
        the group key stays.
        """
        change = rotate_shares(self.view, tag=self._rng.random_bytes(16), revoke=revoke)
        if self.guardian_set is not None:
            self._follow_ups[change.hash] = lambda view: rotate_guardian_shares(
                view, tag=self._rng.random_bytes(16)
            )
        return self.propose(change, now)

    def _propose(self, change: CustodyChange, now: float) -> list[Outgoing]:
        if not isinstance(change, CustodyChange):
            raise InvalidInput("propose needs a CustodyChange")
        key_package, epoch, head = self._member_state()
        if change.account != self.account:
            raise InvalidInput("the change is for another account")
        self._check_feasible(head, change)
        self.approve(change)
        if epoch.threshold == 1:
            blob = single_authorization(key_package, change)
            authorized = authorize_single(epoch, head, change, blob)
            self._events.append(ChangeDecided(change))
            return self.coordinate(
                change, "single", blob, authorized, (key_package.identifier,), now
            )
        if self._initiator is None:
            raise InvalidInput("this device cannot propose: it runs no consensus")
        instance, prestate = consensus_instance(self.account, head.commitment)
        self._proposals[change.hash] = (change, now)
        out = self._initiator.propose(instance, prestate, change.encode(), now)
        return self._consensus_out(out, now)

    # ------------------------------------------------------------------ plumbing

    def send(self, address: str, message: Any) -> Outgoing:
        return Outgoing(address, CUSTODY_CODEC.encode(message))

    def _deliver(self, outputs: list[Outgoing], now: float) -> list[Outgoing]:
        """Handle messages addressed to this device here; return the rest."""
        queue = deque(outputs)
        out: list[Outgoing] = []
        hops = 0
        while queue:
            item = queue.popleft()
            if item.destination != self.address:
                out.append(item)
                continue
            hops += 1
            if hops > _MAX_LOCAL_HOPS:  # pragma: no cover - a loop would be a bug
                raise ProtocolViolation("custody messages to self do not settle")
            queue.extend(self._dispatch(self.address, item.payload, now))
        return out

    def _reject(self, source: str, reason: str) -> None:
        self._events.append(MessageRejected(source, reason))

    def _dispatch(self, source: str, data: bytes, now: float) -> list[Outgoing]:
        try:
            kind = message_type(data)
        except InvalidEncoding as exc:
            self._reject(source, exc.message)
            return []
        for extension in self._extensions:
            if kind.startswith(extension.prefix):
                return extension.receive(source, data, now)
        try:
            message = CUSTODY_CODEC.decode(data)
        except InvalidEncoding as exc:
            self._reject(source, exc.message)
            return []
        handler = self._handlers.get(type(message))
        if handler is None:  # pragma: no cover - every codec type has a handler
            self._reject(source, f"no handler for {kind}")
            return []
        try:
            return handler(self, source, message, now)
        except AuraError as exc:
            self._reject(source, f"{kind}: {exc.message}")
            return []

    def _member_state(self) -> tuple[KeyPackage, KeyEpoch, TreeState]:
        epoch, head = self.key_epoch, self.tree
        if self.key_package is None or epoch is None or head is None or not self.is_member:
            raise InvalidInput("this device holds no share of the account key")
        return self.key_package, epoch, head

    def _check_feasible(self, head: TreeState, change: CustodyChange) -> DerivedOps:
        derived = derive_ops(head, change)
        epoch = self.key_epoch
        assert epoch is not None
        if change.rebuilds == "devices":
            signers = len(change.devices)
            hint = "lower the threshold in a change of its own first"
        else:
            signers = epoch.threshold
            hint = "the current devices sign a guardian change"
        if signers < derived.signers_needed:
            raise ValidationError(
                f"the change's tree operations need {derived.signers_needed} signers but only "
                f"{signers} would sign; {hint}"
            )
        if change.dealt_by == "devices" and change.rebuilds == "guardians" and not change.guardians:
            raise ValidationError("a guardian change needs at least one guardian")
        return derived

    # ------------------------------------------------------------------ consensus

    def _sync_witness(self) -> None:
        """Run a witness exactly when this device holds a share of a group of 2 or more."""
        epoch = self.key_epoch
        head = self.tree
        if epoch is None or head is None or not self.is_member or len(epoch.devices) < 2:
            self._witness = None
            self._initiator = None
            return
        assert self.key_package is not None
        credentials = WitnessCredentials(self.key_package, self.keys.vote_seed)
        witnesses = WitnessSet(
            [
                WitnessInfo(m.identifier, m.profile.address, m.profile.vote_key)
                for m in epoch.devices
            ],
            epoch.public_key_package,
            epoch.epoch,
        )
        _instance, prestate = consensus_instance(self.account, head.commitment)
        if self._witness is None:
            self._witness = Witness(
                address=self.address,
                credentials=credentials,
                witnesses=witnesses,
                prestate_hash=prestate,
                rng=self._rng,
                config=self.config.consensus,
                votes=self._votes,
                decided=self._decided,
                operation_check=self._operation_check,
            )
            self._initiator = Initiator(
                address=self.address, witnesses=witnesses, config=self.config.consensus
            )
            return
        if witnesses.epoch > self._witness.witnesses.epoch:
            self._witness.change_epoch(credentials, witnesses)
            assert self._initiator is not None
            self._initiator.change_epoch(witnesses)
        self._witness.set_prestate(prestate)

    def _operation_check(self, operation: bytes) -> None:
        change = CustodyChange.decode(operation)
        if change.account != self.account:
            raise ValidationError("the change is for another account")
        head = self.tree
        if head is None or self.key_epoch is None:
            raise ValidationError("this device has no tree to check the change against")
        self._check_feasible(head, change)
        approved = change.hash in self._approved or (
            self._approval is not None and self._approval(change)
        )
        if not approved:
            raise AuthorizationDenied("the user of this device has not approved the change")

    def _consensus_out(self, outputs: list[Outgoing], now: float) -> list[Outgoing]:
        out = [
            Outgoing(o.destination, CUSTODY_CODEC.encode(ConsensusFrame(o.payload)))
            for o in outputs
        ]
        for core in (self._witness, self._initiator):
            if core is None:
                continue
            for event in core.take_events():
                if isinstance(event, ConsensusRejected):
                    self._reject(event.source, f"consensus: {event.reason}")
                    continue
                self._events.append(event)
                if isinstance(event, Decided):
                    out += self._on_decided(event.fact, now)
        return out

    def _on_decided(self, commit: CommitFact, now: float) -> list[Outgoing]:
        try:
            change = CustodyChange.decode(commit.operation_bytes)
        except InvalidEncoding:
            return []
        proposal = self._proposals.pop(change.hash, None)
        if proposal is None or change.hash in self._coordinations:
            return []  # decided for someone else's proposal: its proposer coordinates
        self._events.append(ChangeDecided(change))
        epoch, head = self.key_epoch, self.tree
        if epoch is None or head is None:  # pragma: no cover - proposer is a member
            return []
        blob = commit.encode()
        authorized = authorize_consensus(epoch, head, change, blob)
        metadata = self.metadata(now)
        fact = fact_for_commit(commit, metadata)
        return self.coordinate(
            change, "consensus", blob, authorized, tuple(commit.participants), now, commit_fact=fact
        )

    def _on_consensus(self, source: str, message: ConsensusFrame, now: float) -> list[Outgoing]:
        inner = decode_message(message.payload)
        incoming = Incoming(source, message.payload)
        out: list[Outgoing] = []
        to_initiator = isinstance(inner, CommitOffer | ExecuteReply | Refusal | CommitNotice)
        to_witness = not isinstance(inner, CommitOffer | ExecuteReply | Refusal)
        if to_initiator and self._initiator is not None:
            out += self._initiator.receive(incoming, now)
        if to_witness and self._witness is not None:
            out += self._witness.receive(incoming, now)
        if self._witness is None and self._initiator is None:
            raise ProtocolViolation("this device runs no consensus")
        return self._consensus_out(out, now)

    # ------------------------------------------------------------------ enrollment

    def _on_enroll(self, source: str, message: EnrollmentRequest, now: float) -> list[Outgoing]:
        if message.account != self.account:
            raise ValidationError("the enrollment asks to join another account")
        if not message.verify():
            raise CryptoError("the enrollment is not signed by the device key it names")
        if not self.is_member:
            raise ProtocolViolation("this device cannot sponsor: it holds no share")
        self._events.append(EnrollmentRequested(message))
        return []

    # ------------------------------------------------------------------ participant: start

    def _authorize(self, start: TransferStart, change: CustodyChange) -> Authorized:
        if start.kind in ("consensus", "single"):
            epoch, head = self.key_epoch, self.tree
            if epoch is None or head is None:
                raise ValidationError("this device does not know the account's keys yet")
            check = authorize_consensus if start.kind == "consensus" else authorize_single
            return check(epoch, head, change, start.authorization)
        for extension in self._extensions:
            authorized = extension.authorize(start.kind, start.authorization, change)
            if authorized is not None:
                return authorized
        raise AuthorizationDenied(f"no check for authorization kind {start.kind!r} on this device")

    def _my_recipient_id(self, change: CustodyChange) -> int | None:
        if change.rebuilds != "devices":
            return None
        for member in change.devices:
            if member.profile == self.profile:
                return member.identifier
        return None

    def _on_start(self, source: str, start: TransferStart, now: float) -> list[Outgoing]:
        change = CustodyChange.decode(start.change)
        if change.account != self.account:
            raise ValidationError("the change is for another account")
        change_hash = change.hash
        held = self._participations.get(change_hash)
        if held is not None:
            if held.start == start or held.start.round > start.round:
                return []  # a duplicate, or an older round
            if held.start.round == start.round:
                raise ProtocolViolation("two different starts for one round of a change")
        journal = self.journal
        if start.journal and not self.is_member:
            trial = self.journal.copy()
            report = trial.ingest_many(start.journal)
            if report.rejected:
                raise ValidationError(
                    f"the attached journal has {len(report.rejected)} invalid fact(s): "
                    f"{report.rejected[0][1].message}"
                )
            self.journal = trial
        try:
            authorized = self._authorize(start, change)
        except AuraError:
            self.journal = journal
            raise
        me = self._my_recipient_id(change)
        dealing = (
            change.dealt_by == "devices" and self.is_member and self.identifier in start.dealers
        )
        if me is None and not dealing and not self._signs(change, start):
            self.journal = journal
            raise ProtocolViolation("this device has no part in the change")
        if self.group_key is not None and authorized.dealer_package.verifying_key != self.group_key:
            self.journal = journal
            raise CryptoError("the dealers' key package is for another group key")
        participation = _Participation(change, start, authorized, now)
        if me is not None:
            participation.collector = ShareCollector(
                identifier=me,
                change=change,
                round_=start.round,
                dealers=start.dealers,
                dealer_package=authorized.dealer_package,
                dealer_keys=authorized.dealer_keys,
                encryption_private=self.keys.encryption_private,
                crypto=self._crypto,
            )
        self._participations[change_hash] = participation
        out: list[Outgoing] = []
        for early_source, early in self._early_deals.pop(change_hash, []):
            out += self._dispatch_deal(early_source, early, now)
        if not dealing:
            return out
        assert self.key_package is not None
        recipient_keys = {m.identifier: m.profile.encryption_key for m in change.recipients}
        deal = make_deal(
            change=change,
            round_=start.round,
            key_package=self.key_package,
            dealer_package=authorized.dealer_package,
            dealers=start.dealers,
            recipient_keys=recipient_keys,
            sign=self.sign,
            rng=self._rng,
            crypto=self._crypto,
        )
        return out + [self.send(m.profile.address, deal) for m in change.recipients]

    def _signs(self, change: CustodyChange, start: TransferStart) -> bool:
        """Whether this device will be asked to attest (current holders in a guardian change)."""
        return (
            change.rebuilds == "guardians" and self.is_member and self.identifier in start.dealers
        )

    # ------------------------------------------------------------------ participant: deals

    def _dispatch_deal(self, source: str, deal: ShareDeal, now: float) -> list[Outgoing]:
        try:
            return self._on_deal(source, deal, now)
        except AuraError as exc:
            self._reject(source, f"{ShareDeal.TYPE}: {exc.message}")
            return []

    def _on_deal(self, source: str, deal: ShareDeal, now: float) -> list[Outgoing]:
        participation = self._participations.get(deal.change_hash)
        if participation is None:
            # The start may still be on its way: keep a few deals, small ones, oldest out first.
            if len(CUSTODY_CODEC.encode(deal)) > _MAX_EARLY_DEAL_BYTES:
                raise ProtocolViolation(
                    "a large deal for a change this device has not been asked about"
                )
            held = sum(len(deals) for deals in self._early_deals.values())
            if held >= _MAX_EARLY_DEALS:
                oldest = next(iter(self._early_deals))
                self._early_deals[oldest].pop(0)
                if not self._early_deals[oldest]:
                    del self._early_deals[oldest]
            self._early_deals.setdefault(deal.change_hash, []).append((source, deal))
            return []
        collector = participation.collector
        if collector is None:
            raise ProtocolViolation("a deal for a change this device receives no share in")
        if not collector.add(deal):
            return []
        if deal.journal and not self.is_member:
            # Facts verify themselves (the account key signed them); keep the valid ones.
            report = self.journal.ingest_many(deal.journal)
            if report.accepted:
                accepted = set(report.accepted)
                self._events.append(FactsAdded(tuple(f for f in self.journal if f.cid in accepted)))
            if report.rejected:
                self._reject(
                    source, f"{len(report.rejected)} fact(s) of the deal's journal refused"
                )
        if not collector.complete:
            return []
        key_package, public = collector.finalize()
        participation.pending = (key_package, public)
        self._events.append(SharePending(deal.change_hash, key_package, public))
        receipt = ShareReceived(
            deal.change_hash, collector.round, collector.identifier, to_bytes(public)
        )
        return [self.send(participation.start.coordinator, sign_message(receipt, self.sign))]

    # ------------------------------------------------------------------ participant: attest

    def _on_attest(self, source: str, request: AttestRequest, now: float) -> list[Outgoing]:
        participation = self._participations.get(request.change_hash)
        if participation is None or participation.start.round != request.round:
            raise ProtocolViolation("an attest request for a change or round this device is not in")
        if participation.nonces is not None or participation.facts:
            return []  # answered already
        change = participation.change
        if request.journal and not self.journal:
            trial = self.journal.copy()
            if trial.ingest_many(request.journal).rejected:
                raise ValidationError("the attached journal holds invalid facts")
            self.journal = trial
        head = self.tree
        if head is None:
            raise ValidationError("this device has no tree to check the facts against")
        packages = check_receipts(change, request)
        recipients_package = packages
        if change.rebuilds == "devices":
            if participation.pending is None:
                raise ValidationError("this device has not assembled its new share")
            signing_key, device_package = participation.pending
            if device_package != recipients_package:
                raise ValidationError("recipients report another key package than this device's")
            guardian_package = (
                self.guardian_set.guardian_package if self.guardian_set is not None else None
            )
            expected_signers = tuple(m.identifier for m in change.devices)
        else:
            if self.key_package is None or self.key_epoch is None:
                raise ValidationError("this device holds no current share to sign with")
            signing_key = self.key_package
            device_package = None
            guardian_package = recipients_package
            expected_signers = participation.start.dealers  # the devices that dealt sign
        if request.signers != expected_signers or signing_key.identifier not in request.signers:
            raise ValidationError("the signer set is not the one the change implies")
        facts = tuple(Fact.decode(item) for item in request.facts)
        derived = expected_facts(
            head=head,
            change=change,
            facts=facts,
            device_package=device_package,
            guardian_package=guardian_package,
        )
        if len(request.signers) < derived.signers_needed:
            raise ValidationError("too few signers for the change's tree operations")
        group_key = bytes(signing_key.verifying_key)
        participation.facts = facts
        participation.signers = request.signers
        participation.signing_key = signing_key
        participation.messages = fact_messages(
            facts, self.namespace, group_key, len(request.signers)
        )
        if signing_key.min_signers == 1:
            signatures = tuple(sign_single(signing_key, m) for m in participation.messages)
            reply = AttestShares(
                request.change_hash, request.round, signing_key.identifier, signatures
            )
            return [self.send(participation.start.coordinator, reply)]
        nonces, commitments = commit_batch(signing_key, len(facts), self._rng)
        participation.nonces = nonces
        participation.commitments = commitments
        reply_c = AttestCommitments(
            request.change_hash,
            request.round,
            signing_key.identifier,
            tuple(to_bytes(c) for c in commitments),
        )
        return [self.send(participation.start.coordinator, reply_c)]

    def _on_sign(self, source: str, message: AttestSign, now: float) -> list[Outgoing]:
        participation = self._participations.get(message.change_hash)
        if participation is None or participation.start.round != message.round:
            raise ProtocolViolation("a signing request for a change or round this device is not in")
        nonces, key = participation.nonces, participation.signing_key
        if participation.answered is not None and participation.answered[0] == message:
            return [participation.answered[1]]  # a duplicate: the same shares, no new signing
        if nonces is None or key is None:
            raise ProtocolViolation("no nonces are waiting for this signing request")
        packages = [from_bytes(item, SigningPackage) for item in message.packages]
        if len(packages) != len(participation.messages):
            raise ValidationError("one signing package per fact is needed")
        for package, expected, mine in zip(
            packages, participation.messages, participation.commitments, strict=True
        ):
            if package.message != expected:
                raise ValidationError("a signing package is for another message than its fact")
            if package.identifiers != participation.signers:
                raise ValidationError("a signing package names other signers")
            if mine not in package.commitments:
                raise ValidationError("a signing package does not hold this device's commitment")
        participation.nonces = None  # single use, whatever happens next
        shares = sign_batch(key, packages, nonces)
        reply = AttestShares(
            message.change_hash, message.round, key.identifier, tuple(to_bytes(s) for s in shares)
        )
        answer = self.send(participation.start.coordinator, reply)
        participation.answered = (message, answer)
        return [answer]

    # ------------------------------------------------------------------ everyone: completion

    def _on_complete(self, source: str, message: ChangeComplete, now: float) -> list[Outgoing]:
        facts = [Fact.decode(item) for item in message.facts]
        trial = self.journal.copy()
        report = trial.ingest_many(facts)
        if report.rejected:
            raise ValidationError(
                f"completion carries {len(report.rejected)} fact(s) the journal refuses: "
                f"{report.rejected[0][1].message}"
            )
        participation = self._participations.get(message.change_hash)
        if participation is not None and not change_reached(trial, self.tree, participation.change):
            participation = None  # valid facts, but not the ones completing our change
        if not report.accepted and participation is None:
            return []  # already applied
        previous_id = self.identifier
        change = None
        if participation is not None:
            change = participation.change
            del self._participations[message.change_hash]
            self._completing.pop(message.change_hash, None)
        self.journal = trial
        added = tuple(f for f in facts if f.cid in set(report.accepted))
        if added:
            self._events.append(FactsAdded(added))
        epoch = self.key_epoch
        if participation is not None and participation.pending is not None and epoch is not None:
            key_package, public = participation.pending
            if public == epoch.public_key_package:
                self.key_package = key_package
                self._events.append(ShareActivated(key_package, public))
        if previous_id is not None and not self.is_member and self.key_package is not None:
            old = self.key_package
            self.key_package = None
            self._events.append(ShareErased(old.identifier, "this device left the account"))
        self._sync_witness()
        out: list[Outgoing] = []
        if change is None:
            change = self._completing.pop(message.change_hash, None)
        if change is not None:
            self._events.append(ChangeCompleted(change))
            out += self._finished(change, True, "", now)
            follow_up = self._follow_ups.pop(change.hash, None)
            if follow_up is not None:
                try:
                    out += self._propose(follow_up(self.view), now)
                except AuraError as exc:
                    self._events.append(ChangeFailed(change.hash, f"follow-up: {exc.message}"))
        return out

    def _on_aborted(self, source: str, message: ChangeAborted, now: float) -> list[Outgoing]:
        participation = self._participations.get(message.change_hash)
        if participation is None or participation.start.coordinator != source:
            raise ProtocolViolation("an abort from someone who does not coordinate that change")
        if participation.start.round != message.round:
            return []
        del self._participations[message.change_hash]
        if participation.pending is not None:
            self._events.append(
                ShareErased(
                    participation.pending[0].identifier, "pending share of an aborted change"
                )
            )
        self._events.append(ChangeFailed(message.change_hash, message.reason))
        return self._finished(participation.change, False, message.reason, now)

    def _finished(
        self, change: CustodyChange, completed: bool, reason: str, now: float
    ) -> list[Outgoing]:
        out: list[Outgoing] = []
        for extension in self._extensions:
            out += extension.change_finished(change, completed, reason, now)
        return out

    def metadata(self, now: float) -> FactMetadata:
        """Metadata for a new fact written at ``now`` (a fresh ``OrderTime``)."""
        return FactMetadata(
            order_time_from_entropy(self._rng.random_bytes(32)), PhysicalTime(int(now * 1000))
        )

    _handlers: Mapping[type, Callable[..., list[Outgoing]]] = {
        ConsensusFrame: _on_consensus,
        EnrollmentRequest: _on_enroll,
        TransferStart: _on_start,
        ShareDeal: _on_deal,
        ShareReceived: CoordinatorRole._on_received,
        AttestRequest: _on_attest,
        AttestCommitments: CoordinatorRole._on_commitments,
        AttestSign: _on_sign,
        AttestShares: CoordinatorRole._on_shares,
        ChangeComplete: _on_complete,
        ChangeAborted: _on_aborted,
    }
