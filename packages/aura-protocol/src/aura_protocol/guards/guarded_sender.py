"""The interpreter of guard decisions: one transaction per send, transport only after commit.

:meth:`GuardedSender.commit` reads the snapshot, evaluates the chain and
applies its commands inside ONE storage transaction: the ``flow.charge`` fact
and the ledger row, the signed receipt (a fact of the context journal), the
coupled facts, the leakage rows and the outbox row holding the envelope. A
refusal raises before anything is written and the transaction rolls back.
Only committed outbox rows are ever handed to a transport
(:meth:`GuardedSender.flush`, or :meth:`pending` + :meth:`acknowledge` for a
sans-IO driver); a row is removed only once the transport took it, so after a
crash the rows still pending are sent again on restart: at-least-once on the
wire, and exactly once into the receiver's journal because the receiver
records each receipt fact by content id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import attrs

from aura_core.effects import (
    OutboxEntry,
    PhysicalTimeEffects,
    RandomEffects,
    StorageEffects,
    StorageTransaction,
)
from aura_core.errors import (
    AuthorizationDenied,
    InvalidInput,
    JournalCommitFailed,
    StorageError,
    ValidationError,
)
from aura_journal.facts import Fact, FactMetadata, order_time_from_entropy
from aura_journal.flow_budget import FlowCharge
from aura_journal.namespace import JournalNamespace
from aura_protocol.guards.context_identity import DeviceSigner
from aura_protocol.guards.context_membership import ContextMembership, MembershipTable
from aura_protocol.guards.envelope import Envelope
from aura_protocol.guards.guard_chain import GuardChain
from aura_protocol.guards.guard_commands import (
    ChargeFlowBudget,
    CommitFacts,
    EnqueueEnvelope,
    GuardCommand,
    IssueReceipt,
    RecordLeakage,
)
from aura_protocol.guards.guard_ledgers import (
    journal_name,
    read_flow_row,
    read_leakage_row,
    write_flow_row,
    write_leakage_row,
)
from aura_protocol.guards.receipt import NONCE_BYTES, Receipt, receipt_fact
from aura_protocol.guards.receipt_chain import verify_receipt_chain
from aura_protocol.guards.send_request import GuardSnapshot, SendRequest

__all__ = ["CommittedSend", "EnvelopeTransport", "GuardedSender"]


@runtime_checkable
class EnvelopeTransport(Protocol):
    """Where committed envelopes go: returns once the transport has taken the bytes."""

    async def send(self, address: str, envelope: bytes) -> None: ...


@attrs.frozen
class CommittedSend:
    """A send that is durably committed and waiting in the outbox."""

    entry_id: int
    address: str
    envelope: Envelope
    receipt: Receipt


class GuardedSender:
    """Runs every send of one authority (one device) through the guard chain."""

    def __init__(
        self,
        *,
        storage: StorageEffects,
        memberships: MembershipTable,
        device: DeviceSigner,
        chain: GuardChain,
        time: PhysicalTimeEffects,
        random: RandomEffects,
    ) -> None:
        if not isinstance(memberships, MembershipTable):
            raise InvalidInput("GuardedSender needs a MembershipTable")
        if not isinstance(device, DeviceSigner) or not isinstance(chain, GuardChain):
            raise InvalidInput("GuardedSender needs a DeviceSigner and a GuardChain")
        self.storage = storage
        self.memberships = memberships
        self.device = device
        self.chain = chain
        self.time = time
        self.random = random
        self.authority = memberships.authority
        self._authority_journal = journal_name(JournalNamespace.authority(self.authority))

    # ------------------------------------------------------------------ committing

    def commit(self, request: SendRequest) -> CommittedSend:
        """Guard, then durably commit ``request``; raises the guard's denial otherwise."""
        if not isinstance(request, SendRequest):
            raise InvalidInput(f"expected a SendRequest, got {type(request).__name__}")
        if request.peer == self.authority:
            raise InvalidInput("a node does not send to itself")
        try:
            membership = self.memberships.get(request.context)
        except ValidationError as exc:
            raise AuthorizationDenied(f"authorization denied: {exc.message}") from None
        if request.peer not in membership.roster:
            raise AuthorizationDenied(
                f"authorization denied: {request.peer} is not a member of {request.context}"
            )
        nonce = self.random.random_bytes(NONCE_BYTES)
        entropy = self.random.random_bytes(32)
        now = self.time.now()
        try:
            with self.storage.transaction() as txn:
                snapshot = self._snapshot(txn, request, membership, now, nonce, entropy)
                decision = self.chain.evaluate(request, snapshot)
                if decision.denial is not None:
                    raise decision.denial
                return self._apply(txn, decision.commands, membership, snapshot)
        except StorageError as exc:
            raise JournalCommitFailed(
                f"the send to {request.peer} in {request.context} could not be committed: "
                f"{exc.message}"
            ) from None

    def _snapshot(
        self,
        txn: StorageTransaction,
        request: SendRequest,
        membership: ContextMembership,
        now: object,
        nonce: bytes,
        entropy: bytes,
    ) -> GuardSnapshot:
        spent, flow_epoch = read_flow_row(txn, request.context, request.peer)
        leakage = {}
        for observer, _amount in request.leakage:
            leak_spent, leak_epoch = read_leakage_row(txn, request.context, observer)
            leakage[observer] = membership.leakage.budget(observer, leak_spent, leak_epoch)
        return GuardSnapshot(
            sender=self.authority,
            now=now,
            epoch=membership.roster.epoch,
            token=membership.token,
            flow_spent=spent,
            flow_epoch=flow_epoch,
            leakage=leakage,
            nonce=nonce,
            order_entropy=entropy,
            authorization_facts=membership.authorization_facts,
        )

    def _apply(
        self,
        txn: StorageTransaction,
        commands: tuple[GuardCommand, ...],
        membership: ContextMembership,
        snapshot: GuardSnapshot,
    ) -> CommittedSend:
        context_journal = journal_name(JournalNamespace.context(membership.context))
        receipt: Receipt | None = None
        committed: CommittedSend | None = None
        for command in commands:
            if type(command) is ChargeFlowBudget:
                body = FlowCharge(command.context, command.peer, command.epoch.value, command.cost)
                metadata = FactMetadata(
                    order_time_from_entropy(snapshot.order_entropy), snapshot.now
                )
                fact = Fact.create(body, metadata).signed_by_device(
                    JournalNamespace.authority(self.authority),
                    self.device.device,
                    self.device.signing_key,
                )
                txn.append_fact(self._authority_journal, fact.cid.raw, fact.encode())
                write_flow_row(txn, command.context, command.peer, command.epoch, command.spent)
            elif type(command) is IssueReceipt:
                unsigned = command.receipt
                receipt = unsigned.signed(membership.identity.sign(unsigned.signing_message()))
                fact = receipt_fact(receipt)
                txn.append_fact(context_journal, fact.cid.raw, fact.encode())
            elif type(command) is CommitFacts:
                name = journal_name(command.namespace)
                for fact in command.facts:
                    txn.append_fact(name, fact.cid.raw, fact.encode())
            elif type(command) is RecordLeakage:
                write_leakage_row(
                    txn, command.context, command.observer, command.epoch, command.spent
                )
            elif type(command) is EnqueueEnvelope:
                if receipt is None:
                    raise InvalidInput("a guard decision must issue a receipt before the envelope")
                for prior in command.prior_receipts:  # a relay keeps the chain it forwards
                    fact = receipt_fact(prior)
                    txn.append_fact(context_journal, fact.cid.raw, fact.encode())
                envelope = Envelope(
                    command.context,
                    command.origin,
                    command.destination,
                    command.payload,
                    tuple(f.encode() for f in command.facts),
                    (*command.prior_receipts, receipt),
                )
                entry_id = txn.enqueue_outbox(command.address, envelope.encode())
                committed = CommittedSend(entry_id, command.address, envelope, receipt)
            else:  # pragma: no cover - the command union is closed
                raise InvalidInput(f"unknown guard command {type(command).__name__}")
        if committed is None:
            raise InvalidInput("a guard decision must end by enqueueing the envelope")
        return committed

    # ------------------------------------------------------------------ relaying

    def forward(self, envelope: Envelope, *, next_hop: SendRequest) -> CommittedSend:
        """Relay ``envelope`` one hop further, paying this hop's own budget.

        The chain received must be valid for this node (rooted in a context it
        belongs to, current epoch, linked, signed, addressed here); the new
        receipt links to its last hop. ``next_hop`` gives the peer, address,
        capability and cost of the relay send; its payload is replaced by the
        envelope's.
        """
        if not isinstance(envelope, Envelope):
            raise InvalidInput("forward needs a decoded Envelope")
        membership = self.memberships.get(envelope.context)
        verify_receipt_chain(envelope.receipts, roster=membership.roster, recipient=self.authority)
        if envelope.destination == self.authority:
            raise ValidationError(
                "the envelope is addressed to this node; deliver it, do not relay"
            )
        facts = tuple(Fact.decode(raw) for raw in envelope.facts)
        request = attrs.evolve(
            next_hop,
            context=envelope.context,
            payload=envelope.payload,
            facts=facts,
            fact_types=None,
            prior_receipts=envelope.receipts,
            origin=envelope.origin,
            destination=envelope.destination,
        )
        return self.commit(request)

    # ------------------------------------------------------------------ the outbox

    def pending(self, limit: int | None = None) -> list[OutboxEntry]:
        """Committed envelopes not yet taken by a transport, oldest first."""
        with self.storage.transaction(readonly=True) as txn:
            return txn.pending_outbox(limit)

    def acknowledge(self, entry_id: int) -> bool:
        """The transport took entry ``entry_id``: drop it from the outbox."""
        with self.storage.transaction() as txn:
            return txn.ack_outbox(entry_id)

    def drain(self, deliver: Callable[[str, bytes], object], *, limit: int | None = None) -> int:
        """Synchronous :meth:`flush` for sans-IO drivers: ``deliver(address, envelope)`` each entry."""
        sent = 0
        for entry in self.pending(limit):
            deliver(entry.destination, entry.payload)
            self.acknowledge(entry.entry_id)
            sent += 1
        return sent

    async def flush(self, transport: EnvelopeTransport, *, limit: int | None = None) -> int:
        """Hand every pending envelope to ``transport`` in order; returns how many were sent.

        A transport error stops the flush and leaves that entry (and later
        ones) pending for the next flush.
        """
        sent = 0
        for entry in self.pending(limit):
            await transport.send(entry.destination, entry.payload)
            self.acknowledge(entry.entry_id)
            sent += 1
        return sent
