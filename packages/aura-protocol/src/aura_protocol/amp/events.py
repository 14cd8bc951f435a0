"""What an AMP endpoint reports to the application."""

from __future__ import annotations

import attrs

from aura_core.identifiers import ChannelId, ContextId

__all__ = ["AmpEvent", "DeliveryFailed", "MessageDelivered", "MessagesLost"]


@attrs.frozen
class MessageDelivered:
    """A message, delivered once, in the order its sender sent it."""

    context: ContextId
    channel: ChannelId
    sender: bytes
    epoch: int
    generation: int
    plaintext: bytes = attrs.field(repr=lambda p: f"<{len(p)} bytes>")


@attrs.frozen
class MessagesLost:
    """A sender's messages that can no longer arrive (their epoch's keys are gone).

    Ordering skips past them so later messages are not held back forever.
    """

    context: ContextId
    channel: ChannelId
    sender: bytes
    epoch: int
    first_generation: int
    count: int


@attrs.frozen
class DeliveryFailed:
    """The local member gave up sending one message to one recipient."""

    context: ContextId
    channel: ChannelId
    recipient: bytes
    epoch: int
    generation: int
    reason: str


AmpEvent = MessageDelivered | MessagesLost | DeliveryFailed
