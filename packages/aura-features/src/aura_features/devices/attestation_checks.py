"""What a holder checks before it signs or settles a custody change.

A coordinator proposes the facts; every signer re-derives them from the
change and its own tree and signs only an exact match
(:func:`expected_facts`), after checking that every recipient signed a
receipt for one and the same new public key package (:func:`check_receipts`).
A completion settles a holder's change only if its facts reach the tree
state the change leads to (:func:`change_reached`), so valid facts of some
other change cannot cut a ceremony short.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aura_core.crypto import PublicKeyPackage, from_bytes
from aura_core.errors import AuraError, CryptoError, ValidationError
from aura_features.devices.custody_change import CustodyChange, DerivedOps, derive_ops
from aura_features.devices.custody_facts import GuardianSet, KeyEpoch
from aura_features.devices.custody_messages import (
    CUSTODY_CODEC,
    AttestRequest,
    ShareReceived,
    signature_valid,
)
from aura_journal import COMMITMENT_TREE, UNATTESTED, Fact, Journal, TreeOpBody, TreeState

__all__ = ["change_reached", "check_receipts", "expect_body", "expected_facts", "recipient_key"]


def expected_facts(
    *,
    head: TreeState,
    change: CustodyChange,
    facts: Sequence[Fact],
    device_package: PublicKeyPackage | None,
    guardian_package: PublicKeyPackage | None,
) -> DerivedOps:
    """Check that ``facts`` are exactly what ``change`` means on ``head``; return the ops.

    Tree operations in order with chained parents, then the key epoch (if the
    devices' shares were rebuilt) and the guardian set (if there are
    guardians). Metadata is the coordinator's choice; content is not.
    """
    derived = derive_ops(head, change)
    tree_facts = facts[: len(derived.ops)]
    if len(tree_facts) != len(derived.ops):
        raise ValidationError("fewer facts than the change's tree operations")
    for index, (fact, op) in enumerate(zip(tree_facts, derived.ops, strict=True)):
        state = derived.states[index]
        expected = Fact(
            TreeOpBody.TYPE_ID,
            Fact.create(TreeOpBody.on(op, state), fact.metadata).payload,
            UNATTESTED,
            fact.metadata,
        )
        if fact != expected:
            raise ValidationError(f"fact {index} is not the change's {op.kind} operation")
    rest = list(facts[len(derived.ops) :])
    final = derived.final
    if change.rebuilds == "devices":
        if device_package is None or not rest:
            raise ValidationError("the change's key epoch fact is missing")
        body = KeyEpoch(
            change.account,
            final.epoch,
            final.commitment,
            change.threshold,
            change.devices,
            device_package,
        )
        expect_body(rest.pop(0), body, "key epoch")
    if change.guardians:
        if guardian_package is None or not rest:
            raise ValidationError("the change's guardian set fact is missing")
        body_g = GuardianSet(
            change.account,
            final.commitment,
            final.height,
            change.guardians,
            change.guardian_threshold,
            guardian_package,
            change.devices,
            change.threshold,
            change.dispute_window_s,
        )
        expect_body(rest.pop(0), body_g, "guardian set")
    if rest:
        raise ValidationError("more facts than the change produces")
    return derived


def expect_body(fact: Fact, body: Any, what: str) -> None:
    if fact.type_id != body.TYPE_ID or fact.attestation != UNATTESTED:
        raise ValidationError(f"the {what} fact has the wrong type or is already signed")
    if Fact.create(body, fact.metadata) != fact:
        raise ValidationError(f"the {what} fact does not hold what the change implies")


def change_reached(journal: Journal, head: TreeState | None, change: CustodyChange) -> bool:
    """Whether ``journal`` holds the tree state ``change`` leads to from ``head``."""
    if head is None:
        return True  # a device joining with no tree takes the completion as it comes
    try:
        final = derive_ops(head, change).final
    except AuraError:
        return False
    return journal.state(COMMITMENT_TREE.name).state_at(final.commitment) is not None


def recipient_key(change: CustodyChange, holder: int) -> bytes | None:
    if change.rebuilds == "devices":
        profile = change.device(holder)
        return None if profile is None else profile.leaf_key
    guardian = change.guardian(holder)
    return None if guardian is None else guardian.signing_key


def check_receipts(change: CustodyChange, request: AttestRequest) -> PublicKeyPackage:
    """Every recipient signed a receipt for the same new public key package; return it."""
    receipts = [CUSTODY_CODEC.decode_as(item, ShareReceived) for item in request.receipts]
    holders = [r.holder for r in receipts]
    if holders != [m.identifier for m in change.recipients]:
        raise ValidationError("the receipts do not come from exactly the change's recipients")
    packages = set()
    for receipt in receipts:
        key = recipient_key(change, receipt.holder)
        if receipt.change_hash != change.hash or receipt.round != request.round:
            raise ValidationError("a receipt is for another change or round")
        if key is None or not signature_valid(receipt, key):
            raise CryptoError(f"the receipt of participant {receipt.holder} does not verify")
        packages.add(receipt.package)
    if len(packages) != 1:
        raise ValidationError("the recipients computed different public key packages")
    package = from_bytes(packages.pop(), PublicKeyPackage)
    if package.identifiers != tuple(holders):
        raise ValidationError("the new key package is not for the change's recipients")
    if package.min_signers != change.recipient_threshold:
        raise ValidationError("the new key package has another threshold than the change")
    return package
