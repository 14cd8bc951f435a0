"""Devices of an account: adding and removing them, thresholds and guardians, under consensus.

A device is added with an enrollment ceremony (the new device asks with a
request signed by its own key; a device of the account proposes the
change), removed when lost or revoked, and the threshold changed — each a
:class:`CustodyChange` decided by consensus among the account's devices,
followed by a reshare under the **same group key** (so contacts see no
change) and the tree operations that record it. The new shares no longer
combine with the old ones, so a removed device's share becomes useless.
Guardian changes use the same machinery with the guardians as recipients.

Entry point: :class:`DeviceManager` (sans-IO, one per device). Builders:
:func:`add_device`, :func:`remove_device`, :func:`change_threshold`,
:func:`add_guardians`, :func:`remove_guardian`. Facts: ``devices.key_epoch``
and ``devices.guardian_set`` (:func:`install_custody_facts`). Account
creation: :func:`account_keys_by_dkg`, :func:`account_genesis`.
See ``docs/devices-and-recovery.md``.
"""

from aura_features.devices.account_setup import account_genesis, account_keys_by_dkg
from aura_features.devices.change_authorization import (
    CONSENSUS_SLOT,
    Authorized,
    authorize_consensus,
    authorize_single,
    consensus_instance,
    prestate_hash,
    single_authorization,
)
from aura_features.devices.custody_change import (
    CHANGE_KINDS,
    DEFAULT_DISPUTE_WINDOW_S,
    MAX_DISPUTE_WINDOW_S,
    ROOT_BRANCH,
    CustodyChange,
    DerivedOps,
    derive_ops,
    device_leaf,
    guardian_leaf,
    next_identifier,
)
from aura_features.devices.custody_events import (
    ChangeCompleted,
    ChangeDecided,
    ChangeFailed,
    CustodyEvent,
    EnrollmentRequested,
    FactsAdded,
    MessageRejected,
    ShareActivated,
    ShareErased,
    SharePending,
)
from aura_features.devices.custody_facts import (
    ACCOUNT_CUSTODY,
    GUARDIAN_SET_TYPE_ID,
    KEY_EPOCH_TYPE_ID,
    AccountCustodyReducer,
    CustodyState,
    GuardianSet,
    KeyEpoch,
    custody_fact_types,
    custody_registry,
    install_custody_facts,
)
from aura_features.devices.custody_messages import (
    AUTHORIZATION_KINDS,
    CUSTODY_CODEC,
    AttestCommitments,
    AttestRequest,
    AttestShares,
    AttestSign,
    ChangeAborted,
    ChangeComplete,
    ConsensusFrame,
    EnrollmentRequest,
    ShareDeal,
    ShareReceived,
    TransferStart,
    sign_message,
    signature_valid,
)
from aura_features.devices.custody_plans import (
    CustodyView,
    add_device,
    add_guardians,
    change_threshold,
    majority,
    remove_device,
    remove_guardian,
)
from aura_features.devices.device_manager import (
    CustodyConfig,
    DeviceExtension,
    DeviceManager,
    expected_facts,
)
from aura_features.devices.fact_signing import sign_facts_in_process
from aura_features.devices.share_holders import (
    MAX_DEVICES,
    MAX_GUARDIANS,
    DeviceKeys,
    DeviceMember,
    DeviceProfile,
    GuardianKeys,
    GuardianMember,
    GuardianProfile,
    guardian_leaf_device,
    identity_signature,
    identity_signature_valid,
)
from aura_features.devices.share_transfer import ShareCollector, make_deal, open_share, seal_share
from aura_features.devices.wire_codec import MAX_MESSAGE_BYTES, MessageCodec, message_type

OPERATION_CATEGORIES = {
    "devices.add": "C",
    "devices.remove": "C",
    "devices.change_threshold": "C",
    "devices.guardian_change": "C",
}
"""Every custody change blocks on consensus among the account's devices (category C)."""

__all__ = [
    "ACCOUNT_CUSTODY",
    "AUTHORIZATION_KINDS",
    "CHANGE_KINDS",
    "CONSENSUS_SLOT",
    "CUSTODY_CODEC",
    "DEFAULT_DISPUTE_WINDOW_S",
    "GUARDIAN_SET_TYPE_ID",
    "KEY_EPOCH_TYPE_ID",
    "MAX_DEVICES",
    "MAX_DISPUTE_WINDOW_S",
    "MAX_GUARDIANS",
    "MAX_MESSAGE_BYTES",
    "OPERATION_CATEGORIES",
    "ROOT_BRANCH",
    "AccountCustodyReducer",
    "AttestCommitments",
    "AttestRequest",
    "AttestShares",
    "AttestSign",
    "Authorized",
    "ChangeAborted",
    "ChangeComplete",
    "ChangeCompleted",
    "ChangeDecided",
    "ChangeFailed",
    "ConsensusFrame",
    "CustodyChange",
    "CustodyConfig",
    "CustodyEvent",
    "CustodyState",
    "CustodyView",
    "DerivedOps",
    "DeviceExtension",
    "DeviceKeys",
    "DeviceManager",
    "DeviceMember",
    "DeviceProfile",
    "EnrollmentRequest",
    "EnrollmentRequested",
    "FactsAdded",
    "GuardianKeys",
    "GuardianMember",
    "GuardianProfile",
    "GuardianSet",
    "KeyEpoch",
    "MessageCodec",
    "MessageRejected",
    "ShareActivated",
    "ShareCollector",
    "ShareDeal",
    "ShareErased",
    "SharePending",
    "ShareReceived",
    "TransferStart",
    "account_genesis",
    "account_keys_by_dkg",
    "add_device",
    "add_guardians",
    "authorize_consensus",
    "authorize_single",
    "change_threshold",
    "consensus_instance",
    "custody_fact_types",
    "custody_registry",
    "derive_ops",
    "device_leaf",
    "expected_facts",
    "guardian_leaf",
    "guardian_leaf_device",
    "identity_signature",
    "identity_signature_valid",
    "install_custody_facts",
    "majority",
    "make_deal",
    "message_type",
    "next_identifier",
    "open_share",
    "prestate_hash",
    "remove_device",
    "remove_guardian",
    "seal_share",
    "sign_facts_in_process",
    "sign_message",
    "signature_valid",
    "single_authorization",
]
