"""The chat package's public names, and its operation categories."""

from __future__ import annotations

import aura_features
from aura_features import chat


def test_every_exported_name_exists():
    for name in chat.__all__:
        assert getattr(chat, name) is not None, name
    assert len(chat.__all__) == len(set(chat.__all__))
    assert "chat" in aura_features.__all__
    assert aura_features.chat is chat


def test_operation_categories_cover_the_operations():
    categories = chat.OPERATION_CATEGORIES
    assert set(categories.values()) <= {"A", "B", "C"}
    assert all(name.startswith("chat.") for name in categories)
    assert categories["chat.send_message"] == "A"
    assert categories["chat.set_nickname"] == "A"
    for membership in ("chat.invite", "chat.join", "chat.leave", "chat.kick", "chat.ban"):
        assert categories[membership] == "B"
    service_operations = {
        "chat.send_message": "send_message",
        "chat.edit_message": "edit_message",
        "chat.delete_message": "delete_message",
        "chat.mark_read": "mark_read",
        "chat.set_nickname": "set_nickname",
        "chat.set_topic": "set_topic",
        "chat.close_channel": "close_channel",
        "chat.create_channel": "create_channel",
        "chat.invite": "invite",
        "chat.join": "join",
        "chat.leave": "leave",
        "chat.approve_pending": "approve_pending",
    }
    for operation, method in service_operations.items():
        assert operation in categories
        assert callable(getattr(chat.ChatService, method))


def test_fact_types_match_the_bodies():
    assert {body.TYPE_ID for body in chat.CHAT_FACT_BODIES} == chat.CHAT_TYPE_IDS
    assert all(type_id.startswith("chat.") for type_id in chat.CHAT_TYPE_IDS)
