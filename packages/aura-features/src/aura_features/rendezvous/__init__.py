"""Rendezvous: reaching an authority in a context, and the relays that hold its mail.

* descriptors (:class:`RendezvousDescriptor`): context facts naming how to
  reach an authority — transport addresses, relay hints, Noise static key,
  sealing key, receipt key, mailbox tag, expiry;
* mailboxes (:class:`MailboxKey` / :class:`MailboxTag`): per context,
  recipient and epoch, unlinkable across contexts;
* envelopes (:class:`SealedEnvelope`, :func:`seal_envelope`,
  :func:`open_envelope`): sealed to the recipient, showing a relay only the
  mailbox tag and ciphertext;
* the relay (:class:`RelayServer`, :func:`run_relay`, :class:`RelayClient`):
  a network service storing opaque envelopes with TTL, quotas, replay
  detection and receipt-chain checks. See ``docs/relay.md``.
"""

from aura_features.rendezvous.descriptor import (
    DESCRIPTOR_TYPE_ID,
    MAX_DESCRIPTOR_ADDRESSES,
    MAX_DESCRIPTOR_RELAYS,
    RENDEZVOUS_DESCRIPTORS,
    DescriptorBook,
    DescriptorReducer,
    RendezvousDescriptor,
    descriptor_fact_type,
    publish_descriptor,
    register_rendezvous,
    roster_from_descriptors,
)
from aura_features.rendezvous.mailbox import (
    MAILBOX_PURPOSE,
    MAILBOX_TAG_DOMAIN,
    MailboxKey,
    MailboxTag,
)
from aura_features.rendezvous.member_keys import MemberKeys, member_key
from aura_features.rendezvous.receipt_check import ReceiptVerifier, RosterReceiptVerifier
from aura_features.rendezvous.relay_client import DEFAULT_TTL_S, FetchedPage, RelayClient
from aura_features.rendezvous.relay_errors import (
    RELAY_ERROR_CODES,
    EnvelopeReplayed,
    EnvelopeTooLarge,
    MalformedRelayRequest,
    ReceiptChainRejected,
    RelayBusy,
    RelayQuotaExceeded,
    RelayRefused,
    RelayUnavailable,
    relay_error,
)
from aura_features.rendezvous.relay_hint import RelayHint, check_address
from aura_features.rendezvous.relay_limits import RelayLimits
from aura_features.rendezvous.relay_server import (
    DEFAULT_WS_PATH,
    RELAY_PSK_CONTEXT,
    RelayEndpoint,
    RelayServer,
    client_channel_keys,
    relay_channel_keys,
    relay_psk,
    relay_public_key,
    run_relay,
)
from aura_features.rendezvous.relay_store import (
    RELAY_SCHEMA_VERSION,
    RelayStats,
    RelayStore,
    SweepRequest,
)
from aura_features.rendezvous.relay_wire import (
    MAX_DEPOSIT_BATCH,
    Acked,
    AckRequest,
    Deposited,
    DepositRequest,
    EnvelopeRefusal,
    Fetched,
    FetchRequest,
    Refused,
    RelayRequest,
    RelayResponse,
    decode_request,
    decode_response,
    encode_request,
    encode_response,
)
from aura_features.rendezvous.sealed_envelope import (
    ENVELOPE_VERSION,
    MAX_BODY_BYTES,
    MAX_SEALED_ENVELOPE_BYTES,
    EnvelopeId,
    OpenedEnvelope,
    SealedEnvelope,
    open_envelope,
    padded_size,
    seal_envelope,
)

OPERATION_CATEGORIES = {
    "rendezvous.publish_descriptor": "A",
    "rendezvous.deposit": "A",
    "rendezvous.fetch": "A",
    "rendezvous.ack": "A",
}
"""Descriptors are CRDT facts (newest wins); relay traffic changes no shared state."""

__all__ = [
    "DEFAULT_TTL_S",
    "DEFAULT_WS_PATH",
    "DESCRIPTOR_TYPE_ID",
    "ENVELOPE_VERSION",
    "MAILBOX_PURPOSE",
    "MAILBOX_TAG_DOMAIN",
    "MAX_BODY_BYTES",
    "MAX_DEPOSIT_BATCH",
    "MAX_DESCRIPTOR_ADDRESSES",
    "MAX_DESCRIPTOR_RELAYS",
    "MAX_SEALED_ENVELOPE_BYTES",
    "OPERATION_CATEGORIES",
    "RELAY_ERROR_CODES",
    "RELAY_PSK_CONTEXT",
    "RELAY_SCHEMA_VERSION",
    "RENDEZVOUS_DESCRIPTORS",
    "AckRequest",
    "Acked",
    "DepositRequest",
    "Deposited",
    "DescriptorBook",
    "DescriptorReducer",
    "EnvelopeId",
    "EnvelopeRefusal",
    "EnvelopeReplayed",
    "EnvelopeTooLarge",
    "FetchRequest",
    "Fetched",
    "FetchedPage",
    "MailboxKey",
    "MailboxTag",
    "MalformedRelayRequest",
    "MemberKeys",
    "OpenedEnvelope",
    "ReceiptChainRejected",
    "ReceiptVerifier",
    "Refused",
    "RelayBusy",
    "RelayClient",
    "RelayEndpoint",
    "RelayHint",
    "RelayLimits",
    "RelayQuotaExceeded",
    "RelayRefused",
    "RelayRequest",
    "RelayResponse",
    "RelayServer",
    "RelayStats",
    "RelayStore",
    "RelayUnavailable",
    "RendezvousDescriptor",
    "RosterReceiptVerifier",
    "SealedEnvelope",
    "SweepRequest",
    "check_address",
    "client_channel_keys",
    "decode_request",
    "decode_response",
    "descriptor_fact_type",
    "encode_request",
    "encode_response",
    "member_key",
    "open_envelope",
    "padded_size",
    "publish_descriptor",
    "register_rendezvous",
    "relay_channel_keys",
    "relay_error",
    "relay_psk",
    "relay_public_key",
    "roster_from_descriptors",
    "run_relay",
    "seal_envelope",
]
