"""AMP, asynchronous message patterns: ratcheted channel keys, acks, retries, ordering.

Each channel epoch has a secret; each member a hash-ratchet chain seeded from
it (:mod:`.key_schedule`, :mod:`.ratchet`); frames are XChaCha20-Poly1305
with the header as associated data (:mod:`.frames`). :class:`AmpEndpoint`
adds reliable delivery on top: retries with backoff until acknowledged
(:mod:`.retransmission`) and per-sender, exactly-once, in-order delivery
(:mod:`.ordering`).
"""

from aura_protocol.amp.channel_keyring import ChannelKeyring, EpochUnavailable, UnknownSender
from aura_protocol.amp.endpoint import AmpConfig, AmpEndpoint
from aura_protocol.amp.events import AmpEvent, DeliveryFailed, MessageDelivered, MessagesLost
from aura_protocol.amp.frames import (
    MAX_FRAME_BYTES,
    MAX_PLAINTEXT_BYTES,
    AckFrame,
    AmpHeader,
    DataFrame,
    Frame,
    decode_frame,
    encode_frame,
    open_frame,
    seal_frame,
)
from aura_protocol.amp.key_schedule import (
    EPOCH_SECRET_SIZE,
    ChannelCoordinates,
    MessageKey,
    chain_seed,
    message_key,
    next_chain_key,
)
from aura_protocol.amp.ordering import ReceivedGenerations, SenderStream
from aura_protocol.amp.ratchet import (
    DEFAULT_SKIP_WINDOW,
    GenerationRejected,
    ReceivingChain,
    SendingChain,
)
from aura_protocol.amp.retransmission import OutboundQueue, RetryPolicy

__all__ = [
    "DEFAULT_SKIP_WINDOW",
    "EPOCH_SECRET_SIZE",
    "MAX_FRAME_BYTES",
    "MAX_PLAINTEXT_BYTES",
    "AckFrame",
    "AmpConfig",
    "AmpEndpoint",
    "AmpEvent",
    "AmpHeader",
    "ChannelCoordinates",
    "ChannelKeyring",
    "DataFrame",
    "DeliveryFailed",
    "EpochUnavailable",
    "Frame",
    "GenerationRejected",
    "MessageDelivered",
    "MessageKey",
    "MessagesLost",
    "OutboundQueue",
    "ReceivedGenerations",
    "ReceivingChain",
    "RetryPolicy",
    "SenderStream",
    "SendingChain",
    "UnknownSender",
    "chain_seed",
    "decode_frame",
    "encode_frame",
    "message_key",
    "next_chain_key",
    "open_frame",
    "seal_frame",
]
