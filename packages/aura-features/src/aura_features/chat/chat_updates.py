"""What changed, for a UI to refresh: the service reports, the view has the details."""

from __future__ import annotations

import attrs

from aura_core.identifiers import AuthorityId, ChannelId
from aura_features.chat.chat_identifiers import MessageId

__all__ = [
    "ChannelChanged",
    "ChatUpdate",
    "DeliveryChanged",
    "MessageChanged",
    "MessageShown",
    "MessagesLost",
    "NickChanged",
]


@attrs.frozen
class MessageShown:
    """A message became readable here (exactly once per message, in its sender's order)."""

    channel: ChannelId
    message: MessageId


@attrs.frozen
class MessageChanged:
    """A message was edited, deleted, pinned or unpinned."""

    channel: ChannelId
    message: MessageId


@attrs.frozen
class DeliveryChanged:
    """Read markers or delivery marks of the channel moved."""

    channel: ChannelId


@attrs.frozen
class ChannelChanged:
    """The channel's existence, topic, state, epoch, members or moderation changed."""

    channel: ChannelId


@attrs.frozen
class NickChanged:
    author: AuthorityId


@attrs.frozen
class MessagesLost:
    """Messages of ``sender`` that can no longer be opened here (their epoch's keys are gone)."""

    channel: ChannelId
    sender: AuthorityId
    epoch: int
    count: int


ChatUpdate = (
    MessageShown | MessageChanged | DeliveryChanged | ChannelChanged | NickChanged | MessagesLost
)
