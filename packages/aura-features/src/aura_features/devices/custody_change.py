"""A custody change: who holds shares of the account key after it, and how the tree shows it.

Every membership change of an account — add or remove a device, change the
threshold, add or remove guardians, recover through guardians — is one
:class:`CustodyChange`: the full roster of devices and guardians *after* the
change, the thresholds, the leaves that leave (with a reason), and which
sharing is rebuilt (the devices', or the guardians'). It is the operation a
consensus instance decides (or, for a recovery, what the guardians approve),
so it is a plain canonical value with a hash.

The tree operations are *derived* from the change and the tree it lands on
(:func:`derive_ops`): add leaves for new members, set the root policy, remove
leaves, and rotate the key epoch when the devices' shares were rebuilt (a
guardian re-deal with the same guardians changes no leaf at all). Every
signer derives them itself and signs only facts that match, so the coordinator
cannot slip in another operation.

Rules checked here (each with its own message): thresholds per RFC 9591 and
Aura (1-of-n with n > 1 is refused), a device threshold that is a majority
(``2t > n``: the consensus quorum rule, see docs/consensus.md), a guardian
threshold that is a majority too (two recoveries can then never both gather
approvals from guardians who each approve one recovery at a time), at most
:data:`MAX_DEVICES` devices and :data:`MAX_GUARDIANS` guardians, and never
zero guardians once there were some (removing the last guardian is refused).
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import attrs

from aura_core import dag_cbor
from aura_core.canonical_fields import (
    U16_MAX,
    U32_MAX,
    decode_canonical,
    of_type,
    read_authority,
    read_bytes,
    read_choice,
    read_list,
    read_map,
    read_uint,
)
from aura_core.crypto.participants import check_threshold
from aura_core.errors import AuraError, InvalidEncoding, InvalidInput, ValidationError
from aura_core.hashing import tagged_hash
from aura_core.identifiers import AuthorityId
from aura_features.devices.share_holders import (
    MAX_DEVICES,
    MAX_GUARDIANS,
    DeviceMember,
    DeviceProfile,
    GuardianMember,
    GuardianProfile,
    check_roster,
    members_from_canonical,
    members_to_canonical,
)
from aura_journal import (
    AddLeaf,
    ChangePolicy,
    LeafId,
    LeafNode,
    LeafRole,
    RemovalReason,
    RemoveLeaf,
    RotateEpoch,
    ThresholdPolicy,
    TreeOp,
    TreeState,
)

__all__ = [
    "CHANGE_KINDS",
    "DEFAULT_DISPUTE_WINDOW_S",
    "MAX_DISPUTE_WINDOW_S",
    "ROOT_BRANCH",
    "CustodyChange",
    "DerivedOps",
    "derive_ops",
    "device_leaf",
    "guardian_leaf",
    "next_identifier",
]

CHANGE_KINDS = ("add_device", "remove_device", "change_policy", "rotate", "guardians", "recovery")
"""``rotate``: every device gets a fresh share (an emergency rotation, perhaps revoking one)."""
ROOT_BRANCH = 0
"""Devices and guardians are leaves of the root branch, whose group key is the account key."""
DEFAULT_DISPUTE_WINDOW_S = 48 * 3600
MAX_DISPUTE_WINDOW_S = 30 * 24 * 3600
_CHANGE_DOMAIN = "AURA_CUSTODY_CHANGE_V1"
_MAX_CHANGE_BYTES = 64 * 1024
_FIELDS = (
    "account",
    "kind",
    "parent",
    "devices",
    "threshold",
    "guardians",
    "guardian_threshold",
    "removals",
    "window",
    "tag",
)


def _check_removals(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not tuple:
        raise InvalidInput("CustodyChange.removals must be a tuple of (leaf id, reason)")
    previous = 0
    for entry in value:
        if type(entry) is not tuple or len(entry) != 2:
            raise InvalidInput("CustodyChange.removals entries are (leaf id, RemovalReason)")
        leaf, reason = entry
        if (
            type(leaf) is not int
            or not 1 <= leaf <= U16_MAX
            or not isinstance(reason, RemovalReason)
        ):
            raise InvalidInput(
                "CustodyChange.removals entries are (leaf id 1..65535, RemovalReason)"
            )
        if leaf <= previous:
            raise InvalidInput("CustodyChange.removals must be sorted by leaf id with no repeats")
        previous = leaf


def _check_tag(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not bytes or len(value) != 16:
        raise InvalidInput("CustodyChange.tag must be 16 bytes")


def _check_parent(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if value is not None and (type(value) is not bytes or len(value) != 32):
        raise InvalidInput("CustodyChange.parent must be a 32-byte tree commitment or None")


@attrs.frozen
class CustodyChange:
    """The account's share holders after one change, and what the change is."""

    TYPE: ClassVar[str] = "aura.custody.change.v1"
    account: AuthorityId = attrs.field(validator=of_type(AuthorityId))
    kind: str = attrs.field()
    parent: bytes | None = attrs.field(validator=_check_parent)
    """Commitment of the tree state the change was proposed on (``None`` for a recovery,
    whose requester does not know the tree: each signer checks against its own)."""
    devices: tuple[DeviceMember, ...] = attrs.field()
    threshold: int = attrs.field()
    guardians: tuple[GuardianMember, ...] = attrs.field()
    guardian_threshold: int = attrs.field()
    removals: tuple[tuple[int, RemovalReason], ...] = attrs.field(validator=_check_removals)
    dispute_window_s: int = attrs.field()
    tag: bytes = attrs.field(validator=_check_tag)
    """Tells apart two proposals that would otherwise be equal (a recovery's id)."""
    _encoded: bytes = attrs.field(init=False, repr=False, eq=False, hash=False)

    def __attrs_post_init__(self) -> None:
        if self.kind not in CHANGE_KINDS:
            raise InvalidInput(f"CustodyChange.kind must be one of {list(CHANGE_KINDS)}")
        check_roster(self.devices, "device roster")
        check_roster(self.guardians, "guardian roster")
        for member in self.devices:
            if not isinstance(member, DeviceMember):
                raise InvalidInput("the device roster must hold DeviceMember values")
        for member in self.guardians:
            if not isinstance(member, GuardianMember):
                raise InvalidInput("the guardian roster must hold GuardianMember values")
        if not 1 <= len(self.devices) <= MAX_DEVICES:
            raise InvalidInput(f"an account has 1..{MAX_DEVICES} devices, got {len(self.devices)}")
        if len(self.guardians) > MAX_GUARDIANS:
            raise InvalidInput(f"an account has at most {MAX_GUARDIANS} guardians")
        _check_threshold_rule(self.threshold, len(self.devices), "device")
        if self.guardians:
            _check_threshold_rule(self.guardian_threshold, len(self.guardians), "guardian")
        elif self.guardian_threshold != 0:
            raise InvalidInput("guardian_threshold must be 0 when there are no guardians")
        taken = {m.identifier for m in self.devices} & {m.identifier for m in self.guardians}
        if taken:
            raise InvalidInput(f"identifier(s) {sorted(taken)} seat both a device and a guardian")
        leaving = {leaf for leaf, _ in self.removals}
        staying = {m.identifier for m in self.devices} | {m.identifier for m in self.guardians}
        if leaving & staying:
            raise InvalidInput("a removed leaf cannot also be in the roster")
        if (
            type(self.dispute_window_s) is not int
            or not 1 <= self.dispute_window_s <= MAX_DISPUTE_WINDOW_S
        ):
            raise InvalidInput(f"dispute window must be 1..{MAX_DISPUTE_WINDOW_S} seconds")
        if self.kind == "recovery" and self.parent is not None:
            raise InvalidInput("a recovery names no parent tree state")
        if self.kind != "recovery" and self.parent is None:
            raise InvalidInput(f"a {self.kind} change must name the tree state it extends")
        if self.kind == "guardians" and not self.guardians:
            raise ValidationError(
                "cannot remove the last guardian: without guardians the account could not be "
                "recovered; add another guardian first"
            )
        object.__setattr__(self, "_encoded", dag_cbor.encode(self.to_canonical()))

    # ------------------------------------------------------------------ what it does

    @property
    def rebuilds(self) -> str:
        """Which sharing gets new shares: ``"guardians"`` for a guardian change, else ``"devices"``."""
        return "guardians" if self.kind == "guardians" else "devices"

    @property
    def dealt_by(self) -> str:
        """Who deals the new shares: the guardians in a recovery, the devices otherwise."""
        return "guardians" if self.kind == "recovery" else "devices"

    @property
    def recipients(self) -> tuple[DeviceMember, ...] | tuple[GuardianMember, ...]:
        return self.guardians if self.rebuilds == "guardians" else self.devices

    @property
    def recipient_threshold(self) -> int:
        return self.guardian_threshold if self.rebuilds == "guardians" else self.threshold

    def device(self, identifier: int) -> DeviceProfile | None:
        for member in self.devices:
            if member.identifier == identifier:
                return member.profile
        return None

    def guardian(self, identifier: int) -> GuardianProfile | None:
        for member in self.guardians:
            if member.identifier == identifier:
                return member.profile
        return None

    # ------------------------------------------------------------------ canonical form

    def encode(self) -> bytes:
        return self._encoded

    @property
    def hash(self) -> bytes:
        return tagged_hash(_CHANGE_DOMAIN, self._encoded)

    def to_canonical(self) -> dict[str, Any]:
        return {
            "account": self.account.raw,
            "kind": self.kind,
            "parent": self.parent,
            "devices": members_to_canonical(self.devices),
            "threshold": self.threshold,
            "guardians": members_to_canonical(self.guardians),
            "guardian_threshold": self.guardian_threshold,
            "removals": [[leaf, reason.value] for leaf, reason in self.removals],
            "window": self.dispute_window_s,
            "tag": self.tag,
        }

    @classmethod
    def from_canonical(cls, value: object) -> Self:
        fields = read_map(value, "custody change", _FIELDS)
        parent = fields["parent"]
        removals = []
        for entry in read_list(
            fields["removals"], "removals", max_items=MAX_DEVICES + MAX_GUARDIANS
        ):
            pair = read_list(entry, "removal", min_items=2, max_items=2)
            removals.append(
                (
                    read_uint(pair[0], "removed leaf", minimum=1, maximum=U16_MAX),
                    RemovalReason(
                        read_choice(pair[1], "removal reason", [r.value for r in RemovalReason])
                    ),
                )
            )
        try:
            return cls(
                read_authority(fields["account"], "account"),
                read_choice(fields["kind"], "change kind", CHANGE_KINDS),
                None if parent is None else read_bytes(parent, "parent commitment", size=32),
                members_from_canonical(
                    fields["devices"], DeviceMember, "device roster", max_items=MAX_DEVICES
                ),
                read_uint(fields["threshold"], "threshold", minimum=1, maximum=MAX_DEVICES),
                members_from_canonical(
                    fields["guardians"], GuardianMember, "guardian roster", max_items=MAX_GUARDIANS
                ),
                read_uint(
                    fields["guardian_threshold"], "guardian threshold", maximum=MAX_GUARDIANS
                ),
                tuple(removals),
                read_uint(fields["window"], "dispute window", maximum=MAX_DISPUTE_WINDOW_S),
                read_bytes(fields["tag"], "change tag", size=16),
            )
        except InvalidEncoding:
            raise
        except AuraError as exc:
            raise InvalidEncoding(f"custody change: {exc.message}") from None

    @classmethod
    def decode(cls, data: object) -> Self:
        """Strict: canonical bytes of a valid change, else :class:`InvalidEncoding`."""
        change = cls.from_canonical(
            decode_canonical(data, "custody change", max_bytes=_MAX_CHANGE_BYTES)
        )
        if change.encode() != data:
            raise InvalidEncoding("custody change is not in canonical form")
        return change


