"""Guardian invitations signed by a t-of-n account key: a FROST round among the devices.

A guardian learns the account's group key from the invitation, so the
invitation must be signed by that key itself, and in a ``t``-of-``n``
account no device holds it. The device that invites runs RFC 9591 FROST
with ``t - 1`` siblings: it asks every other device of the account to
commit, builds the signing package from the first ``t`` commitments
(its own included), collects the signature shares and aggregates them.

A sibling signs only what it checks itself: a ``guardian`` invitation of
*this* account, naming the group key, not expired, coming from a device of
the account, and only if its policy approves. It never signs anything else,
so holding one device still does not let anyone sign arbitrary messages as
the account. Nonces are used once and dropped; at most a few sessions are
kept. The messages travel as ``devices`` service frames that begin with a
zero byte (custody messages are CBOR maps, which never do).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from aura_core.crypto import (
    SignatureShare,
    SigningCommitments,
    SigningNonces,
    SigningPackage,
    aggregate,
    commit,
    from_bytes,
    sign,
    sign_single,
    to_bytes,
)
from aura_core.dag_cbor import decode, encode
from aura_core.effects import Outgoing, RandomEffects
from aura_core.errors import AuraError, InvalidEncoding, NotFound, ValidationError
from aura_features.devices import DeviceManager
from aura_features.invitation import Invite, InviteKind, SignedInvite

__all__ = ["COSIGN_PREFIX", "GuardianInviteSigning"]

COSIGN_PREFIX = b"\x00cosign-invite\x00"
_MAX_SESSIONS = 8
_KINDS = {"ask": "invite", "commit": "c", "package": "p", "share": "s"}


@attrs.frozen
class _Ask:
    invite: Invite
    coordinator: str


class _Session:
    """The inviting device's side of one signing."""

    def __init__(self, invite: Invite, guardian: str, nonces: SigningNonces, me: int) -> None:
        self.invite = invite
        self.guardian = guardian
        self.nonces = nonces
        self.commitments: dict[int, SigningCommitments] = {me: nonces.commitments}
        self.package: SigningPackage | None = None
        self.shares: dict[int, SignatureShare] = {}


def _message(kind: str, session: bytes, value: bytes) -> bytes:
    return COSIGN_PREFIX + encode({"t": kind, "id": session, _KINDS[kind]: value})


def _parse(body: bytes) -> tuple[str, bytes, bytes]:
    value = decode(body[len(COSIGN_PREFIX) :], allow_floats=False)
    if not isinstance(value, dict) or type(value.get("t")) is not str:
        raise InvalidEncoding("a cosigning message is a map with a type")
    kind = value["t"]
    field = _KINDS.get(kind)
    if field is None or set(value) != {"t", "id", field}:
        raise InvalidEncoding(f"unknown or malformed cosigning message {kind!r:.20}")
    session, payload = value["id"], value[field]
    if type(session) is not bytes or len(session) != 16 or type(payload) is not bytes:
        raise InvalidEncoding("a cosigning message carries a 16-byte id and bytes")
    return kind, session, payload


