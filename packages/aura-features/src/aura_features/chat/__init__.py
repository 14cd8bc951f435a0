"""Chat: channels in a relational context, sealed messages, moderation, budgets.

Facts (:mod:`.chat_facts`) live in the context journal and are signed by
their author's context key; message text is sealed in AMP frames of the
author's chain and opened only by members holding the channel epoch's keys.
The journal's chat view (:class:`ChatReducer` -> :class:`ChatState`) is
maintained fact by fact and is the same on every replica whatever the order
of arrival; :class:`ChatView` shows it with the bodies this member opened.
:class:`ChatService` is the sans-IO core a runtime drives (user operations
or parsed commands in; envelopes through the guard chain and view updates
out); :class:`ChatNode` runs it over a network with anti-entropy. See
``docs/chat.md``.
"""

from aura_features.chat.channel_state import ChannelState, MemberStatus
from aura_features.chat.chat_commands import (
    COMMAND_USAGE,
    Ban,
    ChatCommand,
    Invite,
    Join,
    Kick,
    Leave,
    Me,
    Msg,
    Mute,
    Nick,
    SendText,
    Topic,
    Unban,
    Unmute,
    parse_command,
)
from aura_features.chat.chat_config import CHAT_SEND, ChatConfig
from aura_features.chat.chat_fact_store import ChatFactStore
from aura_features.chat.chat_fact_types import CHAT_TYPE_IDS, ChatKeyBook, install_chat_facts
from aura_features.chat.chat_facts import (
    CHAT_FACT_BODIES,
    MAX_CHANNEL_MEMBERS,
    ChannelClosed,
    ChannelCreated,
    ChannelMode,
    ChannelRekeyed,
    ChannelUpdated,
    DeliveryUpdated,
    MemberInvited,
    MemberJoined,
    MemberLeft,
    MessageDeleted,
    MessageEdited,
    MessageRead,
    MessageSent,
    Moderation,
    ModerationAction,
    NicknameSet,
    Position,
)
from aura_features.chat.chat_identifiers import (
    MessageId,
    channel_id_for,
    direct_channel_id,
    message_id,
)
from aura_features.chat.chat_node import ENVELOPE_TAG, SYNC_TAG, ChatNode
from aura_features.chat.chat_payload import ChatPayload, PayloadKind
from aura_features.chat.chat_service import ChatService, CommandOutcome
from aura_features.chat.chat_state import CHAT_REDUCER, ChatReducer, ChatState
from aura_features.chat.chat_updates import (
    ChannelChanged,
    ChatUpdate,
    DeliveryChanged,
    MessageChanged,
    MessageShown,
    MessagesLost,
    NickChanged,
)
from aura_features.chat.chat_view import (
    ChannelInfo,
    ChatView,
    DeliveryState,
    MemberInfo,
    MessageView,
)
from aura_features.chat.epoch_secret import open_epoch_secret, seal_epoch_secret
from aura_features.chat.message_body import MAX_MESSAGE_CHARS, MessageBody, MessageKind
from aura_features.chat.operation_categories import OPERATION_CATEGORIES

__all__ = [
    "CHAT_FACT_BODIES",
    "CHAT_REDUCER",
    "CHAT_SEND",
    "CHAT_TYPE_IDS",
    "COMMAND_USAGE",
    "ENVELOPE_TAG",
    "MAX_CHANNEL_MEMBERS",
    "MAX_MESSAGE_CHARS",
    "OPERATION_CATEGORIES",
    "SYNC_TAG",
    "Ban",
    "ChannelChanged",
    "ChannelClosed",
    "ChannelCreated",
    "ChannelInfo",
    "ChannelMode",
    "ChannelRekeyed",
    "ChannelState",
    "ChannelUpdated",
    "ChatCommand",
    "ChatConfig",
    "ChatFactStore",
    "ChatKeyBook",
    "ChatNode",
    "ChatPayload",
    "ChatReducer",
    "ChatService",
    "ChatState",
    "ChatUpdate",
    "ChatView",
    "CommandOutcome",
    "DeliveryChanged",
    "DeliveryState",
    "DeliveryUpdated",
    "Invite",
    "Join",
    "Kick",
    "Leave",
    "Me",
    "MemberInfo",
    "MemberInvited",
    "MemberJoined",
    "MemberLeft",
    "MemberStatus",
    "MessageBody",
    "MessageChanged",
    "MessageDeleted",
    "MessageEdited",
    "MessageId",
    "MessageKind",
    "MessageRead",
    "MessageSent",
    "MessageShown",
    "MessageView",
    "MessagesLost",
    "Moderation",
    "ModerationAction",
    "Msg",
    "Mute",
    "Nick",
    "NickChanged",
    "NicknameSet",
    "PayloadKind",
    "Position",
    "SendText",
    "Topic",
    "Unban",
    "Unmute",
    "channel_id_for",
    "direct_channel_id",
    "install_chat_facts",
    "message_id",
    "open_epoch_secret",
    "parse_command",
    "seal_epoch_secret",
]