def _check_threshold_rule(threshold: object, count: int, who: str) -> None:
    try:
        check_threshold(threshold, count)
    except InvalidInput as exc:
        raise InvalidInput(f"{who} threshold: {exc.message}") from None
    assert isinstance(threshold, int)
    if count >= 2 and 2 * threshold <= count:
        raise InvalidInput(
            f"{who} threshold {threshold} of {count} is not a majority: two disjoint groups could "
            f"each agree on a different change; use at least {count // 2 + 1}"
        )


# --------------------------------------------------------------------------- tree operations


def device_leaf(member: DeviceMember) -> LeafNode:
    profile = member.profile
    return LeafNode(LeafId(member.identifier), profile.device, LeafRole.DEVICE, profile.leaf_key)


def guardian_leaf(member: GuardianMember) -> LeafNode:
    profile = member.profile
    return LeafNode(
        LeafId(member.identifier), profile.leaf_device, LeafRole.GUARDIAN, profile.signing_key
    )


def next_identifier(tree: TreeState, taken: tuple[int, ...] = ()) -> int:
    """The next free leaf id (one above every current leaf and every id in ``taken``)."""
    highest = max([leaf.leaf_id.value for leaf in tree.leaves()] + list(taken) + [0])
    if highest >= min(U16_MAX, U32_MAX):
        raise ValidationError("no free leaf identifier is left below 65536")
    return highest + 1


