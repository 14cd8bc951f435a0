"""Journal facts recording who holds the account key: the key epoch and the guardian set.

* ``devices.key_epoch`` (:class:`KeyEpoch`): after the devices' shares were
  rebuilt, the device roster (with each device's encryption and vote keys,
  which the tree does not hold) and the public key package of the new
  sharing. Signed by the account key through the new shares, so it also
  proves the new shares work.
* ``devices.guardian_set`` (:class:`GuardianSet`): the guardians, their
  threshold and the public key package of their sharing, the device roster
  whose members may dispute a recovery, and the dispute window. Re-issued
  after every change while the account has guardians; guardians keep the
  latest one.

Both are threshold-attested by the account's group key and must agree with
the commitment tree: admission checks that the tree state they name exists
in the journal and has exactly their leaves, policy and group key. The
:class:`AccountCustodyReducer` keeps the newest of each.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import attrs

from aura_core.canonical_fields import (
    U64_MAX,
    read_authority,
    read_bytes,
    read_map,
    read_uint,
)
from aura_core.crypto import PublicKeyPackage, from_bytes, to_bytes
from aura_core.errors import AuraError, InvalidEncoding, InvalidInput, ValidationError
from aura_core.identifiers import AuthorityId
from aura_features.devices.custody_change import (
    MAX_DISPUTE_WINDOW_S,
    ROOT_BRANCH,
    device_leaf,
    guardian_leaf,
)
from aura_features.devices.share_holders import (
    MAX_DEVICES,
    MAX_GUARDIANS,
    DeviceMember,
    GuardianMember,
    check_roster,
    members_from_canonical,
    members_to_canonical,
)
from aura_journal import (
    COMMITMENT_TREE,
    Fact,
    FactRegistry,
    FactType,
    Journal,
    JournalNamespace,
    LeafRole,
    ThresholdAttestation,
    TreeReduction,
    TreeState,
    default_registry,
)
from aura_journal.errors import GroupKeyMismatch, MissingDependency
from aura_protocol.consensus import consensus_fact_types

__all__ = [
    "ACCOUNT_CUSTODY",
    "GUARDIAN_SET_TYPE_ID",
    "KEY_EPOCH_TYPE_ID",
    "AccountCustodyReducer",
    "CustodyState",
    "GuardianSet",
    "KeyEpoch",
    "custody_fact_types",
    "custody_registry",
    "install_custody_facts",
]

KEY_EPOCH_TYPE_ID = "devices.key_epoch"
GUARDIAN_SET_TYPE_ID = "devices.guardian_set"
_MAX_PACKAGE_BYTES = 8 * 1024


def _decode_package(value: object, what: str) -> PublicKeyPackage:
    return from_bytes(read_bytes(value, what, max_size=_MAX_PACKAGE_BYTES), PublicKeyPackage)


def _check_package(
    package: PublicKeyPackage, identifiers: tuple[int, ...], threshold: int, what: str
) -> None:
    if not isinstance(package, PublicKeyPackage):
        raise InvalidInput(f"{what} needs a PublicKeyPackage")
    if package.identifiers != identifiers:
        raise InvalidInput(f"{what}: the key package's participants are not the roster")
    if package.min_signers != threshold:
        raise InvalidInput(f"{what}: the key package's threshold is not {threshold}")


@attrs.frozen
class KeyEpoch:
    """The devices' sharing after a key epoch: roster, threshold, public key package."""

    TYPE_ID: ClassVar[str] = KEY_EPOCH_TYPE_ID
    account: AuthorityId
    epoch: int
    tree: bytes
    """Commitment of the tree state this key epoch belongs to (right after its RotateEpoch)."""
    threshold: int
    devices: tuple[DeviceMember, ...]
    public_key_package: PublicKeyPackage

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.account, AuthorityId):
            raise InvalidInput("KeyEpoch.account must be an AuthorityId")
        if type(self.epoch) is not int or not 0 <= self.epoch <= U64_MAX:
            raise InvalidInput("KeyEpoch.epoch must be a u64")
        if type(self.tree) is not bytes or len(self.tree) != 32:
            raise InvalidInput("KeyEpoch.tree must be a 32-byte commitment")
        check_roster(self.devices, "key epoch devices")
        if not 1 <= len(self.devices) <= MAX_DEVICES:
            raise InvalidInput(f"a key epoch has 1..{MAX_DEVICES} devices")
        _check_package(
            self.public_key_package,
            tuple(m.identifier for m in self.devices),
            self.threshold,
            "key epoch",
        )

    @property
    def group_key(self) -> bytes:
        return bytes(self.public_key_package.verifying_key)

    def device(self, identifier: int) -> DeviceMember | None:
        for member in self.devices:
            if member.identifier == identifier:
                return member
        return None

    def to_canonical(self) -> dict[str, Any]:
        return {
            "account": self.account.raw,
            "epoch": self.epoch,
            "tree": self.tree,
            "threshold": self.threshold,
            "devices": members_to_canonical(self.devices),
            "package": to_bytes(self.public_key_package),
        }

    @classmethod
    def from_canonical(cls, value: Any) -> Self:
        fields = read_map(
            value, "key epoch", ("account", "epoch", "tree", "threshold", "devices", "package")
        )
        try:
            return cls(
                read_authority(fields["account"], "key epoch account"),
                read_uint(fields["epoch"], "key epoch"),
                read_bytes(fields["tree"], "key epoch tree", size=32),
                read_uint(
                    fields["threshold"], "key epoch threshold", minimum=1, maximum=MAX_DEVICES
                ),
                members_from_canonical(
                    fields["devices"], DeviceMember, "key epoch devices", max_items=MAX_DEVICES
                ),
                _decode_package(fields["package"], "key epoch package"),
            )
        except InvalidEncoding:
            raise
        except AuraError as exc:
            raise InvalidEncoding(f"key epoch: {exc.message}") from None


