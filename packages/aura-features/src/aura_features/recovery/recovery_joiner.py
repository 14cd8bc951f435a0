"""A further new device joining a recovery (when too few of the old devices are left to sign).

If every device of a 2-of-2 account is lost, one new device cannot sign the
tree update alone (the tree's policy asks for two signers): the user brings
two new devices. The one that asks runs :class:`RecoveryCoordinator` and
names the other as a *companion*; the companion runs a share-less
:class:`~aura_features.devices.DeviceManager` with a :class:`RecoveryJoiner`,
which accepts the recovery's shares only for a request that lists it and
that a threshold of guardians approved under one account-signed guardian set
(``expected_group_key`` pins the account key if the user knows it).
"""

from __future__ import annotations

from aura_core.effects import Outgoing
from aura_core.errors import NotFound, ValidationError
from aura_features.devices import Authorized, CustodyChange, DeviceManager, MessageRejected
from aura_features.recovery.recovery_authorization import (
    RecoveryAuthorization,
    authorize_recovery,
    vouched_guardian_set,
)
from aura_features.recovery.recovery_events import RecoveryCompleted, RecoveryFailed
from aura_features.recovery.recovery_messages import (
    RECOVERY_CODEC,
    RecoveryApproval,
    RecoveryRequest,
)

__all__ = ["RecoveryJoiner"]


class RecoveryJoiner:
    """Extension of a companion device's manager: checks the recovery it is asked to join."""

    prefix = "recovery."

    def __init__(self, *, expected_group_key: bytes | None = None) -> None:
        self._expected = expected_group_key
        self._manager: DeviceManager | None = None
        self.outcome: str | None = None

    def bind(self, manager: DeviceManager) -> None:
        self._manager = manager

    @property
    def manager(self) -> DeviceManager:
        if self._manager is None:
            raise NotFound("the recovery joiner is not attached to a device")
        return self._manager

    def receive(self, source: str, data: bytes, now: float) -> list[Outgoing]:
        self.manager.emit(MessageRejected(source, "a companion device takes no recovery messages"))
        return []

    def next_timer(self) -> float | None:
        return None

    def on_timer(self, now: float) -> list[Outgoing]:
        return []

    def authorize(self, kind: str, blob: bytes, change: CustodyChange) -> Authorized | None:
        if kind != "recovery":
            return None
        manager = self.manager
        authorization = RecoveryAuthorization.decode(blob)
        request = RECOVERY_CODEC.decode_as(authorization.request, RecoveryRequest)
        if request.account != manager.account:
            raise ValidationError("the recovery is for another account")
        if manager.profile not in request.companions:
            raise ValidationError("the recovery request does not name this device")
        approvals = [
            RECOVERY_CODEC.decode_as(item, RecoveryApproval) for item in authorization.approvals
        ]
        vouched = vouched_guardian_set(
            approvals, authorization.request, manager.account, self._expected
        )
        if vouched is None:
            raise ValidationError("no guardian set is vouched for by enough guardians")
        return authorize_recovery(blob, change, vouched[0])

    def change_finished(
        self, change: CustodyChange, completed: bool, reason: str, now: float
    ) -> list[Outgoing]:
        if change.kind == "recovery" and self.outcome is None:
            self.outcome = "completed" if completed else reason
            event = (
                RecoveryCompleted(change.tag) if completed else RecoveryFailed(change.tag, reason)
            )
            self.manager.emit(event)
        return []
