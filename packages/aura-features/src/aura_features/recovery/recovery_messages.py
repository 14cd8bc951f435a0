"""The messages of guardian setup and recovery (``recovery.*``).

Setup::

    device   -> guardian   GuardianInvitation(invitation code of kind guardian, reply address)
    guardian -> device     GuardianResponse(accepted + profile | declined)   signed by the guardian

Recovery (``N`` the new device, ``G`` guardians, ``D`` the account's devices)::

    N -> G      RecoveryRequest(new device, kept devices, threshold)   signed by N's leaf key
    G -> N, D   RecoveryApproval(request, guardian set)                signed by the guardian
    D -> G, N   RecoveryDispute(recovery)                              signed by a device leaf key
    G -> N      RecoveryCancelled(dispute)                             signed by the guardian
    N -> G      custody.start(kind "recovery": request + approvals)    the guardians deal after
                                                                       their dispute window

The rest of a recovery is an ordinary custody change (``custody.*``).
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import attrs

from aura_core.canonical_fields import (
    U16_MAX,
    read_authority,
    read_bytes,
    read_choice,
    read_list,
    read_str,
    read_text,
    read_uint,
)
from aura_core.errors import InvalidInput
from aura_core.hashing import tagged_hash
from aura_core.identifiers import AuthorityId
from aura_features.devices import (
    MAX_DEVICES,
    DeviceProfile,
    GuardianProfile,
    MessageCodec,
    signature_valid,
)
from aura_features.devices.wire_codec import exact_fields, signed_payload

__all__ = [
    "RECOVERY_CODEC",
    "GuardianInvitation",
    "GuardianResponse",
    "RecoveryApproval",
    "RecoveryCancelled",
    "RecoveryDispute",
    "RecoveryRequest",
]

_NO_SIGNATURE = bytes(64)
_REQUEST_DOMAIN = "AURA_RECOVERY_REQUEST_HASH_V1"


def _id16(value: object, what: str) -> bytes:
    return read_bytes(value, what, size=16)


@attrs.frozen
class GuardianInvitation:
    """A device of ``account`` asks an authority to become its guardian."""

    TYPE: ClassVar[str] = "recovery.invite"
    account: AuthorityId
    code: str
    """An ``aura:v1:`` invitation code of kind ``guardian``, signed by the account key."""
    reply_to: str

    def fields(self) -> dict[str, Any]:
        return {"account": self.account.raw, "code": self.code, "reply": self.reply_to}

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> Self:
        f = exact_fields(fields, cls.TYPE, ("account", "code", "reply"))
        return cls(
            read_authority(f["account"], "account"),
            read_str(f["code"], "invitation code", min_length=1, max_length=4096),
            read_str(f["reply"], "reply address", min_length=1, max_length=256),
        )


@attrs.frozen
class GuardianResponse:
    """A guardian's answer to an invitation; an acceptance carries the key its share is sealed to."""

    TYPE: ClassVar[str] = "recovery.response"
    account: AuthorityId
    invitation: bytes
    """The invitation id (32 bytes) answered."""
    accepted: bool
    profile: GuardianProfile
    answered_at_ms: int
    signature: bytes = _NO_SIGNATURE

    def fields(self) -> dict[str, Any]:
        return {
            "account": self.account.raw,
            "invitation": self.invitation,
            "answer": "accepted" if self.accepted else "declined",
            "profile": self.profile.to_canonical(),
            "at": self.answered_at_ms,
            "sig": self.signature,
        }

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> Self:
        f = exact_fields(
            fields, cls.TYPE, ("account", "invitation", "answer", "profile", "at", "sig")
        )
        return cls(
            read_authority(f["account"], "account"),
            read_bytes(f["invitation"], "invitation id", size=32),
            read_choice(f["answer"], "answer", ("accepted", "declined")) == "accepted",
            GuardianProfile.from_canonical(f["profile"]),
            read_uint(f["at"], "answer time"),
            read_bytes(f["sig"], "answer signature", size=64),
        )

    def verify(self) -> bool:
        return signature_valid(self, self.profile.signing_key)


