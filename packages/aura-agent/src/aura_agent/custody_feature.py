"""Multi-device accounts in a live agent: the ``devices`` feature and its custody service.

The custody ceremonies (enrollment, consensus on a change, reshare under the
same group key) live in :class:`aura_features.devices.DeviceManager`, a
sans-IO object addressed by device id. :class:`CustodyService` runs one inside
an :class:`~aura_agent.agent_node.AgentNode`: the agent's route *is*
``str(device)``, so the manager's messages travel unchanged as service frames
of the ``devices`` feature (over the agent's transport: an in-process router,
direct links or relays), and every fact the manager adds is copied into the
agent's authority journal, so ``account.devices`` shows the tree.

A device's custody keys are derived from the agent's device root key and the
account's authority: the leaf key is the same key the agent attests its own
facts with, so nothing new has to be stored for them.

The service must exist *before* the device has an account (a joining device
has none yet), so the workflows install it on first use; once there is an
account, ``Feature.service`` keeps that instance (or builds one on restart).

Without a transport (the ``aura`` CLI and its daemon), frames to a device
route or a guardian authority travel through the agent's relays in *route
mailboxes* (:mod:`aura_agent.route_mail`): this service reads the mailbox of
its own device route and seals frames for device and authority routes.

What a restart needs is stored: the share (a sealed secret), the custody
facts (mirrored into the account journal), and in the ``agent_custody``
table the devices the user agreed may enroll, the guardian invitations
waiting for an answer and the guardian set the user asked for (seated as
soon as every one of those guardians accepted). A joining or recovering
device keeps its ceremony in memory: its agent has to run until it is in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from aura_agent.account_cosigning import COSIGN_PREFIX, AccountCosigning, Signed
from aura_agent.device_identity import AccountRecord, store_account
from aura_agent.feature import Feature, FeatureHost, JournalReader
from aura_agent.relay_mail import Deposit, MailboxWatch
from aura_agent.route_mail import open_route_frame, route_kind, route_watch, seal_route_mail
from aura_core.crypto import KeyPackage, from_bytes, sign_single, to_bytes
from aura_core.dag_cbor import decode, encode
from aura_core.effects import Incoming, Outgoing, StorageEffects
from aura_core.errors import (
    AuraError,
    InvalidEncoding,
    InvalidInput,
    NotFound,
    StorageError,
    ValidationError,
)
from aura_core.hashing import kdf
from aura_core.identifiers import AuthorityId
from aura_effects import SodiumCrypto
from aura_features.devices import (
    ChangeCompleted,
    ChangeFailed,
    DeviceKeys,
    DeviceManager,
    DeviceMember,
    EnrollmentRequested,
    FactsAdded,
    GuardianProfile,
    ShareActivated,
    ShareErased,
    account_genesis,
    account_keys_by_dkg,
    add_device,
    add_guardians,
    change_threshold,
    custody_fact_types,
    remove_device,
)
from aura_features.ed25519_signer import Ed25519Signer
from aura_features.invitation import Invite, SignedInvite
from aura_features.recovery import (
    GuardianAnswered,
    RecoveryCoordinator,
    RecoveryWatch,
    guardian_answer_fact_type,
    recovery_registry,
)
from aura_features.rendezvous import SealedEnvelope

if TYPE_CHECKING:
    from aura_agent.agent_node import AgentNode

__all__ = [
    "CUSTODY_TABLE",
    "DEVICES_FEATURE",
    "GUARDIAN_FEATURE",
    "CustodyService",
    "LocalShareSigner",
    "custody_keys",
    "custody_service",
    "devices_feature",
    "got_account_by_recovery",
    "stored_key_package",
    "stored_share_signer",
]

DEVICES_FEATURE = "devices"
GUARDIAN_FEATURE = "recovery"
"""The feature whose service (a guardian) takes messages sent to guardian authorities."""
SHARE_SECRET = "agent.custody_share"
"""This device's current FROST key package (canonical bytes), kept as an encrypted secret."""
_ENCRYPTION_KDF = "aura.agent.custody.encryption.v1"
_EVENT_LOG = 256
_ROUTE_NOTE = b"\x00route-note\x00"
_MAX_ROUTES = 64
CUSTODY_TABLE = "agent_custody"
"""Plain custody state a restart needs (rows keyed by kind; see the module docstring)."""
_EXPECTED = b"expected:"
_INVITED = b"invited:"
_PLAN = b"plan"
_RECOVERED = b"recovered"