@attrs.frozen
class GuardianSet:
    """The guardians' sharing and what guardians need to serve a recovery."""

    TYPE_ID: ClassVar[str] = GUARDIAN_SET_TYPE_ID
    account: AuthorityId
    tree: bytes
    height: int
    """Height of that tree state: later guardian sets have larger heights."""
    guardians: tuple[GuardianMember, ...]
    guardian_threshold: int
    guardian_package: PublicKeyPackage
    devices: tuple[DeviceMember, ...]
    threshold: int
    dispute_window_s: int

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.account, AuthorityId):
            raise InvalidInput("GuardianSet.account must be an AuthorityId")
        if type(self.tree) is not bytes or len(self.tree) != 32:
            raise InvalidInput("GuardianSet.tree must be a 32-byte commitment")
        if type(self.height) is not int or not 0 <= self.height <= U64_MAX:
            raise InvalidInput("GuardianSet.height must be a u64")
        check_roster(self.guardians, "guardian set guardians")
        check_roster(self.devices, "guardian set devices")
        if not 1 <= len(self.guardians) <= MAX_GUARDIANS:
            raise InvalidInput(f"a guardian set has 1..{MAX_GUARDIANS} guardians")
        if not 1 <= len(self.devices) <= MAX_DEVICES:
            raise InvalidInput(f"a guardian set lists 1..{MAX_DEVICES} devices")
        if type(self.threshold) is not int or not 1 <= self.threshold <= len(self.devices):
            raise InvalidInput("GuardianSet.threshold must be in 1..len(devices)")
        _check_package(
            self.guardian_package,
            tuple(m.identifier for m in self.guardians),
            self.guardian_threshold,
            "guardian set",
        )
        if (
            type(self.dispute_window_s) is not int
            or not 1 <= self.dispute_window_s <= MAX_DISPUTE_WINDOW_S
        ):
            raise InvalidInput(f"dispute window must be 1..{MAX_DISPUTE_WINDOW_S} seconds")

    @property
    def group_key(self) -> bytes:
        return bytes(self.guardian_package.verifying_key)

    def guardian(self, identifier: int) -> GuardianMember | None:
        for member in self.guardians:
            if member.identifier == identifier:
                return member
        return None

    def guardian_for(self, authority: AuthorityId) -> GuardianMember | None:
        for member in self.guardians:
            if member.profile.authority == authority:
                return member
        return None

    def device(self, identifier: int) -> DeviceMember | None:
        for member in self.devices:
            if member.identifier == identifier:
                return member
        return None

    def device_with_key(self, leaf_key: bytes) -> DeviceMember | None:
        for member in self.devices:
            if member.profile.leaf_key == leaf_key:
                return member
        return None

    def to_canonical(self) -> dict[str, Any]:
        return {
            "account": self.account.raw,
            "tree": self.tree,
            "height": self.height,
            "guardians": members_to_canonical(self.guardians),
            "guardian_threshold": self.guardian_threshold,
            "guardian_package": to_bytes(self.guardian_package),
            "devices": members_to_canonical(self.devices),
            "threshold": self.threshold,
            "window": self.dispute_window_s,
        }

    @classmethod
    def from_canonical(cls, value: Any) -> Self:
        fields = read_map(
            value,
            "guardian set",
            (
                "account",
                "tree",
                "height",
                "guardians",
                "guardian_threshold",
                "guardian_package",
                "devices",
                "threshold",
                "window",
            ),
        )
        try:
            return cls(
                read_authority(fields["account"], "guardian set account"),
                read_bytes(fields["tree"], "guardian set tree", size=32),
                read_uint(fields["height"], "guardian set height"),
                members_from_canonical(
                    fields["guardians"], GuardianMember, "guardians", max_items=MAX_GUARDIANS
                ),
                read_uint(
                    fields["guardian_threshold"],
                    "guardian threshold",
                    minimum=1,
                    maximum=MAX_GUARDIANS,
                ),
                _decode_package(fields["guardian_package"], "guardian key package"),
                members_from_canonical(
                    fields["devices"], DeviceMember, "guardian set devices", max_items=MAX_DEVICES
                ),
                read_uint(fields["threshold"], "device threshold", minimum=1, maximum=MAX_DEVICES),
                read_uint(
                    fields["window"], "dispute window", minimum=1, maximum=MAX_DISPUTE_WINDOW_S
                ),
            )
        except InvalidEncoding:
            raise
        except AuraError as exc:
            raise InvalidEncoding(f"guardian set: {exc.message}") from None