@attrs.frozen
class RecoveryRequest:
    """A new device asks the guardians to restore ``account`` to it (and to the kept devices)."""

    TYPE: ClassVar[str] = "recovery.request"
    recovery_id: bytes
    account: AuthorityId
    device: DeviceProfile
    kept: tuple[int, ...]
    """Identifiers of the account's devices the user still holds (they get new shares too)."""
    threshold: int
    requested_at_ms: int
    companions: tuple[DeviceProfile, ...] = ()
    """Further new devices joining with ``device`` (when too few old ones are left to sign)."""
    signature: bytes = _NO_SIGNATURE

    def __attrs_post_init__(self) -> None:
        if list(self.kept) != sorted(set(self.kept)) or len(self.kept) >= MAX_DEVICES:
            raise InvalidInput("kept devices must be sorted, distinct and fewer than the maximum")
        if len(self.kept) + 1 + len(self.companions) > MAX_DEVICES:
            raise InvalidInput(f"a recovered account has at most {MAX_DEVICES} devices")
        if len({p.device for p in (self.device, *self.companions)}) != 1 + len(self.companions):
            raise InvalidInput("a new device is listed twice")

    @property
    def new_devices(self) -> tuple[DeviceProfile, ...]:
        return (self.device, *self.companions)

    @property
    def hash(self) -> bytes:
        """Binds approvals and disputes to this exact request (signature excluded)."""
        return tagged_hash(_REQUEST_DOMAIN, signed_payload(self))

    def fields(self) -> dict[str, Any]:
        return {
            "id": self.recovery_id,
            "account": self.account.raw,
            "device": self.device.to_canonical(),
            "kept": list(self.kept),
            "threshold": self.threshold,
            "at": self.requested_at_ms,
            "with": [p.to_canonical() for p in self.companions],
            "sig": self.signature,
        }

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> Self:
        f = exact_fields(
            fields, cls.TYPE, ("id", "account", "device", "kept", "threshold", "at", "with", "sig")
        )
        return cls(
            _id16(f["id"], "recovery id"),
            read_authority(f["account"], "account"),
            DeviceProfile.from_canonical(f["device"]),
            tuple(
                read_uint(item, "kept device", minimum=1, maximum=U16_MAX)
                for item in read_list(f["kept"], "kept devices", max_items=MAX_DEVICES)
            ),
            read_uint(f["threshold"], "threshold", minimum=1, maximum=MAX_DEVICES),
            read_uint(f["at"], "request time"),
            tuple(
                DeviceProfile.from_canonical(item)
                for item in read_list(f["with"], "companion devices", max_items=MAX_DEVICES)
            ),
            read_bytes(f["sig"], "request signature", size=64),
        )

    def verify(self) -> bool:
        return signature_valid(self, self.device.leaf_key)


@attrs.frozen
class RecoveryApproval:
    """A guardian approves a request; it also says which guardian set it holds."""

    TYPE: ClassVar[str] = "recovery.approval"
    request: bytes
    """The encoded :class:`RecoveryRequest`."""
    guardian: AuthorityId
    guardian_set: bytes
    """The encoded, account-signed ``devices.guardian_set`` fact this guardian holds."""
    approved_at_ms: int
    signature: bytes = _NO_SIGNATURE

    def fields(self) -> dict[str, Any]:
        return {
            "request": self.request,
            "guardian": self.guardian.raw,
            "set": self.guardian_set,
            "at": self.approved_at_ms,
            "sig": self.signature,
        }

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> Self:
        f = exact_fields(fields, cls.TYPE, ("request", "guardian", "set", "at", "sig"))
        return cls(
            read_bytes(f["request"], "request", max_size=4096),
            read_authority(f["guardian"], "guardian"),
            read_bytes(f["set"], "guardian set fact", max_size=64 * 1024),
            read_uint(f["at"], "approval time"),
            read_bytes(f["sig"], "approval signature", size=64),
        )


@attrs.frozen
class RecoveryDispute:
    """A device of the account objects to a recovery: the guardians must not release."""

    TYPE: ClassVar[str] = "recovery.dispute"
    recovery_id: bytes
    request_hash: bytes
    account: AuthorityId
    device: int
    """The disputing device's identifier in the account (its leaf key signs)."""
    reason: str
    signature: bytes = _NO_SIGNATURE

    def fields(self) -> dict[str, Any]:
        return {
            "id": self.recovery_id,
            "request": self.request_hash,
            "account": self.account.raw,
            "device": self.device,
            "reason": self.reason,
            "sig": self.signature,
        }

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> Self:
        f = exact_fields(fields, cls.TYPE, ("id", "request", "account", "device", "reason", "sig"))
        return cls(
            _id16(f["id"], "recovery id"),
            read_bytes(f["request"], "request hash", size=32),
            read_authority(f["account"], "account"),
            read_uint(f["device"], "disputing device", minimum=1, maximum=U16_MAX),
            read_text(f["reason"], "dispute reason", max_length=280),
            read_bytes(f["sig"], "dispute signature", size=64),
        )


@attrs.frozen
class RecoveryCancelled:
    """A guardian tells the requester it will not release: a device disputed."""

    TYPE: ClassVar[str] = "recovery.cancelled"
    recovery_id: bytes
    guardian: AuthorityId
    dispute: bytes
    """The encoded :class:`RecoveryDispute` (the requester checks it too)."""
    signature: bytes = _NO_SIGNATURE

    def fields(self) -> dict[str, Any]:
        return {
            "id": self.recovery_id,
            "guardian": self.guardian.raw,
            "dispute": self.dispute,
            "sig": self.signature,
        }

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> Self:
        f = exact_fields(fields, cls.TYPE, ("id", "guardian", "dispute", "sig"))
        return cls(
            _id16(f["id"], "recovery id"),
            read_authority(f["guardian"], "guardian"),
            read_bytes(f["dispute"], "dispute", max_size=4096),
            read_bytes(f["sig"], "cancellation signature", size=64),
        )


RECOVERY_CODEC = MessageCodec(
    (
        GuardianInvitation,
        GuardianResponse,
        RecoveryRequest,
        RecoveryApproval,
        RecoveryDispute,
        RecoveryCancelled,
    )
)
"""Codec of every ``recovery.*`` message."""
