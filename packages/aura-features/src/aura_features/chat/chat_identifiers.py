"""Identifiers of chat channels and messages, derived so every replica computes the same ones.

A channel id binds its context, its creator and a random salt (or, for a
direct channel, the two members), so nobody can claim to have created a
channel someone else created: the ``chat.channel_created`` fact must name the
id that its own author and salt derive. A message id binds the AMP
coordinates of the frame that carried it (context, channel, sender, epoch,
generation); those coordinates are authenticated by the frame and unique per
sender chain, so a message id cannot be reused or forged.
"""

from __future__ import annotations

from typing import ClassVar

from aura_core.errors import InvalidInput
from aura_core.identifiers import AuthorityId, ChannelId, ContextId, Hash32

__all__ = [
    "CHANNEL_SALT_BYTES",
    "MessageId",
    "channel_id_for",
    "direct_channel_id",
    "message_id",
]

CHANNEL_SALT_BYTES = 16
_U64 = 2**64


class MessageId(Hash32):
    """One chat message (or edit), printed ``message:<hex>``."""

    prefix: ClassVar[str] = "message"


def channel_id_for(context: ContextId, creator: AuthorityId, salt: bytes) -> ChannelId:
    """The id of a named (open or invite-only) channel ``creator`` makes in ``context``."""
    if type(salt) is not bytes or len(salt) != CHANNEL_SALT_BYTES:
        raise InvalidInput(f"a channel salt is {CHANNEL_SALT_BYTES} bytes")
    return ChannelId.derive("chat-channel", context.raw, creator.raw, salt)


def direct_channel_id(context: ContextId, creator: AuthorityId, peer: AuthorityId) -> ChannelId:
    """The id of the direct (two-member) channel ``creator`` opens with ``peer``."""
    if creator == peer:
        raise InvalidInput("a direct channel needs two different members")
    return ChannelId.derive("chat-direct", context.raw, creator.raw, peer.raw)


def message_id(
    context: ContextId, channel: ChannelId, sender: AuthorityId, epoch: int, generation: int
) -> MessageId:
    """The id of the message sealed at (``epoch``, ``generation``) of ``sender``'s AMP chain."""
    if not (type(epoch) is int and 0 <= epoch < _U64 and type(generation) is int):
        raise InvalidInput("message coordinates are u64 integers")
    if not 0 <= generation < _U64:
        raise InvalidInput("message coordinates are u64 integers")
    return MessageId.derive(
        "chat-message",
        context.raw,
        channel.raw,
        sender.raw,
        epoch.to_bytes(8, "big"),
        generation.to_bytes(8, "big"),
    )
