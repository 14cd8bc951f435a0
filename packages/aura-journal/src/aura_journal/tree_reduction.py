"""Reducing tree facts to the current commitment tree.

Every attested operation names the state it extends, so the operations form
a tree of states rooted at the genesis. Reduction evaluates each operation
once, against the state it names (whenever that state becomes known), and
keeps every state reached. Where several valid operations extend one state,
the one with the largest ``H(op)`` wins (content id breaks ties) and the
others are ignored; the current tree is the end of the winning path from the
winning genesis (again the largest hash). All of this depends only on the
set of facts, not on the order they arrived in.

Incremental cost: a new operation on the current head costs one
``TreeState.apply`` (work along one root path). An operation that displaces
the winner at an older state re-walks the winning path from there, reusing
states already computed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from aura_core.errors import AuraError
from aura_journal.attestation import ThresholdAttestation
from aura_journal.attested_op import (
    TREE_GENESIS_TYPE_ID,
    TREE_OP_TYPE_ID,
    AttestedOp,
    TreeGenesis,
    TreeOpBody,
    op_hash,
)
from aura_journal.commitment_tree import TreeState
from aura_journal.errors import (
    AttestationRequired,
    GroupKeyMismatch,
    InsufficientSigners,
    StaleParent,
    UnknownParent,
)
from aura_journal.fact_registry import FactType
from aura_journal.facts import Fact
from aura_journal.namespace import JournalNamespace

if TYPE_CHECKING:
    from aura_journal.journal import Journal

__all__ = [
    "COMMITMENT_TREE",
    "CommitmentTreeReducer",
    "TreeReduction",
    "admit_tree_op",
    "evaluate_op",
    "tree_fact_types",
]

Rank = tuple[bytes, bytes]
"""(H(op) or H(genesis), content id): larger wins."""
_Candidate = tuple[Rank, TreeOpBody, ThresholdAttestation]


class TreeReduction:
    """The reducer's state: every tree state reached, the winners, and the head."""

    def __init__(self, anchor: TreeState | None = None) -> None:
        self._states: dict[bytes, TreeState] = {}
        self._roots: dict[bytes, Rank] = {}
        self._best: dict[bytes, tuple[Rank, bytes]] = {}
        self._pending: dict[bytes, list[_Candidate]] = {}
        self._rejected: dict[bytes, str] = {}
        self._chain: list[bytes] = []
        self._position: dict[bytes, int] = {}
        self._anchor = anchor
        if anchor is not None:
            self._states[anchor.commitment] = anchor
            self._reset_chain(anchor.commitment)

    # ------------------------------------------------------------------ reading

    @property
    def head(self) -> TreeState | None:
        """The current tree, or ``None`` before any genesis."""
        return self._states[self._chain[-1]] if self._chain else None

    @property
    def history(self) -> tuple[TreeState, ...]:
        """The winning path from the genesis (or snapshot anchor) to the head."""
        return tuple(self._states[commitment] for commitment in self._chain)

    def state_at(self, commitment: bytes) -> TreeState | None:
        """Any state reached (on the winning path or not) by its commitment."""
        return self._states.get(commitment)

    def is_on_path(self, commitment: bytes) -> bool:
        return commitment in self._position

    @property
    def rejected(self) -> dict[bytes, str]:
        """Content ids of operations invalid against the state they name, with the reason."""
        return dict(self._rejected)

    @property
    def waiting(self) -> int:
        """Operations whose parent state is not known yet."""
        return sum(len(items) for items in self._pending.values())

    def states(self) -> Iterator[TreeState]:
        return iter(self._states.values())

    # ------------------------------------------------------------------ folding

    def add_genesis(self, fact: Fact, body: TreeGenesis) -> None:
        if self._anchor is not None:
            return  # a snapshot fixed the starting point
        state = body.state
        rank = (op_hash(fact.payload), fact.cid.raw)
        current = self._roots.get(state.commitment)
        if current is None or rank > current:
            self._roots[state.commitment] = rank
        self._states.setdefault(state.commitment, state)
        winner = max(self._roots.items(), key=lambda item: item[1])[0]
        if not self._chain or self._chain[0] != winner:
            self._reset_chain(winner)
        self._release(state.commitment)

    def add_op(self, fact: Fact, body: TreeOpBody) -> None:
        rank = (op_hash(fact.payload), fact.cid.raw)
        attestation = fact.attestation
        if type(attestation) is not ThresholdAttestation:
            self._rejected[fact.cid.raw] = "tree operation without a threshold attestation"
            return
        if body.parent_commitment in self._states:
            self._evaluate(rank, body, attestation)
        else:
            self._pending.setdefault(body.parent_commitment, []).append((rank, body, attestation))

    def _evaluate(self, rank: Rank, body: TreeOpBody, attestation: ThresholdAttestation) -> None:
        work: list[_Candidate] = [(rank, body, attestation)]
        while work:
            rank, body, attestation = work.pop()
            parent = self._states[body.parent_commitment]
            try:
                child = evaluate_op(parent, body, attestation)
            except AuraError as exc:
                self._rejected[rank[1]] = exc.message
                continue
            self._states.setdefault(child.commitment, child)
            best = self._best.get(parent.commitment)
            if best is None or rank > best[0]:
                self._best[parent.commitment] = (rank, child.commitment)
                self._rewalk(parent.commitment)
            work.extend(self._pending.pop(child.commitment, ()))

    def _release(self, commitment: bytes) -> None:
        waiting = self._pending.pop(commitment, None)
        for rank, body, attestation in waiting or ():
            self._evaluate(rank, body, attestation)

    def _reset_chain(self, root: bytes) -> None:
        self._chain = [root]
        self._position = {root: 0}
        self._rewalk(root)

    def _rewalk(self, commitment: bytes) -> None:
        position = self._position.get(commitment)
        if position is None:
            return
        for dropped in self._chain[position + 1 :]:
            del self._position[dropped]
        del self._chain[position + 1 :]
        current = commitment
        while current in self._best:
            current = self._best[current][1]
            self._position[current] = len(self._chain)
            self._chain.append(current)