def del_oldest(table: dict[Any, Any], limit: int) -> None:
    """Drop the oldest entries of an insertion-ordered ``table`` beyond ``limit``."""
    while len(table) > limit:
        del table[next(iter(table))]


def custody_keys(node: AgentNode, authority: AuthorityId) -> DeviceKeys:
    """This device's custody keys in ``authority`` (derived, so nothing new is stored)."""
    identity = node.identity
    signer = identity.signer(authority)
    encryption = kdf(_ENCRYPTION_KDF, identity.root_key + authority.raw, 32)
    return DeviceKeys(identity.device, bytes(signer.signing_key), encryption)


class LocalShareSigner:
    """An :class:`Ed25519Signer` over a 1-of-1 key package (a plain RFC 8032 signature)."""

    def __init__(self, key_package: KeyPackage) -> None:
        if not key_package.is_single_signer:
            raise InvalidInput("a local share signs alone only for a 1-of-1 key")
        self._key = key_package

    @property
    def public_key(self) -> bytes:
        return bytes(self._key.verifying_key)

    @property
    def signer_count(self) -> int:
        return 1

    def sign(self, message: bytes) -> bytes:
        if not isinstance(message, bytes):
            raise InvalidInput(f"message must be bytes, got {type(message).__name__}")
        return sign_single(self._key, message)


def got_account_by_recovery(storage: StorageEffects) -> bool:
    """Whether this device got its account through a guardian recovery (kept across restarts)."""
    with storage.transaction(readonly=True) as txn:
        return txn.get(CUSTODY_TABLE, _RECOVERED) is not None


def stored_key_package(storage: StorageEffects) -> KeyPackage | None:
    """This device's current custody share, if it holds one (``StorageError`` if corrupt)."""
    with storage.transaction(readonly=True) as txn:
        raw = txn.get_secret(SHARE_SECRET)
    if raw is None:
        return None
    try:
        return from_bytes(raw, KeyPackage)
    except InvalidEncoding as exc:
        raise StorageError(f"the stored custody share is corrupt: {exc.message}") from None


def stored_share_signer(storage: StorageEffects) -> LocalShareSigner | None:
    """The account key from this device's stored share, if that share alone signs (1-of-1)."""
    key_package = stored_key_package(storage)
    if key_package is None or not key_package.is_single_signer:
        return None
    return LocalShareSigner(key_package)


