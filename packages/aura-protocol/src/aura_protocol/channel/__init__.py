"""Secure channels keyed per context over the Noise network effect (``SecureChannel`` API)."""

from aura_protocol.channel.context_channel import (
    ContextChannel,
    ContextChannelHandler,
    ContextNetwork,
)

__all__ = ["ContextChannel", "ContextChannelHandler", "ContextNetwork"]
