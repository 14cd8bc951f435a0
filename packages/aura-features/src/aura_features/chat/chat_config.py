"""Tunable behaviour of a chat service (costs, timers, policies), with safe defaults."""

from __future__ import annotations

import attrs

from aura_core.errors import InvalidInput
from aura_journal.authorization import Capability
from aura_protocol.amp.endpoint import AmpConfig
from aura_protocol.amp.retransmission import RetryPolicy

__all__ = ["CHAT_SEND", "ChatConfig"]

CHAT_SEND = Capability.parse("chat:send")
"""The capability every chat send exercises."""


def _cost(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not int or not 0 <= value < 2**32:
        raise InvalidInput(f"ChatConfig.{attribute.name} must be an int in 0..2**32-1")


def _seconds(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 3600:
        raise InvalidInput(f"ChatConfig.{attribute.name} must be seconds in 0..3600")


def _count(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not int or value < 1:
        raise InvalidInput(f"ChatConfig.{attribute.name} must be a positive int")


@attrs.frozen
class ChatConfig:
    capability: Capability = attrs.field(
        default=CHAT_SEND, validator=attrs.validators.instance_of(Capability)
    )
    """What the guard chain checks for every chat send."""
    send_cost: int = attrs.field(default=1, validator=_cost)
    """Flow cost of each envelope carrying new facts (per recipient)."""
    retry_cost: int = attrs.field(default=0, validator=_cost)
    """Flow cost of resending a message a recipient has not acknowledged (already paid once)."""
    ack_cost: int = attrs.field(default=0, validator=_cost)
    """Flow cost of an acknowledgement (free, so a member out of budget still acknowledges)."""
    ack_delay_s: float = attrs.field(default=0.05, validator=_seconds)
    """Acknowledgements wait this long to be coalesced (one per sender and epoch)."""
    retry: RetryPolicy = attrs.field(
        factory=RetryPolicy, validator=attrs.validators.instance_of(RetryPolicy)
    )
    """Backoff of resending unacknowledged messages."""
    amp: AmpConfig = attrs.field(
        factory=AmpConfig, validator=attrs.validators.instance_of(AmpConfig)
    )
    auto_approve: bool = attrs.field(default=True)
    """The creator's service rekeys as soon as membership intentions change."""
    auto_join_direct: bool = attrs.field(default=True)
    """Join a direct channel another member opens with this one."""
    max_unopened: int = attrs.field(default=8192, validator=_count)
    """Frames kept until they can be opened (an epoch or earlier frames still missing)."""
    max_retry_batch: int = attrs.field(default=16, validator=_count)
    """Messages resent together in one envelope when a recipient comes back."""
