"""Guardian recovery in a live agent: the ``recovery`` feature.

Three roles, one feature:

* **Account devices** (a :class:`~aura_agent.custody_feature.CustodyService`
  with a ``RecoveryWatch``) invite guardians with a ``guardian`` invitation
  signed by the account's group key (by ``t`` devices together, see
  :mod:`aura_agent.account_cosigning`), seat the ones that accepted (a
  custody change decided by consensus, which deals them a guardian sharing
  of the key) and may dispute a recovery they did not ask for.
  ``recovery.set_guardians`` does both: it invites and seats the set once
  every guardian accepted.
* **Guardians** run a :class:`GuardianService`: a
  :class:`aura_features.recovery.GuardianAgent` whose keys are derived from
  the agent's device root key and its own authority. The user accepts
  invitations and approves (or denies) recovery requests.
* **A new device** that lost the others starts a recovery: a
  ``RecoveryCoordinator`` asks the guardians; once a threshold approved and
  their dispute windows passed, they reshare to it. It then holds a share of
  the same key under the same ``AuthorityId``.

Guardian ceremony messages are addressed to ``str(guardian authority)``.
Through relays that *is* the route: the guardian reads the route mailbox of
its authority (:mod:`aura_agent.route_mail`) and answers from it. Over a
transport, the devices map the address to the route of the guardian's agent
(given when inviting or starting a recovery). Either way they are service
frames of this feature; guardians answer devices as ``devices`` frames.

A guardian's wards, shares and the requests waiting for its user are stored
(see :class:`GuardianService`), so a restarted guardian carries on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aura_agent.agent_frame import ServiceFrame, encode_frame
from aura_agent.custody_feature import (
    DEVICES_FEATURE,
    GUARDIAN_FEATURE,
    CustodyService,
    custody_service,
)
from aura_agent.feature import Feature, FeatureHost, JournalReader
from aura_agent.relay_mail import Deposit, MailboxWatch
from aura_agent.route_mail import open_route_frame, route_kind, route_watch, seal_route_mail
from aura_core.crypto import KeyPackage, from_bytes, to_bytes
from aura_core.dag_cbor import decode, encode
from aura_core.effects import Incoming, Outgoing
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
from aura_features.devices import GuardianKeys, add_guardians
from aura_features.invitation import Invite, InviteKind
from aura_features.recovery import (
    GuardianAgent,
    GuardianInvited,
    GuardianShareActivated,
    GuardianShareErased,
    RecoveryCoordinator,
    RecoveryDisputed,
    RecoveryReleased,
    RecoveryRequested,
    recovery_registry,
)
from aura_features.rendezvous import SealedEnvelope
from aura_journal import Fact

if TYPE_CHECKING:
    from aura_agent.agent_node import AgentNode

__all__ = ["GUARDIAN_TABLE", "GuardianService", "guardian_keys", "recovery_feature"]

_SIGNING_KDF = "aura.agent.guardian.signing.v1"
_ENCRYPTION_KDF = "aura.agent.guardian.encryption.v1"
_INVITE_LIFETIME_S = 30 * 86400
_DEFAULT_WINDOW_S = 86400
GUARDIAN_TABLE = "agent_guardian"
"""A guardian's plain state: wards' group keys and journals, messages waiting for the user."""
_WARD = b"ward:"
_FACT = b"fact:"
_INBOX = b"inbox:"
_APPROVED = b"approved:"
_SHARE_SECRET = "agent.guardian_share."
_MAX_CLAIMED = 1024


def guardian_keys(node: AgentNode, authority: AuthorityId) -> GuardianKeys:
    """This agent's guardian keys as ``authority`` (derived from its device root key)."""
    material = node.identity.root_key + authority.raw
    return GuardianKeys(
        authority, kdf(_SIGNING_KDF, material, 32), kdf(_ENCRYPTION_KDF, material, 32)
    )


