"""What the recovery objects report (drain with ``take_events()``, or through a device's).

Guardian side (:class:`~aura_features.recovery.GuardianAgent`): invitations
to answer, recovery requests to approve, shares to persist or erase. New
device (:class:`~aura_features.recovery.RecoveryCoordinator`): approvals
counted, completion or failure. Devices of the account
(:class:`~aura_features.recovery.RecoveryWatch`): answers of guardians and
recoveries in progress, which the user may dispute.
"""

from __future__ import annotations

import attrs

from aura_core.crypto import KeyPackage, PublicKeyPackage
from aura_core.identifiers import AuthorityId
from aura_features.invitation import SignedInvite
from aura_features.recovery.recovery_messages import GuardianResponse, RecoveryRequest
from aura_journal import Fact

__all__ = [
    "GuardianAnswered",
    "GuardianFactsAdded",
    "GuardianInvited",
    "GuardianShareActivated",
    "GuardianShareErased",
    "GuardianSharePending",
    "RecoveryApprovalCounted",
    "RecoveryCompleted",
    "RecoveryDisputed",
    "RecoveryEvent",
    "RecoveryFailed",
    "RecoveryNotified",
    "RecoveryReleased",
    "RecoveryRequested",
]


@attrs.frozen
class GuardianInvited:
    """Guardian: ``account`` asks this authority to be its guardian (accept or decline)."""

    account: AuthorityId
    invite: SignedInvite


@attrs.frozen
class GuardianAnswered:
    """Account device: a guardian accepted (with its profile) or declined an invitation."""

    response: GuardianResponse


@attrs.frozen
class GuardianSharePending:
    """Guardian: a new recovery share checked out; persist it (it counts once the change completes)."""

    account: AuthorityId
    key_package: KeyPackage
    public_key_package: PublicKeyPackage


@attrs.frozen
class GuardianShareActivated:
    """Guardian: this is now the recovery share held for ``account``; erase any older one."""

    account: AuthorityId
    key_package: KeyPackage
    public_key_package: PublicKeyPackage


@attrs.frozen
class GuardianShareErased:
    """Guardian: erase the share held for ``account`` (removed, or a pending share dropped)."""

    account: AuthorityId
    reason: str


@attrs.frozen
class GuardianFactsAdded:
    """Guardian: facts entered its copy of ``account``'s journal; persist them."""

    account: AuthorityId
    facts: tuple[Fact, ...]


@attrs.frozen
class RecoveryRequested:
    """Guardian: a new device asks to recover ``request.account`` (approve after checking with the owner)."""

    request: RecoveryRequest


@attrs.frozen
class RecoveryNotified:
    """Account device: a guardian approved a recovery; dispute it if the user did not ask for it."""

    request: RecoveryRequest
    guardian: AuthorityId


@attrs.frozen
class RecoveryApprovalCounted:
    """New device: a valid approval arrived (``count`` distinct guardians so far, ``needed`` in all)."""

    recovery_id: bytes
    guardian: AuthorityId
    count: int
    needed: int


@attrs.frozen
class RecoveryReleased:
    """Guardian: the dispute window passed undisputed; this guardian dealt its share."""

    recovery_id: bytes


@attrs.frozen
class RecoveryDisputed:
    """Guardian or new device: a device of the account disputed the recovery; it is cancelled."""

    recovery_id: bytes
    device: int
    reason: str


@attrs.frozen
class RecoveryCompleted:
    """The recovery is in the journal; the new device holds a share of the same group key."""

    recovery_id: bytes


@attrs.frozen
class RecoveryFailed:
    """The recovery did not complete; ``reason`` says why."""

    recovery_id: bytes
    reason: str


RecoveryEvent = (
    GuardianInvited
    | GuardianAnswered
    | GuardianSharePending
    | GuardianShareActivated
    | GuardianShareErased
    | GuardianFactsAdded
    | RecoveryRequested
    | RecoveryNotified
    | RecoveryApprovalCounted
    | RecoveryReleased
    | RecoveryDisputed
    | RecoveryCompleted
    | RecoveryFailed
)