class CustodyService:
    """A :class:`DeviceManager` inside an agent node (see the module docstring)."""

    def __init__(self, node: AgentNode) -> None:
        self._node = node
        self.manager: DeviceManager | None = None
        self.expected: set[str] = set()
        """Routes of devices the user said may enroll (``devices.add``)."""
        self.events: list[Any] = []
        """Recent custody events (newest last), for status and tests."""
        self.approve_changes = True
        """Whether this device's witness votes for changes its account's devices propose."""
        self.watch: RecoveryWatch | None = None
        self.coordinator: RecoveryCoordinator | None = None
        self.routes: dict[str, str] = {}
        """Guardian addresses (``str(authority)``) to the route their agent answers at."""
        self._addresses: dict[str, str] = {}
        self._offset = node.time.now().ts_ms / 1000 - node.now
        """Wall clock minus the node's monotonic clock: the manager's times are wall-clock
        seconds, so request and approval stamps mean the same on every device."""
        self.crypto = SodiumCrypto(node.random)
        self.guardian_plan: tuple[tuple[str, ...], int, int] | None = None
        """Guardians the user asked for (addresses), their threshold and dispute window:
        seated as soon as every one of them accepted."""
        self.plan_error: str | None = None
        """Why seating the planned guardians failed, if it did."""
        self.signing = AccountCosigning(node.random, lambda _subject: self.approve_changes)
        """Invitations and statements signed with the account's threshold key (with siblings)."""
        self.signatures: dict[bytes, bytes] = {}
        """Statements signed (session id -> signature), newest last."""
        self.unsigned: dict[bytes, str] = {}
        """Invitations still being signed: invitation id -> guardian address."""
        self._load_plain()

    # ------------------------------------------------------------------ setup

    def build(
        self,
        authority: AuthorityId,
        *,
        group_key: bytes | None = None,
        coordinator: RecoveryCoordinator | None = None,
        **state: Any,
    ) -> DeviceManager:
        random = self._node.random
        self.watch = None if coordinator is not None else RecoveryWatch()
        self.coordinator = coordinator
        extension = coordinator if coordinator is not None else self.watch
        manager = DeviceManager(
            keys=custody_keys(self._node, authority),
            account=authority,
            rng=random,
            crypto=SodiumCrypto(random),
            group_key=group_key,
            registry=recovery_registry(),
            approval=lambda _change: self.approve_changes,
            extensions=(extension,),
            **state,
        )
        self.manager = manager
        return manager

    def create_account(self, now: float) -> AccountRecord:
        """A new 1-of-1 account whose key is a FROST key: devices can be added later."""
        node = self._node
        if node.account is not None or self.manager is not None:
            raise InvalidInput("this device already belongs to an account")
        authority = AuthorityId.generate(node.random)
        keys = custody_keys(node, authority)
        packages, public = account_keys_by_dkg([1], 1, node.random)
        facts = account_genesis(
            account=authority,
            devices=[DeviceMember(1, keys.profile)],
            key_packages=list(packages.values()),
            public_key_package=public,
            rng=node.random,
            now=self.wall(now),
        )
        group_key = bytes(public.verifying_key)
        self.build(authority, group_key=group_key, key_package=packages[1], facts=facts)
        record = AccountRecord(authority, 1, group_key)
        self._keep_share(packages[1])
        store_account(node.storage, record)
        node.add_facts(record.namespace, list(facts))
        node.attach_account(record, now)
        return record

    def join(self, authority: AuthorityId, sponsor: str, now: float) -> None:
        """Ask the device at route ``sponsor`` to add this device to ``authority``."""
        if not isinstance(authority, AuthorityId):
            raise InvalidInput("join needs the account's AuthorityId")
        if type(sponsor) is not str or not sponsor:
            raise InvalidInput("join needs the sponsoring device's route")
        if self._node.account is not None:
            raise InvalidInput("this device already belongs to an account")
        manager = self.manager
        if manager is None or manager.account != authority:
            manager = self.build(authority)
        self.send(manager.request_enrollment(sponsor, self.wall(now)))

    # ------------------------------------------------------------------ changes

    def member(self) -> DeviceManager:
        manager = self.manager
        if manager is None or not manager.is_member:
            raise NotFound("this device holds no share of a multi-device account")
        return manager

    def expect(self, route: str) -> None:
        """The user agreed that the device at ``route`` may enroll."""
        if type(route) is not str or not route or len(route) > 256:
            raise InvalidInput("devices.add needs the new device's route")
        self.member()
        self.expected.add(route)
        with self._node.storage.transaction() as txn:
            txn.put(CUSTODY_TABLE, _EXPECTED + route.encode(), b"")

    # ------------------------------------------------------------------ guardians

    def invite(self, invite: Invite, guardian: str) -> None:
        """Have ``invite`` signed by the account key (with ``t - 1`` siblings), then send it."""
        manager = self.member()
        if self.watch is None:
            raise NotFound("this device is recovering; it cannot invite guardians")
        _session, outputs, signed = self.signing.begin(manager, invite, guardian)
        for out in outputs:
            self._node.send_service(DEVICES_FEATURE, out.destination, out.payload)
        if signed is None:
            self.unsigned[invite.invitation_id.raw] = guardian
            del_oldest(self.unsigned, _MAX_ROUTES)
        else:
            self._signed(signed)

    def sign_statement(self, text: bytes) -> bytes:
        """Start signing ``text`` with the account key; returns the session id to ask about."""
        session, outputs, signed = self.signing.begin(self.member(), text)
        for out in outputs:
            self._node.send_service(DEVICES_FEATURE, out.destination, out.payload)
        if signed is not None:
            self._signed(signed)
        return session

    def _signed(self, done: Signed) -> None:
        if isinstance(done.subject, Invite):
            signed = SignedInvite(done.subject, done.signature)
            signed.verify()
            self._send_invitation(signed, done.note)
        else:
            self.signatures[done.session] = done.signature
            del_oldest(self.signatures, _MAX_ROUTES)

    def _send_invitation(self, signed: SignedInvite, guardian: str) -> None:
        """Send a signed guardian invitation and remember it until the guardian answers."""
        watch = self.watch
        if watch is None:
            raise NotFound("this device is recovering; it cannot invite guardians")
        self.unsigned.pop(signed.invitation_id.raw, None)
        outputs = watch.invite_guardian(signed, guardian, self.wall(self._node.now))
        with self._node.storage.transaction() as txn:
            txn.put(
                CUSTODY_TABLE,
                _INVITED + signed.invitation_id.raw,
                encode([guardian, signed.code()]),
            )
        self.send(outputs)

    def plan_guardians(
        self, guardians: tuple[str, ...], threshold: int, window_s: int, now: float
    ) -> None:
        """Seat ``guardians`` (addresses) once every one accepted (now, if they all have)."""
        if not guardians or len(guardians) > _MAX_ROUTES:
            raise InvalidInput("name between 1 and 64 guardians")
        if not 1 <= threshold <= len(guardians):
            raise InvalidInput(f"a guardian threshold must be between 1 and {len(guardians)}")
        if type(window_s) is not int or window_s < 0:
            raise InvalidInput("the dispute window is a whole number of seconds")
        self.member()
        self.guardian_plan = (tuple(guardians), threshold, window_s)
        self.plan_error = None
        with self._node.storage.transaction() as txn:
            txn.put(CUSTODY_TABLE, _PLAN, encode([list(guardians), threshold, window_s]))
        self._maybe_seat(now)

    def _maybe_seat(self, now: float) -> None:
        plan, watch, manager = self.guardian_plan, self.watch, self.manager
        if plan is None or watch is None or manager is None or not manager.is_member:
            return
        addresses, threshold, window_s = plan
        accepted: dict[str, GuardianProfile] = {p.address: p for p in watch.accepted_guardians()}
        if not all(address in accepted for address in addresses):
            return
        self.guardian_plan = None
        with self._node.storage.transaction() as txn:
            txn.delete(CUSTODY_TABLE, _PLAN)
        profiles = [accepted[address] for address in addresses]
        try:
            self.propose(
                lambda view: add_guardians(
                    view,
                    profiles,
                    tag=self._node.random.random_bytes(16),
                    guardian_threshold=threshold,
                    dispute_window_s=window_s,
                ),
                now,
            )
        except AuraError as exc:
            self.plan_error = exc.message

    def propose(self, build: Callable[[Any], Any], now: float) -> bytes:
        manager = self.member()
        change = build(manager.view)
        manager.approve(change)
        self.share_routes()
        self.send(manager.propose(change, self.wall(now)))
        return change.hash

    # ------------------------------------------------------------------ persistence

    def _load_plain(self) -> None:
        """The devices expected to enroll and the guardian plan, as a previous run left them."""
        with self._node.storage.transaction(readonly=True) as txn:
            expected = txn.scan(CUSTODY_TABLE, _EXPECTED)
            plan = txn.get(CUSTODY_TABLE, _PLAN)
        for key, _value in expected:
            self.expected.add(key[len(_EXPECTED) :].decode("utf-8", "replace"))
        if plan is None:
            return
        try:
            value = decode(plan, allow_floats=False)
            if (
                not isinstance(value, list)
                or len(value) != 3
                or not isinstance(value[0], list)
                or not all(type(a) is str for a in value[0])
                or type(value[1]) is not int
                or type(value[2]) is not int
            ):
                raise InvalidEncoding("a guardian plan is [guardians, threshold, window]")
        except AuraError as exc:
            raise StorageError(f"the stored guardian plan is corrupt: {exc.message}") from None
        self.guardian_plan = (tuple(value[0]), value[1], value[2])

    def _restore_invitations(self, now: float) -> None:
        """Re-arm the watch with the invitations a previous run sent (answers may still come)."""
        watch = self.watch
        if watch is None:
            return
        with self._node.storage.transaction(readonly=True) as txn:
            rows = txn.scan(CUSTODY_TABLE, _INVITED)
        for key, value in rows:
            try:
                guardian, code = decode(value, allow_floats=False)
                if type(guardian) is not str or type(code) is not str:
                    raise InvalidEncoding("an invitation row is [guardian, code]")
                watch.invite_guardian(SignedInvite.parse(code), guardian, self.wall(now))
            except (AuraError, TypeError, ValueError):
                # Corrupt, or signed under a key the account no longer has: it cannot be
                # answered any more, so it is dropped rather than kept failing.
                with self._node.storage.transaction() as txn:
                    txn.delete(CUSTODY_TABLE, key)

    def _forget_invitation(self, invitation: bytes) -> None:
        with self._node.storage.transaction() as txn:
            txn.delete(CUSTODY_TABLE, _INVITED + invitation)

    def _keep_share(self, key_package: KeyPackage | None) -> None:
        with self._node.storage.transaction() as txn:
            if key_package is None:
                txn.delete_secret(SHARE_SECRET)
            else:
                txn.put_secret(SHARE_SECRET, to_bytes(key_package))

    def ready(self, now: float) -> None:
        """The journals are loaded: rebuild the manager of a stored multi-device account."""
        node = self._node
        account = node.account
        if self.manager is not None or account is None:
            return
        key_package = stored_key_package(node.storage)
        if key_package is None:
            return  # a 1-of-1 account of the plain kind, or this device left the account
        registry = recovery_registry()
        facts = [f for f in node.book.journal(account.namespace) if registry.knows(f.type_id)]
        self.build(
            account.authority,
            group_key=account.group_public_key,
            key_package=key_package,
            facts=facts,
        )
        self._restore_invitations(now)
        self._maybe_seat(now)

    # ------------------------------------------------------------------ service hooks

    @property
    def node(self) -> AgentNode:
        return self._node

    def wall(self, now: float) -> float:
        """The manager's time (wall-clock seconds) at the node's monotonic ``now``."""
        return now + self._offset

    def route_to(self, address: str, route: str) -> None:
        """Messages for ``address`` (a guardian authority) go to the agent at ``route``."""
        self.routes[address] = route
        self._addresses[route] = address

    def share_routes(self) -> None:
        """Tell the account's other devices where the guardians' agents answer.

        A device that deals a guardian share or coordinates a change has to
        reach the guardians too, not only the device that invited them. The
        note is a frame body starting with a zero byte (custody messages are
        CBOR maps, which never do).
        """
        manager = self.manager
        epoch = None if manager is None else manager.key_epoch
        if manager is None or epoch is None or not self.routes:
            return
        note = _ROUTE_NOTE + encode({"routes": sorted(self.routes.items())})
        for member in epoch.devices:
            if member.profile.address != manager.address:
                self._node.send_service(DEVICES_FEATURE, member.profile.address, note)

    def _on_note(self, source: str, body: bytes) -> None:
        manager = self.manager
        epoch = None if manager is None else manager.key_epoch
        if epoch is None or source not in {m.profile.address for m in epoch.devices}:
            raise ValidationError("a route note must come from a device of the account")
        value = decode(body[len(_ROUTE_NOTE) :], allow_floats=False)
        if not isinstance(value, dict) or set(value) != {"routes"}:
            raise InvalidEncoding("a route note is a map with routes")
        entries = value["routes"]
        if not isinstance(entries, list) or len(entries) > _MAX_ROUTES:
            raise InvalidEncoding("a route note lists at most 64 routes")
        for entry in entries:
            if (
                not isinstance(entry, list)
                or len(entry) != 2
                or not all(type(x) is str and 0 < len(x) <= 256 for x in entry)
            ):
                raise InvalidEncoding("a route entry is [address, route]")
            self.route_to(entry[0], entry[1])

    def receive(self, source: str, body: bytes, now: float) -> None:
        manager = self.manager
        if manager is None:
            raise NotFound("no custody ceremony is under way on this device")
        if body.startswith(_ROUTE_NOTE):
            self._on_note(source, body)
            return
        if body.startswith(COSIGN_PREFIX):
            replies, done = self.signing.receive(manager, source, body, self._node.time.now().ts_ms)
            for out in replies:
                self._node.send_service(DEVICES_FEATURE, out.destination, out.payload)
            for finished in done:
                self._signed(finished)
            return
        source = self._addresses.get(source, source)
        self.send(manager.receive(Incoming(source, body), self.wall(now)))

    def next_timer(self) -> float | None:
        at = None if self.manager is None else self.manager.next_timer()
        return None if at is None else at - self._offset

    def on_timer(self, now: float) -> None:
        if self.manager is not None:
            self.send(self.manager.on_timer(self.wall(now)))

    def send(self, outputs: list[Outgoing]) -> None:
        for out in outputs:
            destination = out.destination
            route = self.routes.get(destination)
            if route is None and route_kind(destination) == "authority":
                route = destination  # a guardian read at its own authority's route mailbox
            if route is None:
                self._node.send_service(DEVICES_FEATURE, destination, out.payload)
            else:  # to a guardian: its agent's recovery service takes it
                self._node.send_service(GUARDIAN_FEATURE, route, out.payload)
        self._take_events()

    # ------------------------------------------------------------------ relays

    def mailboxes(self) -> list[MailboxWatch]:
        """The mailbox of this device's own route, on the agent's relays."""
        relays = self._node.settings.relays
        if not relays or route_kind(self._node.route) != "device":
            return []
        return [route_watch(DEVICES_FEATURE, self._node.route, relays)]

    def open_mail(self, watch: MailboxWatch, envelope: SealedEnvelope, now: float) -> None:
        letter = open_route_frame(
            self.crypto, watch, envelope, frozenset({DEVICES_FEATURE, "datakey", "vault"})
        )
        self._node.deliver(letter.source, letter.frame, now)

    def seal_route(self, route: str, frame: bytes) -> Deposit | None:
        """Frames for a device or guardian route go to that route's mailbox on our relays."""
        node = self._node
        relays = node.settings.relays
        if not relays or route_kind(route) is None or route_kind(node.route) != "device":
            return None
        guardian = node.services.get(GUARDIAN_FEATURE)
        claims = getattr(guardian, "claims", None)
        if claims is not None and claims(frame):
            return None  # a guardian's answer: sent from the guardian's own route
        return seal_route_mail(
            self.crypto, route=route, source=node.route, frame=frame, relays=relays
        )

    def account_signer(self) -> Ed25519Signer:
        """The account key, when this device's share alone meets the threshold (1-of-1)."""
        manager = self.member()
        epoch = manager.key_epoch
        assert epoch is not None and manager.key_package is not None
        if epoch.threshold != 1:
            raise NotFound(
                f"the account key needs {epoch.threshold} devices to sign; "
                "this device holds one share"
            )
        return LocalShareSigner(manager.key_package)

    def _take_events(self) -> None:
        manager = self.manager
        if manager is None:
            return
        node = self._node
        answered = False
        for event in manager.take_events():
            self.events.append(event)
            if isinstance(event, GuardianAnswered):
                self._forget_invitation(event.response.invitation)
                answered = True
            elif isinstance(event, FactsAdded) and node.account is not None:
                self._mirror(event.facts)
            elif isinstance(event, EnrollmentRequested):
                self._sponsor(event)
            elif isinstance(event, ShareActivated):
                self._keep_share(event.key_package)
                if node.account is None:
                    self._joined(event)
            elif isinstance(event, ShareErased) and not manager.is_member:
                self._keep_share(None)
        del self.events[:-_EVENT_LOG]
        if answered:
            self._maybe_seat(node.now)

    def _mirror(self, facts: tuple[Any, ...]) -> None:
        account = self._node.require_account()
        self._node.add_facts(account.namespace, list(facts))

    def _sponsor(self, event: EnrollmentRequested) -> None:
        profile = event.request.profile
        if profile.address not in self.expected:
            return  # nobody said this device may join
        self.expected.discard(profile.address)
        with self._node.storage.transaction() as txn:
            txn.delete(CUSTODY_TABLE, _EXPECTED + profile.address.encode())
        manager = self.member()
        change = add_device(manager.view, profile, tag=self._node.random.random_bytes(16))
        manager.approve(change)
        self.send(manager.propose(change, self.wall(self._node.now)))

    def _joined(self, event: ShareActivated) -> None:
        manager = self.manager
        assert manager is not None
        public = event.public_key_package
        record = AccountRecord(manager.account, public.min_signers, bytes(public.verifying_key))
        node = self._node
        store_account(node.storage, record)
        if self.coordinator is not None:
            with node.storage.transaction() as txn:
                txn.put(CUSTODY_TABLE, _RECOVERED, record.authority.raw)
        node.add_facts(record.namespace, list(manager.journal))
        node.attach_account(record, node.now)

    # ------------------------------------------------------------------ reading

    def summary(self) -> dict[str, Any]:
        manager = self.manager
        if manager is None or manager.key_epoch is None:
            return {"member": False}
        epoch = manager.key_epoch
        return {
            "member": manager.is_member,
            "authority": manager.account,
            "identifier": manager.identifier,
            "threshold": epoch.threshold,
            "epoch": epoch.epoch,
            "group_key": manager.group_key,
            "devices": tuple((m.identifier, m.profile.address) for m in epoch.devices),
        }