class GuardianService:
    """A :class:`GuardianAgent` inside an agent node, for the accounts it guards.

    It reads the route mailbox of its own authority (when the agent has
    relays) and answers devices from that route. Everything a restart needs
    is stored: each ward's group key and journal (``agent_guardian`` table),
    the guardian share (a sealed secret), and the invitations and recovery
    requests still waiting for the user (replayed into the agent on start).
    """

    def __init__(self, node: AgentNode) -> None:
        self._node = node
        account = node.require_account()
        random = node.random
        self.address = str(account.authority)
        self.crypto = SodiumCrypto(random)
        self.agent = GuardianAgent(
            keys=guardian_keys(node, account.authority),
            rng=random,
            crypto=self.crypto,
            registry=recovery_registry(),
            wards=self._stored_wards(),
        )
        self.invitations: dict[bytes, AuthorityId] = {}
        """Invitations waiting for the user's answer: invitation id -> inviting account."""
        self.requests: dict[bytes, RecoveryRequested] = {}
        """Recovery requests waiting for the user's approval, by recovery id."""
        self.events: list[Any] = []
        self._group_keys: dict[bytes, bytes] = {}
        """Invitation id -> the inviting account's group key (kept when accepted)."""
        self._claimed: dict[bytes, None] = {}
        """Frames this guardian sent (they leave from the guardian's route)."""
        self._offset = node.time.now().ts_ms / 1000 - node.now
        self._saved: dict[AuthorityId, int] = {}
        """Facts of each ward's journal already stored."""
        for account in self.agent.accounts:
            journal = self.agent.journal_for(account)
            self._saved[account] = 0 if journal is None else len(journal)

    def wall(self, now: float) -> float:
        return now + self._offset

    # ------------------------------------------------------------------ persistence

    def _stored_wards(self) -> dict[AuthorityId, tuple[bytes, list[Fact], KeyPackage | None]]:
        wards: dict[AuthorityId, tuple[bytes, list[Fact], KeyPackage | None]] = {}
        with self._node.storage.transaction(readonly=True) as txn:
            rows = txn.scan(GUARDIAN_TABLE, _WARD)
            for key, group_key in rows:
                raw = key[len(_WARD) :]
                try:
                    account = AuthorityId(raw)
                    if len(group_key) != 32:
                        raise InvalidEncoding("a ward's group key is 32 bytes")
                    facts = [
                        Fact.decode(value) for _k, value in txn.scan(GUARDIAN_TABLE, _FACT + raw)
                    ]
                    secret = txn.get_secret(_SHARE_SECRET + str(account))
                    share = None if secret is None else from_bytes(secret, KeyPackage)
                except (AuraError, TypeError, ValueError) as exc:
                    detail = exc.message if isinstance(exc, AuraError) else str(exc)
                    raise StorageError(f"a stored guardian ward is corrupt: {detail}") from None
                wards[account] = (group_key, facts, share)
        return wards

    def ready(self, now: float) -> None:
        """Replay what waited for the user when the agent stopped (the user still decides)."""
        with self._node.storage.transaction(readonly=True) as txn:
            waiting = txn.scan(GUARDIAN_TABLE, _INBOX)
            approved = {key[len(_APPROVED) :] for key, _v in txn.scan(GUARDIAN_TABLE, _APPROVED)}
        for _key, value in waiting:
            try:
                source, body = decode(value, allow_floats=False)
                if type(source) is not str or type(body) is not bytes:
                    raise InvalidEncoding("a waiting guardian message is [source, body]")
            except (AuraError, TypeError, ValueError):
                self._node.metrics.frames_refused += 1
                continue
            self.receive(source, body, now)
        for recovery in approved:
            if recovery in self.requests:
                self.approve(recovery)

    def _put(self, key: bytes, value: bytes) -> None:
        with self._node.storage.transaction() as txn:
            txn.put(GUARDIAN_TABLE, key, value)

    def _delete(self, *keys: bytes) -> None:
        with self._node.storage.transaction() as txn:
            for key in keys:
                txn.delete(GUARDIAN_TABLE, key)

    def _save_journals(self) -> None:
        """Store the facts each ward's journal gained (some arrive with no event of their own)."""
        for account in self.agent.accounts:
            journal = self.agent.journal_for(account)
            if journal is None or len(journal) == self._saved.get(account, 0):
                continue
            prefix = _FACT + account.raw
            with self._node.storage.transaction() as txn:
                for fact in journal:
                    txn.put(GUARDIAN_TABLE, prefix + fact.cid.raw, fact.encode())
            self._saved[account] = len(journal)

    def _persist(self, event: Any) -> None:
        if isinstance(event, GuardianShareActivated):
            with self._node.storage.transaction() as txn:
                txn.put_secret(_SHARE_SECRET + str(event.account), to_bytes(event.key_package))
        elif isinstance(event, GuardianShareErased):
            with self._node.storage.transaction() as txn:
                txn.delete_secret(_SHARE_SECRET + str(event.account))
        elif isinstance(event, (RecoveryReleased, RecoveryDisputed)):
            self._delete(_INBOX + b"r" + event.recovery_id, _APPROVED + event.recovery_id)

    # ------------------------------------------------------------------ service hooks

    def receive(self, source: str, body: bytes, now: float) -> None:
        outputs = self.agent.receive(Incoming(source, body), self.wall(now))
        for event in self._send(outputs):
            # What waits for the user is kept as it came, and replayed after a restart.
            if isinstance(event, GuardianInvited):
                key = _INBOX + b"i" + event.invite.invitation_id.raw
                self._put(key, encode([source, body]))
            elif isinstance(event, RecoveryRequested):
                self._put(_INBOX + b"r" + event.request.recovery_id, encode([source, body]))

    def next_timer(self) -> float | None:
        at = self.agent.next_timer()
        return None if at is None else at - self._offset

    def on_timer(self, now: float) -> None:
        self._send(self.agent.on_timer(self.wall(now)))

    def _send(self, outputs: list[Outgoing]) -> list[Any]:
        for out in outputs:  # guardians talk to devices, whose address is their route
            self._claimed[encode_frame(ServiceFrame(DEVICES_FEATURE, out.payload))] = None
            self._node.send_service(DEVICES_FEATURE, out.destination, out.payload)
        while len(self._claimed) > _MAX_CLAIMED:
            del self._claimed[next(iter(self._claimed))]
        events = self.agent.take_events()
        self._save_journals()
        for event in events:
            self.events.append(event)
            self._persist(event)
            if isinstance(event, GuardianInvited):
                identifier = event.invite.invitation_id.raw
                self.invitations[identifier] = event.account
                self._group_keys[identifier] = event.invite.invite.inviter_key
            elif isinstance(event, RecoveryRequested):
                self.requests[event.request.recovery_id] = event
        del self.events[:-256]
        return events

    # ------------------------------------------------------------------ relays

    def mailboxes(self) -> list[MailboxWatch]:
        """The mailbox of this guardian's authority route, on the agent's relays."""
        relays = self._node.settings.relays
        return [route_watch(GUARDIAN_FEATURE, self.address, relays)] if relays else []

    def open_mail(self, watch: MailboxWatch, envelope: SealedEnvelope, now: float) -> None:
        letter = open_route_frame(
            self.crypto, watch, envelope, frozenset({GUARDIAN_FEATURE, "vault"})
        )
        self._node.deliver(letter.source, letter.frame, now)

    def claims(self, frame: bytes) -> bool:
        """Whether this guardian sent ``frame`` (so it leaves from the guardian's route)."""
        return frame in self._claimed

    def seal_route(self, route: str, frame: bytes) -> Deposit | None:
        relays = self._node.settings.relays
        if not relays or frame not in self._claimed or route_kind(route) is None:
            return None
        del self._claimed[frame]
        return seal_route_mail(
            self.crypto, route=route, source=self.address, frame=frame, relays=relays
        )

    # ------------------------------------------------------------------ the user's answers

    def accept(self, invitation: bytes) -> None:
        if invitation not in self.invitations:
            raise NotFound("no guardian invitation with that id is waiting")
        account = self.invitations.pop(invitation)
        group_key = self._group_keys.pop(invitation)
        self._send(self.agent.accept(invitation, self.wall(self._node.now)))
        with self._node.storage.transaction() as txn:
            if txn.get(GUARDIAN_TABLE, _WARD + account.raw) is None:
                txn.put(GUARDIAN_TABLE, _WARD + account.raw, group_key)
            txn.delete(GUARDIAN_TABLE, _INBOX + b"i" + invitation)

    def decline(self, invitation: bytes) -> None:
        if invitation not in self.invitations:
            raise NotFound("no guardian invitation with that id is waiting")
        del self.invitations[invitation]
        self._group_keys.pop(invitation, None)
        self._send(self.agent.decline(invitation, self.wall(self._node.now)))
        self._delete(_INBOX + b"i" + invitation)

    def approve(self, recovery: bytes) -> None:
        if recovery not in self.requests:
            raise NotFound("no recovery request with that id is waiting")
        self._send(self.agent.approve_recovery(recovery, self.wall(self._node.now)))
        del self.requests[recovery]
        self._put(_APPROVED + recovery, b"")

    def deny(self, recovery: bytes) -> None:
        if recovery not in self.requests:
            raise NotFound("no recovery request with that id is waiting")
        self.agent.deny_recovery(recovery)
        del self.requests[recovery]
        self._delete(_INBOX + b"r" + recovery)


