"""The recovery seen from a device of the account: inviting guardians, watching, disputing.

:class:`RecoveryWatch` is a :class:`~aura_features.devices.DeviceExtension`:
attach it to the device's :class:`~aura_features.devices.DeviceManager` and
it takes the ``recovery.*`` messages.

* :meth:`RecoveryWatch.invite_guardian` sends an invitation code of kind
  ``guardian`` (``aura_features.invitation``, signed by the account key) to
  an authority; its signed answer is recorded as a ``recovery.guardian_answer``
  fact and reported (:class:`GuardianAnswered`). An accepted guardian is
  seated with :func:`~aura_features.devices.add_guardians`.
* Every guardian approval of a recovery is copied to the account's devices;
  each is reported (:class:`RecoveryNotified`) so the user can
  :meth:`RecoveryWatch.dispute` a recovery they did not start — which
  cancels it at every guardian that has not dealt yet.
* When the user *did* start it and this device is kept, the device takes part
  as a recipient: :meth:`RecoveryWatch.authorize` checks the guardians'
  approvals against the guardian set in this device's own journal.
"""

from __future__ import annotations

from aura_core.effects import Outgoing
from aura_core.errors import AuraError, CryptoError, NotFound, ValidationError
from aura_features.devices import (
    Authorized,
    CustodyChange,
    DeviceManager,
    GuardianProfile,
    MessageRejected,
    sign_message,
)
from aura_features.invitation import InviteKind, SignedInvite
from aura_features.recovery.guardian_answers import GUARDIAN_ANSWERS, GuardianAnswer
from aura_features.recovery.recovery_authorization import authorize_recovery, check_approval
from aura_features.recovery.recovery_events import GuardianAnswered, RecoveryNotified
from aura_features.recovery.recovery_messages import (
    RECOVERY_CODEC,
    GuardianInvitation,
    GuardianResponse,
    RecoveryApproval,
    RecoveryDispute,
    RecoveryRequest,
)

__all__ = ["RecoveryWatch"]

_MAX_WATCHED = 32


