"""Signed commitment-tree facts: the genesis and attested operations.

An :class:`AttestedOp` is a tree operation, the epoch and commitment of the
state it applies to, and a threshold signature by the group key of the
branch that governs it. The signed message is the fact attestation message,
which binds the namespace, the operation, its parent, the group key and the
claimed signer count, so none of them can be swapped after signing.

Verification has two steps: (1) the signature verifies under the group key
the tree holds for the governing branch, with at least as many signers as
its policy requires; (2) the parent epoch and commitment match the state the
operation is applied to. Each failure has its own error.
"""

from __future__ import annotations

import itertools
from typing import Any, ClassVar, Self

import attrs

from aura_core.canonical_fields import U64_MAX, read_bytes, read_list, read_map, read_uint
from aura_core.errors import InvalidEncoding, InvalidInput
from aura_core.hashing import tagged_hash
from aura_journal.attestation import ThresholdAttestation
from aura_journal.commitment_tree import (
    LeafNode,
    Policy,
    TreeOp,
    TreeState,
    op_from_canonical,
    op_to_canonical,
    policy_from_canonical,
    policy_to_canonical,
)
from aura_journal.errors import (
    AttestationRequired,
    GroupKeyMismatch,
    InsufficientSigners,
    StaleParent,
    TreeOpInvalid,
)
from aura_journal.facts import Fact, FactMetadata
from aura_journal.namespace import JournalNamespace

__all__ = [
    "TREE_GENESIS_TYPE_ID",
    "TREE_OP_TYPE_ID",
    "AttestedOp",
    "BranchSpec",
    "TreeGenesis",
    "TreeOpBody",
    "check_attested_op",
    "op_hash",
    "verify_attested_op",
]

TREE_GENESIS_TYPE_ID = "tree.genesis"
TREE_OP_TYPE_ID = "tree.op"
_OP_HASH_DOMAIN = "AURA_TREE_OP_HASH_V1"


def op_hash(payload: bytes) -> bytes:
    """H(op): BLAKE3 of the canonical operation body (op + parent), used by the max-H rule."""
    return tagged_hash(_OP_HASH_DOMAIN, payload)


@attrs.frozen
class BranchSpec:
    """A branch at genesis: its parent index (``None`` for the root), policy and group key."""

    parent: int | None
    policy: Policy
    group_key: bytes


@attrs.frozen
class TreeGenesis:
    """The first state of an authority's tree, signed by the root group key."""

    TYPE_ID: ClassVar[str] = TREE_GENESIS_TYPE_ID
    branches: tuple[BranchSpec, ...]
    leaves: tuple[tuple[LeafNode, int], ...]
    _state: TreeState = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if type(self.branches) is not tuple or type(self.leaves) is not tuple:
            raise InvalidInput("TreeGenesis.branches and .leaves must be tuples")
        for spec in self.branches:
            if not isinstance(spec, BranchSpec):
                raise InvalidInput("TreeGenesis.branches must hold BranchSpec values")
        ids = [entry[0].leaf_id for entry in self.leaves if isinstance(entry, tuple) and entry]
        if any(a >= b for a, b in itertools.pairwise(ids)):
            raise InvalidInput("genesis leaves must be sorted by leaf id (use TreeGenesis.of)")
        state = TreeState.genesis(
            [(spec.parent, spec.policy, spec.group_key) for spec in self.branches], self.leaves
        )
        object.__setattr__(self, "_state", state)

    @property
    def state(self) -> TreeState:
        return self._state

    @property
    def root_key(self) -> bytes:
        return self.branches[0].group_key

    def to_canonical(self) -> dict[str, Any]:
        return {
            "branches": [
                [spec.parent, policy_to_canonical(spec.policy), spec.group_key]
                for spec in self.branches
            ],
            "leaves": [[leaf.to_canonical(), under] for leaf, under in self.leaves],
        }

    @classmethod
    def from_canonical(cls, value: Any) -> Self:
        fields = read_map(value, "tree genesis", ("branches", "leaves"))
        branches = []
        for entry in read_list(fields["branches"], "genesis branches", max_items=256):
            item = read_list(entry, "genesis branch", max_items=3)
            if len(item) != 3:
                raise InvalidEncoding("a genesis branch is [parent, policy, group key]")
            parent = (
                None
                if item[0] is None
                else read_uint(item[0], "genesis branch parent", maximum=255)
            )
            branches.append(
                BranchSpec(
                    parent,
                    policy_from_canonical(item[1]),
                    read_bytes(item[2], "genesis group key", size=32),
                )
            )
        leaves = []
        for entry in read_list(fields["leaves"], "genesis leaves", max_items=4096):
            item = read_list(entry, "genesis leaf", max_items=2)
            if len(item) != 2:
                raise InvalidEncoding("a genesis leaf is [leaf, branch index]")
            leaves.append(
                (
                    LeafNode.from_canonical(item[0]),
                    read_uint(item[1], "genesis leaf branch", maximum=255),
                )
            )
        ids = [leaf.leaf_id for leaf, _ in leaves]
        if any(a >= b for a, b in itertools.pairwise(ids)):
            raise InvalidEncoding("genesis leaves must be sorted by leaf id with no repeats")
        try:
            return cls(tuple(branches), tuple(leaves))
        except (TreeOpInvalid, InvalidInput) as exc:
            raise InvalidEncoding(f"tree genesis: {exc.message}") from None

    @classmethod
    def of(cls, branches: list[BranchSpec], leaves: list[tuple[LeafNode, int]]) -> Self:
        """Build with leaves put in canonical (``LeafId``) order."""
        return cls(tuple(branches), tuple(sorted(leaves, key=lambda entry: entry[0].leaf_id)))


