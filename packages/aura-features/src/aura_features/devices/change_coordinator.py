"""The coordinator of a custody change: dealing, receipts, attestation, completion.

Whoever put a change to consensus (or the new device of a recovery)
coordinates it once it is decided: it asks the dealers to deal and the
recipients to collect, waits until every recipient signed a receipt for the
same new public key package, builds the facts the change means, has the
signers attest them with FROST (one nonce pair per fact) and sends the
signed facts to everyone. Any phase that does not finish in time aborts the
change; the old shares then stay in effect.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from aura_core.crypto import (
    InvalidSignatureShares,
    PublicKeyPackage,
    SignatureShare,
    SigningCommitments,
    SigningPackage,
    from_bytes,
    to_bytes,
)
from aura_core.crypto.ed25519 import verify_signature
from aura_core.effects import Outgoing
from aura_core.errors import (
    AuraError,
    CryptoError,
    InvalidInput,
    ProtocolViolation,
    ValidationError,
)
from aura_features.devices.attestation_checks import check_receipts, recipient_key
from aura_features.devices.change_authorization import Authorized
from aura_features.devices.custody_change import CustodyChange, DerivedOps, derive_ops
from aura_features.devices.custody_events import ChangeFailed
from aura_features.devices.custody_facts import GuardianSet, KeyEpoch
from aura_features.devices.custody_messages import (
    CUSTODY_CODEC,
    AttestCommitments,
    AttestRequest,
    AttestShares,
    AttestSign,
    ChangeAborted,
    ChangeComplete,
    ShareReceived,
    TransferStart,
    signature_valid,
)
from aura_features.devices.fact_signing import (
    aggregate_batch,
    attest,
    fact_messages,
    signing_packages,
)
from aura_journal import Fact, TreeOpBody

__all__ = ["Coordination", "CoordinatorRole"]

_MAX_SETTLED = 64


class Coordination:
    """What the coordinator of one change has gathered so far."""

    def __init__(
        self,
        change: CustodyChange,
        start: TransferStart,
        authorized: Authorized,
        commit_fact: Fact | None,
        notify: set[str],
        deadline: float,
    ) -> None:
        self.change = change
        self.start = start
        self.authorized = authorized
        self.commit_fact = commit_fact
        self.notify = notify
        self.deadline = deadline
        self.phase = "dealing"
        self.receipts: dict[int, ShareReceived] = {}
        self.package: PublicKeyPackage | None = None
        self.signers: tuple[int, ...] = ()
        self.signer_addresses: dict[int, str] = {}
        self.signing_package: PublicKeyPackage | None = None
        self.facts: tuple[Fact, ...] = ()
        self.messages: list[bytes] = []
        self.commitments: dict[int, tuple[SigningCommitments, ...]] = {}
        self.packages: list[SigningPackage] = []
        self.shares: dict[int, tuple[bytes, ...]] = {}


class CoordinatorRole:
    """The coordinator's steps, mixed into :class:`~aura_features.devices.DeviceManager`.

    Relies on the manager's journal, views, ``send``, ``metadata``,
    ``_deliver`` and ``_finished``; keeps ``_coordinations`` (open) and
    ``_settled`` (recently finished, whose late replies are ignored).
    """

    # ------------------------------------------------------------------ coordination

    def coordinate(
        self,
        change: CustodyChange,
        kind: str,
        authorization: bytes,
        authorized: Authorized,
        dealers: tuple[int, ...],
        now: float,
        *,
        commit_fact: Fact | None = None,
        round_: int = 1,
        notify: Iterable[str] = (),
        dealing_timeout_s: float | None = None,
    ) -> list[Outgoing]:
        """Run a decided change as its coordinator: dealing, receipts, attestation, completion.

        ``notify`` adds addresses told of the outcome (everyone holding a share
        or the journal is told anyway); ``dealing_timeout_s`` replaces the
        phase timeout for the dealing phase (a recovery's dealers wait out
        the dispute window first).
        """
        missing = [d for d in dealers if d not in authorized.dealer_addresses]
        if missing:
            raise InvalidInput(f"no address known for dealer(s) {missing}")
        known = self._known_holders()
        start = TransferStart(
            change.encode(), kind, authorization, self.address, tuple(sorted(dealers)), round_
        )
        joining = attrs.evolve(start, journal=self.journal_facts())
        out = []
        targets = {authorized.dealer_addresses[d] for d in dealers}
        targets |= {m.profile.address for m in change.recipients}
        for address in sorted(targets):
            out.append(self.send(address, start if address in known else joining))
        everyone = set(notify) | targets | known
        everyone |= {m.profile.address for m in change.devices}
        everyone |= {m.profile.address for m in change.guardians}
        timeout = self.config.phase_timeout_s if dealing_timeout_s is None else dealing_timeout_s
        self._coordinations[change.hash] = Coordination(
            change, start, authorized, commit_fact, everyone, now + timeout
        )
        return out

    def abandon(self, change_hash: bytes, reason: str, now: float) -> list[Outgoing]:
        """Stop coordinating a change (tell everyone; pending shares are dropped)."""
        coordination = self._coordinations.get(change_hash)
        if coordination is None:
            return []
        return self._deliver(self._abort(coordination, reason, now), now)

    def _known_holders(self) -> set[str]:
        """Addresses that hold the account journal: the current devices and guardians."""
        addresses: set[str] = set()
        if self.key_epoch is not None:
            addresses |= {m.profile.address for m in self.key_epoch.devices}
        if self.guardian_set is not None:
            addresses |= {m.profile.address for m in self.guardian_set.guardians}
        return addresses

    # ------------------------------------------------------------------ coordinator steps

    def _coordination(self, change_hash: bytes, round_: int) -> Coordination | None:
        """The coordination a reply is for; ``None`` for a late reply to a settled change."""
        coordination = self._coordinations.get(change_hash)
        if coordination is None and change_hash in self._settled:
            return None
        if coordination is None or coordination.start.round != round_:
            raise ProtocolViolation("a reply for a change or round this device does not coordinate")
        return coordination

    def _settle(self, coordination: Coordination) -> None:
        """Stop coordinating; replies still in flight are then ignored quietly."""
        self._coordinations.pop(coordination.change.hash, None)
        self._settled[coordination.change.hash] = None
        while len(self._settled) > _MAX_SETTLED:
            del self._settled[next(iter(self._settled))]

    def _on_received(self, source: str, receipt: ShareReceived, now: float) -> list[Outgoing]:
        coordination = self._coordination(receipt.change_hash, receipt.round)
        if coordination is None or coordination.phase != "dealing":
            return []
        change = coordination.change
        key = recipient_key(change, receipt.holder)
        if key is None:
            raise ProtocolViolation(
                f"participant {receipt.holder} receives no share in this change"
            )
        if not signature_valid(receipt, key):
            raise CryptoError(f"receipt of participant {receipt.holder} is not signed by its key")
        coordination.receipts.setdefault(receipt.holder, receipt)
        if len(coordination.receipts) < len(change.recipients):
            return []
        request_receipts = tuple(
            CUSTODY_CODEC.encode(coordination.receipts[m.identifier]) for m in change.recipients
        )
        draft = AttestRequest(change.hash, receipt.round, (), (), request_receipts)
        try:
            package = check_receipts(change, draft)
        except AuraError as exc:
            return self._abort(coordination, exc.message, now)
        return self._start_attestation(coordination, package, request_receipts, now)

    def _start_attestation(
        self,
        coordination: Coordination,
        package: PublicKeyPackage,
        receipts: tuple[bytes, ...],
        now: float,
    ) -> list[Outgoing]:
        change = coordination.change
        head = self.tree
        if head is None:
            return self._abort(coordination, "the coordinator has no account journal", now)
        if change.rebuilds == "devices":
            signers = tuple(m.identifier for m in change.devices)
            addresses = {m.identifier: m.profile.address for m in change.devices}
            device_package, signing_package = package, package
            guardian_package = (
                self.guardian_set.guardian_package if self.guardian_set is not None else None
            )
        else:
            epoch = self.key_epoch
            assert epoch is not None
            signers = coordination.start.dealers
            addresses = {m.identifier: m.profile.address for m in epoch.devices}
            device_package, signing_package = None, epoch.public_key_package
            guardian_package = package
        try:
            derived = derive_ops(head, change)
        except AuraError as exc:
            return self._abort(coordination, exc.message, now)
        facts = self._build_facts(change, derived, device_package, guardian_package, now)
        coordination.phase = "commitments"
        coordination.package = package
        coordination.signers = signers
        coordination.signer_addresses = addresses
        coordination.signing_package = signing_package
        coordination.facts = facts
        coordination.messages = fact_messages(
            facts, self.namespace, bytes(signing_package.verifying_key), len(signers)
        )
        coordination.deadline = now + self.config.phase_timeout_s
        if signing_package.min_signers == 1:
            coordination.phase = "shares"
        request = AttestRequest(
            change.hash,
            coordination.start.round,
            tuple(f.encode() for f in facts),
            signers,
            receipts,
        )
        return [self.send(addresses[s], request) for s in signers]

    def _build_facts(
        self,
        change: CustodyChange,
        derived: DerivedOps,
        device_package: PublicKeyPackage | None,
        guardian_package: PublicKeyPackage | None,
        now: float,
    ) -> tuple[Fact, ...]:
        facts = [
            Fact.create(TreeOpBody.on(op, derived.states[i]), self.metadata(now))
            for i, op in enumerate(derived.ops)
        ]
        final = derived.final
        if change.rebuilds == "devices":
            assert device_package is not None
            facts.append(
                Fact.create(
                    KeyEpoch(
                        change.account,
                        final.epoch,
                        final.commitment,
                        change.threshold,
                        change.devices,
                        device_package,
                    ),
                    self.metadata(now),
                )
            )
        if change.guardians:
            assert guardian_package is not None
            facts.append(
                Fact.create(
                    GuardianSet(
                        change.account,
                        final.commitment,
                        final.height,
                        change.guardians,
                        change.guardian_threshold,
                        guardian_package,
                        change.devices,
                        change.threshold,
                        change.dispute_window_s,
                    ),
                    self.metadata(now),
                )
            )
        return tuple(facts)

    def _on_commitments(
        self, source: str, message: AttestCommitments, now: float
    ) -> list[Outgoing]:
        coordination = self._coordination(message.change_hash, message.round)
        if coordination is None or coordination.phase != "commitments":
            return []
        if message.signer not in coordination.signers:
            raise ProtocolViolation(f"participant {message.signer} is not a signer of this change")
        if len(message.commitments) != len(coordination.facts):
            raise ValidationError("one commitment per fact is needed")
        commitments = tuple(from_bytes(item, SigningCommitments) for item in message.commitments)
        if any(c.identifier != message.signer for c in commitments):
            raise ValidationError("commitments name another signer")
        coordination.commitments.setdefault(message.signer, commitments)
        if len(coordination.commitments) < len(coordination.signers):
            return []
        coordination.packages = signing_packages(coordination.messages, coordination.commitments)
        coordination.phase = "shares"
        coordination.deadline = now + self.config.phase_timeout_s
        request = AttestSign(
            message.change_hash,
            message.round,
            tuple(to_bytes(p) for p in coordination.packages),
        )
        return [self.send(coordination.signer_addresses[s], request) for s in coordination.signers]

    def _on_shares(self, source: str, message: AttestShares, now: float) -> list[Outgoing]:
        coordination = self._coordination(message.change_hash, message.round)
        if coordination is None or coordination.phase != "shares":
            return []
        if message.signer not in coordination.signers:
            raise ProtocolViolation(f"participant {message.signer} is not a signer of this change")
        if len(message.shares) != len(coordination.facts):
            raise ValidationError("one signature share per fact is needed")
        coordination.shares.setdefault(message.signer, message.shares)
        if len(coordination.shares) < len(coordination.signers):
            return []
        package = coordination.signing_package
        assert package is not None
        group_key = bytes(package.verifying_key)
        count = len(coordination.signers)
        try:
            if package.min_signers == 1:
                signatures = list(coordination.shares[coordination.signers[0]])
                for signature, text in zip(signatures, coordination.messages, strict=True):
                    if not verify_signature(group_key, text, signature):
                        raise InvalidSignatureShares(coordination.signers)
            else:
                shares = {
                    signer: tuple(from_bytes(item, SignatureShare) for item in items)
                    for signer, items in coordination.shares.items()
                }
                signatures = aggregate_batch(coordination.packages, shares, package)
        except AuraError as exc:
            return self._abort(coordination, f"signing failed: {exc.message}", now)
        signed = attest(coordination.facts, signatures, group_key, count)
        facts = (
            [coordination.commit_fact] if coordination.commit_fact is not None else []
        ) + signed
        complete = ChangeComplete(coordination.change.hash, tuple(f.encode() for f in facts))
        self._settle(coordination)
        self._completing[coordination.change.hash] = coordination.change
        return [self.send(address, complete) for address in sorted(coordination.notify)]

    def _abort(self, coordination: Coordination, reason: str, now: float) -> list[Outgoing]:
        change = coordination.change
        self._settle(coordination)
        message = ChangeAborted(change.hash, coordination.start.round, reason[:500])
        out = [self.send(address, message) for address in sorted(coordination.notify)]
        if change.hash not in self._participations:  # else our own abort message reports it
            self._events.append(ChangeFailed(change.hash, reason))
            out += self._finished(change, False, reason, now)
        return out