# --------------------------------------------------------------------------- arguments


def _bytes_arg(args: Mapping[str, Any], name: str, size: int) -> bytes:
    value = args.get(name)
    if isinstance(value, str):
        try:
            value = bytes.fromhex(value)
        except ValueError:
            raise InvalidInput(f"{name} must be hex") from None
    if type(value) is not bytes or len(value) != size:
        raise InvalidInput(f"{name} must be {size} bytes (hex)")
    return value


def _authority_arg(value: object, name: str) -> AuthorityId:
    if isinstance(value, AuthorityId):
        return value
    if type(value) is not str:
        raise InvalidInput(f"{name} must be an authority id")
    return AuthorityId.parse(value)


def _int_arg(args: Mapping[str, Any], name: str, default: int | None = None) -> int:
    value = args.get(name, default)
    if type(value) is not int:
        raise InvalidInput(f"{name} must be an int")
    return value


def _guardian(host: FeatureHost | JournalReader) -> GuardianService:
    reader = host.reader if isinstance(host, FeatureHost) else host
    service = reader.service(GUARDIAN_FEATURE)
    if not isinstance(service, GuardianService):
        raise NotFound("this agent is no guardian yet (it needs an account)")
    return service


def _guardian_routes(custody: CustodyService, value: object) -> list[str]:
    if isinstance(value, (list, tuple)) and value:
        return list(dict.fromkeys(str(_authority_arg(g, "guardian")) for g in value))
    if not isinstance(value, Mapping) or not value:
        raise InvalidInput("guardians must list guardian authority ids (or map them to routes)")
    addresses = []
    for authority, route in value.items():
        address = str(_authority_arg(authority, "guardian"))
        if type(route) is not str or not route:
            raise InvalidInput("each guardian needs the route of its agent")
        custody.route_to(address, route)
        addresses.append(address)
    return addresses