@attrs.frozen
class DerivedOps:
    """The tree operations a change means on a given tree, and what signing them takes."""

    ops: tuple[TreeOp, ...]
    states: tuple[TreeState, ...]
    """The tree before each op, then the final tree (``len(ops) + 1`` states)."""
    signers_needed: int
    """The largest signer count any op's governing branch requires at its parent."""

    @property
    def final(self) -> TreeState:
        return self.states[-1]


def derive_ops(tree: TreeState, change: CustodyChange) -> DerivedOps:
    """The tree operations ``change`` stands for on ``tree``; :class:`ValidationError` if it does not fit.

    Order: add the new leaves, set the root policy to ``Threshold{t, devices}``,
    remove the leaves that leave, then ``RotateEpoch`` the root when the
    devices' shares are rebuilt. Adding before removing keeps every branch
    above its policy's minimum; setting the policy before removing lets a
    threshold drop together with a device.
    """
    if not isinstance(tree, TreeState) or not isinstance(change, CustodyChange):
        raise InvalidInput("derive_ops needs a TreeState and a CustodyChange")
    if change.parent is not None and change.parent != tree.commitment:
        raise ValidationError(
            f"the change extends tree state {change.parent.hex()[:16]}…, but the tree is at "
            f"{tree.commitment.hex()[:16]}…"
        )
    wanted: dict[int, LeafNode] = {m.identifier: device_leaf(m) for m in change.devices}
    wanted.update({m.identifier: guardian_leaf(m) for m in change.guardians})
    present = {leaf.leaf_id.value: leaf for leaf in tree.leaves()}
    for leaf in present.values():
        if tree.parent_of(leaf.leaf_id) != ROOT_BRANCH:
            raise ValidationError(f"{leaf.leaf_id} is not under the root branch")
    adds: list[TreeOp] = []
    for number, leaf in sorted(wanted.items()):
        held = present.get(number)
        if held is None:
            adds.append(AddLeaf(leaf, ROOT_BRANCH))
        elif held != leaf:
            raise ValidationError(
                f"leaf {number} in the tree is another {held.role.value} than the change lists"
            )
    removals = dict(change.removals)
    removes: list[TreeOp] = []
    for number in sorted(present):
        if number in wanted:
            continue
        reason = removals.pop(number, None)
        if reason is None:
            raise ValidationError(
                f"leaf {number} is in the tree but neither kept nor removed by the change"
            )
        removes.append(RemoveLeaf(LeafId(number), reason))
    if removals:
        raise ValidationError(f"the change removes leaf {min(removals)}, which is not in the tree")
    if tree.guardians() and not change.guardians:
        raise ValidationError(
            "cannot remove the last guardian: without guardians the account could not be "
            "recovered; add another guardian first"
        )
    ops: list[TreeOp] = [*adds]
    policy = ThresholdPolicy(change.threshold, len(change.devices))
    if tree.branch(ROOT_BRANCH).policy != policy:
        ops.append(ChangePolicy(ROOT_BRANCH, policy))
    ops.extend(removes)
    if change.rebuilds == "devices":
        ops.append(RotateEpoch((ROOT_BRANCH,)))
    if not ops and change.rebuilds != "guardians":
        raise ValidationError("the change would not change the tree")
    states = [tree]
    needed = tree.required_signers(ROOT_BRANCH)  # the facts are the account key's word
    for op in ops:
        state = states[-1]
        try:
            needed = max(needed, state.required_signers(state.target_of(op)))
            states.append(state.apply(op))
        except AuraError as exc:
            raise ValidationError(f"{op.kind} does not apply: {exc.message}") from None
    return DerivedOps(tuple(ops), tuple(states), needed)
