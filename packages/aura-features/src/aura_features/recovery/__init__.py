"""Guardian recovery: guardians hold a second sharing of the account key; t_g of them restore it.

Setup: a device invites an authority with an invitation code of kind
``guardian`` (:class:`RecoveryWatch`); the guardian accepts or declines
(:class:`GuardianAgent`); accepted guardians are seated by a custody change
(``aura_features.devices.add_guardians``, decided by consensus), in which the
devices reshare the account key to the guardians with threshold ``t_g`` —
each share sealed to its guardian. Fewer than ``t_g`` guardians learn
nothing about the key (Shamir); ``t_g`` of them can restore signing.

Recovery: a new device (:class:`RecoveryCoordinator`) asks the guardians;
each approves with a signature, copied to the account's devices, which may
dispute; after the dispute window (each guardian's own, from its approval)
``t_g`` guardians reshare their guardian shares to the new device and the
devices the user still holds. The account keeps its ``AuthorityId`` and its
group public key, so contacts need not re-verify anything. See
``docs/devices-and-recovery.md``.
"""

from aura_features.recovery.guardian_agent import GuardianAgent
from aura_features.recovery.guardian_answers import (
    GUARDIAN_ANSWER_TYPE_ID,
    GUARDIAN_ANSWERS,
    GuardianAnswer,
    GuardianAnswersReducer,
    guardian_answer_fact_type,
)
from aura_features.recovery.recovery_authorization import (
    RecoveryAuthorization,
    approving_guardians,
    authorize_recovery,
    check_approval,
    check_dispute,
    guardian_set_from_fact,
    recovery_change,
    vouched_guardian_set,
)
from aura_features.recovery.recovery_coordinator import RecoveryCoordinator
from aura_features.recovery.recovery_events import (
    GuardianAnswered,
    GuardianFactsAdded,
    GuardianInvited,
    GuardianShareActivated,
    GuardianShareErased,
    GuardianSharePending,
    RecoveryApprovalCounted,
    RecoveryCompleted,
    RecoveryDisputed,
    RecoveryEvent,
    RecoveryFailed,
    RecoveryNotified,
    RecoveryReleased,
    RecoveryRequested,
)
from aura_features.recovery.recovery_joiner import RecoveryJoiner
from aura_features.recovery.recovery_messages import (
    RECOVERY_CODEC,
    GuardianInvitation,
    GuardianResponse,
    RecoveryApproval,
    RecoveryCancelled,
    RecoveryDispute,
    RecoveryRequest,
)
from aura_features.recovery.recovery_registry import install_recovery_facts, recovery_registry
from aura_features.recovery.recovery_watch import RecoveryWatch

OPERATION_CATEGORIES = {
    "recovery.guardian_change": "C",
    "recovery.recover": "C",
    "recovery.guardian_answer": "A",
    "recovery.dispute": "A",
}
"""Seating guardians and recovering block on agreement (device consensus; t_g guardian
approvals plus the dispute window). A guardian's answer and a dispute are single
signed statements that take effect as they arrive."""

__all__ = [
    "GUARDIAN_ANSWERS",
    "GUARDIAN_ANSWER_TYPE_ID",
    "OPERATION_CATEGORIES",
    "RECOVERY_CODEC",
    "GuardianAgent",
    "GuardianAnswer",
    "GuardianAnswered",
    "GuardianAnswersReducer",
    "GuardianFactsAdded",
    "GuardianInvitation",
    "GuardianInvited",
    "GuardianResponse",
    "GuardianShareActivated",
    "GuardianShareErased",
    "GuardianSharePending",
    "RecoveryApproval",
    "RecoveryApprovalCounted",
    "RecoveryAuthorization",
    "RecoveryCancelled",
    "RecoveryCompleted",
    "RecoveryCoordinator",
    "RecoveryDispute",
    "RecoveryDisputed",
    "RecoveryEvent",
    "RecoveryFailed",
    "RecoveryJoiner",
    "RecoveryNotified",
    "RecoveryReleased",
    "RecoveryRequest",
    "RecoveryRequested",
    "RecoveryWatch",
    "approving_guardians",
    "authorize_recovery",
    "check_approval",
    "check_dispute",
    "guardian_answer_fact_type",
    "guardian_set_from_fact",
    "install_recovery_facts",
    "recovery_change",
    "recovery_registry",
    "vouched_guardian_set",
]