class GuardianInviteSigning:
    """Both sides of signing guardian invitations with the account's threshold key."""

    def __init__(self, rng: RandomEffects, approve: Callable[[Invite], bool]) -> None:
        self._rng = rng
        self._approve = approve
        self._mine: dict[bytes, _Session] = {}
        self._theirs: dict[bytes, tuple[_Ask, SigningNonces]] = {}

    # ------------------------------------------------------------------ inviting device

    def begin(
        self, manager: DeviceManager, invite: Invite, guardian: str
    ) -> tuple[list[Outgoing], SignedInvite | None]:
        """Start signing ``invite``: the signed invite at once (1-of-1) or messages to siblings."""
        epoch, key = manager.key_epoch, manager.key_package
        if epoch is None or key is None or manager.identifier is None:
            raise NotFound("this device holds no share of the account key")
        if invite.inviter_key != manager.group_key:
            raise ValidationError("the invitation must name the account's group key")
        if key.is_single_signer:
            return [], SignedInvite(invite, sign_single(key, invite.signing_message()))
        nonces, _commitments = commit(key, self._rng)
        session = self._rng.random_bytes(16)
        self._mine[session] = _Session(invite, guardian, nonces, manager.identifier)
        while len(self._mine) > _MAX_SESSIONS:
            del self._mine[next(iter(self._mine))]
        ask = _message("ask", session, invite.encode())
        others = [m.profile.address for m in epoch.devices if m.identifier != manager.identifier]
        return [Outgoing(address, ask) for address in others], None

    # ------------------------------------------------------------------ both sides

    def receive(
        self, manager: DeviceManager, source: str, body: bytes, now_ms: int
    ) -> tuple[list[Outgoing], list[tuple[SignedInvite, str]]]:
        """One cosigning message; returns replies and invitations whose signing finished."""
        epoch, key = manager.key_epoch, manager.key_package
        if epoch is None or key is None or key.is_single_signer:
            raise NotFound("this device takes no part in threshold signing")
        members = {m.profile.address: m.identifier for m in epoch.devices}
        sender = members.get(source)
        if sender is None or source == manager.address:
            raise ValidationError("cosigning messages come only from the account's other devices")
        kind, session, payload = _parse(body)
        if kind == "ask":
            return self._on_ask(manager, source, session, payload, now_ms), []
        if kind == "package":
            return self._on_package(manager, source, session, payload), []
        mine = self._mine.get(session)
        if mine is None:
            return [], []  # finished, or never ours: late answers are dropped
        if kind == "commit":
            return self._on_commit(manager, mine, session, sender, payload), []
        return [], self._on_share(manager, mine, session, sender, payload)

    def _on_ask(
        self, manager: DeviceManager, source: str, session: bytes, payload: bytes, now_ms: int
    ) -> list[Outgoing]:
        invite = Invite.from_canonical(decode(payload, allow_floats=False))
        if invite.kind is not InviteKind.GUARDIAN:
            raise ValidationError("a sibling signs only guardian invitations")
        if invite.inviter != manager.account or invite.inviter_key != manager.group_key:
            raise ValidationError("the invitation is not for this account's key")
        if invite.is_expired(now_ms):
            raise ValidationError("the guardian invitation has expired")
        if not self._approve(invite):
            raise ValidationError("this device does not approve guardian invitations")
        key = manager.key_package
        assert key is not None
        nonces, commitments = commit(key, self._rng)
        self._theirs[session] = (_Ask(invite, source), nonces)
        while len(self._theirs) > _MAX_SESSIONS:
            del self._theirs[next(iter(self._theirs))]
        return [Outgoing(source, _message("commit", session, to_bytes(commitments)))]

    def _on_package(
        self, manager: DeviceManager, source: str, session: bytes, payload: bytes
    ) -> list[Outgoing]:
        entry = self._theirs.pop(session, None)  # the nonces are used at most once
        if entry is None:
            raise NotFound("no cosigning session with that id waits here")
        ask, nonces = entry
        if ask.coordinator != source:
            raise ValidationError("the signing package comes from another device than asked")
        package = from_bytes(payload, SigningPackage)
        if package.message != ask.invite.signing_message():
            raise ValidationError("the signing package is for another message than was asked")
        key = manager.key_package
        assert key is not None
        share = sign(package, nonces, key)
        return [Outgoing(source, _message("share", session, to_bytes(share)))]

    def _on_commit(
        self,
        manager: DeviceManager,
        mine: _Session,
        session: bytes,
        sender: int,
        payload: bytes,
    ) -> list[Outgoing]:
        commitments = from_bytes(payload, SigningCommitments)
        if commitments.identifier != sender:
            raise ValidationError("the commitments name another signer than their sender")
        key = manager.key_package
        epoch = manager.key_epoch
        assert key is not None and epoch is not None
        if mine.package is not None or sender in mine.commitments:
            return []
        mine.commitments[sender] = commitments
        if len(mine.commitments) < key.min_signers:
            return []
        package = SigningPackage.from_unsorted(
            mine.commitments.values(), mine.invite.signing_message()
        )
        mine.package = package
        mine.shares[key.identifier] = sign(package, mine.nonces, key)
        body = _message("package", session, to_bytes(package))
        addresses = {m.identifier: m.profile.address for m in epoch.devices}
        return [Outgoing(addresses[i], body) for i in package.identifiers if i != key.identifier]

    def _on_share(
        self,
        manager: DeviceManager,
        mine: _Session,
        session: bytes,
        sender: int,
        payload: bytes,
    ) -> list[tuple[SignedInvite, str]]:
        package, epoch = mine.package, manager.key_epoch
        assert epoch is not None
        if package is None or sender not in package.identifiers:
            raise ValidationError("a signature share from a device that was not asked to sign")
        share = from_bytes(payload, SignatureShare)
        if share.identifier != sender:
            raise ValidationError("the signature share names another signer than its sender")
        mine.shares[sender] = share
        if len(mine.shares) < len(package.identifiers):
            return []
        del self._mine[session]
        try:
            signature = aggregate(package, mine.shares.values(), epoch.public_key_package)
        except AuraError as exc:
            raise ValidationError(
                f"the guardian invitation could not be signed: {exc.message}"
            ) from None
        signed = SignedInvite(mine.invite, signature)
        signed.verify()
        return [(signed, mine.guardian)]

    def status(self) -> dict[str, Any]:
        return {"signing": len(self._mine), "cosigning": len(self._theirs)}
