"""The recovery seen from the new device: ask the guardians, wait out disputes, rejoin.

:class:`RecoveryCoordinator` is a :class:`~aura_features.devices.DeviceExtension`
of the new device's :class:`~aura_features.devices.DeviceManager` (built
without a share, for the account being recovered). The user names the
account, the guardians to ask, the devices they still hold ("kept") and the
threshold to end up with.

1. :meth:`RecoveryCoordinator.start` sends the request, signed by the new
   device's leaf key, to the guardians.
2. Approvals are counted per guardian authority (duplicates once; forged or
   foreign ones refused, :class:`~aura_features.devices.MessageRejected`).
   Each approval carries the account-signed guardian set its guardian holds;
   the set that ``t_g`` guardians vouch for is used — one guardian cannot
   steer the new device to a fake set. With ``expected_group_key`` the group
   key is checked too.
3. With ``t_g`` approvals the device coordinates the custody change
   (:meth:`~aura_features.devices.DeviceManager.coordinate`): the approving
   guardians deal once their dispute windows pass, the new and kept devices
   assemble shares of the **same group key**, and they sign the tree update
   (the new device added, the lost ones removed, the key epoch rotated).
4. A dispute by any device of the account cancels it
   (:class:`RecoveryDisputed`, then :class:`RecoveryFailed`).

Outputs: messages and the device's events (:class:`RecoveryApprovalCounted`,
:class:`RecoveryCompleted`, :class:`RecoveryFailed`).
"""

from __future__ import annotations

from collections.abc import Sequence

from aura_core.crypto import RandomSource
from aura_core.effects import Outgoing
from aura_core.errors import AuraError, CryptoError, InvalidInput, NotFound, ValidationError
from aura_features.devices import (
    Authorized,
    CustodyChange,
    DeviceManager,
    DeviceProfile,
    GuardianSet,
    MessageRejected,
    sign_message,
    signature_valid,
)
from aura_features.recovery.recovery_authorization import (
    RecoveryAuthorization,
    authorize_recovery,
    check_approval,
    check_dispute,
    guardian_set_from_fact,
    recovery_change,
)
from aura_features.recovery.recovery_events import (
    RecoveryApprovalCounted,
    RecoveryCompleted,
    RecoveryDisputed,
    RecoveryFailed,
)
from aura_features.recovery.recovery_messages import (
    RECOVERY_CODEC,
    RecoveryApproval,
    RecoveryCancelled,
    RecoveryDispute,
    RecoveryRequest,
)
from aura_journal import Fact

__all__ = ["RecoveryCoordinator"]

_MAX_SETS = 8


