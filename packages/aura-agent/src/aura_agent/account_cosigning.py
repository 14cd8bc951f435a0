"""Signatures by a t-of-n account key: a FROST round among the account's devices.

Some things must be signed by the account's group key itself, which no
device of a ``t``-of-``n`` account holds: a guardian invitation (the
guardian learns the group key from it) and a statement the user signs with
``aura threshold sign``. The device that signs runs RFC 9591 FROST with
``t - 1`` siblings: it asks every other device of the account to commit,
builds the signing package from the first ``t`` commitments (its own
included), collects the signature shares and aggregates them.

A sibling signs only what it can check and its policy approves, and only two
shapes of message: a ``guardian`` invitation of *this* account naming the
group key and not expired, or a *statement*, which is signed as
``STATEMENT_DOMAIN || text``. The domain prefix keeps a statement from ever
being the signing message of a fact, an invitation or anything else the
account key signs, so holding one device does not let anyone forge those.
Nonces are used once and dropped; at most a few sessions are kept. The
messages travel as ``devices`` service frames that begin with a zero byte
(custody messages are CBOR maps, which never do).
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
from aura_core.errors import AuraError, InvalidEncoding, InvalidInput, NotFound, ValidationError
from aura_features.devices import DeviceManager
from aura_features.invitation import Invite, InviteKind

__all__ = [
    "COSIGN_PREFIX",
    "STATEMENT_DOMAIN",
    "AccountCosigning",
    "Signed",
    "statement_message",
]

COSIGN_PREFIX = b"\x00cosign\x00"
STATEMENT_DOMAIN = b"AURA_ACCOUNT_STATEMENT_V1\x00"
"""What every statement signed with the account key starts with (see the module docstring)."""
_MAX_SESSIONS = 8
_MAX_STATEMENT = 64 * 1024
_KINDS = {"ask": "invite", "say": "text", "commit": "c", "package": "p", "share": "s"}


def statement_message(text: bytes) -> bytes:
    """The bytes the account key signs for the statement ``text``."""
    if type(text) is not bytes or len(text) > _MAX_STATEMENT:
        raise InvalidInput(f"a statement is bytes of at most {_MAX_STATEMENT}")
    return STATEMENT_DOMAIN + text


@attrs.frozen
class _Ask:
    message: bytes
    coordinator: str


@attrs.frozen
class Signed:
    """A finished signing: the session, what was signed (an invite or a statement), the signature."""

    session: bytes
    subject: Invite | bytes
    note: str
    """For an invitation, the guardian to send it to; empty for a statement."""
    signature: bytes


class _Session:
    """The signing device's side of one signing."""

    def __init__(self, subject: Invite | bytes, note: str, nonces: SigningNonces, me: int) -> None:
        self.subject = subject
        self.message = (
            subject.signing_message() if isinstance(subject, Invite) else statement_message(subject)
        )
        self.note = note
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


class AccountCosigning:
    """Both sides of signing invitations and statements with the account's threshold key."""

    def __init__(self, rng: RandomEffects, approve: Callable[[Invite | bytes], bool]) -> None:
        self._rng = rng
        self._approve = approve
        self._mine: dict[bytes, _Session] = {}
        self._theirs: dict[bytes, tuple[_Ask, SigningNonces]] = {}

    # ------------------------------------------------------------------ inviting device

    def begin(
        self, manager: DeviceManager, subject: Invite | bytes, note: str = ""
    ) -> tuple[bytes, list[Outgoing], Signed | None]:
        """Start signing ``subject`` (an invitation or a statement's text).

        Returns the session id, messages for the siblings, and the result at
        once when this device's share signs alone (1-of-1).
        """
        epoch, key = manager.key_epoch, manager.key_package
        if epoch is None or key is None or manager.identifier is None:
            raise NotFound("this device holds no share of the account key")
        if isinstance(subject, Invite):
            if subject.inviter_key != manager.group_key:
                raise ValidationError("the invitation must name the account's group key")
            kind, payload, message = "ask", subject.encode(), subject.signing_message()
        else:
            kind, payload, message = "say", subject, statement_message(subject)
        session = self._rng.random_bytes(16)
        if key.is_single_signer:
            return session, [], Signed(session, subject, note, sign_single(key, message))
        nonces, _commitments = commit(key, self._rng)
        self._mine[session] = _Session(subject, note, nonces, manager.identifier)
        while len(self._mine) > _MAX_SESSIONS:
            del self._mine[next(iter(self._mine))]
        body = _message(kind, session, payload)
        others = [m.profile.address for m in epoch.devices if m.identifier != manager.identifier]
        return session, [Outgoing(address, body) for address in others], None

    # ------------------------------------------------------------------ both sides

    def receive(
        self, manager: DeviceManager, source: str, body: bytes, now_ms: int
    ) -> tuple[list[Outgoing], list[Signed]]:
        """One cosigning message; returns replies and the signings it finished."""
        epoch, key = manager.key_epoch, manager.key_package
        if epoch is None or key is None or key.is_single_signer:
            raise NotFound("this device takes no part in threshold signing")
        members = {m.profile.address: m.identifier for m in epoch.devices}
        sender = members.get(source)
        if sender is None or source == manager.address:
            raise ValidationError("cosigning messages come only from the account's other devices")
        kind, session, payload = _parse(body)
        if kind in ("ask", "say"):
            return self._on_ask(manager, kind, source, session, payload, now_ms), []
        if kind == "package":
            return self._on_package(manager, source, session, payload), []
        mine = self._mine.get(session)
        if mine is None:
            return [], []  # finished, or never ours: late answers are dropped
        if kind == "commit":
            return self._on_commit(manager, mine, session, sender, payload), []
        return [], self._on_share(manager, mine, session, sender, payload)

    def _on_ask(
        self,
        manager: DeviceManager,
        kind: str,
        source: str,
        session: bytes,
        payload: bytes,
        now_ms: int,
    ) -> list[Outgoing]:
        subject: Invite | bytes
        if kind == "say":
            subject = payload
            message = statement_message(payload)
        else:
            subject = Invite.from_canonical(decode(payload, allow_floats=False))
            if subject.kind is not InviteKind.GUARDIAN:
                raise ValidationError("a sibling signs only guardian invitations")
            if subject.inviter != manager.account or subject.inviter_key != manager.group_key:
                raise ValidationError("the invitation is not for this account's key")
            if subject.is_expired(now_ms):
                raise ValidationError("the guardian invitation has expired")
            message = subject.signing_message()
        if not self._approve(subject):
            raise ValidationError("this device's policy does not approve the signature")
        key = manager.key_package
        assert key is not None
        nonces, commitments = commit(key, self._rng)
        self._theirs[session] = (_Ask(message, source), nonces)
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
        if package.message != ask.message:
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
        package = SigningPackage.from_unsorted(mine.commitments.values(), mine.message)
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
    ) -> list[Signed]:
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
            raise ValidationError(f"the account signature failed: {exc.message}") from None
        return [Signed(session, mine.subject, mine.note, signature)]

    def status(self) -> dict[str, Any]:
        return {"signing": len(self._mine), "cosigning": len(self._theirs)}