# --------------------------------------------------------------------------- workflows


def _send_invitation(
    host: FeatureHost, custody: CustodyService, guardian: AuthorityId, route: str | None
) -> str:
    """Make a guardian invitation naming the account's group key and have it signed and sent."""
    manager = custody.member()
    group_key = manager.group_key
    if custody.watch is None or group_key is None:
        raise NotFound("this device is recovering; it cannot invite guardians")
    invite = Invite(
        kind=InviteKind.GUARDIAN,
        inviter=manager.account,
        inviter_key=group_key,
        context_seed=host.random.random_bytes(32),
        nonce=host.random.random_bytes(16),
        expires_ms=custody.node.time.now().ts_ms + _INVITE_LIFETIME_S * 1000,
    )
    if route is not None:
        custody.route_to(str(guardian), route)
    custody.invite(invite, str(guardian))
    return invite.invitation_id.raw.hex()


def _invite_guardian(host: FeatureHost, args: Mapping[str, Any]) -> str:
    """Invite ``guardian`` (authority id); returns the invitation id (hex).

    Its agent is reached at ``route`` when given (a transport's peer name),
    else at the route mailbox of the guardian's authority.
    """
    guardian = _authority_arg(args.get("guardian"), "guardian")
    route = args.get("route")
    if route is not None and (type(route) is not str or not route):
        raise InvalidInput("route, when given, must be the guardian agent's route")
    return _send_invitation(host, custody_service(host), guardian, route)


