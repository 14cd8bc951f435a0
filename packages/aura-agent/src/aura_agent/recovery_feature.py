"""Guardian recovery in a live agent: the ``recovery`` feature.

Three roles, one feature:

* **Account devices** (a :class:`~aura_agent.custody_feature.CustodyService`
  with a ``RecoveryWatch``) invite guardians with a ``guardian`` invitation
  signed by the account key, seat the ones that accepted (a custody change
  decided by consensus, which deals them a guardian sharing of the key) and
  may dispute a recovery they did not ask for.
* **Guardians** run a :class:`GuardianService`: a
  :class:`aura_features.recovery.GuardianAgent` whose keys are derived from
  the agent's device root key and its own authority. The user accepts
  invitations and approves (or denies) recovery requests.
* **A new device** that lost the others starts a recovery: a
  ``RecoveryCoordinator`` asks the guardians; once a threshold approved and
  their dispute windows passed, they reshare to it. It then holds a share of
  the same key under the same ``AuthorityId``.

Guardian ceremony messages are addressed to ``str(guardian authority)``;
the devices map those addresses to the route of the guardian's agent (given
when inviting or starting a recovery) and send them as service frames of
this feature. Guardians answer devices as ``devices`` service frames.

Limits: a guardian's wards live for the agent's run only; inviting a
guardian needs the account key, so it works while the account is 1-of-1
(invite and seat guardians first, then add devices).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aura_agent.custody_feature import (
    DEVICES_FEATURE,
    GUARDIAN_FEATURE,
    CustodyService,
    custody_service,
)
from aura_agent.feature import Feature, FeatureHost, JournalReader
from aura_core.effects import Incoming, Outgoing
from aura_core.errors import InvalidInput, NotFound, ValidationError
from aura_core.hashing import kdf
from aura_core.identifiers import AuthorityId
from aura_effects import SodiumCrypto
from aura_features.devices import GuardianKeys, add_guardians
from aura_features.invitation import Invite, InviteKind, sign_invite
from aura_features.recovery import (
    GuardianAgent,
    GuardianInvited,
    RecoveryCoordinator,
    RecoveryRequested,
    recovery_registry,
)

if TYPE_CHECKING:
    from aura_agent.agent_node import AgentNode

__all__ = ["GuardianService", "guardian_keys", "recovery_feature"]

_SIGNING_KDF = "aura.agent.guardian.signing.v1"
_ENCRYPTION_KDF = "aura.agent.guardian.encryption.v1"
_INVITE_LIFETIME_S = 30 * 86400
_DEFAULT_WINDOW_S = 86400


def guardian_keys(node: AgentNode, authority: AuthorityId) -> GuardianKeys:
    """This agent's guardian keys as ``authority`` (derived from its device root key)."""
    material = node.identity.root_key + authority.raw
    return GuardianKeys(
        authority, kdf(_SIGNING_KDF, material, 32), kdf(_ENCRYPTION_KDF, material, 32)
    )