# --------------------------------------------------------------------------- rules


def _check_signed_by(fact: Fact, body: KeyEpoch | GuardianSet, namespace: JournalNamespace) -> None:
    if namespace != JournalNamespace.authority(body.account):
        raise ValidationError(f"{fact.type_id} for {body.account} cannot live in {namespace}")
    attestation = fact.attestation
    if type(attestation) is not ThresholdAttestation:  # pragma: no cover - registry enforces
        raise ValidationError(f"{fact.type_id} needs the account's threshold signature")
    if attestation.group_public_key != body.group_key:
        raise GroupKeyMismatch(f"{fact.type_id} is not signed by the key its package names")


def _tree_state(journal: Journal, commitment: bytes, what: str) -> TreeState:
    reduction: TreeReduction = journal.state(COMMITMENT_TREE.name)
    state = reduction.state_at(commitment)
    if state is None:
        raise MissingDependency(
            f"{what} names tree state {commitment.hex()[:16]}…, which this journal does not hold"
        )
    return state


def _check_leaves(state: TreeState, role: LeafRole, expected: list[Any], what: str) -> None:
    leaves = [leaf for leaf in state.leaves() if leaf.role is role]
    if leaves != expected:
        raise ValidationError(f"{what} does not list exactly the tree's {role.value} leaves")


