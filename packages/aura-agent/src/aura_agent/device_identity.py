"""Who this device is and which account it belongs to, kept in the agent's storage.

The device id is public; the device's root key (every per-context key is
derived from it by DKD) and the account's signing key are secrets, sealed by
the storage under the host's key. An account created here is 1-of-1: the
tree's root branch has policy ANY, its group key is a plain Ed25519 key
(MECHANICS: "1-of-1 is plain Ed25519"), and this device is its one leaf.
Threshold accounts spanning several devices come from the devices feature
(DKG), which stores a FROST key package instead.
"""

from __future__ import annotations

from typing import Any

import attrs
from nacl.signing import SigningKey

from aura_core.dag_cbor import decode, encode
from aura_core.effects import OrderClockEffects, PhysicalTimeEffects, RandomEffects, StorageEffects
from aura_core.errors import InvalidEncoding, InvalidInput, StorageError
from aura_core.identifiers import AuthorityId, DeviceId
from aura_journal import (
    ANY,
    BranchSpec,
    Fact,
    FactMetadata,
    JournalNamespace,
    LeafId,
    LeafNode,
    LeafRole,
    TreeGenesis,
)
from aura_protocol.guards import DeviceSigner

__all__ = [
    "ACCOUNT_SEED_SECRET",
    "DEVICE_ROOT_SECRET",
    "IDENTITY_TABLE",
    "AccountRecord",
    "DeviceIdentity",
    "create_solo_account",
    "load_account",
    "store_account",
]

IDENTITY_TABLE = "agent_identity"
DEVICE_ROOT_SECRET = "agent.device_root"
ACCOUNT_SEED_SECRET = "agent.account_seed"
_DEVICE_KEY = b"device"
_ACCOUNT_KEY = b"account"


@attrs.frozen(repr=False)
class DeviceIdentity:
    """This device's id and root key (the root key never leaves storage in the clear)."""

    device: DeviceId
    root_key: bytes = attrs.field(eq=False)

    @classmethod
    def load_or_create(
        cls, storage: StorageEffects, random: RandomEffects, *, device: DeviceId | None = None
    ) -> DeviceIdentity:
        """The stored identity, or a new one (with ``device`` if given) on first start."""
        with storage.transaction() as txn:
            raw = txn.get(IDENTITY_TABLE, _DEVICE_KEY)
            root = txn.get_secret(DEVICE_ROOT_SECRET)
            if raw is None:
                if root is not None:
                    raise StorageError("storage holds a device root key but no device id")
                chosen = device if device is not None else DeviceId.generate(random)
                root = random.random_bytes(32)
                txn.put(IDENTITY_TABLE, _DEVICE_KEY, chosen.raw)
                txn.put_secret(DEVICE_ROOT_SECRET, root)
                return cls(chosen, root)
        if root is None or len(root) != 32:
            raise StorageError("the device root key is missing from storage")
        try:
            stored = DeviceId(raw)
        except InvalidInput:
            raise StorageError("the stored device id is malformed") from None
        if device is not None and device != stored:
            raise StorageError(f"this data directory belongs to {stored}, not {device}")
        return cls(stored, root)

    def signer(self, authority: AuthorityId) -> DeviceSigner:
        """The key this device attests its facts with in ``authority``'s journal."""
        return DeviceSigner.derive(self.root_key, authority=authority, device=self.device)

    def __repr__(self) -> str:
        return f"DeviceIdentity({self.device}, root=<secret>)"


@attrs.frozen
class AccountRecord:
    """The account this device belongs to: authority, threshold and group public key."""

    authority: AuthorityId
    threshold: int
    group_public_key: bytes

    @property
    def namespace(self) -> JournalNamespace:
        return JournalNamespace.authority(self.authority)

    def encode(self) -> bytes:
        return encode(
            {"authority": self.authority.raw, "t": self.threshold, "key": self.group_public_key}
        )

    @classmethod
    def decode(cls, data: bytes) -> AccountRecord:
        value: Any = decode(data, allow_floats=False)
        if not isinstance(value, dict) or set(value) != {"authority", "t", "key"}:
            raise InvalidEncoding("account record must have authority, t, key")
        authority, threshold, key = value["authority"], value["t"], value["key"]
        if type(authority) is not bytes or len(authority) != 16:
            raise InvalidEncoding("account record authority must be 16 bytes")
        if type(threshold) is not int or not 1 <= threshold <= 255:
            raise InvalidEncoding("account record threshold must be 1..255")
        if type(key) is not bytes or len(key) != 32:
            raise InvalidEncoding("account record key must be 32 bytes")
        return cls(AuthorityId(authority), threshold, key)


def load_account(storage: StorageEffects) -> AccountRecord | None:
    with storage.transaction(readonly=True) as txn:
        raw = txn.get(IDENTITY_TABLE, _ACCOUNT_KEY)
    if raw is None:
        return None
    try:
        return AccountRecord.decode(raw)
    except InvalidEncoding as exc:
        raise StorageError(f"the stored account record is corrupt: {exc.message}") from None


def store_account(
    storage: StorageEffects, record: AccountRecord, *, seed: bytes | None = None
) -> None:
    """Record the account (and, for a 1-of-1 account, its signing seed as a secret)."""
    with storage.transaction() as txn:
        if txn.get(IDENTITY_TABLE, _ACCOUNT_KEY) is not None:
            raise InvalidInput("this device already belongs to an account")
        txn.put(IDENTITY_TABLE, _ACCOUNT_KEY, record.encode())
        if seed is not None:
            txn.put_secret(ACCOUNT_SEED_SECRET, seed)


def create_solo_account(
    identity: DeviceIdentity,
    *,
    random: RandomEffects,
    order_clock: OrderClockEffects,
    time: PhysicalTimeEffects,
) -> tuple[AccountRecord, bytes, Fact]:
    """A fresh 1-of-1 account: (record, signing seed, signed tree genesis fact).

    The caller stores the record and seed and adds the genesis fact to the
    authority journal (in that order, so a crash in between leaves an account
    whose genesis is re-created rather than a genesis without a key).
    """
    authority = AuthorityId.generate(random)
    seed = random.random_bytes(32)
    group_key = SigningKey(seed)
    leaf_key = bytes(identity.signer(authority).signing_key.verify_key)
    genesis = TreeGenesis.of(
        [BranchSpec(None, ANY, bytes(group_key.verify_key))],
        [(LeafNode(LeafId(1), identity.device, LeafRole.DEVICE, leaf_key), 0)],
    )
    namespace = JournalNamespace.authority(authority)
    fact = Fact.create(
        genesis, FactMetadata(order_clock.next_order(), time.now())
    ).signed_by_single_key(namespace, group_key)
    record = AccountRecord(authority, 1, bytes(group_key.verify_key))
    return record, seed, fact
