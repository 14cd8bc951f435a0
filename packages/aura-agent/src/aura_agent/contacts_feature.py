"""The contacts feature: invitations, relational contexts, and reaching contacts through relays.

Wraps :mod:`aura_features.invitation` and :mod:`aura_features.rendezvous`
for an agent:

* ``contacts.invite`` issues an invitation whose reply path is a mailbox on
  this agent's relay; the code (``aura:v1:...``) goes to the invitee out of
  band. ``contacts.accept`` answers it: the new relational context's journal
  is created, this agent's rendezvous descriptor is published in it, and the
  signed acceptance plus the descriptor are sealed to the inviter's reply
  path. The inviter's agent reads that mailbox, admits the acceptance and
  publishes its own descriptor; anti-entropy then carries the context journal
  both ways.
* Each side's descriptor names its relays, a mailbox tag, a sealing key, its
  receipt key and its Noise key, all derived per context (DKD) so two
  contexts of one account cannot be linked. A frame for a contact is sealed
  to the contact's sealing key and left in its mailbox; the relay sees an
  opaque tag and ciphertext.
* Once both descriptors are known, the context gets a guarded membership
  (roster from the descriptors, a Biscuit token of this device granting the
  features' capabilities there), which is what chat and every other guarded
  send need.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import nacl.bindings

from aura_agent.feature import Feature, FeatureHost, JournalReader, SignalSpec
from aura_agent.relay_mail import Deposit, MailboxWatch, context_route, parse_context_route
from aura_core.errors import AuraError, InvalidInput, NotFound, ValidationError
from aura_core.hashing import derive_context_key
from aura_core.identifiers import AuthorityId, ContextId, Epoch
from aura_effects import SodiumCrypto
from aura_features.invitation import (
    ACCEPTED_TYPE_ID,
    ANSWERED_TYPE_ID,
    CONTACT_PETNAMES,
    INVITATION_LEDGER,
    RELATIONSHIP,
    InvitationBook,
    InvitationId,
    InvitationStatus,
    InviteKind,
    ReplyKeys,
    SignedInvite,
    contacts_of,
    invitation_fact_types,
    open_acceptance,
    seal_acceptance,
)
from aura_features.rendezvous import (
    DESCRIPTOR_TYPE_ID,
    RENDEZVOUS_DESCRIPTORS,
    MailboxKey,
    RendezvousDescriptor,
    SealedEnvelope,
    descriptor_fact_type,
    open_envelope,
    publish_descriptor,
    seal_envelope,
)
from aura_journal import Fact, Journal, JournalNamespace
from aura_protocol.guards import ContextIdentity, ContextMember, ContextMembership, ContextRoster

__all__ = [
    "CONTACTS_FEATURE",
    "DESCRIPTOR_LIFETIME_MS",
    "SEAL_PURPOSE",
    "ContactView",
    "ContactsService",
    "InvitationView",
    "contacts_feature",
]

CONTACTS_FEATURE = "contacts"
SEAL_PURPOSE = "rendezvous-seal-x25519"
DESCRIPTOR_LIFETIME_MS = 30 * 24 * 3600 * 1000
_REPUBLISH_MS = 7 * 24 * 3600 * 1000
_CONTEXT_EPOCH = Epoch(0)
_MAX_WAITING = 64
_CONTACT_FACT_TYPES = frozenset(
    {t.type_id for t in invitation_fact_types() if "context" in t.namespaces} | {DESCRIPTOR_TYPE_ID}
)
"""Context facts a contacts backup carries (see :meth:`ContactsService.backup`)."""


@attrs.frozen
class InvitationView:
    """An invitation this agent issued (``sent``) or answered."""

    invitation: InvitationId
    kind: InviteKind
    sent: bool
    status: str
    """Sent: open, expired, cancelled or redeemed. Received: accepted or declined."""
    peer: AuthorityId | None
    """Who accepted it (sent) or who issued it (received)."""


@attrs.frozen
class ContactView:
    """One contact as a UI lists it."""

    authority: AuthorityId
    context: ContextId
    nickname: str | None
    invited_by_me: bool
    reachable: bool
    """Both descriptors are known: messages can flow."""


class ContactsService:
    """The contacts of one agent (built by the node once it has an account)."""

    def __init__(self, node: Any) -> None:
        self.node = node
        account = node.require_account()
        self.me: AuthorityId = account.authority
        self.signer = node.account_signer()
        self.context_root: bytes = node.account_keys().context_root
        """Per-context keys come from the account's data key, so every device (and a
        recovered one) derives the same mailboxes, seal keys and context identities."""
        self.crypto = SodiumCrypto(node.random)
        self.book: InvitationBook | None = None
        self._waiting: list[tuple[ContextId, Fact]] = []
        """Context facts that came through a reply path before their context was admitted."""

    # ------------------------------------------------------------------ set-up

    def ready(self, now: float) -> None:
        node = self.node
        authority_journal = node.book.open(JournalNamespace.authority(self.me))
        relationships = {}
        for namespace in node.book.namespaces:
            if namespace.is_context:
                journal = node.book.journal(namespace)
                if journal.state(RELATIONSHIP.name).established:
                    relationships[namespace.owner] = journal
        self.book = InvitationBook(
            self.me,
            self.signer,
            authority_journal,
            random=node.random,
            time=node.time,
            order_clock=node.order_clock,
            relationships=relationships,
        )
        for context in relationships:
            self._settle(context, now)

    def _require_book(self) -> InvitationBook:
        if self.book is None:
            raise NotFound("the contacts service is not ready")
        return self.book

    # ------------------------------------------------------------------ workflows

    def invite(self, *, nickname: str | None, message: str | None, valid_for_s: int) -> str:
        relays = self.node.settings.relays
        if not relays:
            raise InvalidInput(
                "inviting needs a relay in the agent's configuration (replies go there)"
            )
        book = self._require_book()
        nonce = self.node.random.random_bytes(16)
        keys = ReplyKeys.derive(self.context_root, authority=self.me, nonce=nonce)
        signed = book.create(
            InviteKind.CONTACT,
            valid_for_s=valid_for_s,
            nickname=nickname,
            message=message,
            reply=keys.path(relays),
            nonce=nonce,
        )
        self.node.book.save(book.journal.namespace)
        return signed.code()

    def accept(self, code: str, *, nickname: str | None, now: float) -> ContextId:
        book = self._require_book()
        signed = SignedInvite.parse(code)
        if signed.invite.reply is None:
            raise InvalidInput("this invitation names no reply path; the inviter cannot be reached")
        acceptance = book.accept(signed, nickname=nickname)
        self.node.book.save(book.journal.namespace)
        self.node.book.adopt(book.relationships[acceptance.context])
        self._publish(acceptance.context, now)
        descriptor = self._own_descriptor_fact(acceptance.context)
        reply = signed.invite.reply
        self.node.deposit(
            Deposit(reply.relays, seal_acceptance(self.crypto, acceptance, signed, self.signer))
        )
        if descriptor is not None:
            envelope = seal_envelope(
                self.crypto,
                recipient_seal_key=reply.seal_key,
                tag=reply.mailbox,
                context=acceptance.context,
                sender=self.me,
                signer=self.signer,
                body=descriptor.encode(),
            )
            self.node.deposit(Deposit(reply.relays, envelope))
        self._settle(acceptance.context, now)
        return acceptance.context

    def decline(self, code: str) -> None:
        book = self._require_book()
        book.decline(SignedInvite.parse(code))
        self.node.book.save(book.journal.namespace)

    def invitations(self) -> tuple[InvitationView, ...]:
        book = self._require_book()
        ledger = book.ledger
        now_ms = self.node.time.now().ts_ms
        out = []
        for invitation in ledger.issued_ids:
            signed = ledger.issued(invitation)
            assert signed is not None
            redeemed = ledger.redemption(invitation)
            status = ledger.status(invitation, now_ms)
            out.append(
                InvitationView(
                    invitation,
                    signed.invite.kind,
                    True,
                    str(status),
                    None if redeemed is None else redeemed.invitee,
                )
            )
        journal = book.journal
        for fact in journal.facts_of_type(ANSWERED_TYPE_ID):
            answered = journal.registry.body(fact)
            if ledger.answer(answered.invitation) != answered:
                continue  # a later duplicate answer; the first one counts
            out.append(
                InvitationView(
                    answered.invitation,
                    InviteKind.CONTACT,
                    False,
                    str(answered.answer),
                    answered.inviter,
                )
            )
        return tuple(out)

    def contacts(self) -> tuple[ContactView, ...]:
        book = self._require_book()
        guards = self.node.guards
        found = contacts_of(
            self.me,
            (journal.state(RELATIONSHIP.name) for journal in book.relationships.values()),
            book.journal.state(CONTACT_PETNAMES.name),
        )
        return tuple(
            ContactView(
                contact.peer,
                contact.context,
                contact.nickname,
                contact.invited_by_me,
                guards is not None and contact.context in guards.memberships,
            )
            for contact in found
        )

    # ------------------------------------------------------------------ descriptors and membership

    def _keys(self, context: ContextId) -> tuple[ContextIdentity, bytes, MailboxKey]:
        root = self.context_root
        identity = ContextIdentity.derive(
            root, authority=self.me, context=context, epoch=_CONTEXT_EPOCH
        )
        seal_private = derive_context_key(
            root, authority=self.me.raw, context=context.raw, epoch=0, purpose=SEAL_PURPOSE
        )
        return identity, seal_private, MailboxKey.derive(root, authority=self.me, context=context)

    def _publish(self, context: ContextId, now: float) -> Fact | None:
        """Publish (or renew) this agent's descriptor in ``context``; returns the new fact."""
        relays = self.node.settings.relays
        if not relays:
            return None
        namespace = JournalNamespace.context(context)
        now_ms = self.node.time.now().ts_ms
        current = (
            self.node.book.journal(namespace).state(RENDEZVOUS_DESCRIPTORS.name).latest(self.me)
        )
        direct = self.node.direct_addresses.get(context)
        addresses = () if direct is None else (direct,)
        if (
            current is not None
            and current.relays == relays
            and current.addresses == addresses
            and current.expires_ms - now_ms > _REPUBLISH_MS
        ):
            return None
        expires_ms = now_ms + DESCRIPTOR_LIFETIME_MS
        if current is not None:
            expires_ms = max(expires_ms, current.expires_ms + 1)  # the newest must win
        identity, seal_private, mailbox = self._keys(context)
        descriptor = RendezvousDescriptor(
            authority=self.me,
            epoch=_CONTEXT_EPOCH,
            addresses=addresses,
            relays=relays,
            noise_key=identity.channel_public,
            seal_key=nacl.bindings.crypto_scalarmult_base(seal_private),
            receipt_key=identity.signing_public,
            mailbox=mailbox.tag,
            expires_ms=expires_ms,
        )
        fact = publish_descriptor(
            descriptor, context=context, signer=self.signer, metadata=self.node.metadata()
        )
        self.node.add_facts(namespace, [fact])
        return fact

    def _own_descriptor_fact(self, context: ContextId) -> Fact | None:
        """The newest descriptor fact this agent published in ``context``."""
        journal = self.node.book.journal(JournalNamespace.context(context))
        mine = [
            (journal.registry.body(fact).expires_ms, fact.cid.raw, fact)
            for fact in journal.facts_of_type(DESCRIPTOR_TYPE_ID)
            if journal.registry.body(fact).authority == self.me
        ]
        return max(mine)[2] if mine else None

    def _knows_descriptor(self, context: ContextId, authority: AuthorityId, now_ms: int) -> bool:
        namespace = JournalNamespace.context(context)
        if namespace not in self.node.book:
            return False
        descriptors = self.node.book.journal(namespace).state(RENDEZVOUS_DESCRIPTORS.name)
        return descriptors.current(authority, now_ms) is not None

    def _settle(self, context: ContextId, now: float) -> None:
        """Make sure the context has our descriptor, its peer as a sync peer, and a membership."""
        namespace = JournalNamespace.context(context)
        journal = self.node.book.journal(namespace)
        relationship = journal.state(RELATIONSHIP.name)
        peer = relationship.peer_of(self.me)
        if peer is None:
            return
        self._publish(context, now)
        route = context_route(context, peer)
        if self.node.peers(namespace) != {route: peer}:
            self.node.set_peers(namespace, {route: peer}, now)
        descriptors = journal.state(RENDEZVOUS_DESCRIPTORS.name)
        now_ms = self.node.time.now().ts_ms
        mine, theirs = descriptors.current(self.me, now_ms), descriptors.current(peer, now_ms)
        guards = self.node.guards
        if mine is None or theirs is None or guards is None:
            return
        members = [
            ContextMember(
                d.authority, d.receipt_key, d.noise_key, context_route(context, d.authority)
            )
            for d in (mine, theirs)
        ]
        roster = ContextRoster.of(context, _CONTEXT_EPOCH, members)
        if context in guards.memberships and guards.memberships.get(context).roster == roster:
            return
        identity, _seal, _mailbox = self._keys(context)
        guards.memberships.put(
            ContextMembership(
                identity=identity, roster=roster, token=self.node.issue_token(context)
            )
        )
        # The peer cannot answer a sync session before it has our descriptor (it would not
        # know where to reach us): send the descriptor unasked, now that we can reach it.
        own = self._own_descriptor_fact(context)
        if own is not None:
            self.node.push_facts(namespace, [own], [context_route(context, peer)])
        for service in self.node.services.values():
            joined = getattr(service, "on_membership", None)
            if joined is not None:
                joined(context, now)

    def on_addresses(self, context: ContextId, now: float) -> None:
        """A direct listener opened for ``context``: advertise it and tell the contact now."""
        if self.book is None or context not in self.book.relationships:
            return
        if self._publish(context, now) is None:
            return
        peer = (
            self.node.book.journal(JournalNamespace.context(context))
            .state(RELATIONSHIP.name)
            .peer_of(self.me)
        )
        own = self._own_descriptor_fact(context)
        if peer is not None and own is not None:
            self.node.push_facts(
                JournalNamespace.context(context), [own], [context_route(context, peer)]
            )

    def on_facts(self, namespace: JournalNamespace, facts: Sequence[Fact], now: float) -> None:
        if not namespace.is_context or self.book is None:
            return
        if any(f.type_id in (DESCRIPTOR_TYPE_ID, ACCEPTED_TYPE_ID) for f in facts):
            context = namespace.owner
            assert isinstance(context, ContextId)
            if context not in self.book.relationships:
                return
            self._settle(context, now)

    # ------------------------------------------------------------------ backup and restore

    def backup(self) -> dict[ContextId, list[Fact]]:
        """What a recovered device needs to reach every contact again: per established
        context, its contact facts (the founding acceptance, descriptors, profiles).

        Everything else in a context journal (chat, budgets) comes back from the contact
        by anti-entropy once the contact can be reached."""
        book = self._require_book()
        kept = _CONTACT_FACT_TYPES
        out: dict[ContextId, list[Fact]] = {}
        for context, journal in sorted(book.relationships.items(), key=lambda i: i[0].raw):
            out[context] = sorted(
                (f for f in journal if f.type_id in kept), key=lambda f: f.cid.raw
            )
        return out

    def restore(self, contexts: Mapping[ContextId, Sequence[Fact]], now: float) -> list[ContextId]:
        """Take contexts from a backup: every fact is checked by its type's rules, as if a
        contact had sent it; a context whose relationship does not name this account is
        skipped. Returns the contexts now established here."""
        restored = []
        for context, facts in contexts.items():
            namespace = JournalNamespace.context(context)
            candidate = Journal(namespace, self.node.registry)
            for fact in facts:
                if fact.type_id not in _CONTACT_FACT_TYPES:
                    raise ValidationError(f"a contacts backup holds a {fact.type_id} fact")
            report = candidate.ingest_many(facts)  # in dependency order, every rule checked
            if report.rejected:
                _fact, error = report.rejected[0]
                raise ValidationError(f"a contacts backup fact was refused: {error.message}")
            relationship = candidate.state(RELATIONSHIP.name)
            if not relationship.established or relationship.peer_of(self.me) is None:
                continue
            self.node.add_facts(namespace, list(candidate))
            restored.append(context)
        if restored:
            self.ready(now)
        return restored

    # ------------------------------------------------------------------ relays

    def mailboxes(self) -> list[MailboxWatch]:
        if self.book is None:
            return []
        relays = self.node.settings.relays
        watches = []
        for context in self.book.relationships:
            _identity, _seal, mailbox = self._keys(context)
            watches.append(MailboxWatch(CONTACTS_FEATURE, mailbox, relays, ("context", context)))
        ledger = self.book.ledger
        now_ms = self.node.time.now().ts_ms
        for invitation in ledger.issued_ids:
            status = ledger.status(invitation, now_ms)
            if status is InvitationStatus.REDEEMED:
                # Keep reading until the invitee's descriptor came too (it may lag behind).
                redeemed = ledger.redemption(invitation)
                assert redeemed is not None
                if self._knows_descriptor(redeemed.context, redeemed.invitee, now_ms):
                    continue
            elif status is not InvitationStatus.OPEN:
                continue
            signed = ledger.issued(invitation)
            assert signed is not None
            reply = signed.invite.reply
            if reply is None:
                continue
            keys = ReplyKeys.derive(self.context_root, authority=self.me, nonce=signed.invite.nonce)
            watches.append(
                MailboxWatch(CONTACTS_FEATURE, keys.mailbox, reply.relays, ("reply", keys))
            )
        return watches

    def open_mail(self, watch: MailboxWatch, envelope: SealedEnvelope, now: float) -> None:
        kind, value = watch.label
        if kind == "reply":
            self._open_reply(value, envelope, now)
            return
        context: ContextId = value
        _identity, seal_private, _mailbox = self._keys(context)
        opened = open_envelope(self.crypto, seal_private_key=seal_private, envelope=envelope)
        if opened.context != context:
            raise ValidationError("an envelope in a context mailbox names another context")
        relationship = self.node.book.journal(JournalNamespace.context(context)).state(
            RELATIONSHIP.name
        )
        if (
            relationship.peer_of(self.me) != opened.sender
            or relationship.member_key(opened.sender) != opened.sender_key
        ):
            raise ValidationError("the envelope is not signed by the contact of this context")
        self.node.deliver(context_route(context, opened.sender), opened.body, now)

    def _open_reply(self, keys: ReplyKeys, envelope: SealedEnvelope, now: float) -> None:
        book = self._require_book()
        try:
            fact = open_acceptance(self.crypto, keys, envelope)
        except (InvalidInput, AuraError):
            opened = open_envelope(
                self.crypto, seal_private_key=keys.seal_private, envelope=envelope
            )
            self._context_fact(opened.context, Fact.decode(opened.body), now)
            return
        context = book.admit_acceptance(fact)
        self.node.book.save(book.journal.namespace)
        self.node.book.adopt(book.relationships[context])
        self._settle(context, now)
        waiting, self._waiting = self._waiting, []
        for pending_context, pending in waiting:
            self._context_fact(pending_context, pending, now)

    def _context_fact(self, context: ContextId, fact: Fact, now: float) -> None:
        book = self._require_book()
        if context not in book.relationships:
            if len(self._waiting) < _MAX_WAITING:
                self._waiting.append((context, fact))
            return
        self.node.add_facts(JournalNamespace.context(context), [fact])

    def seal_route(self, route: str, frame: bytes) -> Deposit | None:
        parsed = parse_context_route(route)
        if parsed is None:
            return None
        context, peer = parsed
        namespace = JournalNamespace.context(context)
        if namespace not in self.node.book:
            return None
        descriptor = (
            self.node.book.journal(namespace)
            .state(RENDEZVOUS_DESCRIPTORS.name)
            .current(peer, self.node.time.now().ts_ms)
        )
        if descriptor is None or not descriptor.relays:
            return None
        envelope = seal_envelope(
            self.crypto,
            recipient_seal_key=descriptor.seal_key,
            tag=descriptor.mailbox,
            context=context,
            sender=self.me,
            signer=self.signer,
            body=frame,
        )
        return Deposit(descriptor.relays, envelope)