# --------------------------------------------------------------------------- feature


def custody_service(host: FeatureHost) -> CustodyService:
    """The running custody service, installed on first use (a joining device has no account)."""
    node = host.node  # type: ignore[attr-defined]
    service = node.services.get(DEVICES_FEATURE)
    if not isinstance(service, CustodyService):
        service = node.services[DEVICES_FEATURE] = CustodyService(node)
    return service


def _reading(reader: JournalReader) -> CustodyService | None:
    service = reader.service(DEVICES_FEATURE)
    return service if isinstance(service, CustodyService) else None


def _existing_or_new(node: AgentNode) -> CustodyService:
    service = node.services.get(DEVICES_FEATURE)
    return service if isinstance(service, CustodyService) else CustodyService(node)


def _now(host: FeatureHost) -> float:
    return custody_service(host).node.now


def _create_account(host: FeatureHost, _args: Mapping[str, Any]) -> AccountRecord:
    return custody_service(host).create_account(_now(host))


def _join(host: FeatureHost, args: Mapping[str, Any]) -> None:
    authority = args.get("authority")
    if isinstance(authority, str):
        authority = AuthorityId.parse(authority)
    custody_service(host).join(authority, args.get("sponsor"), _now(host))  # type: ignore[arg-type]


def _add(host: FeatureHost, args: Mapping[str, Any]) -> None:
    custody_service(host).expect(args.get("device"))  # type: ignore[arg-type]