class GuardianService:
    """A :class:`GuardianAgent` inside an agent node, for the accounts it guards."""

    def __init__(self, node: AgentNode) -> None:
        self._node = node
        account = node.require_account()
        random = node.random
        self.agent = GuardianAgent(
            keys=guardian_keys(node, account.authority),
            rng=random,
            crypto=SodiumCrypto(random),
            registry=recovery_registry(),
        )
        self.invitations: dict[bytes, AuthorityId] = {}
        """Invitations waiting for the user's answer: invitation id -> inviting account."""
        self.requests: dict[bytes, RecoveryRequested] = {}
        """Recovery requests waiting for the user's approval, by recovery id."""
        self.events: list[Any] = []
        self._offset = node.time.now().ts_ms / 1000 - node.now

    def wall(self, now: float) -> float:
        return now + self._offset

    def receive(self, source: str, body: bytes, now: float) -> None:
        self._send(self.agent.receive(Incoming(source, body), self.wall(now)))

    def next_timer(self) -> float | None:
        at = self.agent.next_timer()
        return None if at is None else at - self._offset

    def on_timer(self, now: float) -> None:
        self._send(self.agent.on_timer(self.wall(now)))

    def _send(self, outputs: list[Outgoing]) -> None:
        for out in outputs:  # guardians talk to devices, whose address is their route
            self._node.send_service(DEVICES_FEATURE, out.destination, out.payload)
        for event in self.agent.take_events():
            self.events.append(event)
            if isinstance(event, GuardianInvited):
                self.invitations[event.invite.invitation_id.raw] = event.account
            elif isinstance(event, RecoveryRequested):
                self.requests[event.request.recovery_id] = event
        del self.events[:-256]

    def accept(self, invitation: bytes) -> None:
        if invitation not in self.invitations:
            raise NotFound("no guardian invitation with that id is waiting")
        del self.invitations[invitation]
        self._send(self.agent.accept(invitation, self.wall(self._node.now)))

    def decline(self, invitation: bytes) -> None:
        if invitation not in self.invitations:
            raise NotFound("no guardian invitation with that id is waiting")
        del self.invitations[invitation]
        self._send(self.agent.decline(invitation, self.wall(self._node.now)))

    def approve(self, recovery: bytes) -> None:
        if recovery not in self.requests:
            raise NotFound("no recovery request with that id is waiting")
        self._send(self.agent.approve_recovery(recovery, self.wall(self._node.now)))
        del self.requests[recovery]

    def deny(self, recovery: bytes) -> None:
        if recovery not in self.requests:
            raise NotFound("no recovery request with that id is waiting")
        self.agent.deny_recovery(recovery)
        del self.requests[recovery]


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
    if not isinstance(value, Mapping) or not value:
        raise InvalidInput("guardians must map guardian authority ids to their routes")
    addresses = []
    for authority, route in value.items():
        address = str(_authority_arg(authority, "guardian"))
        if type(route) is not str or not route:
            raise InvalidInput("each guardian needs the route of its agent")
        custody.route_to(address, route)
        addresses.append(address)
    return addresses


# --------------------------------------------------------------------------- workflows


def _invite_guardian(host: FeatureHost, args: Mapping[str, Any]) -> str:
    """Invite ``guardian`` (authority id) whose agent answers at ``route``; returns the id."""
    custody = custody_service(host)
    manager = custody.member()
    guardian = _authority_arg(args.get("guardian"), "guardian")
    route = args.get("route")
    if type(route) is not str or not route:
        raise InvalidInput("recovery.invite_guardian needs the guardian agent's route")
    signer = custody.account_signer()
    node = custody.node
    wall_ms = node.time.now().ts_ms
    invite = Invite(
        kind=InviteKind.GUARDIAN,
        inviter=manager.account,
        inviter_key=signer.public_key,
        context_seed=host.random.random_bytes(32),
        nonce=host.random.random_bytes(16),
        expires_ms=wall_ms + _INVITE_LIFETIME_S * 1000,
    )
    signed = sign_invite(invite, signer)
    custody.route_to(str(guardian), route)
    watch = custody.watch
    if watch is None:
        raise NotFound("this device is recovering; it cannot invite guardians")
    custody.send(watch.invite_guardian(signed, str(guardian), custody.wall(node.now)))
    return signed.invitation_id.raw.hex()


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
    """On a new device: ask ``guardians`` ({authority: route}) to restore ``authority``
    (whose group public key is ``group_key``); returns the recovery id (hex)."""
    custody = custody_service(host)
    node = custody.node
    if node.account is not None or custody.coordinator is not None:
        raise InvalidInput("this device already belongs to an account or is recovering")
    authority = _authority_arg(args.get("authority"), "authority")
    addresses = _guardian_routes(custody, args.get("guardians"))
    kept = args.get("kept", ())
    if not isinstance(kept, (list, tuple)) or any(type(k) is not int for k in kept):
        raise InvalidInput("kept must list the identifiers of devices the user still holds")
    # Without the expected key the new device cannot check what the guardians vouch
    # for, and the recovery does not complete: the user gives it with the authority.
    group_key = _bytes_arg(args, "group_key", 32)
    coordinator = RecoveryCoordinator(
        guardians=addresses,
        threshold=_int_arg(args, "threshold"),
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