def _service_of(reader: JournalReader) -> ContactsService:
    service = reader.service(CONTACTS_FEATURE)
    if service is None:
        if reader.authority is not None:
            raise NotFound(
                "contacts waits for the account's data key: it comes from the account's other "
                "devices once enough of them are online"
            )
        raise NotFound("create an account first: contacts belong to an account")
    return service


def _invite(host: FeatureHost, args: Mapping[str, Any]) -> str:
    valid_for_s = args.get("valid_for_s", 7 * 24 * 3600)
    return _service_of(host.reader).invite(
        nickname=args.get("nickname"), message=args.get("message"), valid_for_s=valid_for_s
    )


def _accept(host: FeatureHost, args: Mapping[str, Any]) -> str:
    code = args.get("code")
    if type(code) is not str:
        raise InvalidInput("contacts.accept needs the invitation code (a string)")
    service = _service_of(host.reader)
    return str(service.accept(code, nickname=args.get("nickname"), now=service.node.now))


def _decline(host: FeatureHost, args: Mapping[str, Any]) -> None:
    code = args.get("code")
    if type(code) is not str:
        raise InvalidInput("contacts.decline needs the invitation code (a string)")
    _service_of(host.reader).decline(code)


def _invitations(reader: JournalReader, _args: Mapping[str, Any]) -> tuple[InvitationView, ...]:
    service = reader.service(CONTACTS_FEATURE)
    return () if service is None else service.invitations()