def _admit_key_epoch(journal: Journal, _fact: Fact, body: KeyEpoch) -> None:
    state = _tree_state(journal, body.tree, "key epoch")
    if state.epoch != body.epoch:
        raise ValidationError(f"key epoch {body.epoch} names a tree state at epoch {state.epoch}")
    root = state.branch(ROOT_BRANCH)
    if root.group_key != body.group_key:
        raise GroupKeyMismatch("key epoch package is not for the tree's root group key")
    if state.required_signers(ROOT_BRANCH) != body.threshold:
        raise ValidationError("key epoch threshold differs from the tree's root policy")
    _check_leaves(state, LeafRole.DEVICE, [device_leaf(m) for m in body.devices], "key epoch")


def _admit_guardian_set(journal: Journal, _fact: Fact, body: GuardianSet) -> None:
    state = _tree_state(journal, body.tree, "guardian set")
    if state.height != body.height:
        raise ValidationError("guardian set height differs from its tree state's")
    if state.branch(ROOT_BRANCH).group_key != body.group_key:
        raise GroupKeyMismatch("guardian key package is not for the tree's root group key")
    if state.required_signers(ROOT_BRANCH) != body.threshold:
        raise ValidationError("guardian set device threshold differs from the tree's root policy")
    _check_leaves(
        state, LeafRole.GUARDIAN, [guardian_leaf(m) for m in body.guardians], "guardian set"
    )
    _check_leaves(state, LeafRole.DEVICE, [device_leaf(m) for m in body.devices], "guardian set")


def custody_fact_types() -> tuple[FactType, FactType]:
    """``devices.key_epoch`` and ``devices.guardian_set`` (authority journals, threshold-signed)."""
    options: dict[str, Any] = {
        "attestations": frozenset({"threshold"}),
        "namespaces": frozenset({"authority"}),
        "validate": _check_signed_by,
    }
    return (
        FactType.for_body(KeyEpoch, admit=_admit_key_epoch, **options),
        FactType.for_body(GuardianSet, admit=_admit_guardian_set, **options),
    )


# --------------------------------------------------------------------------- reduction


@attrs.frozen
class CustodyState:
    """The newest key epoch and guardian set a journal holds (either may be ``None``)."""

    key_epoch: KeyEpoch | None = None
    guardian_set: GuardianSet | None = None
    key_epoch_rank: tuple[int, bytes] = (-1, b"")
    guardian_set_rank: tuple[int, bytes] = (-1, b"")


class AccountCustodyReducer:
    """Fold: keep the key epoch with the largest epoch and the guardian set with the largest height.

    Content ids break ties, so the result depends only on the set of facts.
    """

    name = "account_custody"
    fact_types = frozenset({KEY_EPOCH_TYPE_ID, GUARDIAN_SET_TYPE_ID})

    def initial(self) -> CustodyState:
        return CustodyState()

    def apply(self, state: CustodyState, fact: Fact, body: Any) -> CustodyState:
        if isinstance(body, KeyEpoch):
            rank = (body.epoch, fact.cid.raw)
            if rank > state.key_epoch_rank:
                return attrs.evolve(state, key_epoch=body, key_epoch_rank=rank)
        elif isinstance(body, GuardianSet):
            rank = (body.height, fact.cid.raw)
            if rank > state.guardian_set_rank:
                return attrs.evolve(state, guardian_set=body, guardian_set_rank=rank)
        return state


ACCOUNT_CUSTODY = AccountCustodyReducer()


def install_custody_facts(registry: FactRegistry) -> FactRegistry:
    """Register consensus commits, key epochs, guardian sets and the custody reducer."""
    for fact_type in (*consensus_fact_types(), *custody_fact_types()):
        if not registry.knows(fact_type.type_id):
            registry.register(fact_type)
    if ACCOUNT_CUSTODY.name not in {r.name for r in registry.reducers}:
        registry.register_reducer(ACCOUNT_CUSTODY)
    return registry


def custody_registry() -> FactRegistry:
    """A fresh registry: the journal's own types plus everything custody needs."""
    return install_custody_facts(default_registry())
