"""The commitment tree: an authority's device membership as a hashed tree.

Branches carry a signing policy (``Any``, ``Threshold{m,n}``, ``All``), the
group public key their members hold shares of, and an epoch. Leaves are
devices or guardians, sorted by ``LeafId`` under their branch. Branch indices
are breadth-first with the root at 0 and are fixed at genesis; operations add
and remove leaves, change policies and rotate epochs.

Commitments are BLAKE3 over a tag (LEAF / BRANCH), a version, the node's
index, its epoch, the policy hash, the group key and the children's
commitments (child branches by index, then leaves by ``LeafId``). The state
commitment binds the root commitment, the tree epoch and the height (number
of operations applied), so no two points of one history share a commitment.
Applying an operation recomputes only the changed leaf and the branches on
its path to the root.
"""

from __future__ import annotations

import enum
import itertools
from bisect import insort
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, ClassVar

import attrs

from aura_core.canonical_fields import (
    U32_MAX,
    of_type,
    read_bytes,
    read_choice,
    read_list,
    read_map,
    read_uint,
)
from aura_core.errors import InvalidEncoding, InvalidInput
from aura_core.hashing import hash_canonical, tagged_hash
from aura_core.identifiers import DeviceId
from aura_journal.errors import TreeOpInvalid

__all__ = [
    "ALL",
    "ANY",
    "TREE_VERSION",
    "AddLeaf",
    "AllPolicy",
    "AnyPolicy",
    "BranchNode",
    "ChangePolicy",
    "LeafId",
    "LeafNode",
    "LeafRole",
    "Policy",
    "RemovalReason",
    "RemoveLeaf",
    "RotateEpoch",
    "ThresholdPolicy",
    "TreeOp",
    "TreeState",
    "branch_commitment",
    "leaf_commitment",
    "op_from_canonical",
    "op_to_canonical",
    "policy_from_canonical",
    "policy_hash",
    "policy_to_canonical",
]

TREE_VERSION = 1
_VERSION_BYTE = bytes([TREE_VERSION])
_LEAF_DOMAIN = "AURA_TREE_LEAF_V1"
_BRANCH_DOMAIN = "AURA_TREE_BRANCH_V1"
_STATE_DOMAIN = "AURA_TREE_STATE_V1"
_POLICY_DOMAIN = "AURA_TREE_POLICY_V1"
_MAX_BRANCHES = 256
_MAX_LEAVES = 4096
_MAX_SIGNERS = 65535


def _u32(value: int) -> bytes:
    return value.to_bytes(4, "big")


def _u64(value: int) -> bytes:
    return value.to_bytes(8, "big")


