"""What a :class:`~aura_features.devices.DeviceManager` reports to the program driving it.

Drain them with ``take_events()`` after every call. Three need action
before the messages returned by the same call are sent: persist
:class:`SharePending`, :class:`ShareActivated` and :class:`FactsAdded`
(and the consensus ``VoteRecorded`` events passed through), and carry out
:class:`ShareErased` — a share that should be gone but is still on disk is
exactly what resharing tries to make useless.
"""

from __future__ import annotations

import attrs

from aura_core.crypto import KeyPackage, PublicKeyPackage
from aura_features.devices.custody_change import CustodyChange
from aura_features.devices.custody_messages import EnrollmentRequest
from aura_journal import Fact

__all__ = [
    "ChangeCompleted",
    "ChangeDecided",
    "ChangeFailed",
    "CustodyEvent",
    "EnrollmentRequested",
    "FactsAdded",
    "MessageRejected",
    "ShareActivated",
    "ShareErased",
    "SharePending",
]


@attrs.frozen
class EnrollmentRequested:
    """A new device asked to join; propose :func:`add_device` if the user agrees."""

    request: EnrollmentRequest


@attrs.frozen
class ChangeDecided:
    """The account's devices agreed on ``change`` (consensus decided, or a 1-of-1 key signed it)."""

    change: CustodyChange


@attrs.frozen
class SharePending:
    """A new share checked out; it takes effect when the change completes. Persist it as a secret."""

    change_hash: bytes
    key_package: KeyPackage
    public_key_package: PublicKeyPackage


@attrs.frozen
class ShareActivated:
    """This holder's share is now ``key_package``: persist it and erase the previous one."""

    key_package: KeyPackage
    public_key_package: PublicKeyPackage


@attrs.frozen
class ShareErased:
    """This device left the account (or a pending share was dropped): erase the share."""

    identifier: int
    reason: str


@attrs.frozen
class FactsAdded:
    """Facts entered the account journal; persist them."""

    facts: tuple[Fact, ...]


@attrs.frozen
class ChangeCompleted:
    """The change is in the journal and every new share is in effect."""

    change: CustodyChange


@attrs.frozen
class ChangeFailed:
    """The change did not complete; old shares stay in effect. ``reason`` says why."""

    change_hash: bytes
    reason: str


@attrs.frozen
class MessageRejected:
    """A message was refused; nothing changed. ``reason`` names what was wrong."""

    source: str
    reason: str


CustodyEvent = (
    EnrollmentRequested
    | ChangeDecided
    | SharePending
    | ShareActivated
    | ShareErased
    | FactsAdded
    | ChangeCompleted
    | ChangeFailed
    | MessageRejected
)
