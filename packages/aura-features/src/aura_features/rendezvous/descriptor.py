"""Rendezvous descriptors: how to reach an authority inside one context.

A descriptor is a context fact, signed by the authority it describes, naming
its direct transport addresses, the relays that hold its mailbox, its Noise
static key (for direct channels), its sealing key (for envelopes), its
per-context receipt key, the mailbox tag senders address, and an expiry.
Every key in it is derived per context by DKD, so descriptors of one
authority in two contexts share nothing. Only members of the context see it.

The newest descriptor of each authority wins: highest epoch, then latest
expiry, then the fact order. An expired one is kept but never returned.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
import nacl.bindings

from aura_core.canonical_fields import (
    U64_MAX,
    as_encoding_error,
    read_authority,
    read_bytes,
    read_list,
    read_map,
    read_str,
    read_uint,
)
from aura_core.errors import InvalidEncoding, InvalidInput, ValidationError
from aura_core.identifiers import AuthorityId, ContextId, Epoch
from aura_features.ed25519_signer import Ed25519Signer, attest_fact
from aura_features.rendezvous.mailbox import MailboxTag
from aura_features.rendezvous.member_keys import member_key
from aura_features.rendezvous.relay_hint import MAX_ADDRESS_CHARS, RelayHint, check_address
from aura_journal.attestation import ThresholdAttestation
from aura_journal.errors import AttestationInvalid, MissingDependency
from aura_journal.fact_registry import FactRegistry, FactType
from aura_journal.facts import Fact, FactMetadata
from aura_journal.journal import Journal
from aura_journal.namespace import JournalNamespace
from aura_protocol.guards.context_roster import ContextMember, ContextRoster

__all__ = [
    "DESCRIPTOR_TYPE_ID",
    "MAX_DESCRIPTOR_ADDRESSES",
    "MAX_DESCRIPTOR_RELAYS",
    "RENDEZVOUS_DESCRIPTORS",
    "DescriptorBook",
    "DescriptorReducer",
    "RendezvousDescriptor",
    "descriptor_fact_type",
    "publish_descriptor",
    "register_rendezvous",
    "roster_from_descriptors",
]

DESCRIPTOR_TYPE_ID = "rendezvous.descriptor"
MAX_DESCRIPTOR_ADDRESSES = 8
MAX_DESCRIPTOR_RELAYS = 8
_KEYS = ("authority", "epoch", "addrs", "relays", "noise", "seal", "receipt", "mailbox", "exp")


def _key32(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not bytes or len(value) != 32:
        raise InvalidInput(f"RendezvousDescriptor.{attribute.name} must be 32 bytes")


def _ed25519_key(instance: object, attribute: attrs.Attribute, value: object) -> None:
    _key32(instance, attribute, value)
    if not nacl.bindings.crypto_core_ed25519_is_valid_point(value):
        raise InvalidInput(f"RendezvousDescriptor.{attribute.name} is not a valid Ed25519 key")


def _addresses(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not tuple or len(value) > MAX_DESCRIPTOR_ADDRESSES:
        raise InvalidInput(
            f"a descriptor lists a tuple of at most {MAX_DESCRIPTOR_ADDRESSES} addresses"
        )
    for address in value:
        check_address(address, "descriptor address")
    if len(set(value)) != len(value):
        raise InvalidInput("a descriptor lists an address twice")


def _relays(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not tuple or len(value) > MAX_DESCRIPTOR_RELAYS:
        raise InvalidInput(f"a descriptor lists a tuple of at most {MAX_DESCRIPTOR_RELAYS} relays")
    if not all(isinstance(relay, RelayHint) for relay in value):
        raise InvalidInput("descriptor relays must be RelayHint values")
    if len(set(value)) != len(value):
        raise InvalidInput("a descriptor lists a relay twice")


def _expiry(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not int or not 0 < value <= U64_MAX:
        raise InvalidInput(
            "RendezvousDescriptor.expires_ms must be a positive u64 (ms since the epoch)"
        )


@attrs.frozen
class RendezvousDescriptor:
    """How to reach ``authority`` in the context whose journal holds this fact."""

    TYPE_ID: ClassVar[str] = DESCRIPTOR_TYPE_ID

    authority: AuthorityId = attrs.field(validator=attrs.validators.instance_of(AuthorityId))
    epoch: Epoch = attrs.field(validator=attrs.validators.instance_of(Epoch))
    addresses: tuple[str, ...] = attrs.field(validator=_addresses)
    relays: tuple[RelayHint, ...] = attrs.field(validator=_relays)
    noise_key: bytes = attrs.field(validator=_key32, repr=False)
    seal_key: bytes = attrs.field(validator=_key32, repr=False)
    receipt_key: bytes = attrs.field(validator=_ed25519_key, repr=False)
    mailbox: MailboxTag = attrs.field(validator=attrs.validators.instance_of(MailboxTag))
    expires_ms: int = attrs.field(validator=_expiry)

    def is_live(self, now_ms: int) -> bool:
        return now_ms < self.expires_ms

    def to_canonical(self) -> dict[str, Any]:
        return {
            "authority": self.authority.raw,
            "epoch": self.epoch.value,
            "addrs": list(self.addresses),
            "relays": [relay.to_canonical() for relay in self.relays],
            "noise": self.noise_key,
            "seal": self.seal_key,
            "receipt": self.receipt_key,
            "mailbox": self.mailbox.raw,
            "exp": self.expires_ms,
        }

    @classmethod
    def from_canonical(cls, value: Any) -> RendezvousDescriptor:
        fields = read_map(value, "descriptor", _KEYS)
        addresses = tuple(
            read_str(item, "descriptor address", max_length=MAX_ADDRESS_CHARS, min_length=1)
            for item in read_list(
                fields["addrs"], "descriptor addresses", max_items=MAX_DESCRIPTOR_ADDRESSES
            )
        )
        relays = tuple(
            RelayHint.from_canonical(item)
            for item in read_list(
                fields["relays"], "descriptor relays", max_items=MAX_DESCRIPTOR_RELAYS
            )
        )
        try:
            return cls(
                read_authority(fields["authority"], "descriptor authority"),
                Epoch(read_uint(fields["epoch"], "descriptor epoch")),
                addresses,
                relays,
                read_bytes(fields["noise"], "descriptor noise key", size=32),
                read_bytes(fields["seal"], "descriptor sealing key", size=32),
                read_bytes(fields["receipt"], "descriptor receipt key", size=32),
                MailboxTag(read_bytes(fields["mailbox"], "descriptor mailbox tag", size=32)),
                read_uint(fields["exp"], "descriptor expiry", minimum=1),
            )
        except InvalidEncoding:
            raise
        except InvalidInput as exc:
            raise as_encoding_error("descriptor", exc) from None


class DescriptorBook:
    """The winning descriptor of each authority (state of :data:`RENDEZVOUS_DESCRIPTORS`)."""

    __slots__ = ("_slots",)

    def __init__(self) -> None:
        self._slots: dict[AuthorityId, tuple[Any, RendezvousDescriptor]] = {}

    def offer(self, fact: Fact, body: RendezvousDescriptor) -> None:
        rank = (body.epoch.value, body.expires_ms, fact.sort_key)
        current = self._slots.get(body.authority)
        if current is None or rank > current[0]:
            self._slots[body.authority] = (rank, body)

    def latest(self, authority: AuthorityId) -> RendezvousDescriptor | None:
        """The newest descriptor of ``authority``, expired or not."""
        entry = self._slots.get(authority)
        return None if entry is None else entry[1]

    def current(self, authority: AuthorityId, now_ms: int) -> RendezvousDescriptor | None:
        """The newest descriptor of ``authority`` if it has not expired at ``now_ms``."""
        descriptor = self.latest(authority)
        return descriptor if descriptor is not None and descriptor.is_live(now_ms) else None

    def live(self, now_ms: int) -> tuple[RendezvousDescriptor, ...]:
        """Every unexpired winning descriptor, ordered by authority."""
        return tuple(
            entry[1] for _, entry in sorted(self._slots.items()) if entry[1].is_live(now_ms)
        )

    def __len__(self) -> int:
        return len(self._slots)


class DescriptorReducer:
    """Keeps the newest descriptor per authority; a commutative fold."""

    name = "rendezvous_descriptors"
    fact_types = frozenset({DESCRIPTOR_TYPE_ID})

    def initial(self) -> DescriptorBook:
        return DescriptorBook()

    def apply(
        self, state: DescriptorBook, fact: Fact, body: RendezvousDescriptor
    ) -> DescriptorBook:
        state.offer(fact, body)
        return state


RENDEZVOUS_DESCRIPTORS = DescriptorReducer()


def _admit_descriptor(journal: Journal, fact: Fact, body: RendezvousDescriptor) -> None:
    attestation = fact.attestation
    if not isinstance(attestation, ThresholdAttestation):  # pragma: no cover - the type demands it
        raise ValidationError("a descriptor must be signed by its authority")
    known = member_key(journal, body.authority, skip=frozenset({RENDEZVOUS_DESCRIPTORS.name}))
    if known is None:
        raise MissingDependency(
            f"descriptor of {body.authority} arrived before {body.authority} is known as a member "
            f"of {journal.namespace}"
        )
    if attestation.group_public_key != known:
        raise AttestationInvalid(
            f"descriptor of {body.authority} is signed by a key that is not its key in "
            f"{journal.namespace}"
        )


def descriptor_fact_type() -> FactType:
    """Descriptors live in context journals, signed by the authority's key in that context."""
    return FactType.for_body(
        RendezvousDescriptor,
        attestations=frozenset({"threshold"}),
        namespaces=frozenset({"context"}),
        admit=_admit_descriptor,
    )