def _key32(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not bytes or len(value) != 32:
        raise InvalidInput(f"{attribute.name} must be a 32-byte Ed25519 public key")


# --------------------------------------------------------------------------- leaves


class LeafRole(enum.Enum):
    """What a leaf is: one of the authority's devices, or a guardian helping recovery."""

    DEVICE = "device"
    GUARDIAN = "guardian"


class RemovalReason(enum.Enum):
    """Why a leaf was removed (recorded, committed, not interpreted by the tree)."""

    REVOKED = "revoked"
    LOST = "lost"
    REPLACED = "replaced"
    LEFT = "left"


@attrs.frozen(order=True)
class LeafId:
    """A leaf's stable id (u32); leaves sort by it."""

    value: int = attrs.field()

    @value.validator
    def _check(self, _attribute: attrs.Attribute, value: object) -> None:
        if type(value) is not int or not 0 <= value <= U32_MAX:
            raise InvalidInput(f"LeafId must be an integer in 0..2**32-1, got {value!r:.40}")

    def __str__(self) -> str:
        return f"leaf-{self.value}"


@attrs.frozen
class LeafNode:
    """One member: its leaf id, device id, role and own Ed25519 public key."""

    leaf_id: LeafId = attrs.field(validator=of_type(LeafId))
    device: DeviceId = attrs.field(validator=of_type(DeviceId))
    role: LeafRole = attrs.field(validator=of_type(LeafRole))
    public_key: bytes = attrs.field(validator=_key32)

    def to_canonical(self) -> dict[str, Any]:
        return {
            "id": self.leaf_id.value,
            "device": self.device.raw,
            "role": self.role.value,
            "key": self.public_key,
        }

    @classmethod
    def from_canonical(cls, value: object) -> LeafNode:
        fields = read_map(value, "leaf", ("id", "device", "role", "key"))
        return cls(
            LeafId(read_uint(fields["id"], "leaf id", maximum=U32_MAX)),
            DeviceId(read_bytes(fields["device"], "leaf device", size=16)),
            LeafRole(read_choice(fields["role"], "leaf role", [r.value for r in LeafRole])),
            read_bytes(fields["key"], "leaf public key", size=32),
        )


# --------------------------------------------------------------------------- policies


@attrs.frozen
class AnyPolicy:
    """Any one member may sign."""

    kind: ClassVar[str] = "any"

    def required_signers(self, members: int) -> int:
        return 1


@attrs.frozen
class AllPolicy:
    """Every member must sign."""

    kind: ClassVar[str] = "all"

    def required_signers(self, members: int) -> int:
        return max(1, members)


@attrs.frozen
class ThresholdPolicy:
    """``m`` of ``n`` members must sign."""

    kind: ClassVar[str] = "threshold"
    m: int = attrs.field()
    n: int = attrs.field()

    def __attrs_post_init__(self) -> None:
        for name in ("m", "n"):
            value = getattr(self, name)
            if type(value) is not int or not 1 <= value <= _MAX_SIGNERS:
                raise InvalidInput(
                    f"Threshold.{name} must be an integer in 1..{_MAX_SIGNERS}, got {value!r:.40}"
                )
        if self.m > self.n:
            raise InvalidInput(f"Threshold m={self.m} is larger than n={self.n}")

    def required_signers(self, members: int) -> int:
        return self.m


Policy = AnyPolicy | AllPolicy | ThresholdPolicy
ANY = AnyPolicy()
ALL = AllPolicy()


def policy_to_canonical(policy: Policy) -> dict[str, Any]:
    if type(policy) is ThresholdPolicy:
        return {"kind": "threshold", "m": policy.m, "n": policy.n}
    if type(policy) in (AnyPolicy, AllPolicy):
        return {"kind": policy.kind}
    raise InvalidInput(f"not a policy: {type(policy).__name__}")


def policy_from_canonical(value: object) -> Policy:
    if type(value) is not dict:
        raise InvalidEncoding(f"policy must be a map, got {type(value).__name__}")
    kind = read_choice(value.get("kind"), "policy kind", ("any", "all", "threshold"))
    if kind == "any":
        read_map(value, "policy", ("kind",))
        return ANY
    if kind == "all":
        read_map(value, "policy", ("kind",))
        return ALL
    fields = read_map(value, "threshold policy", ("kind", "m", "n"))
    m = read_uint(fields["m"], "threshold m", minimum=1, maximum=_MAX_SIGNERS)
    n = read_uint(fields["n"], "threshold n", minimum=1, maximum=_MAX_SIGNERS)
    if m > n:
        raise InvalidEncoding(f"threshold m={m} is larger than n={n}")
    return ThresholdPolicy(m, n)


_policy_hashes: dict[Policy, bytes] = {}


def policy_hash(policy: Policy) -> bytes:
    """BLAKE3 of the policy's canonical form (memoised: policies are few and immutable)."""
    digest = _policy_hashes.get(policy)
    if digest is None:
        digest = hash_canonical(policy_to_canonical(policy), _POLICY_DOMAIN)
        if len(_policy_hashes) < 4096:
            _policy_hashes[policy] = digest
    return digest


# --------------------------------------------------------------------------- operations


def _node_index(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not int or not 0 <= value < _MAX_BRANCHES:
        raise InvalidInput(
            f"{attribute.name} must be a branch index in 0..{_MAX_BRANCHES - 1}, got {value!r:.40}"
        )


@attrs.frozen
class AddLeaf:
    """Add ``leaf`` under branch ``under``."""

    kind: ClassVar[str] = "add_leaf"
    leaf: LeafNode = attrs.field(validator=of_type(LeafNode))
    under: int = attrs.field(validator=_node_index)


@attrs.frozen
class RemoveLeaf:
    """Remove a leaf (a device or guardian) for a recorded reason."""

    kind: ClassVar[str] = "remove_leaf"
    leaf: LeafId = attrs.field(validator=of_type(LeafId))
    reason: RemovalReason = attrs.field(validator=of_type(RemovalReason))


@attrs.frozen
class ChangePolicy:
    """Replace the signing policy of branch ``node``."""

    kind: ClassVar[str] = "change_policy"
    node: int = attrs.field(validator=_node_index)
    policy: Policy = attrs.field(validator=of_type(AnyPolicy, AllPolicy, ThresholdPolicy))


def _sorted_unique_nodes(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not tuple or not value:
        raise InvalidInput("RotateEpoch.affected must be a non-empty tuple of branch indices")
    for index in value:
        _node_index(None, attribute, index)
    if any(a >= b for a, b in itertools.pairwise(value)):
        raise InvalidInput("RotateEpoch.affected must be sorted with no repeats")


def _new_keys(instance: RotateEpoch, _attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not tuple:
        raise InvalidInput("RotateEpoch.new_group_keys must be a tuple of (branch index, key)")
    previous = -1
    for entry in value:
        if type(entry) is not tuple or len(entry) != 2:
            raise InvalidInput("RotateEpoch.new_group_keys entries are (branch index, 32-byte key)")
        node, key = entry
        if node not in instance.affected:
            raise InvalidInput(
                f"RotateEpoch gives a new key for branch {node!r:.20}, which it does not rotate"
            )
        if node <= previous:
            raise InvalidInput(
                "RotateEpoch.new_group_keys must be sorted by branch index, no repeats"
            )
        if type(key) is not bytes or len(key) != 32:
            raise InvalidInput("RotateEpoch new group keys are 32 bytes")
        previous = node


@attrs.frozen
class RotateEpoch:
    """Advance the tree epoch; the ``affected`` branches take the new epoch.

    ``new_group_keys`` optionally installs fresh group keys for affected
    branches (after a new key generation); without it the keys are kept, as
    after a refresh or reshare under the same group key.
    """

    kind: ClassVar[str] = "rotate_epoch"
    affected: tuple[int, ...] = attrs.field(validator=_sorted_unique_nodes)
    new_group_keys: tuple[tuple[int, bytes], ...] = attrs.field(default=(), validator=_new_keys)


TreeOp = AddLeaf | RemoveLeaf | ChangePolicy | RotateEpoch
_OP_KINDS = ("add_leaf", "remove_leaf", "change_policy", "rotate_epoch")


def op_to_canonical(op: TreeOp) -> dict[str, Any]:
    if type(op) is AddLeaf:
        return {"kind": op.kind, "leaf": op.leaf.to_canonical(), "under": op.under}
    if type(op) is RemoveLeaf:
        return {"kind": op.kind, "leaf": op.leaf.value, "reason": op.reason.value}
    if type(op) is ChangePolicy:
        return {"kind": op.kind, "node": op.node, "policy": policy_to_canonical(op.policy)}
    if type(op) is RotateEpoch:
        return {
            "kind": op.kind,
            "affected": list(op.affected),
            "keys": [[node, key] for node, key in op.new_group_keys],
        }
    raise InvalidInput(f"not a tree operation: {type(op).__name__}")


def op_from_canonical(value: object) -> TreeOp:
    """Strict inverse of :func:`op_to_canonical`."""
    if type(value) is not dict:
        raise InvalidEncoding(f"tree operation must be a map, got {type(value).__name__}")
    kind = read_choice(value.get("kind"), "tree operation kind", _OP_KINDS)
    try:
        if kind == "add_leaf":
            fields = read_map(value, "add_leaf", ("kind", "leaf", "under"))
            return AddLeaf(
                LeafNode.from_canonical(fields["leaf"]),
                read_uint(fields["under"], "add_leaf under", maximum=_MAX_BRANCHES - 1),
            )
        if kind == "remove_leaf":
            fields = read_map(value, "remove_leaf", ("kind", "leaf", "reason"))
            return RemoveLeaf(
                LeafId(read_uint(fields["leaf"], "remove_leaf leaf", maximum=U32_MAX)),
                RemovalReason(
                    read_choice(
                        fields["reason"], "removal reason", [r.value for r in RemovalReason]
                    )
                ),
            )
        if kind == "change_policy":
            fields = read_map(value, "change_policy", ("kind", "node", "policy"))
            return ChangePolicy(
                read_uint(fields["node"], "change_policy node", maximum=_MAX_BRANCHES - 1),
                policy_from_canonical(fields["policy"]),
            )
        fields = read_map(value, "rotate_epoch", ("kind", "affected", "keys"))
        affected = tuple(
            read_uint(item, "rotate_epoch affected", maximum=_MAX_BRANCHES - 1)
            for item in read_list(
                fields["affected"], "rotate_epoch affected", max_items=_MAX_BRANCHES
            )
        )
        keys = []
        for entry in read_list(fields["keys"], "rotate_epoch keys", max_items=_MAX_BRANCHES):
            pair = read_list(entry, "rotate_epoch key entry", max_items=2)
            if len(pair) != 2:
                raise InvalidEncoding("rotate_epoch key entries are [branch index, key]")
            keys.append(
                (
                    read_uint(pair[0], "rotate_epoch key branch", maximum=_MAX_BRANCHES - 1),
                    read_bytes(pair[1], "rotate_epoch key", size=32),
                )
            )
        return RotateEpoch(affected, tuple(keys))
    except InvalidEncoding:
        raise
    except InvalidInput as exc:
        raise InvalidEncoding(f"{kind}: {exc.message}") from None


# --------------------------------------------------------------------------- commitments


def leaf_commitment(leaf: LeafNode, epoch: int) -> bytes:
    """BLAKE3(LEAF tag, version, leaf id, epoch of its branch, role, device, key)."""
    return tagged_hash(
        _LEAF_DOMAIN,
        _VERSION_BYTE,
        _u32(leaf.leaf_id.value),
        _u64(epoch),
        leaf.role.value.encode("ascii"),
        leaf.device.raw,
        leaf.public_key,
    )


def branch_commitment(branch: BranchNode, children: Sequence[bytes]) -> bytes:
    """BLAKE3(BRANCH tag, version, index, epoch, policy hash, group key, children)."""
    return tagged_hash(
        _BRANCH_DOMAIN,
        _VERSION_BYTE,
        _u32(branch.index),
        _u64(branch.epoch),
        policy_hash(branch.policy),
        branch.group_key,
        _u32(len(children)),
        b"".join(children),
    )


def _state_commitment(epoch: int, height: int, root: bytes) -> bytes:
    return tagged_hash(_STATE_DOMAIN, _VERSION_BYTE, _u64(epoch), _u64(height), root)


@attrs.frozen
class BranchNode:
    """An interior node: who may sign for it (policy, group key) and its epoch."""

    index: int
    parent: int | None
    policy: Policy
    group_key: bytes
    epoch: int


# --------------------------------------------------------------------------- state


class TreeState:
    """One immutable point in a tree's history.

    Build one with :meth:`genesis` or :meth:`from_canonical`; get the next with
    :meth:`apply`. Successive states share the structures they do not change
    (copy on write); nothing is mutated after construction. Leaves are keyed
    internally by their integer id.
    """

    __slots__ = (
        "_branch_commitments",
        "_branch_leaves",
        "_branches",
        "_child_branches",
        "_device_index",
        "_key_index",
        "_leaf_commitments",
        "_leaf_parent",
        "_leaves",
        "commitment",
        "epoch",
        "height",
    )

    epoch: int
    height: int
    commitment: bytes
    _branches: tuple[BranchNode, ...]
    _child_branches: tuple[tuple[int, ...], ...]
    _leaves: dict[int, LeafNode]
    _leaf_parent: dict[int, int]
    _branch_leaves: tuple[tuple[int, ...], ...]
    _leaf_commitments: dict[int, bytes]
    _branch_commitments: tuple[bytes, ...]
    _device_index: dict[bytes, int]
    _key_index: dict[bytes, int]

    # ------------------------------------------------------------------ building

    @classmethod
    def genesis(
        cls,
        branches: Sequence[tuple[int | None, Policy, bytes]],
        leaves: Iterable[tuple[LeafNode, int]] = (),
    ) -> TreeState:
        """The initial tree: ``branches[i] = (parent, policy, group key)`` for index ``i``.

        Branch 0 is the root (parent ``None``); indices are breadth-first, so
        parents appear in non-decreasing order and before their children.
        """
        return cls._build(0, 0, [(p, pol, key, 0) for p, pol, key in branches], leaves)

    @classmethod
    def _build(
        cls,
        epoch: int,
        height: int,
        branches: Sequence[tuple[int | None, Policy, bytes, int]],
        leaves: Iterable[tuple[LeafNode, int]],
    ) -> TreeState:
        """A full build: every commitment computed (genesis and snapshot decoding only)."""
        if not branches or len(branches) > _MAX_BRANCHES:
            raise TreeOpInvalid(f"a tree has 1..{_MAX_BRANCHES} branches, got {len(branches)}")
        nodes: list[BranchNode] = []
        children: list[list[int]] = [[] for _ in branches]
        previous_parent = 0
        for index, (parent, policy, group_key, branch_epoch) in enumerate(branches):
            if index == 0:
                if parent is not None:
                    raise TreeOpInvalid("branch 0 is the root and has no parent")
            else:
                if type(parent) is not int or not 0 <= parent < index:
                    raise TreeOpInvalid(f"branch {index} must have a parent index below {index}")
                if parent < previous_parent:
                    raise TreeOpInvalid(
                        "branch indices must be breadth-first (parents non-decreasing)"
                    )
                previous_parent = parent
                children[parent].append(index)
            if type(group_key) is not bytes or len(group_key) != 32:
                raise TreeOpInvalid(f"branch {index} group key must be 32 bytes")
            if type(policy) not in (AnyPolicy, AllPolicy, ThresholdPolicy):
                raise TreeOpInvalid(f"branch {index} has no valid policy")
            if type(branch_epoch) is not int or not 0 <= branch_epoch <= epoch:
                raise TreeOpInvalid(f"branch {index} epoch must be in 0..{epoch}")
            nodes.append(BranchNode(index, parent, policy, group_key, branch_epoch))
        state = object.__new__(cls)
        state.epoch = epoch
        state.height = height
        state._branches = tuple(nodes)
        state._child_branches = tuple(tuple(c) for c in children)
        state._leaves = {}
        state._leaf_parent = {}
        state._device_index = {}
        state._key_index = {}
        branch_leaves: list[list[int]] = [[] for _ in branches]
        for leaf, under in leaves:
            if not isinstance(leaf, LeafNode):
                raise TreeOpInvalid("tree leaves must be LeafNode values")
            if type(under) is not int or not 0 <= under < len(nodes):
                raise TreeOpInvalid(f"{leaf.leaf_id} is under unknown branch {under!r:.20}")
            state._check_new_leaf(leaf)
            number = leaf.leaf_id.value
            state._leaves[number] = leaf
            state._leaf_parent[number] = under
            state._device_index[leaf.device.raw] = number
            state._key_index[leaf.public_key] = number
            branch_leaves[under].append(number)
        if len(state._leaves) > _MAX_LEAVES:
            raise TreeOpInvalid(f"a tree holds at most {_MAX_LEAVES} leaves")
        state._branch_leaves = tuple(tuple(sorted(group)) for group in branch_leaves)
        state._leaf_commitments = {
            number: leaf_commitment(leaf, nodes[state._leaf_parent[number]].epoch)
            for number, leaf in state._leaves.items()
        }
        commitments: list[bytes] = [b""] * len(nodes)
        for index in range(len(nodes) - 1, -1, -1):  # children have larger indices
            commitments[index] = state._compute_branch(index, commitments)
        state._branch_commitments = tuple(commitments)
        for index, node in enumerate(nodes):
            members = len(state._child_branches[index]) + len(state._branch_leaves[index])
            needed = node.policy.required_signers(members)
            if members and needed > members:
                raise TreeOpInvalid(
                    f"branch {index} needs {needed} signers but has {members} member(s)"
                )
        state.commitment = _state_commitment(epoch, height, commitments[0])
        return state

    def _check_new_leaf(self, leaf: LeafNode) -> None:
        if leaf.leaf_id.value in self._leaves:
            raise TreeOpInvalid(f"{leaf.leaf_id} already exists")
        if leaf.device.raw in self._device_index:
            raise TreeOpInvalid(f"{leaf.device} already has a leaf")
        if leaf.public_key in self._key_index:
            raise TreeOpInvalid(f"the public key of {leaf.leaf_id} is already used by another leaf")

    def _compute_branch(self, index: int, commitments: Sequence[bytes]) -> bytes:
        children = [commitments[child] for child in self._child_branches[index]]
        leaf_commitments = self._leaf_commitments
        children.extend([leaf_commitments[number] for number in self._branch_leaves[index]])
        return branch_commitment(self._branches[index], children)

    # ------------------------------------------------------------------ reading

    @property
    def root_commitment(self) -> bytes:
        """Commitment of branch 0 (the tree content without epoch and height)."""
        return self._branch_commitments[0]

    def branch(self, index: int) -> BranchNode:
        if type(index) is not int or not 0 <= index < len(self._branches):
            raise TreeOpInvalid(f"branch {index!r:.20} does not exist")
        return self._branches[index]

    @property
    def branches(self) -> tuple[BranchNode, ...]:
        return self._branches

    def branch_commitment(self, index: int) -> bytes:
        self.branch(index)
        return self._branch_commitments[index]

    def leaf(self, leaf_id: LeafId) -> LeafNode:
        leaf = self._leaves.get(leaf_id.value) if isinstance(leaf_id, LeafId) else None
        if leaf is None:
            raise TreeOpInvalid(f"{leaf_id} is not in the tree")
        return leaf

    def leaf_commitment(self, leaf_id: LeafId) -> bytes:
        self.leaf(leaf_id)
        return self._leaf_commitments[leaf_id.value]

    def parent_of(self, leaf_id: LeafId) -> int:
        self.leaf(leaf_id)
        return self._leaf_parent[leaf_id.value]

    def leaves(self) -> Iterator[LeafNode]:
        """All leaves, sorted by ``LeafId``."""
        for number in sorted(self._leaves):
            yield self._leaves[number]

    def __len__(self) -> int:
        return len(self._leaves)

    def leaves_under(self, index: int) -> tuple[LeafNode, ...]:
        """Leaves directly under a branch, in ``LeafId`` order."""
        self.branch(index)
        return tuple(self._leaves[number] for number in self._branch_leaves[index])

    def devices(self) -> tuple[LeafNode, ...]:
        return tuple(leaf for leaf in self.leaves() if leaf.role is LeafRole.DEVICE)

    def guardians(self) -> tuple[LeafNode, ...]:
        return tuple(leaf for leaf in self.leaves() if leaf.role is LeafRole.GUARDIAN)

    def leaf_for_device(self, device: DeviceId) -> LeafNode | None:
        number = self._device_index.get(device.raw)
        return None if number is None else self._leaves[number]

    def leaf_for_key(self, public_key: bytes) -> LeafNode | None:
        """The leaf holding ``public_key`` (to check a device-signed fact's signer)."""
        number = self._key_index.get(public_key)
        return None if number is None else self._leaves[number]

    def members(self, index: int) -> int:
        """Direct children of a branch (sub-branches and leaves)."""
        self.branch(index)
        return len(self._child_branches[index]) + len(self._branch_leaves[index])

    def required_signers(self, index: int) -> int:
        """Signers the branch's policy demands now: Any -> 1, All -> n, Threshold{m,n} -> m."""
        return self.branch(index).policy.required_signers(self.members(index))

    def ancestors(self, index: int) -> list[int]:
        """``index`` and every branch above it, bottom up."""
        path = [index]
        parent = self.branch(index).parent
        while parent is not None:
            path.append(parent)
            parent = self._branches[parent].parent
        return path

    def target_of(self, op: TreeOp) -> int:
        """The branch whose policy and group key govern ``op``."""
        if type(op) is AddLeaf:
            return self.branch(op.under).index
        if type(op) is RemoveLeaf:
            return self.parent_of(op.leaf)
        if type(op) is ChangePolicy:
            return self.branch(op.node).index
        if type(op) is RotateEpoch:
            paths = [self.ancestors(node) for node in op.affected]
            common = set(paths[0]).intersection(*paths[1:])
            return max(common)  # the deepest shared ancestor has the largest index
        raise InvalidInput(f"not a tree operation: {type(op).__name__}")

    # ------------------------------------------------------------------ applying

    def apply(self, op: TreeOp) -> TreeState:
        """The state after ``op``; raises :class:`TreeOpInvalid` if it does not apply."""
        if type(op) is AddLeaf:
            return self._add_leaf(op)
        if type(op) is RemoveLeaf:
            return self._remove_leaf(op)
        if type(op) is ChangePolicy:
            return self._change_policy(op)
        if type(op) is RotateEpoch:
            return self._rotate(op)
        raise InvalidInput(f"not a tree operation: {type(op).__name__}")

    def _successor(self) -> TreeState:
        nxt = object.__new__(TreeState)
        nxt.epoch = self.epoch
        nxt.height = self.height + 1
        nxt._branches = self._branches
        nxt._child_branches = self._child_branches
        nxt._leaves = self._leaves
        nxt._leaf_parent = self._leaf_parent
        nxt._branch_leaves = self._branch_leaves
        nxt._leaf_commitments = self._leaf_commitments
        nxt._device_index = self._device_index
        nxt._key_index = self._key_index
        return nxt

    def _finish(self, nxt: TreeState, dirty: Iterable[int]) -> TreeState:
        """Recompute the dirty branches bottom up (largest index first), then the state."""
        commitments = list(self._branch_commitments)
        for index in sorted(set(dirty), reverse=True):
            commitments[index] = nxt._compute_branch(index, commitments)
        nxt._branch_commitments = tuple(commitments)
        nxt.commitment = _state_commitment(nxt.epoch, nxt.height, commitments[0])
        return nxt

    def _with_group(self, under: int, group: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
        groups = list(self._branch_leaves)
        groups[under] = group
        return tuple(groups)

    def _add_leaf(self, op: AddLeaf) -> TreeState:
        under = self.branch(op.under).index
        leaf = op.leaf
        self._check_new_leaf(leaf)
        if len(self._leaves) >= _MAX_LEAVES:
            raise TreeOpInvalid(f"the tree already holds {_MAX_LEAVES} leaves")
        number = leaf.leaf_id.value
        nxt = self._successor()
        nxt._leaves = {**self._leaves, number: leaf}
        nxt._leaf_parent = {**self._leaf_parent, number: under}
        nxt._device_index = {**self._device_index, leaf.device.raw: number}
        nxt._key_index = {**self._key_index, leaf.public_key: number}
        group = list(self._branch_leaves[under])
        insort(group, number)
        nxt._branch_leaves = self._with_group(under, tuple(group))
        nxt._leaf_commitments = {
            **self._leaf_commitments,
            number: leaf_commitment(leaf, self._branches[under].epoch),
        }
        return self._finish(nxt, self.ancestors(under))

    def _remove_leaf(self, op: RemoveLeaf) -> TreeState:
        under = self.parent_of(op.leaf)
        remaining = self.members(under) - 1
        needed = self._branches[under].policy.required_signers(remaining)
        if remaining < needed:
            raise TreeOpInvalid(
                f"removing {op.leaf} would leave branch {under} with {remaining} member(s), "
                f"fewer than the {needed} its policy needs"
            )
        number = op.leaf.value
        leaf = self._leaves[number]
        nxt = self._successor()
        nxt._leaves = {k: v for k, v in self._leaves.items() if k != number}
        nxt._leaf_parent = {k: v for k, v in self._leaf_parent.items() if k != number}
        nxt._leaf_commitments = {k: v for k, v in self._leaf_commitments.items() if k != number}
        nxt._device_index = {k: v for k, v in self._device_index.items() if v != number}
        nxt._key_index = {k: v for k, v in self._key_index.items() if k != leaf.public_key}
        group = tuple(item for item in self._branch_leaves[under] if item != number)
        nxt._branch_leaves = self._with_group(under, group)
        return self._finish(nxt, self.ancestors(under))

    def _change_policy(self, op: ChangePolicy) -> TreeState:
        node = self.branch(op.node)
        members = self.members(op.node)
        if op.policy.required_signers(members) > max(members, 1):
            raise TreeOpInvalid(
                f"branch {op.node} has {members} member(s); a threshold of "
                f"{op.policy.required_signers(members)} could never sign"
            )
        nxt = self._successor()
        branches = list(self._branches)
        branches[op.node] = attrs.evolve(node, policy=op.policy)
        nxt._branches = tuple(branches)
        return self._finish(nxt, self.ancestors(op.node))

    def _rotate(self, op: RotateEpoch) -> TreeState:
        for index in op.affected:
            self.branch(index)
        if self.epoch >= 2**64 - 1:
            raise TreeOpInvalid("tree epoch overflow")
        new_keys = dict(op.new_group_keys)
        nxt = self._successor()
        nxt.epoch = self.epoch + 1
        branches = list(self._branches)
        for index in op.affected:
            branches[index] = attrs.evolve(
                branches[index],
                epoch=nxt.epoch,
                group_key=new_keys.get(index, branches[index].group_key),
            )
        nxt._branches = tuple(branches)
        leaf_commitments = dict(self._leaf_commitments)
        for index in op.affected:
            for number in self._branch_leaves[index]:
                leaf_commitments[number] = leaf_commitment(self._leaves[number], nxt.epoch)
        nxt._leaf_commitments = leaf_commitments
        dirty: set[int] = set()
        for index in op.affected:
            dirty.update(self.ancestors(index))
        return self._finish(nxt, dirty)

    # ------------------------------------------------------------------ canonical form

    def to_canonical(self) -> dict[str, Any]:
        """Full content (for snapshots); commitments are recomputed when read back."""
        return {
            "epoch": self.epoch,
            "height": self.height,
            "branches": [
                [node.parent, policy_to_canonical(node.policy), node.group_key, node.epoch]
                for node in self._branches
            ],
            "leaves": [
                [leaf.to_canonical(), self._leaf_parent[leaf.leaf_id.value]]
                for leaf in self.leaves()
            ],
        }

    @classmethod
    def from_canonical(cls, value: object) -> TreeState:
        fields = read_map(value, "tree state", ("epoch", "height", "branches", "leaves"))
        epoch = read_uint(fields["epoch"], "tree epoch")
        height = read_uint(fields["height"], "tree height")
        branches = []
        for entry in read_list(fields["branches"], "tree branches", max_items=_MAX_BRANCHES):
            item = read_list(entry, "tree branch", max_items=4)
            if len(item) != 4:
                raise InvalidEncoding("a tree branch is [parent, policy, group key, epoch]")
            parent = (
                None
                if item[0] is None
                else read_uint(item[0], "branch parent", maximum=_MAX_BRANCHES)
            )
            branches.append(
                (
                    parent,
                    policy_from_canonical(item[1]),
                    read_bytes(item[2], "branch group key", size=32),
                    read_uint(item[3], "branch epoch"),
                )
            )
        leaves = []
        for entry in read_list(fields["leaves"], "tree leaves", max_items=_MAX_LEAVES):
            item = read_list(entry, "tree leaf entry", max_items=2)
            if len(item) != 2:
                raise InvalidEncoding("a tree leaf entry is [leaf, branch index]")
            leaves.append(
                (
                    LeafNode.from_canonical(item[0]),
                    read_uint(item[1], "leaf branch", maximum=_MAX_BRANCHES),
                )
            )
        try:
            return cls._build(epoch, height, branches, leaves)
        except TreeOpInvalid as exc:
            raise InvalidEncoding(f"tree state: {exc.message}") from None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TreeState):
            return NotImplemented
        return self.commitment == other.commitment

    def __hash__(self) -> int:
        return hash(self.commitment)

    def __repr__(self) -> str:
        return (
            f"TreeState(epoch={self.epoch}, height={self.height}, leaves={len(self._leaves)}, "
            f"commitment={self.commitment.hex()[:16]}…)"
        )