def _remove(host: FeatureHost, args: Mapping[str, Any]) -> bytes:
    identifier = args.get("identifier")
    if type(identifier) is not int:
        raise InvalidInput("devices.remove needs the device's identifier (an int)")
    service = custody_service(host)
    return service.propose(
        lambda view: remove_device(view, identifier, tag=host.random.random_bytes(16)), _now(host)
    )


def _threshold(host: FeatureHost, args: Mapping[str, Any]) -> bytes:
    threshold = args.get("threshold")
    if type(threshold) is not int:
        raise InvalidInput("devices.set_threshold needs threshold (an int)")
    service = custody_service(host)
    return service.propose(
        lambda view: change_threshold(view, threshold, tag=host.random.random_bytes(16)),
        _now(host),
    )


def _sign(host: FeatureHost, args: Mapping[str, Any]) -> str:
    """Sign a statement with the account key (``t`` devices take part); returns the request id."""
    text = args.get("message")
    if isinstance(text, str):
        text = text.encode("utf-8")
    if type(text) is not bytes:
        raise InvalidInput("devices.sign needs the message (bytes or str)")
    return custody_service(host).sign_statement(text).hex()


def _signature(reader: JournalReader, args: Mapping[str, Any]) -> str | None:
    """The signature (hex) of a statement signed with ``devices.sign``, once it is done."""
    request = args.get("request")
    try:
        session = bytes.fromhex(request) if type(request) is str else None
    except ValueError:
        session = None
    if session is None or len(session) != 16:
        raise InvalidInput("devices.signature needs the request id (32 hex digits)")
    service = _reading(reader)
    signature = None if service is None else service.signatures.get(session)
    return None if signature is None else signature.hex()


