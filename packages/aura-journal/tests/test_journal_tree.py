"""Commitment tree: operations, incremental commitments, attested-op verification, max-H."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from aura_core.crypto import (
    SigningPackage,
    aggregate,
    commit,
    key_package_from_secret_share,
    sign,
    trusted_dealer_keygen,
)
from aura_core.dag_cbor import encode
from aura_core.errors import InvalidEncoding, InvalidInput
from aura_core.identifiers import AuthorityId, DeviceId
from aura_core.time_domains import PhysicalTime
from aura_journal import (
    ALL,
    ANY,
    AddLeaf,
    AttestationInvalid,
    AttestedOp,
    BranchSpec,
    ChangePolicy,
    Fact,
    FactMetadata,
    GroupKeyMismatch,
    InsufficientSigners,
    Journal,
    JournalNamespace,
    LeafId,
    LeafNode,
    LeafRole,
    RemovalReason,
    RemoveLeaf,
    RotateEpoch,
    StaleParent,
    ThresholdAttestation,
    ThresholdPolicy,
    TreeGenesis,
    TreeOpBody,
    TreeOpInvalid,
    TreeState,
    UnknownParent,
    check_attested_op,
    default_registry,
    op_hash,
    order_time_from_entropy,
    reduce_facts,
    verify_attested_op,
)

NAMESPACE = JournalNamespace.authority(AuthorityId(b"\x01" * 16))


class SeededRandom:
    def __init__(self, seed: int) -> None:
        self._seed = seed.to_bytes(16, "little")
        self._counter = 0

    def random_bytes(self, n: int) -> bytes:
        self._counter += 1
        return hashlib.shake_256(self._seed + self._counter.to_bytes(8, "little")).digest(n)


class FrostGroup:
    """A t-of-n FROST group from the trusted dealer; signs with any chosen subset."""

    def __init__(self, n: int, t: int, seed: int) -> None:
        shares, self.public = trusted_dealer_keygen(n, t, SeededRandom(seed))
        self.keys = {s.identifier: key_package_from_secret_share(s) for s in shares}
        self.key = bytes(self.public.verifying_key)
        self.t = t
        self._rng = SeededRandom(seed + 1)

    def attest(self, fact: Fact, signers: int | None = None, claim: int | None = None) -> Fact:
        count = self.t if signers is None else signers
        claimed = count if claim is None else claim
        message = fact.threshold_message(NAMESPACE, self.key, claimed)
        chosen = sorted(self.keys)[:count]
        nonces = {i: commit(self.keys[i], self._rng) for i in chosen}
        package = SigningPackage.from_unsorted([c for _, c in nonces.values()], message)
        shares = [sign(package, nonces[i][0], self.keys[i]) for i in chosen]
        return fact.with_threshold_signature(
            self.key, aggregate(package, shares, self.public), claimed
        )


def meta(label: object) -> FactMetadata:
    order = order_time_from_entropy(hashlib.sha256(repr(label).encode()).digest())
    return FactMetadata(order, PhysicalTime(1_700_000_000_000))


def leaf(i: int, role: LeafRole = LeafRole.DEVICE) -> LeafNode:
    key = SigningKey(hashlib.sha256(b"leaf%d" % i).digest()).verify_key
    return LeafNode(
        LeafId(i), DeviceId(hashlib.sha256(b"device%d" % i).digest()[:16]), role, bytes(key)
    )


GROUP = FrostGroup(3, 2, seed=11)


def genesis_fact(
    group: FrostGroup = GROUP, policy=None, leaves=(1, 2, 3), label="genesis", signers=None
) -> Fact:
    body = TreeGenesis.of(
        [BranchSpec(None, policy or ThresholdPolicy(2, 3), group.key)],
        [(leaf(i), 0) for i in leaves],
    )
    return group.attest(Fact.create(body, meta(label)), signers=signers)


def op_fact(op, parent: TreeState, group: FrostGroup = GROUP, label: object = None, **kw) -> Fact:
    fact = AttestedOp.propose(op, parent, meta(label if label is not None else ("op", repr(op))))
    return group.attest(fact, **kw)


def new_journal(genesis: Fact | None = None) -> Journal:
    journal = Journal(NAMESPACE, default_registry())
    journal.add(genesis or genesis_fact())
    return journal


def head(journal: Journal) -> TreeState:
    state = journal.state("commitment_tree").head
    assert state is not None
    return state


def rebuilt(state: TreeState) -> TreeState:
    return TreeState.from_canonical(state.to_canonical())


# --------------------------------------------------------------------------- the tree itself


def test_policy_required_signers():
    assert ANY.required_signers(5) == 1
    assert ALL.required_signers(5) == 5
    assert ThresholdPolicy(2, 3).required_signers(5) == 2
    with pytest.raises(InvalidInput):
        ThresholdPolicy(4, 3)
    with pytest.raises(InvalidInput):
        ThresholdPolicy(0, 3)


def test_genesis_layout_is_breadth_first_and_leaves_sorted():
    key = GROUP.key
    state = TreeState.genesis(
        [(None, ANY, key), (0, ANY, key), (0, ANY, key), (1, ANY, key)],
        [(leaf(9), 1), (leaf(4), 1), (leaf(7, LeafRole.GUARDIAN), 2), (leaf(1), 3)],
    )
    assert [leaf.leaf_id.value for leaf in state.leaves_under(1)] == [4, 9]
    assert [leaf.leaf_id.value for leaf in state.leaves()] == [1, 4, 7, 9]
    assert [g.leaf_id.value for g in state.guardians()] == [7]
    assert state.ancestors(3) == [3, 1, 0]
    assert state.members(0) == 2 and state.members(1) == 3  # branch 3 and two leaves
    for bad in (
        [(0, ANY, key)],  # root with a parent
        [(None, ANY, key), (1, ANY, key)],  # parent not below index
        [(None, ANY, key), (0, ANY, key), (1, ANY, key), (0, ANY, key)],  # not breadth-first
        [(None, ANY, b"short")],
    ):
        with pytest.raises(TreeOpInvalid):
            TreeState.genesis(bad)
    with pytest.raises(TreeOpInvalid):
        TreeState.genesis([(None, ANY, key)], [(leaf(1), 0), (leaf(1), 0)])
    with pytest.raises(TreeOpInvalid):
        TreeState.genesis([(None, ThresholdPolicy(3, 3), key)], [(leaf(1), 0)])


def test_commitment_binds_every_part_of_the_state():
    base = TreeState.genesis([(None, ANY, GROUP.key)], [(leaf(1), 0)])
    variants = [
        TreeState.genesis([(None, ALL, GROUP.key)], [(leaf(1), 0)]),
        TreeState.genesis([(None, ANY, b"\x09" * 32)], [(leaf(1), 0)]),
        TreeState.genesis([(None, ANY, GROUP.key)], [(leaf(2), 0)]),
        TreeState.genesis([(None, ANY, GROUP.key)], [(leaf(1, LeafRole.GUARDIAN), 0)]),
        base.apply(RotateEpoch((0,))),
    ]
    commitments = {state.commitment for state in [base, *variants]}
    assert len(commitments) == len(variants) + 1
    # add then remove restores the content but not the commitment (height grows)
    again = base.apply(AddLeaf(leaf(2), 0)).apply(RemoveLeaf(LeafId(2), RemovalReason.LEFT))
    assert again.root_commitment == base.root_commitment
    assert again.commitment != base.commitment


op_choices = st.lists(
    st.tuples(
        st.sampled_from(["add", "remove", "policy", "rotate"]),
        st.integers(0, 30),
        st.integers(0, 2),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(op_choices)
def test_incremental_commitments_equal_a_full_rebuild(choices):
    key = GROUP.key
    state = TreeState.genesis(
        [(None, ANY, key), (0, ThresholdPolicy(1, 2), key), (0, ANY, key)],
        [(leaf(100), 1), (leaf(101), 1), (leaf(102), 2)],
    )
    for kind, number, branch in choices:
        if kind == "add":
            op = AddLeaf(leaf(number), branch)
        elif kind == "remove":
            op = RemoveLeaf(LeafId(number + 100 if number % 2 else number), RemovalReason.REVOKED)
        elif kind == "policy":
            op = ChangePolicy(branch, [ANY, ALL, ThresholdPolicy(1, 1)][number % 3])
        else:
            op = RotateEpoch(tuple(sorted({branch, number % 3})))
        try:
            nxt = state.apply(op)
        except TreeOpInvalid:
            continue
        full = rebuilt(nxt)
        assert full.commitment == nxt.commitment
        assert [full.branch_commitment(i) for i in range(3)] == [
            nxt.branch_commitment(i) for i in range(3)
        ]
        assert nxt.height == state.height + 1
        state = nxt


def test_apply_refuses_invalid_operations():
    state = TreeState.genesis(
        [(None, ThresholdPolicy(2, 3), GROUP.key)], [(leaf(i), 0) for i in (1, 2, 3)]
    )
    cases = [
        AddLeaf(leaf(1), 0),  # duplicate id
        AddLeaf(LeafNode(LeafId(50), leaf(2).device, LeafRole.DEVICE, leaf(50).public_key), 0),
        AddLeaf(LeafNode(LeafId(51), leaf(51).device, LeafRole.DEVICE, leaf(3).public_key), 0),
        AddLeaf(leaf(4), 7),  # unknown branch
        RemoveLeaf(LeafId(99), RemovalReason.LOST),
        ChangePolicy(0, ThresholdPolicy(4, 4)),  # more signers than members
    ]
    for op in cases:
        with pytest.raises(TreeOpInvalid):
            state.apply(op)
    state = state.apply(RemoveLeaf(LeafId(3), RemovalReason.LOST))
    with pytest.raises(TreeOpInvalid, match="fewer than"):
        state.apply(RemoveLeaf(LeafId(2), RemovalReason.LOST))  # would leave 1 < 2


def test_rotate_epoch_installs_keys_and_moves_epochs():
    other = FrostGroup(2, 2, seed=23)
    state = TreeState.genesis(
        [(None, ANY, GROUP.key), (0, ANY, GROUP.key)], [(leaf(1), 1), (leaf(2), 0)]
    )
    rotated = state.apply(RotateEpoch((1,), ((1, other.key),)))
    assert rotated.epoch == 1
    assert rotated.branch(1).epoch == 1 and rotated.branch(0).epoch == 0
    assert rotated.branch(1).group_key == other.key and rotated.branch(0).group_key == GROUP.key
    assert rotated.leaf_commitment(LeafId(1)) != state.leaf_commitment(LeafId(1))
    assert rotated.leaf_commitment(LeafId(2)) == state.leaf_commitment(LeafId(2))
    assert rotated.target_of(RotateEpoch((1,))) == 1
    assert rotated.target_of(RotateEpoch((0, 1))) == 0
    with pytest.raises(InvalidInput):
        RotateEpoch((1,), ((0, other.key),))  # a key for a branch it does not rotate
    with pytest.raises(InvalidInput):
        RotateEpoch((1, 1))


def test_states_are_immutable_values():
    state = TreeState.genesis([(None, ANY, GROUP.key)], [(leaf(1), 0)])
    before = state.to_canonical()
    state.apply(AddLeaf(leaf(2), 0))
    assert state.to_canonical() == before
    assert len(state) == 1


def test_tree_state_decoding_is_strict():
    state = TreeState.genesis([(None, ANY, GROUP.key)], [(leaf(1), 0)])
    good = state.to_canonical()
    for bad in (
        {**good, "extra": 1},
        {**good, "branches": [[None, {"kind": "any"}, b"k" * 32]]},
        {**good, "leaves": [[leaf(1).to_canonical(), 5]]},
        {**good, "branches": [[1, {"kind": "any"}, b"k" * 32, 0]]},
    ):
        with pytest.raises(InvalidEncoding):
            TreeState.from_canonical(bad)


# --------------------------------------------------------------------------- attested operations


def test_frost_signed_operations_extend_the_tree():
    journal = new_journal()
    state = head(journal)
    assert [d.leaf_id.value for d in state.devices()] == [1, 2, 3]
    add = op_fact(AddLeaf(leaf(4, LeafRole.GUARDIAN), 0), state)
    assert journal.add(add)
    state = head(journal)
    assert [g.leaf_id.value for g in state.guardians()] == [4]
    policy = op_fact(ChangePolicy(0, ThresholdPolicy(3, 4)), state)
    journal.add(policy)
    state = head(journal)
    remove = op_fact(RemoveLeaf(LeafId(4), RemovalReason.REVOKED), state, signers=3)
    journal.add(remove)
    state = head(journal)
    assert len(state) == 3 and state.height == 3
    assert state.leaf_for_device(leaf(2).device) == leaf(2)
    assert state.leaf_for_key(leaf(3).public_key) == leaf(3)
    history = journal.state("commitment_tree").history
    assert [s.height for s in history] == [0, 1, 2, 3]


def test_attested_op_view_and_direct_verification():
    journal = new_journal()
    state = head(journal)
    fact = op_fact(AddLeaf(leaf(5), 0), state)
    attested = AttestedOp.from_fact(fact)
    assert attested.parent_commitment == state.commitment and attested.parent_epoch == 0
    assert attested.signer_count == 2 and attested.group_public_key == GROUP.key
    assert attested.op_hash == op_hash(fact.payload)
    verify_attested_op(attested, NAMESPACE, GROUP.key, 2)
    nxt = check_attested_op(state, attested, NAMESPACE)
    assert nxt.leaf(LeafId(5)) == leaf(5)
    other = FrostGroup(3, 2, seed=99)
    with pytest.raises(GroupKeyMismatch):
        verify_attested_op(attested, NAMESPACE, other.key, 2)
    with pytest.raises(InsufficientSigners):
        verify_attested_op(attested, NAMESPACE, GROUP.key, 3)
    with pytest.raises(AttestationInvalid):
        verify_attested_op(
            attested, JournalNamespace.authority(AuthorityId(b"\x02" * 16)), GROUP.key, 2
        )


def assert_refused(journal: Journal, fact: Fact, error: type[Exception]) -> None:
    before = journal.copy()
    head_before = head(journal)
    with pytest.raises(error):
        journal.add(fact)
    assert journal == before
    assert head(journal) == head_before
    assert fact not in journal


def test_forged_signature_is_refused():
    journal = new_journal()
    fact = op_fact(AddLeaf(leaf(6), 0), head(journal))
    att = fact.attestation
    forged_sig = bytes([att.signature[0] ^ 1]) + att.signature[1:]
    forged = fact.with_attestation(
        ThresholdAttestation(att.group_public_key, forged_sig, att.signer_count)
    )
    assert_refused(journal, forged, AttestationInvalid)
    # a valid signature over different content
    other = op_fact(AddLeaf(leaf(7), 0), head(journal))
    assert_refused(journal, fact.with_attestation(other.attestation), AttestationInvalid)


def test_short_signed_operation_is_refused():
    """The root demands every member; two of three devices signed."""
    journal = new_journal(
        genesis_fact(FrostGroup(3, 2, seed=31), policy=ALL, label="all", signers=3)
    )
    group = journal.state("commitment_tree").head.branch(0).group_key
    assert group == FrostGroup(3, 2, seed=31).key
    short = op_fact(AddLeaf(leaf(8), 0), head(journal), group=FrostGroup(3, 2, seed=31), signers=2)
    assert_refused(journal, short, InsufficientSigners)
    inflated = short.with_attestation(
        ThresholdAttestation(short.attestation.group_public_key, short.attestation.signature, 3)
    )
    assert_refused(journal, inflated, AttestationInvalid)  # the count is bound into the signature


def test_stale_or_unknown_parent_is_refused():
    journal = new_journal()
    genesis_state = head(journal)
    journal.add(op_fact(AddLeaf(leaf(9), 0), genesis_state))
    current = head(journal)
    # naming a commitment no state has
    body = TreeOpBody(AddLeaf(leaf(10), 0), current.epoch, hashlib.sha256(b"nowhere").digest())
    unknown = GROUP.attest(Fact.create(body, meta("unknown parent")))
    assert_refused(journal, unknown, UnknownParent)
    assert UnknownParent("x").kind.value == "transient"
    # the right commitment with a stale epoch
    stale_body = TreeOpBody(AddLeaf(leaf(10), 0), current.epoch + 1, current.commitment)
    stale = GROUP.attest(Fact.create(stale_body, meta("stale epoch")))
    assert_refused(journal, stale, StaleParent)
    # checked directly against the head, an op built on an older state is stale
    old = AttestedOp.from_fact(op_fact(AddLeaf(leaf(11), 0), genesis_state))
    with pytest.raises(StaleParent):
        check_attested_op(current, old, NAMESPACE)


def test_swapped_group_key_is_refused():
    journal = new_journal()
    state = head(journal)
    attacker = FrostGroup(3, 2, seed=77)
    resigned = op_fact(AddLeaf(leaf(12), 0), state, group=attacker)
    assert_refused(journal, resigned, GroupKeyMismatch)
    honest = op_fact(AddLeaf(leaf(12), 0), state)
    att = honest.attestation
    swapped = honest.with_attestation(
        ThresholdAttestation(attacker.key, att.signature, att.signer_count)
    )
    assert_refused(journal, swapped, AttestationInvalid)


def test_malformed_payload_is_refused():
    journal = new_journal()
    state = head(journal)
    payloads = [
        encode(
            {"op": {"kind": "add_leaf"}, "parent_epoch": 0, "parent_commitment": state.commitment}
        ),
        encode(
            {"op": {"kind": "explode"}, "parent_epoch": 0, "parent_commitment": state.commitment}
        ),
        encode({"parent_epoch": 0, "parent_commitment": state.commitment}),
        encode(
            {
                "op": {"kind": "rotate_epoch", "affected": [1, 0], "keys": []},
                "parent_epoch": 0,
                "parent_commitment": state.commitment,
            }
        ),
        b"\x00\x01",
    ]
    for index, payload in enumerate(payloads):
        fact = GROUP.attest(
            Fact("tree.op", payload, ThresholdAttestation(GROUP.key, bytes(64), 2), meta(index))
        )
        assert_refused(journal, fact, InvalidEncoding)


def test_operation_invalid_against_its_parent_is_refused():
    journal = new_journal()
    duplicate = op_fact(AddLeaf(leaf(1), 0), head(journal))
    assert_refused(journal, duplicate, TreeOpInvalid)
    unsigned = Fact.create(TreeOpBody.on(AddLeaf(leaf(13), 0), head(journal)), meta("unsigned"))
    with pytest.raises(Exception) as info:
        journal.add(unsigned)
    assert type(info.value).__name__ == "AttestationRequired"


def test_rotation_with_new_key_retires_the_old_key():
    journal = new_journal()
    successor = FrostGroup(3, 2, seed=55)
    journal.add(op_fact(RotateEpoch((0,), ((0, successor.key),)), head(journal)))
    state = head(journal)
    assert state.epoch == 1 and state.branch(0).group_key == successor.key
    assert_refused(journal, op_fact(AddLeaf(leaf(14), 0), state), GroupKeyMismatch)
    assert journal.add(op_fact(AddLeaf(leaf(14), 0), state, group=successor))


# --------------------------------------------------------------------------- concurrency and order


def fork_facts():
    """Genesis, two concurrent ops on it, a child of each, and a grandchild on one side."""
    genesis = genesis_fact(label="fork")
    root = genesis.cached_body.state
    a = op_fact(AddLeaf(leaf(20), 0), root, label="a")
    b = op_fact(AddLeaf(leaf(21), 0), root, label="b")
    state_a = root.apply(AddLeaf(leaf(20), 0))
    state_b = root.apply(AddLeaf(leaf(21), 0))
    a2 = op_fact(ChangePolicy(0, ANY), state_a, label="a2")
    b2 = op_fact(AddLeaf(leaf(22), 0), state_b, label="b2")
    b3 = op_fact(RotateEpoch((0,)), state_b.apply(AddLeaf(leaf(22), 0)), label="b3")
    return genesis, [a, b, a2, b2, b3]


def test_max_hash_wins_among_concurrent_operations():
    genesis, (a, b, a2, b2, b3) = fork_facts()
    winner_is_a = op_hash(a.payload) > op_hash(b.payload)
    journal = new_journal(genesis)
    journal.add(a if not winner_is_a else b)  # the loser first
    journal.add(b if not winner_is_a else a)
    state = head(journal)
    expected_leaf = 20 if winner_is_a else 21
    assert state.height == 1 and LeafId(expected_leaf) in [x.leaf_id for x in state.leaves()]
    for fact in (a2, b2, b3):
        journal.add(fact)
    final = head(journal)
    assert final.height == (2 if winner_is_a else 3)
    reduction = journal.state("commitment_tree")
    losing = a if not winner_is_a else b
    assert reduction.state_at(losing.cached_body.parent_commitment) is not None


@settings(max_examples=40, deadline=None)
@given(st.permutations(list(range(6))))
def test_tree_reduction_is_order_independent(order):
    genesis, ops = fork_facts()
    facts = [genesis, *ops]
    registry = default_registry()
    reducer = registry.reducer("commitment_tree")
    shuffled = [facts[i] for i in order]
    reference = reduce_facts(reducer, [(f, registry.body(f)) for f in facts]).head
    result = reduce_facts(reducer, [(f, registry.body(f)) for f in shuffled]).head
    assert result == reference
    journal = Journal(NAMESPACE, registry)
    report = journal.ingest_many([f.encode() for f in shuffled])  # children may precede parents
    assert report.rejected == () and len(report.accepted) == 6
    assert head(journal) == reference


def test_competing_geneses_resolve_by_hash():
    first = genesis_fact(label="g1")
    second = genesis_fact(leaves=(1, 2, 3, 4), label="g2")
    winner = max((first, second), key=lambda f: (op_hash(f.payload), f.cid.raw))
    for order in ((first, second), (second, first)):
        journal = Journal(NAMESPACE, default_registry())
        for fact in order:
            journal.add(fact)
        assert head(journal) == winner.cached_body.state


def test_genesis_must_be_signed_by_its_root_group():
    body = TreeGenesis.of(
        [BranchSpec(None, ThresholdPolicy(2, 3), GROUP.key)], [(leaf(i), 0) for i in (1, 2, 3)]
    )
    outsider = FrostGroup(3, 2, seed=5).attest(Fact.create(body, meta("outsider")))
    journal = Journal(NAMESPACE, default_registry())
    with pytest.raises(GroupKeyMismatch):
        journal.add(outsider)
    single = Fact.create(body, meta("one")).signed_by_single_key(
        NAMESPACE, SigningKey(b"\x01" * 32)
    )
    with pytest.raises(GroupKeyMismatch):
        journal.add(single)
    context = Journal(
        JournalNamespace.context(__import__("aura_core").ContextId(b"\x03" * 16)),
        default_registry(),
    )
    with pytest.raises(InvalidInput):
        context.add(genesis_fact())
    assert len(journal) == 0


def test_snapshot_codec_round_trips_the_head():
    journal = new_journal()
    journal.add(op_fact(AddLeaf(leaf(30), 0), head(journal)))
    reducer = journal.registry.reducer("commitment_tree")
    encoded = reducer.encode_state(journal.state("commitment_tree"))
    restored = reducer.decode_state(encoded)
    assert restored.head == head(journal)
    assert reducer.decode_state(reducer.encode_state(reducer.initial())).head is None


def test_a_long_chain_ingested_in_reverse_order():
    group = SigningKey(b"\x21" * 32)
    genesis = Fact.create(
        TreeGenesis.of([BranchSpec(None, ANY, bytes(group.verify_key))], [(leaf(1), 0)]),
        meta("chain"),
    ).signed_by_single_key(NAMESPACE, group)
    state = genesis.cached_body.state
    chain = []
    for number in range(200, 260):
        op = AddLeaf(leaf(number), 0)
        chain.append(
            AttestedOp.propose(op, state, meta(("chain", number))).signed_by_single_key(
                NAMESPACE, group
            )
        )
        state = state.apply(op)
    journal = Journal(NAMESPACE, default_registry())
    report = journal.ingest_many([f.encode() for f in reversed([genesis, *chain])])
    assert report.rejected == () and len(report.accepted) == 61
    assert head(journal) == state
    orphan = AttestedOp.propose(
        AddLeaf(leaf(999), 0), rebuilt(state).apply(AddLeaf(leaf(998), 0)), meta("orphan")
    )
    report = journal.ingest_many([orphan.signed_by_single_key(NAMESPACE, group)])
    assert [type(error).__name__ for _, error in report.rejected] == ["UnknownParent"]


def test_bodies_built_locally_obey_the_decoder_rules():
    """A body a peer's decoder would refuse cannot be built locally either."""
    spec = BranchSpec(None, ANY, GROUP.key)
    with pytest.raises(InvalidInput, match="sorted"):
        TreeGenesis((spec,), ((leaf(2), 0), (leaf(1), 0)))
    good = TreeGenesis.of([spec], [(leaf(2), 0), (leaf(1), 0)])
    assert TreeGenesis.from_canonical(good.to_canonical()) == good