class RecoveryCoordinator:
    """The new device's recovery: request, approvals, release, completion."""

    prefix = "recovery."

    def __init__(
        self,
        *,
        guardians: Sequence[str],
        threshold: int,
        rng: RandomSource,
        kept: Sequence[int] = (),
        companions: Sequence[DeviceProfile] = (),
        expected_group_key: bytes | None = None,
    ) -> None:
        if not guardians:
            raise InvalidInput("name at least one guardian to ask")
        self._guardians = tuple(dict.fromkeys(guardians))
        self._threshold = threshold
        self._kept = tuple(sorted(set(kept)))
        self._companions = tuple(companions)
        self._expected = expected_group_key
        self.recovery_id = rng.random_bytes(16)
        self._manager: DeviceManager | None = None
        self._request: RecoveryRequest | None = None
        self._request_bytes = b""
        self._sets: dict[bytes, tuple[Fact, GuardianSet, dict[int, RecoveryApproval]]] = {}
        self._chosen: GuardianSet | None = None
        self._change: CustodyChange | None = None
        self.outcome: str | None = None
        """``None`` while running, then ``"completed"`` or the failure reason."""

    def bind(self, manager: DeviceManager) -> None:
        if manager.is_member:
            raise InvalidInput("a recovery runs on a device that holds no share of the account")
        self._manager = manager

    @property
    def manager(self) -> DeviceManager:
        if self._manager is None:
            raise NotFound("the recovery coordinator is not attached to a device")
        return self._manager

    @property
    def request(self) -> RecoveryRequest | None:
        return self._request

    @property
    def guardian_set(self) -> GuardianSet | None:
        """The guardian set a threshold of guardians vouched for (once chosen)."""
        return self._chosen

    def approvals(self) -> int:
        """Distinct guardians whose valid approval arrived (on the best-supported guardian set)."""
        return max((len(a) for _f, _s, a in self._sets.values()), default=0)

    # ------------------------------------------------------------------ user input

    def start(self, now: float) -> list[Outgoing]:
        """Send the signed request to every guardian named."""
        manager = self.manager
        if self._request is None:
            request = RecoveryRequest(
                self.recovery_id,
                manager.account,
                manager.profile,
                self._kept,
                self._threshold,
                int(now * 1000),
                self._companions,
            )
            self._request = sign_message(request, manager.sign)
            self._request_bytes = RECOVERY_CODEC.encode(self._request)
        return [Outgoing(address, self._request_bytes) for address in self._guardians]

    # ------------------------------------------------------------------ extension surface

    def receive(self, source: str, data: bytes, now: float) -> list[Outgoing]:
        manager = self.manager
        try:
            message = RECOVERY_CODEC.decode(data)
            if isinstance(message, RecoveryApproval):
                return self._on_approval(message, now)
            if isinstance(message, RecoveryCancelled):
                return self._on_cancelled(message, now)
            raise ValidationError(f"a recovering device does not take {type(message).TYPE}")
        except AuraError as exc:
            manager.emit(MessageRejected(source, exc.message))
            return []

    def _on_approval(self, approval: RecoveryApproval, now: float) -> list[Outgoing]:
        if self._request is None or approval.request != self._request_bytes:
            raise ValidationError("the approval is for another request")
        if self.outcome is not None:
            return []
        fact, guardian_set = guardian_set_from_fact(approval.guardian_set, self.manager.account)
        if self._expected is not None and guardian_set.group_key != self._expected:
            raise CryptoError("the approval's guardian set is for another group key")
        member = check_approval(approval, self._request_bytes, guardian_set)
        entry = self._sets.get(fact.cid.raw)
        if entry is None:
            if len(self._sets) >= _MAX_SETS:
                raise ValidationError("guardians disagree on too many guardian sets")
            entry = (fact, guardian_set, {})
            self._sets[fact.cid.raw] = entry
        approvals = entry[2]
        if member.identifier in approvals:
            return []  # a guardian's approval counts once
        approvals[member.identifier] = approval
        self.manager.emit(
            RecoveryApprovalCounted(
                self.recovery_id, approval.guardian, len(approvals), guardian_set.guardian_threshold
            )
        )
        if self._chosen is None and len(approvals) >= guardian_set.guardian_threshold:
            return self._begin(guardian_set, approvals, now)
        return []

    def _begin(
        self, guardian_set: GuardianSet, approvals: dict[int, RecoveryApproval], now: float
    ) -> list[Outgoing]:
        manager = self.manager
        assert self._request is not None
        change = recovery_change(self._request, guardian_set)
        blob = RecoveryAuthorization(
            self._request_bytes,
            tuple(RECOVERY_CODEC.encode(approvals[i]) for i in sorted(approvals)),
        ).encode()
        authorized = authorize_recovery(blob, change, guardian_set)
        dealers = tuple(sorted(approvals))[: guardian_set.guardian_threshold]
        self._chosen = guardian_set
        self._change = change
        notify = {m.profile.address for m in guardian_set.guardians}
        notify |= {m.profile.address for m in guardian_set.devices}
        return manager.coordinate(
            change,
            "recovery",
            blob,
            authorized,
            dealers,
            now,
            notify=notify,
            dealing_timeout_s=guardian_set.dispute_window_s + manager.config.phase_timeout_s,
        )

    def _on_cancelled(self, notice: RecoveryCancelled, now: float) -> list[Outgoing]:
        if notice.recovery_id != self.recovery_id or self._request is None:
            raise ValidationError("the cancellation is about another recovery")
        dispute = RECOVERY_CODEC.decode_as(notice.dispute, RecoveryDispute)
        checked = False
        for _fact, guardian_set, _approvals in self._sets.values():
            member = guardian_set.guardian_for(notice.guardian)
            if member is None or not signature_valid(notice, member.profile.signing_key):
                continue
            device = check_dispute(dispute, self._request, guardian_set)
            checked = True
            break
        if not checked:
            raise CryptoError("the cancellation is not signed by a guardian of the account")
        if self.outcome is not None:
            return []
        reason = f"device {device.identifier} disputed the recovery: {dispute.reason}"
        self.manager.emit(RecoveryDisputed(self.recovery_id, device.identifier, dispute.reason))
        out: list[Outgoing] = []
        if self._change is not None:
            out += self.manager.abandon(self._change.hash, reason, now)
        if self.outcome is None:
            self._fail(reason)
        return out

    def _fail(self, reason: str) -> None:
        self.outcome = reason
        self.manager.emit(RecoveryFailed(self.recovery_id, reason))

    def next_timer(self) -> float | None:
        return None

    def on_timer(self, now: float) -> list[Outgoing]:
        return []

    def authorize(self, kind: str, blob: bytes, change: CustodyChange) -> Authorized | None:
        if kind != "recovery":
            return None
        if self._chosen is None:
            raise ValidationError("no guardian set has been vouched for yet")
        return authorize_recovery(blob, change, self._chosen)

    def change_finished(
        self, change: CustodyChange, completed: bool, reason: str, now: float
    ) -> list[Outgoing]:
        if change.kind != "recovery" or change.tag != self.recovery_id or self.outcome is not None:
            return []
        if completed:
            self.outcome = "completed"
            self.manager.emit(RecoveryCompleted(self.recovery_id))
        else:
            self._fail(reason)
        return []