def _u64(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not int or not 0 <= value <= U64_MAX:
        raise InvalidInput(f"{attribute.name} must be a u64")


def _hash32(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not bytes or len(value) != 32:
        raise InvalidInput(f"{attribute.name} must be 32 bytes")


@attrs.frozen
class TreeOpBody:
    """The signed content of an attested operation: the op and the state it extends."""

    TYPE_ID: ClassVar[str] = TREE_OP_TYPE_ID
    op: TreeOp
    parent_epoch: int = attrs.field(validator=_u64)
    parent_commitment: bytes = attrs.field(validator=_hash32)

    def to_canonical(self) -> dict[str, Any]:
        return {
            "op": op_to_canonical(self.op),
            "parent_epoch": self.parent_epoch,
            "parent_commitment": self.parent_commitment,
        }

    @classmethod
    def from_canonical(cls, value: Any) -> Self:
        fields = read_map(value, "tree operation body", ("op", "parent_epoch", "parent_commitment"))
        return cls(
            op_from_canonical(fields["op"]),
            read_uint(fields["parent_epoch"], "parent_epoch"),
            read_bytes(fields["parent_commitment"], "parent_commitment", size=32),
        )

    @classmethod
    def on(cls, op: TreeOp, parent: TreeState) -> Self:
        """``op`` proposed against ``parent``."""
        return cls(op, parent.epoch, parent.commitment)


@attrs.frozen
class AttestedOp:
    """A tree-operation fact seen as (op, parent epoch, parent commitment, signature, signers)."""

    fact: Fact
    body: TreeOpBody
    attestation: ThresholdAttestation

    @classmethod
    def from_fact(cls, fact: Fact, body: TreeOpBody | None = None) -> Self:
        if fact.type_id != TREE_OP_TYPE_ID:
            raise InvalidInput(f"expected a {TREE_OP_TYPE_ID} fact, got {fact.type_id}")
        if type(fact.attestation) is not ThresholdAttestation:
            raise AttestationRequired("a tree operation needs a threshold attestation")
        if body is None:
            cached = fact.cached_body
            body = (
                cached
                if isinstance(cached, TreeOpBody)
                else TreeOpBody.from_canonical(fact.payload_value())
            )
        return cls(fact, body, fact.attestation)

    @staticmethod
    def propose(op: TreeOp, parent: TreeState, metadata: FactMetadata) -> Fact:
        """The unsigned fact for ``op`` on ``parent``; sign ``fact.threshold_message(...)``."""
        return Fact.create(TreeOpBody.on(op, parent), metadata)

    @property
    def op(self) -> TreeOp:
        return self.body.op

    @property
    def parent_epoch(self) -> int:
        return self.body.parent_epoch

    @property
    def parent_commitment(self) -> bytes:
        return self.body.parent_commitment

    @property
    def group_public_key(self) -> bytes:
        return self.attestation.group_public_key

    @property
    def signer_count(self) -> int:
        return self.attestation.signer_count

    @property
    def op_hash(self) -> bytes:
        return op_hash(self.fact.payload)

    def binding_message(self, namespace: JournalNamespace) -> bytes:
        """What the group signed: namespace, op, parent, group key and signer count."""
        return self.fact.attestation_message(namespace)


def verify_attested_op(
    attested: AttestedOp,
    namespace: JournalNamespace,
    group_key: bytes,
    required_signers: int,
    *,
    verify_signature: bool = True,
) -> None:
    """Step 1: the governing group key signed it, with enough signers."""
    if verify_signature:
        attested.attestation.verify(attested.binding_message(namespace))
    if attested.group_public_key != group_key:
        raise GroupKeyMismatch(
            f"tree operation is signed by group key {attested.group_public_key.hex()[:16]}…, "
            f"but the governing branch's key is {group_key.hex()[:16]}…"
        )
    if attested.signer_count < required_signers:
        raise InsufficientSigners(
            f"tree operation has {attested.signer_count} signer(s); the policy requires {required_signers}"
        )


def check_attested_op(
    state: TreeState,
    attested: AttestedOp,
    namespace: JournalNamespace,
    *,
    verify_signature: bool = True,
) -> TreeState:
    """Both verification steps against ``state``, then apply; returns the next state."""
    if verify_signature:
        attested.attestation.verify(attested.binding_message(namespace))
    if attested.parent_epoch != state.epoch or attested.parent_commitment != state.commitment:
        raise StaleParent(
            f"tree operation extends epoch {attested.parent_epoch} / commitment "
            f"{attested.parent_commitment.hex()[:16]}…, but the state is epoch {state.epoch} / "
            f"{state.commitment.hex()[:16]}…"
        )
    target = state.target_of(attested.op)
    verify_attested_op(
        attested,
        namespace,
        state.branch(target).group_key,
        state.required_signers(target),
        verify_signature=False,
    )
    return state.apply(attested.op)