def _set_guardians(host: FeatureHost, args: Mapping[str, Any]) -> dict[str, Any]:
    """Invite every guardian in ``guardians`` not yet accepted and seat the set once all accept.

    Returns the invitations sent (guardian -> invitation id) and whether the set
    was proposed already (every guardian had accepted before).
    """
    custody = custody_service(host)
    custody.member()  # guardians hold a sharing of the devices' key: there must be one
    watch = custody.watch
    if watch is None:
        raise NotFound("this device is recovering; it cannot choose guardians")
    value = args.get("guardians")
    if not isinstance(value, (list, tuple)) or not value:
        raise InvalidInput("guardians must list the guardians' authority ids")
    guardians = tuple(dict.fromkeys(str(_authority_arg(g, "guardian")) for g in value))
    threshold = _int_arg(args, "threshold", len(guardians) // 2 + 1)
    window = _int_arg(args, "dispute_window_s", _DEFAULT_WINDOW_S)
    accepted = {p.address for p in watch.accepted_guardians()}
    sent = {
        address: _send_invitation(host, custody, AuthorityId.parse(address), None)
        for address in guardians
        if address not in accepted
    }
    custody.plan_guardians(guardians, threshold, window, custody.node.now)
    return {"invited": sent, "proposed": custody.guardian_plan is None}


def _seat_guardians(host: FeatureHost, args: Mapping[str, Any]) -> str:
    """Seat every guardian that accepted, ``threshold`` of whom restore; returns the change hash."""
    custody = custody_service(host)
    watch = custody.watch
    if watch is None:
        raise NotFound("this device is recovering; it cannot seat guardians")
    profiles = list(watch.accepted_guardians())
    if not profiles:
        raise ValidationError("no guardian has accepted an invitation yet")
    threshold = _int_arg(args, "threshold")
    window = _int_arg(args, "dispute_window_s", _DEFAULT_WINDOW_S)
    change_hash = custody.propose(
        lambda view: add_guardians(
            view,
            profiles,
            tag=host.random.random_bytes(16),
            guardian_threshold=threshold,
            dispute_window_s=window,
        ),
        custody.node.now,
    )
    return change_hash.hex()


def _start(host: FeatureHost, args: Mapping[str, Any]) -> str:
    """On a new device: ask ``guardians`` to restore ``authority``; returns the recovery id (hex).

    ``guardians`` lists authority ids (reached at their route mailboxes) or maps
    them to the routes their agents answer at. ``group_key`` (optional) is the
    account's public key: with it, guardian sets vouching for another key are
    refused; without it, the key the threshold of guardians vouch for is taken,
    which is the same trust the recovery places in them anyway.
    """
    custody = custody_service(host)
    node = custody.node
    if node.account is not None or custody.coordinator is not None:
        raise InvalidInput("this device already belongs to an account or is recovering")
    authority = _authority_arg(args.get("authority"), "authority")
    addresses = _guardian_routes(custody, args.get("guardians"))
    kept = args.get("kept", ())
    if not isinstance(kept, (list, tuple)) or any(type(k) is not int for k in kept):
        raise InvalidInput("kept must list the identifiers of devices the user still holds")
    group_key = None if args.get("group_key") is None else _bytes_arg(args, "group_key", 32)
    coordinator = RecoveryCoordinator(
        guardians=addresses,
        threshold=_int_arg(args, "threshold", (len(kept) + 1) // 2 + 1),
        kept=tuple(kept),
        rng=host.random,
        expected_group_key=group_key,
    )
    custody.build(authority, coordinator=coordinator)
    custody.send(coordinator.start(custody.wall(node.now)))
    return coordinator.recovery_id.hex()


def _accept(host: FeatureHost, args: Mapping[str, Any]) -> None:
    _guardian(host).accept(_bytes_arg(args, "invitation", 32))


def _decline(host: FeatureHost, args: Mapping[str, Any]) -> None:
    _guardian(host).decline(_bytes_arg(args, "invitation", 32))


def _approve(host: FeatureHost, args: Mapping[str, Any]) -> None:
    _guardian(host).approve(_bytes_arg(args, "recovery", 16))


def _deny(host: FeatureHost, args: Mapping[str, Any]) -> None:
    _guardian(host).deny(_bytes_arg(args, "recovery", 16))


def _dispute(host: FeatureHost, args: Mapping[str, Any]) -> None:
    custody = custody_service(host)
    watch = custody.watch
    if watch is None or not custody.member():
        raise NotFound("only a device of the account can dispute a recovery")
    reason = args.get("reason", "not requested by the owner")
    if type(reason) is not str or not reason:
        raise InvalidInput("reason must be a non-empty str")
    recovery = _bytes_arg(args, "recovery", 16)
    custody.send(watch.dispute(recovery, custody.wall(custody.node.now), reason))


# --------------------------------------------------------------------------- queries


def _status(reader: JournalReader, _args: Mapping[str, Any]) -> dict[str, Any]:
    """What this agent sees of recoveries, in each role it plays."""
    result: dict[str, Any] = {}
    custody = reader.service(DEVICES_FEATURE)
    if isinstance(custody, CustodyService):
        if custody.coordinator is not None:
            coordinator = custody.coordinator
            result["recovering"] = {
                "recovery": coordinator.recovery_id.hex(),
                "approvals": coordinator.approvals(),
                "outcome": coordinator.outcome,
            }
        if custody.watch is not None and custody.manager is not None:
            guardian_set = custody.manager.guardian_set
            result["guardians"] = (
                ()
                if guardian_set is None
                else tuple(str(m.profile.authority) for m in guardian_set.guardians)
            )
            result["guardian_threshold"] = None if guardian_set is None else guardian_set.threshold
            result["accepted"] = tuple(str(p.authority) for p in custody.watch.accepted_guardians())
            plan = custody.guardian_plan
            result["planned"] = () if plan is None else plan[0]
            result["plan_error"] = custody.plan_error
            result["signing"] = tuple(i.hex() for i in custody.unsigned)
            result["watched"] = tuple(r.recovery_id.hex() for r in custody.watch.watched)
    guardian = reader.service(GUARDIAN_FEATURE)
    if isinstance(guardian, GuardianService):
        result["invitations"] = tuple(
            (i.hex(), str(account)) for i, account in guardian.invitations.items()
        )
        result["requests"] = tuple(
            (r.hex(), str(e.request.account), str(e.request.device.device))
            for r, e in guardian.requests.items()
        )
        result["wards"] = tuple(
            str(a) for a in guardian.agent.accounts if guardian.agent.share_for(a) is not None
        )
    return result


def recovery_feature() -> Feature:
    return Feature(
        name=GUARDIAN_FEATURE,
        operation_categories={
            "recovery.invite_guardian": "B",
            "recovery.set_guardians": "B",
            "recovery.seat_guardians": "C",
            "recovery.accept": "B",
            "recovery.decline": "A",
            "recovery.start": "B",
            "recovery.approve": "B",
            "recovery.deny": "A",
            "recovery.dispute": "B",
        },
        workflows={
            "recovery.invite_guardian": _invite_guardian,
            "recovery.set_guardians": _set_guardians,
            "recovery.seat_guardians": _seat_guardians,
            "recovery.accept": _accept,
            "recovery.decline": _decline,
            "recovery.start": _start,
            "recovery.approve": _approve,
            "recovery.deny": _deny,
            "recovery.dispute": _dispute,
        },
        queries={"recovery.status": _status},
        service=GuardianService,
        requires=(DEVICES_FEATURE,),
        description="Guardians: invite and seat them, approve or dispute a recovery, recover.",
    )
