"""Why a holder may deal or accept shares for a change: the change's authorization.

A key share moves only for a change the account agreed to. Holders check
the authorization a :class:`~aura_features.devices.custody_messages.TransferStart`
carries before dealing or accepting anything:

* ``consensus`` — a ``CommitFact`` signed by the account key (threshold of
  the current devices) deciding exactly these change bytes on the prestate
  of the tree state the change extends;
* ``single`` — for an account with one device (a 1-of-1 key, which cannot
  run consensus): that key's signature over the change hash;
* ``recovery`` — guardian approvals; checked by :mod:`aura_features.recovery`.

A check returns :class:`Authorized`: the public key package the dealers'
shares belong to and the identity keys their deals must be signed with.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from aura_core.crypto import KeyPackage, PublicKeyPackage, sign_single, verify_signature
from aura_core.errors import CryptoError, ValidationError
from aura_core.hashing import tagged_hash
from aura_core.identifiers import AuthorityId
from aura_features.devices.custody_change import CustodyChange
from aura_features.devices.custody_facts import KeyEpoch
from aura_journal import TreeState
from aura_protocol.consensus import CommitFact, ConsensusId, Prestate

__all__ = [
    "CONSENSUS_SLOT",
    "Authorized",
    "authorize_consensus",
    "authorize_single",
    "consensus_instance",
    "prestate_hash",
    "single_authorization",
]

CONSENSUS_SLOT = b"aura.custody.change"
"""The consensus slot: one custody change per tree state (competing proposals share it)."""
_SINGLE_DOMAIN = "AURA_CUSTODY_SINGLE_KEY_V1"
_NO_CONTEXT = bytes(32)


@attrs.frozen
class Authorized:
    """What an authorization establishes for the holders of one round."""

    dealer_package: PublicKeyPackage
    dealer_keys: Mapping[int, bytes]
    """Identity key of each possible dealer (device leaf keys, guardian signing keys)."""
    dealer_addresses: Mapping[int, str]


def prestate_hash(account: AuthorityId, tree_commitment: bytes) -> bytes:
    """The consensus prestate of a custody change: the account's tree commitment alone."""
    return Prestate(((account, tree_commitment),), _NO_CONTEXT).hash


def consensus_instance(account: AuthorityId, tree_commitment: bytes) -> tuple[ConsensusId, bytes]:
    """(consensus id, prestate hash) of the custody slot on a tree state."""
    prestate = prestate_hash(account, tree_commitment)
    return ConsensusId.for_slot(account.raw, prestate, CONSENSUS_SLOT), prestate


def _devices_authorized(key_epoch: KeyEpoch) -> Authorized:
    return Authorized(
        key_epoch.public_key_package,
        {m.identifier: m.profile.leaf_key for m in key_epoch.devices},
        {m.identifier: m.profile.address for m in key_epoch.devices},
    )


def _check_parent(head: TreeState, change: CustodyChange) -> None:
    if change.parent != head.commitment:
        raise ValidationError(
            "the change extends another tree state than this holder's current one"
        )


def authorize_consensus(
    key_epoch: KeyEpoch, head: TreeState, change: CustodyChange, blob: bytes
) -> Authorized:
    """The commit fact in ``blob`` decides ``change`` under the current device key."""
    commit = CommitFact.decode(blob)
    commit.verify()
    if commit.group_public_key != key_epoch.group_key:
        raise CryptoError("the decision is signed by another key than the account's")
    if commit.threshold != key_epoch.threshold:
        raise ValidationError("the decision names another threshold than the account's")
    known = {m.identifier for m in key_epoch.devices}
    if not set(commit.participants) <= known:
        raise ValidationError("the decision names signers that are not the account's devices")
    if commit.operation_bytes != change.encode():
        raise ValidationError("the decision is about another change")
    _check_parent(head, change)
    expected = consensus_instance(change.account, head.commitment)
    if (commit.consensus_id, commit.prestate_hash) != expected:
        raise ValidationError("the decision is for another consensus instance or prestate")
    return _devices_authorized(key_epoch)


def single_authorization(key_package: KeyPackage, change: CustodyChange) -> bytes:
    """A 1-of-1 account's signature authorizing ``change``."""
    return sign_single(key_package, tagged_hash(_SINGLE_DOMAIN, change.hash))


def authorize_single(
    key_epoch: KeyEpoch, head: TreeState, change: CustodyChange, blob: bytes
) -> Authorized:
    """``blob`` is the 1-of-1 account key's signature over ``change``."""
    if key_epoch.threshold != 1 or len(key_epoch.devices) != 1:
        raise ValidationError("only a one-device account authorizes a change with its own key")
    if not verify_signature(key_epoch.group_key, tagged_hash(_SINGLE_DOMAIN, change.hash), blob):
        raise CryptoError("the single-key authorization does not verify")
    _check_parent(head, change)
    return _devices_authorized(key_epoch)
