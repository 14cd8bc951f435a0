"""What authorizes a recovery: the request and a threshold of guardian approvals.

The guardians' shares are a second Shamir sharing of the account's secret
(threshold ``t_g``), dealt by the devices when the guardians were added. A
recovery is a custody change dealt by ``t_g`` guardians instead of devices:
they reshare their weighted guardian shares to the new device set under the
**same group key**. The change itself is fixed by the request and the
guardian set (:func:`recovery_change`), so every guardian, the new device
and every kept device derive the same one.

Approvals count per guardian authority: a guardian approving twice, or
approval messages duplicated in transit, count once; an approval whose
signature does not verify under that guardian's key in the account-signed
guardian set is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from aura_core import dag_cbor
from aura_core.canonical_fields import decode_canonical, read_bytes, read_list, read_map
from aura_core.errors import AuraError, CryptoError, InvalidEncoding, ValidationError
from aura_features.devices import (
    MAX_GUARDIANS,
    Authorized,
    CustodyChange,
    DeviceMember,
    GuardianMember,
    GuardianSet,
    signature_valid,
)
from aura_features.devices.custody_facts import GUARDIAN_SET_TYPE_ID
from aura_features.recovery.recovery_messages import (
    RECOVERY_CODEC,
    RecoveryApproval,
    RecoveryDispute,
    RecoveryRequest,
)
from aura_journal import Fact, JournalNamespace, RemovalReason, ThresholdAttestation

__all__ = [
    "RecoveryAuthorization",
    "approving_guardians",
    "authorize_recovery",
    "check_approval",
    "check_dispute",
    "guardian_set_from_fact",
    "recovery_change",
    "vouched_guardian_set",
]

_MAX_AUTHORIZATION_BYTES = 1 << 20


def guardian_set_from_fact(data: bytes, account: Any) -> tuple[Fact, GuardianSet]:
    """Decode a ``devices.guardian_set`` fact and check it is signed by the key it names."""
    fact = Fact.decode(data)
    if fact.type_id != GUARDIAN_SET_TYPE_ID:
        raise InvalidEncoding(f"expected a {GUARDIAN_SET_TYPE_ID} fact, got {fact.type_id}")
    try:
        body = GuardianSet.from_canonical(fact.payload_value())
    except InvalidEncoding:
        raise
    except AuraError as exc:
        raise InvalidEncoding(f"guardian set: {exc.message}") from None
    if body.account != account:
        raise ValidationError("the guardian set is another account's")
    attestation = fact.attestation
    if (
        type(attestation) is not ThresholdAttestation
        or attestation.group_public_key != body.group_key
    ):
        raise CryptoError("the guardian set is not signed by the account key it names")
    fact.verify_attestation(JournalNamespace.authority(account))
    return fact, body


def recovery_change(request: RecoveryRequest, guardian_set: GuardianSet) -> CustodyChange:
    """The change a request means: kept devices plus the new one; the other devices are lost."""
    if request.account != guardian_set.account:
        raise ValidationError("the request is for another account than the guardian set")
    kept = [m for m in guardian_set.devices if m.identifier in request.kept]
    if len(kept) != len(request.kept):
        raise ValidationError("the request keeps a device the account does not have")
    taken = [m.identifier for m in guardian_set.devices] + [
        m.identifier for m in guardian_set.guardians
    ]
    known = {m.profile.device for m in guardian_set.devices}
    if any(profile.device in known for profile in request.new_devices):
        raise ValidationError("a new device is already a device of the account")
    new = [
        DeviceMember(max(taken) + 1 + offset, profile)
        for offset, profile in enumerate(request.new_devices)
    ]
    removals = tuple(
        (m.identifier, RemovalReason.LOST)
        for m in guardian_set.devices
        if m.identifier not in request.kept
    )
    return CustodyChange(
        guardian_set.account,
        "recovery",
        None,
        tuple(sorted((*kept, *new))),
        request.threshold,
        guardian_set.guardians,
        guardian_set.guardian_threshold,
        removals,
        guardian_set.dispute_window_s,
        request.recovery_id,
    )


def check_approval(
    approval: RecoveryApproval, request_bytes: bytes, guardian_set: GuardianSet
) -> GuardianMember:
    """The guardian behind a valid approval of this request; raises if it is not one."""
    if approval.request != request_bytes:
        raise ValidationError("the approval is for another request")
    member = guardian_set.guardian_for(approval.guardian)
    if member is None:
        raise ValidationError(f"{approval.guardian} is not a guardian of the account")
    if not signature_valid(approval, member.profile.signing_key):
        raise CryptoError(f"the approval of {approval.guardian} is not signed by its key")
    return member


def check_dispute(
    dispute: RecoveryDispute, request: RecoveryRequest, guardian_set: GuardianSet
) -> DeviceMember:
    """The device behind a valid dispute of this request; raises if it is not one."""
    if dispute.recovery_id != request.recovery_id or dispute.request_hash != request.hash:
        raise ValidationError("the dispute is about another recovery")
    if dispute.account != guardian_set.account:
        raise ValidationError("the dispute is about another account")
    member = guardian_set.device(dispute.device)
    if member is None:
        raise ValidationError(f"device {dispute.device} is not a device of the account")
    if not signature_valid(dispute, member.profile.leaf_key):
        raise CryptoError(f"the dispute of device {dispute.device} is not signed by its key")
    return member


def approving_guardians(
    approvals: Iterable[RecoveryApproval], request_bytes: bytes, guardian_set: GuardianSet
) -> dict[int, RecoveryApproval]:
    """Valid approvals by guardian identifier (one per guardian, invalid ones skipped)."""
    found: dict[int, RecoveryApproval] = {}
    for approval in approvals:
        try:
            member = check_approval(approval, request_bytes, guardian_set)
        except AuraError:
            continue
        found.setdefault(member.identifier, approval)
    return found


def vouched_guardian_set(
    approvals: Iterable[RecoveryApproval],
    request_bytes: bytes,
    account: Any,
    expected_group_key: bytes | None = None,
) -> tuple[GuardianSet, dict[int, RecoveryApproval]] | None:
    """The guardian set at least its threshold of guardians approved under, with their approvals.

    A device that holds no journal (the new one) learns the guardians from
    their approvals; one guardian alone cannot pass off a made-up set.
    """
    sets: dict[bytes, tuple[GuardianSet, dict[int, RecoveryApproval]]] = {}
    for approval in approvals:
        try:
            fact, guardian_set = guardian_set_from_fact(approval.guardian_set, account)
            if expected_group_key is not None and guardian_set.group_key != expected_group_key:
                continue
            member = check_approval(approval, request_bytes, guardian_set)
        except AuraError:
            continue
        held = sets.setdefault(fact.cid.raw, (guardian_set, {}))
        held[1].setdefault(member.identifier, approval)
    for guardian_set, found in sets.values():
        if len(found) >= guardian_set.guardian_threshold:
            return guardian_set, found
    return None


@attrs.frozen
class RecoveryAuthorization:
    """The blob of a ``recovery`` transfer: the request and the approvals."""

    request: bytes
    approvals: tuple[bytes, ...]

    def encode(self) -> bytes:
        return dag_cbor.encode({"request": self.request, "approvals": list(self.approvals)})

    @classmethod
    def decode(cls, data: bytes) -> RecoveryAuthorization:
        value = decode_canonical(data, "recovery authorization", max_bytes=_MAX_AUTHORIZATION_BYTES)
        fields = read_map(value, "recovery authorization", ("request", "approvals"))
        authorization = cls(
            read_bytes(fields["request"], "request", max_size=4096),
            tuple(
                read_bytes(item, "approval", max_size=128 * 1024)
                for item in read_list(fields["approvals"], "approvals", max_items=MAX_GUARDIANS)
            ),
        )
        if authorization.encode() != data:
            raise InvalidEncoding("recovery authorization is not in canonical form")
        return authorization


def authorize_recovery(
    blob: bytes,
    change: CustodyChange,
    guardian_set: GuardianSet,
    *,
    disputed: frozenset[bytes] = frozenset(),
) -> Authorized:
    """Check a recovery's authorization against the guardian set this holder trusts."""
    authorization = RecoveryAuthorization.decode(blob)
    request = RECOVERY_CODEC.decode_as(authorization.request, RecoveryRequest)
    if not request.verify():
        raise CryptoError("the recovery request is not signed by the new device's key")
    if request.recovery_id in disputed:
        raise ValidationError("this recovery was disputed on this device")
    if change != recovery_change(request, guardian_set):
        raise ValidationError("the change is not the one the recovery request implies")
    approvals = [
        RECOVERY_CODEC.decode_as(item, RecoveryApproval) for item in authorization.approvals
    ]
    for approval in approvals:
        _fact, held = guardian_set_from_fact(approval.guardian_set, guardian_set.account)
        if held != guardian_set:
            raise ValidationError("an approval names another guardian set than this holder's")
    approvers = approving_guardians(approvals, authorization.request, guardian_set)
    if len(approvers) < guardian_set.guardian_threshold:
        raise ValidationError(
            f"{len(approvers)} valid guardian approval(s); the account needs "
            f"{guardian_set.guardian_threshold}"
        )
    members = {i: guardian_set.guardian(i) for i in approvers}
    return Authorized(
        guardian_set.guardian_package,
        {i: m.profile.signing_key for i, m in members.items() if m is not None},
        {i: m.profile.address for i, m in members.items() if m is not None},
    )