def publish_descriptor(
    descriptor: RendezvousDescriptor,
    *,
    context: ContextId,
    signer: Ed25519Signer,
    metadata: FactMetadata,
) -> Fact:
    """The signed context fact announcing ``descriptor``."""
    if not isinstance(descriptor, RendezvousDescriptor):
        raise InvalidInput("publish_descriptor needs a RendezvousDescriptor")
    return attest_fact(Fact.create(descriptor, metadata), JournalNamespace.context(context), signer)


def roster_from_descriptors(
    context: ContextId, epoch: Epoch, book: DescriptorBook, now_ms: int
) -> ContextRoster:
    """The guard layer's roster of ``context`` at ``epoch``, built from live descriptors.

    Receipt chains are checked against it (receipt key, Noise key, first
    address). Descriptors of another epoch are left out.
    """
    members = [
        ContextMember(
            descriptor.authority,
            descriptor.receipt_key,
            descriptor.noise_key,
            descriptor.addresses[0] if descriptor.addresses else None,
        )
        for descriptor in book.live(now_ms)
        if descriptor.epoch == epoch
    ]
    return ContextRoster.of(context, epoch, members)


def register_rendezvous(registry: FactRegistry) -> FactRegistry:
    """Add the descriptor fact type and its view to ``registry``."""
    registry.register(descriptor_fact_type())
    registry.register_reducer(RENDEZVOUS_DESCRIPTORS)
    return registry