def evaluate_op(
    parent: TreeState, body: TreeOpBody, attestation: ThresholdAttestation
) -> TreeState:
    """The state-dependent checks of an operation whose signature is already verified."""
    if body.parent_epoch != parent.epoch:
        raise StaleParent(
            f"tree operation names epoch {body.parent_epoch} for a state at epoch {parent.epoch}"
        )
    target = parent.target_of(body.op)
    branch = parent.branch(target)
    if attestation.group_public_key != branch.group_key:
        raise GroupKeyMismatch(
            f"tree operation is signed by group key {attestation.group_public_key.hex()[:16]}…, "
            f"but branch {target} holds {branch.group_key.hex()[:16]}…"
        )
    needed = parent.required_signers(target)
    if attestation.signer_count < needed:
        raise InsufficientSigners(
            f"tree operation has {attestation.signer_count} signer(s); branch {target}'s policy requires {needed}"
        )
    return parent.apply(body.op)


class CommitmentTreeReducer:
    """Reducer from ``tree.genesis`` and ``tree.op`` facts to a :class:`TreeReduction`."""

    name = "commitment_tree"
    fact_types = frozenset({TREE_GENESIS_TYPE_ID, TREE_OP_TYPE_ID})

    def initial(self) -> TreeReduction:
        return TreeReduction()

    def apply(self, state: TreeReduction, fact: Fact, body: Any) -> TreeReduction:
        if isinstance(body, TreeGenesis):
            state.add_genesis(fact, body)
        elif isinstance(body, TreeOpBody):
            state.add_op(fact, body)
        return state

    def encode_state(self, state: TreeReduction) -> Any:
        head = state.head
        return None if head is None else head.to_canonical()

    def decode_state(self, value: Any) -> TreeReduction:
        return TreeReduction(None if value is None else TreeState.from_canonical(value))


COMMITMENT_TREE = CommitmentTreeReducer()


def admit_tree_op(journal: Journal, fact: Fact, body: TreeOpBody) -> None:
    """Admission: the parent state must be known and the operation valid against it."""
    reduction: TreeReduction = journal.state(COMMITMENT_TREE.name)
    parent = reduction.state_at(body.parent_commitment)
    if parent is None:
        raise UnknownParent(
            f"tree operation extends commitment {body.parent_commitment.hex()[:16]}…, "
            "which no known tree state has"
        )
    attested = AttestedOp.from_fact(fact, body)
    evaluate_op(parent, attested.body, attested.attestation)


def _check_genesis(fact: Fact, body: TreeGenesis, namespace: JournalNamespace) -> None:
    attestation = fact.attestation
    if type(attestation) is not ThresholdAttestation:
        raise AttestationRequired(
            "a tree genesis needs a threshold attestation by the root group key"
        )
    if attestation.group_public_key != body.root_key:
        raise GroupKeyMismatch("a tree genesis must be signed by the root group key it names")
    needed = body.state.required_signers(0)
    if attestation.signer_count < needed:
        raise InsufficientSigners(
            f"tree genesis has {attestation.signer_count} signer(s); the root policy requires {needed}"
        )


def tree_fact_types() -> tuple[FactType, FactType]:
    """The fact types of the commitment tree (authority journals, threshold-signed)."""
    threshold = frozenset({"threshold"})
    authority = frozenset({"authority"})
    return (
        FactType.for_body(
            TreeGenesis, attestations=threshold, namespaces=authority, validate=_check_genesis
        ),
        FactType.for_body(
            TreeOpBody, attestations=threshold, namespaces=authority, admit=admit_tree_op
        ),
    )
