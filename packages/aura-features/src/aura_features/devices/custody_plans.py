"""Building custody changes from what a device knows: add or remove a device, set thresholds, guardians.

Each builder starts from a :class:`CustodyView` (the tree, the current key
epoch and guardian set) and returns the :class:`CustodyChange` to propose.
Defaults keep thresholds a majority: adding a device to 2-of-3 gives 3-of-4;
removing one from 2-of-3 gives 2-of-2; guardians default to ``n//2 + 1``.
Anything the rules refuse raises with a message saying what to do instead
(removing the last guardian, a threshold the remaining devices cannot meet).
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from aura_core.errors import InvalidInput, ValidationError
from aura_core.identifiers import AuthorityId
from aura_features.devices.custody_change import (
    DEFAULT_DISPUTE_WINDOW_S,
    CustodyChange,
    next_identifier,
)
from aura_features.devices.custody_facts import GuardianSet, KeyEpoch
from aura_features.devices.share_holders import (
    DeviceMember,
    DeviceProfile,
    GuardianMember,
    GuardianProfile,
)
from aura_journal import RemovalReason, TreeState

__all__ = [
    "CustodyView",
    "add_device",
    "add_guardians",
    "change_threshold",
    "majority",
    "remove_device",
    "remove_guardian",
    "rotate_guardian_shares",
    "rotate_shares",
]


def majority(count: int) -> int:
    """The smallest majority threshold of ``count`` holders (1 for one holder)."""
    return count // 2 + 1


@attrs.frozen
class CustodyView:
    """What a builder needs: the current tree, key epoch and (optional) guardian set."""

    tree: TreeState
    key_epoch: KeyEpoch
    guardian_set: GuardianSet | None

    @property
    def guardians(self) -> tuple[GuardianMember, ...]:
        return self.guardian_set.guardians if self.guardian_set is not None else ()

    @property
    def guardian_threshold(self) -> int:
        return self.guardian_set.guardian_threshold if self.guardian_set is not None else 0

    @property
    def dispute_window_s(self) -> int:
        if self.guardian_set is not None:
            return self.guardian_set.dispute_window_s
        return DEFAULT_DISPUTE_WINDOW_S

    def change(
        self,
        kind: str,
        *,
        tag: bytes,
        devices: tuple[DeviceMember, ...] | None = None,
        threshold: int | None = None,
        guardians: tuple[GuardianMember, ...] | None = None,
        guardian_threshold: int | None = None,
        removals: tuple[tuple[int, RemovalReason], ...] = (),
        dispute_window_s: int | None = None,
    ) -> CustodyChange:
        return CustodyChange(
            self.key_epoch.account,
            kind,
            self.tree.commitment,
            self.key_epoch.devices if devices is None else devices,
            self.key_epoch.threshold if threshold is None else threshold,
            self.guardians if guardians is None else guardians,
            self.guardian_threshold if guardian_threshold is None else guardian_threshold,
            removals,
            self.dispute_window_s if dispute_window_s is None else dispute_window_s,
            tag,
        )


def add_device(
    view: CustodyView, profile: DeviceProfile, *, tag: bytes, threshold: int | None = None
) -> CustodyChange:
    """Seat ``profile`` at the next free identifier; reshare to every device."""
    if not isinstance(profile, DeviceProfile):
        raise InvalidInput("add_device needs the new device's DeviceProfile")
    if any(m.profile.device == profile.device for m in view.key_epoch.devices):
        raise ValidationError(f"{profile.device} is already a device of the account")
    taken = tuple(m.identifier for m in view.guardians)
    member = DeviceMember(next_identifier(view.tree, taken), profile)
    devices = tuple(sorted((*view.key_epoch.devices, member)))
    if threshold is None:
        threshold = max(view.key_epoch.threshold, majority(len(devices)))
    return view.change("add_device", tag=tag, devices=devices, threshold=threshold)


def remove_device(
    view: CustodyView,
    identifier: int,
    *,
    tag: bytes,
    reason: RemovalReason = RemovalReason.REVOKED,
    threshold: int | None = None,
) -> CustodyChange:
    """Remove the device at ``identifier``; the others get new shares its old one does not fit."""
    devices = tuple(m for m in view.key_epoch.devices if m.identifier != identifier)
    if len(devices) == len(view.key_epoch.devices):
        raise InvalidInput(f"no device of the account sits at identifier {identifier}")
    if not devices:
        raise ValidationError("cannot remove the account's only device")
    if threshold is None:
        threshold = max(min(view.key_epoch.threshold, len(devices)), majority(len(devices)))
        if len(devices) == 1:
            threshold = 1
    return view.change(
        "remove_device",
        tag=tag,
        devices=devices,
        threshold=threshold,
        removals=((identifier, reason),),
    )


def change_threshold(view: CustodyView, threshold: int, *, tag: bytes) -> CustodyChange:
    """Same devices, new threshold (``ChangePolicy`` and a reshare)."""
    if threshold == view.key_epoch.threshold:
        raise ValidationError(f"the threshold is already {threshold}")
    return view.change("change_policy", tag=tag, threshold=threshold)


def add_guardians(
    view: CustodyView,
    profiles: Sequence[GuardianProfile],
    *,
    tag: bytes,
    guardian_threshold: int | None = None,
    dispute_window_s: int | None = None,
) -> CustodyChange:
    """Seat new guardians (each accepted first) and deal a fresh guardian sharing to all of them."""
    known = {m.profile.authority for m in view.guardians}
    members = list(view.guardians)
    taken = [m.identifier for m in view.key_epoch.devices] + [m.identifier for m in members]
    for profile in profiles:
        if not isinstance(profile, GuardianProfile):
            raise InvalidInput("add_guardians needs GuardianProfile values")
        if profile.authority in known:
            raise ValidationError(f"{profile.authority} is already a guardian")
        known.add(profile.authority)
        member = GuardianMember(next_identifier(view.tree, tuple(taken)), profile)
        taken.append(member.identifier)
        members.append(member)
    if len(members) == len(view.guardians):
        raise InvalidInput("add_guardians needs at least one new guardian")
    guardians = tuple(sorted(members))
    return view.change(
        "guardians",
        tag=tag,
        guardians=guardians,
        guardian_threshold=(
            majority(len(guardians)) if guardian_threshold is None else guardian_threshold
        ),
        dispute_window_s=dispute_window_s,
    )


def remove_guardian(
    view: CustodyView,
    authority: AuthorityId,
    *,
    tag: bytes,
    guardian_threshold: int | None = None,
) -> CustodyChange:
    """Remove a guardian; the others get a fresh sharing its old share does not fit.

    Removing the last guardian is refused: the account would have no way back
    if its devices were lost.
    """
    member = next((m for m in view.guardians if m.profile.authority == authority), None)
    if member is None:
        raise InvalidInput(f"{authority} is not a guardian of the account")
    guardians = tuple(m for m in view.guardians if m is not member)
    if not guardians:
        raise ValidationError(
            "cannot remove the last guardian: without guardians the account could not be "
            "recovered; add another guardian first"
        )
    return view.change(
        "guardians",
        tag=tag,
        guardians=guardians,
        guardian_threshold=(
            majority(len(guardians)) if guardian_threshold is None else guardian_threshold
        ),
        removals=((member.identifier, RemovalReason.LEFT),),
    )


def rotate_shares(view: CustodyView, *, tag: bytes, revoke: int | None = None) -> CustodyChange:
    """Emergency rotation: every device gets a fresh share now, optionally revoking one device.

    Shares from before do not combine with the new ones, so a share that may
    have leaked (a stolen device, a backup copied) is useless from here on —
    as long as fewer than the threshold leaked. The group key stays.
    """
    devices = view.key_epoch.devices
    removals: tuple[tuple[int, RemovalReason], ...] = ()
    threshold = view.key_epoch.threshold
    if revoke is not None:
        devices = tuple(m for m in devices if m.identifier != revoke)
        if len(devices) == len(view.key_epoch.devices):
            raise InvalidInput(f"no device of the account sits at identifier {revoke}")
        if not devices:
            raise ValidationError("cannot revoke the account's only device")
        removals = ((revoke, RemovalReason.REVOKED),)
        threshold = max(min(threshold, len(devices)), majority(len(devices)))
        if len(devices) == 1:
            threshold = 1
    return view.change("rotate", tag=tag, devices=devices, threshold=threshold, removals=removals)


def rotate_guardian_shares(view: CustodyView, *, tag: bytes) -> CustodyChange:
    """A fresh sharing for the same guardians (the second half of an emergency rotation)."""
    if not view.guardians:
        raise ValidationError("the account has no guardians")
    return view.change("guardians", tag=tag)
