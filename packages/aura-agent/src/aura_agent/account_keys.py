"""The account's data key: what every device of one account shares, and a recovery restores.

Contacts and chat act for the account, not for one device: a contact knows
Alice by one signing key, and her per-context keys (mailboxes, seal keys,
context identities, chat box keys) must be the same on every device she has
and on the device a recovery gives her. So they all come from one **data
key** derived from the account's group secret by threshold key derivation
(:mod:`aura_core.crypto.threshold_derivation`): ``t`` devices' contributions,
or the whole secret of a 1-of-1 key, give the same 32 bytes, and a reshare —
adding a device, a recovery through guardians — keeps it.

From the data key (domain-separated KDF outputs):

* the **contact key**, the Ed25519 key that signs invitations, descriptors
  and sealed envelopes, and roots the device's own Biscuit tokens;
* the **context root**, from which every per-context key is derived (DKD).

What this does not give: a single device holding the data key can chat and
invite as the account (category A work, as with any messenger's linked
device); membership and key changes still need ``t`` devices' agreement
(category C). A stolen device keeps the data key; rotating it means new keys
for every contact and is not built.
"""

from __future__ import annotations

import attrs

from aura_agent.custody_feature import stored_key_package
from aura_agent.device_identity import ACCOUNT_SEED_SECRET
from aura_core.crypto import derive_alone
from aura_core.crypto.ed25519 import expand_seed
from aura_core.effects import StorageEffects
from aura_core.errors import InvalidInput, StorageError
from aura_core.hashing import kdf
from aura_core.identifiers import AuthorityId
from aura_features.ed25519_signer import KeySigner

__all__ = [
    "DATA_KEY_SECRET",
    "AccountKeys",
    "data_key_label",
    "load_data_key",
    "solo_data_key",
    "store_data_key",
]

DATA_KEY_SECRET = "agent.account_data_key"
_LABEL_PREFIX = b"aura.account.data-key.v1:"
_CONTACT_KDF = "aura.agent.contact-key.v1"
_CONTEXT_ROOT_KDF = "aura.agent.context-root.v1"


def data_key_label(authority: AuthorityId) -> bytes:
    """The derivation label of ``authority``'s data key (binds the key to the account)."""
    if not isinstance(authority, AuthorityId):
        raise InvalidInput("the data key label needs an AuthorityId")
    return _LABEL_PREFIX + authority.raw


@attrs.frozen(repr=False)
class AccountKeys:
    """The keys one account's devices share (see the module docstring)."""

    authority: AuthorityId
    data_key: bytes = attrs.field(eq=False)

    def __attrs_post_init__(self) -> None:
        if type(self.data_key) is not bytes or len(self.data_key) != 32:
            raise InvalidInput("an account data key is 32 bytes")

    def contact_signer(self) -> KeySigner:
        """The account's contact key (signs invitations, descriptors, envelopes, tokens)."""
        return KeySigner(kdf(_CONTACT_KDF, self.data_key + self.authority.raw, 32))

    @property
    def context_root(self) -> bytes:
        """The root of every per-context key of the account (what DKD derives from)."""
        return kdf(_CONTEXT_ROOT_KDF, self.data_key + self.authority.raw, 32)

    def __repr__(self) -> str:
        return f"AccountKeys({self.authority}, <data key>)"


def load_data_key(storage: StorageEffects) -> bytes | None:
    with storage.transaction(readonly=True) as txn:
        key = txn.get_secret(DATA_KEY_SECRET)
    if key is not None and (type(key) is not bytes or len(key) != 32):
        raise StorageError("the stored account data key is malformed")
    return key


def store_data_key(storage: StorageEffects, key: bytes) -> None:
    if type(key) is not bytes or len(key) != 32:
        raise InvalidInput("an account data key is 32 bytes")
    with storage.transaction() as txn:
        txn.put_secret(DATA_KEY_SECRET, key)


def solo_data_key(
    storage: StorageEffects, authority: AuthorityId, group_key: bytes
) -> bytes | None:
    """The data key, if this device holds the whole account secret (a 1-of-1 key); else None."""
    with storage.transaction(readonly=True) as txn:
        seed = txn.get_secret(ACCOUNT_SEED_SECRET)
    if seed is not None:
        scalar, _prefix = expand_seed(seed)
    else:
        package = stored_key_package(storage)
        if package is None or not package.is_single_signer:
            return None
        scalar = package.signing_share
    return derive_alone(scalar, group_key, data_key_label(authority))
