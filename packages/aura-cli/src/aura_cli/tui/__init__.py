"""The ``aura tui`` chat screen: conversations, messages, contacts and notifications.

:class:`ChatScreenApp` is a textual app over a :class:`ChatSource`;
:class:`AgentChatSource` feeds it from a running agent's signals.
"""

from aura_cli.tui.chat_app import ChatScreenApp
from aura_cli.tui.chat_source import (
    AgentChatSource,
    ChatSnapshot,
    ChatSource,
    ContactItem,
    ConversationItem,
    MessageLine,
    notifications_between,
)

__all__ = [
    "AgentChatSource",
    "ChatScreenApp",
    "ChatSnapshot",
    "ChatSource",
    "ContactItem",
    "ConversationItem",
    "MessageLine",
    "notifications_between",
]