def _list(reader: JournalReader, _args: Mapping[str, Any]) -> tuple[ContactView, ...]:
    service = reader.service(CONTACTS_FEATURE)
    return () if service is None else service.contacts()


def _signal(reader: JournalReader) -> tuple[ContactView, ...]:
    return _list(reader, {})


def contacts_feature() -> Feature:
    return Feature(
        name=CONTACTS_FEATURE,
        fact_types=(*invitation_fact_types(), descriptor_fact_type()),
        reducers=(INVITATION_LEDGER, CONTACT_PETNAMES, RELATIONSHIP, RENDEZVOUS_DESCRIPTORS),
        operation_categories={
            "contacts.invite": "A",
            "contacts.accept": "B",
            "contacts.decline": "A",
        },
        workflows={
            "contacts.invite": _invite,
            "contacts.accept": _accept,
            "contacts.decline": _decline,
        },
        queries={"contacts.list": _list, "contacts.invitations": _invitations},
        signals=(
            SignalSpec(
                "contacts",
                _signal,
                {ACCEPTED_TYPE_ID, DESCRIPTOR_TYPE_ID, "contact.profile", "contact.petname"},
            ),
        ),
        service=ContactsService,
        requires=("account",),
        needs_account_keys=True,
        description="Invitations and contacts: relational contexts reached through relays.",
    )