def _status(reader: JournalReader, _args: Mapping[str, Any]) -> dict[str, Any]:
    service = _reading(reader)
    return {"member": False} if service is None else service.summary()


def _outcomes(reader: JournalReader, _args: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """Completed and failed changes, oldest first: (change hash hex, "completed" or reason)."""
    service = _reading(reader)
    out: list[tuple[str, str]] = []
    for event in () if service is None else service.events:
        if isinstance(event, ChangeCompleted):
            out.append((event.change.hash.hex(), "completed"))
        elif isinstance(event, ChangeFailed):
            out.append((event.change_hash.hex(), event.reason))
    return tuple(out)


def devices_feature() -> Feature:
    return Feature(
        name=DEVICES_FEATURE,
        fact_types=(*custody_fact_types(), guardian_answer_fact_type()),
        operation_categories={
            "devices.create_account": "A",
            "devices.join": "B",
            "devices.add": "A",
            "devices.remove": "C",
            "devices.set_threshold": "C",
            "devices.sign": "B",
        },
        workflows={
            "devices.create_account": _create_account,
            "devices.join": _join,
            "devices.add": _add,
            "devices.remove": _remove,
            "devices.set_threshold": _threshold,
            "devices.sign": _sign,
        },
        queries={
            "devices.status": _status,
            "devices.outcomes": _outcomes,
            "devices.signature": _signature,
        },
        service=_existing_or_new,
        description="Multi-device accounts: enrollment, removal and threshold under consensus.",
    )
