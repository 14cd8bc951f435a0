"""How each chat operation behaves for the user (categories A, B, C of the architecture).

A: CRDT facts with immediate local effect — messages, edits, deletes, read
markers, deliveries, nicknames, topics, pins, mutes: they show at once and
converge by the reduction rules, whatever the order. B: shown pending until
agreement — channel membership (invite, join, leave, kick, ban removal):
the member appears as ``pending_join``/``pending_leave`` until the creator's
next epoch (its rekey, the agreement) lists it or leaves it out; the hiding
effect of a ban is immediate. No chat operation is C here: epoch changes are
issued by the channel's creator alone, not by consensus (see docs/chat.md).
"""

from __future__ import annotations

__all__ = ["OPERATION_CATEGORIES"]

OPERATION_CATEGORIES = {
    "chat.create_channel": "A",
    "chat.send_message": "A",
    "chat.edit_message": "A",
    "chat.delete_message": "A",
    "chat.mark_read": "A",
    "chat.delivery": "A",
    "chat.set_nickname": "A",
    "chat.set_topic": "A",
    "chat.close_channel": "A",
    "chat.pin": "A",
    "chat.mute": "A",
    "chat.grant_moderator": "A",
    "chat.invite": "B",
    "chat.join": "B",
    "chat.leave": "B",
    "chat.kick": "B",
    "chat.ban": "B",
    "chat.approve_pending": "B",
}
"""Operation -> category ("A", "B" or "C")."""
