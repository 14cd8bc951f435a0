"""The features every agent has, described through the same interface outside features use.

``account`` publishes the account view (devices, guardians, threshold) from
the commitment tree; ``journals`` publishes fact counts; ``profile``
(:mod:`aura_agent.profile_feature`) keeps a device-signed nickname;
``contacts`` (:mod:`aura_agent.contacts_feature`) wraps invitations and
rendezvous; ``chat`` (:mod:`aura_agent.chat_feature`) runs a chat service per
contact; ``devices`` (:mod:`aura_agent.custody_feature`) runs multi-device
accounts and ``recovery`` (:mod:`aura_agent.recovery_feature`) guardians and
recovery; ``datakey`` (:mod:`aura_agent.data_key_feature`) gives every device
of a threshold account the account's data key, and ``vault``
(:mod:`aura_agent.vault_feature`) leaves a sealed copy of the contacts with the
guardians so a recovery restores them. The commitment tree
and flow-budget types are in every registry already (``aura_journal``'s
built-ins), so ``account`` and ``journals`` add no fact types of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aura_agent.app.account_view import account_view, journal_counts
from aura_agent.chat_feature import chat_feature
from aura_agent.contacts_feature import contacts_feature
from aura_agent.custody_feature import devices_feature
from aura_agent.data_key_feature import data_key_feature
from aura_agent.feature import Feature, JournalReader, SignalSpec
from aura_agent.profile_feature import profile_feature
from aura_agent.recovery_feature import recovery_feature
from aura_agent.vault_feature import vault_feature
from aura_journal import TREE_GENESIS_TYPE_ID, TREE_OP_TYPE_ID

__all__ = ["BUILTIN_FEATURES", "account_feature", "journals_feature"]

ACCOUNT_SIGNAL = "account"
JOURNALS_SIGNAL = "journals"


def _devices(reader: JournalReader, _args: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(str(device) for device in account_view(reader).devices)


def account_feature() -> Feature:
    return Feature(
        name="account",
        signals=(
            SignalSpec(ACCOUNT_SIGNAL, account_view, {TREE_GENESIS_TYPE_ID, TREE_OP_TYPE_ID}),
        ),
        queries={"account.devices": _devices},
        description="The account's commitment tree as a view: devices, guardians, threshold.",
    )


def journals_feature() -> Feature:
    return Feature(
        name="journals",
        signals=(SignalSpec(JOURNALS_SIGNAL, journal_counts),),
        description="Fact counts per kind of journal.",
    )


BUILTIN_FEATURES: tuple[Callable[[], Feature], ...] = (
    account_feature,
    journals_feature,
    profile_feature,
    contacts_feature,
    chat_feature,
    devices_feature,
    recovery_feature,
    data_key_feature,
    vault_feature,
)