class RecoveryWatch:
    """Guardian invitations and recovery notifications on one device of the account."""

    prefix = "recovery."

    def __init__(self) -> None:
        self._manager: DeviceManager | None = None
        self._invited: dict[bytes, str] = {}
        self._watched: dict[bytes, tuple[RecoveryRequest, set[bytes]]] = {}
        self._disputed: set[bytes] = set()

    def bind(self, manager: DeviceManager) -> None:
        self._manager = manager

    @property
    def manager(self) -> DeviceManager:
        if self._manager is None:
            raise NotFound("the recovery watch is not attached to a device")
        return self._manager

    @property
    def watched(self) -> tuple[RecoveryRequest, ...]:
        """Recoveries of the account that guardians approved, as seen here."""
        return tuple(request for request, _g in self._watched.values())

    def accepted_guardians(self) -> tuple[GuardianProfile, ...]:
        """Profiles of guardians whose latest answer is an acceptance (not yet necessarily seated)."""
        answers = self.manager.journal.state(GUARDIAN_ANSWERS.name)
        return tuple(r.profile for _rank, r in answers.values() if r.accepted)

    # ------------------------------------------------------------------ user inputs

    def invite_guardian(self, signed: SignedInvite, guardian: str, now: float) -> list[Outgoing]:
        """Send a guardian invitation (made and signed with the account key) to ``guardian``."""
        manager = self.manager
        signed.verify()
        invite = signed.invite
        if invite.kind is not InviteKind.GUARDIAN:
            raise ValidationError(
                f"a guardian invitation must be of kind guardian, not {invite.kind.value}"
            )
        if invite.inviter != manager.account or invite.inviter_key != manager.group_key:
            raise ValidationError("the invitation is not signed by this account's key")
        self._invited[signed.invitation_id.raw] = guardian
        message = GuardianInvitation(manager.account, signed.code(), manager.address)
        return [Outgoing(guardian, RECOVERY_CODEC.encode(message))]

    def dispute(
        self, recovery_id: bytes, now: float, reason: str = "not requested by the owner"
    ) -> list[Outgoing]:
        """Object to a recovery: every guardian (and the requester) is told; none will release."""
        manager = self.manager
        entry = self._watched.get(recovery_id)
        if entry is None:
            raise NotFound("no recovery with that id is known on this device")
        guardian_set = manager.guardian_set
        identifier = manager.identifier
        if guardian_set is None or identifier is None:
            raise ValidationError("this device holds no share of the account; it cannot dispute")
        request, _guardians = entry
        dispute = RecoveryDispute(recovery_id, request.hash, manager.account, identifier, reason)
        signed = sign_message(dispute, manager.sign)
        self._disputed.add(recovery_id)
        targets = {m.profile.address for m in guardian_set.guardians} | {request.device.address}
        return [Outgoing(address, RECOVERY_CODEC.encode(signed)) for address in sorted(targets)]

    # ------------------------------------------------------------------ extension surface

    def receive(self, source: str, data: bytes, now: float) -> list[Outgoing]:
        manager = self.manager
        try:
            message = RECOVERY_CODEC.decode(data)
            if isinstance(message, GuardianResponse):
                self._on_response(message, now)
            elif isinstance(message, RecoveryApproval):
                self._on_approval(message)
            else:
                raise ValidationError(f"a device does not take {type(message).TYPE}")
        except AuraError as exc:
            manager.emit(MessageRejected(source, exc.message))
        return []

    def _on_response(self, response: GuardianResponse, now: float) -> None:
        manager = self.manager
        if response.account != manager.account:
            raise ValidationError("the answer is for another account")
        if response.invitation not in self._invited:
            raise ValidationError("the answer is to an invitation this device did not send")
        if not response.verify():
            raise CryptoError("the answer is not signed by the guardian's key")
        if self._invited[response.invitation] != response.profile.address:
            raise ValidationError("the answer comes from another authority than was invited")
        manager.record(GuardianAnswer(response), now)
        manager.emit(GuardianAnswered(response))

    def _on_approval(self, approval: RecoveryApproval) -> None:
        manager = self.manager
        guardian_set = manager.guardian_set
        if guardian_set is None:
            raise ValidationError("this account has no guardians")
        request = RECOVERY_CODEC.decode_as(approval.request, RecoveryRequest)
        if request.account != manager.account:
            raise ValidationError("the approval is about another account")
        if not request.verify():
            raise CryptoError("the approved request is not signed by its device")
        check_approval(approval, approval.request, guardian_set)
        entry = self._watched.get(request.recovery_id)
        if entry is None:
            if len(self._watched) >= _MAX_WATCHED:
                raise ValidationError("too many recoveries are being watched")
            entry = (request, set())
            self._watched[request.recovery_id] = entry
        elif RECOVERY_CODEC.encode(entry[0]) != approval.request:
            raise ValidationError("two different requests under one recovery id")
        if approval.guardian.raw in entry[1]:
            return
        entry[1].add(approval.guardian.raw)
        manager.emit(RecoveryNotified(request, approval.guardian))

    def next_timer(self) -> float | None:
        return None

    def on_timer(self, now: float) -> list[Outgoing]:
        return []

    def authorize(self, kind: str, blob: bytes, change: CustodyChange) -> Authorized | None:
        if kind != "recovery":
            return None
        guardian_set = self.manager.guardian_set
        if guardian_set is None:
            raise ValidationError("this account has no guardians to recover through")
        return authorize_recovery(blob, change, guardian_set, disputed=frozenset(self._disputed))

    def change_finished(
        self, change: CustodyChange, completed: bool, reason: str, now: float
    ) -> list[Outgoing]:
        if change.kind == "recovery":
            self._watched.pop(change.tag, None)
        return []
