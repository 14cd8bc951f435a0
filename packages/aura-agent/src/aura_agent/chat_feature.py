"""The chat feature: one :class:`~aura_features.chat.ChatService` per contact context.

The chat service of ``aura_features`` is sans-IO: it seals messages with the
member's AMP chain, commits them through the guard chain (charge, receipt,
fact, outbox row in one transaction) and opens what arrives. This module
runs one per relational context that has a guarded membership (the contacts
feature sets that up), hands it the guarded envelopes meant for it, feeds it
the chat facts anti-entropy brings, and fires its timers (AMP retries and
acknowledgements). Chat facts live in the context journal with everything
else, so the agent's one anti-entropy session per context carries them.

Workflows take the contact's authority (``to="authority-…"``): messages go
to the direct channel with that contact, which is opened on first use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from aura_agent.feature import Feature, FeatureHost, JournalReader, SignalSpec
from aura_core.errors import AuraError, InvalidInput, NotFound
from aura_core.hashing import derive_context_key
from aura_core.identifiers import AuthorityId, ChannelId, ContextId
from aura_features.chat import (
    CHAT_SEND,
    CHAT_TYPE_IDS,
    ChatPayload,
    ChatService,
    MessageId,
    Msg,
    install_chat_facts,
)
from aura_features.chat import OPERATION_CATEGORIES as CHAT_CATEGORIES
from aura_journal import Fact, JournalNamespace
from aura_protocol.guards import Envelope

__all__ = ["CHAT_FEATURE", "ChatLine", "ChatRuntime", "ConversationView", "chat_feature"]

CHAT_FEATURE = "chat"
_TIMER_SLACK_S = 1e-6
_BOX_PURPOSE = "chat-box"
"""DKD purpose of a member's chat box key (epoch secrets are sealed to it)."""


@attrs.frozen
class ChatLine:
    """One message as a UI shows it."""

    author: AuthorityId
    author_name: str
    text: str | None
    """``None`` while not (yet) opened, or deleted."""
    mine: bool


@attrs.frozen
class ConversationView:
    """The direct conversation with one contact."""

    contact: AuthorityId
    context: ContextId
    channel: ChannelId
    lines: tuple[ChatLine, ...]


class ChatRuntime:
    """The chat services of one agent, one per context with a guarded membership."""

    def __init__(self, node: Any) -> None:
        self.node = node
        if node.guards is None:
            raise NotFound("chat needs the account's guard stack")
        # The agent's own journals must know chat facts (load, sync) with the same keys.
        install_chat_facts(node.registry, node.guards.memberships)
        self.services: dict[ContextId, ChatService] = {}

    def ready(self, now: float) -> None:
        for context in self.node.guards.memberships.contexts:
            self.on_membership(context, now)

    def on_membership(self, context: ContextId, now: float) -> None:
        if context not in self.services:
            box = derive_context_key(
                self.node.account_keys().context_root,
                authority=self.node.guards.authority.raw,
                context=context.raw,
                epoch=0,
                purpose=_BOX_PURPOSE,
            )
            self.services[context] = ChatService(
                stack=self.node.guards, context=context, now=now, box_private=box
            )

    # ------------------------------------------------------------------ the core's hooks

    def next_timer(self) -> float | None:
        deadlines = [d for d in (s.next_timer() for s in self.services.values()) if d is not None]
        return min(deadlines) if deadlines else None

    def on_timer(self, now: float) -> None:
        for service in list(self.services.values()):
            deadline = service.next_timer()
            if deadline is not None and deadline <= now + _TIMER_SLACK_S:
                service.on_timer(now)

    def on_envelope(self, data: bytes, envelope: Envelope, now: float) -> bool:
        service = self.services.get(envelope.context)
        if service is None:
            return False
        try:
            ChatPayload.decode(envelope.payload)
        except AuraError:
            return False  # not a chat envelope: another feature's
        service.receive_envelope(data, now)
        return True

    def on_facts(self, namespace: JournalNamespace, facts: Sequence[Fact], now: float) -> None:
        if not namespace.is_context:
            return
        service = self.services.get(namespace.owner)  # type: ignore[arg-type]
        if service is None:
            return
        fresh = [f for f in facts if f.type_id in CHAT_TYPE_IDS and f not in service.journal]
        if not fresh:
            return
        report = service.journal.ingest_many(fresh)
        accepted = [fact for fact in (service.journal.get(cid) for cid in report.accepted) if fact]
        service.accept_synced(accepted, now)

    # ------------------------------------------------------------------ operations

    def _contact(self, to: object) -> tuple[AuthorityId, ChatService]:
        if isinstance(to, AuthorityId):
            peer = to
        elif isinstance(to, str):
            peer = AuthorityId.parse(to)
        else:
            raise InvalidInput("name the contact by its authority ('authority-…')")
        for context, service in self.services.items():
            if peer in self.node.guards.memberships.get(context).roster and peer != service.me:
                return peer, service
        raise NotFound(f"{peer} is not a reachable contact (yet): no chat with it")

    def send(self, to: object, text: str, now: float) -> str:
        """Send ``text`` on the direct channel with ``to``; ``"sent"`` or ``"queued"``.

        A new direct channel delivers once the contact has joined it and the
        channel is rekeyed for both (the service queues the message until then).
        """
        peer, service = self._contact(to)
        return service.execute(Msg(str(peer), text), now).action

    def create_channel(self, name: str, members: Sequence[object], topic: str, now: float) -> str:
        """An open channel in the context shared with ``members`` (one contact per context)."""
        if not members:
            raise InvalidInput("a channel needs at least one contact as member")
        services = {
            self._contact(member)[1].context: self._contact(member)[1] for member in members
        }
        if len(services) != 1:
            raise InvalidInput(
                "the members are in different contexts; a channel lives in one context"
            )
        (service,) = services.values()
        return str(service.create_channel(name, now, topic=topic))

    def _message_service(self, message: object) -> tuple[MessageId, ChatService]:
        ident = MessageId.parse(message) if isinstance(message, str) else message
        if not isinstance(ident, MessageId):
            raise InvalidInput("name the message by its id ('message:…')")
        for service in self.services.values():
            try:
                service.view.message(ident)
            except AuraError:
                continue
            return ident, service
        raise NotFound(f"no message {ident} in any conversation")

    def edit(self, message: object, text: str, now: float) -> str:
        ident, service = self._message_service(message)
        return str(service.edit_message(ident, text, now))

    def delete(self, message: object, now: float) -> None:
        ident, service = self._message_service(message)
        service.delete_message(ident, now)

    def conversation(self, to: object) -> ConversationView:
        peer, service = self._contact(to)
        channel = service.view.direct_channel_with(peer)
        lines: tuple[ChatLine, ...] = ()
        if channel is not None:
            lines = tuple(
                ChatLine(m.author, m.author_name, m.text, m.author == service.me)
                for m in service.view.history(channel)
            )
        else:
            channel = ChannelId.zero()
        return ConversationView(peer, service.context, channel, lines)

    def conversations(self) -> tuple[ConversationView, ...]:
        out = []
        for context, service in sorted(self.services.items()):
            roster = self.node.guards.memberships.get(context).roster
            for peer in sorted(roster.members):
                if peer != service.me:
                    out.append(self.conversation(peer))
        return tuple(out)


def _runtime(reader: JournalReader) -> ChatRuntime:
    runtime = reader.service(CHAT_FEATURE)
    if runtime is None:
        if reader.authority is not None:
            raise NotFound(
                "chat waits for the account's data key: it comes from the account's other "
                "devices once enough of them are online"
            )
        raise NotFound("create an account first: chat belongs to an account")
    return runtime


def _send(host: FeatureHost, args: Mapping[str, Any]) -> str:
    runtime = _runtime(host.reader)
    text = args.get("text")
    if type(text) is not str:
        raise InvalidInput("chat.send_message needs text")
    return runtime.send(args.get("to"), text, runtime.node.now)


def _text_arg(args: Mapping[str, Any]) -> str:
    text = args.get("text")
    if type(text) is not str:
        raise InvalidInput("the operation needs text")
    return text


def _create_channel(host: FeatureHost, args: Mapping[str, Any]) -> str:
    runtime = _runtime(host.reader)
    name = args.get("name")
    if type(name) is not str:
        raise InvalidInput("chat.create_channel needs a name")
    topic = args.get("topic") or ""
    return runtime.create_channel(name, tuple(args.get("members", ())), topic, runtime.node.now)


def _edit(host: FeatureHost, args: Mapping[str, Any]) -> str:
    runtime = _runtime(host.reader)
    return runtime.edit(args.get("message"), _text_arg(args), runtime.node.now)


def _delete(host: FeatureHost, args: Mapping[str, Any]) -> None:
    runtime = _runtime(host.reader)
    runtime.delete(args.get("message"), runtime.node.now)


def _history(reader: JournalReader, args: Mapping[str, Any]) -> tuple[ChatLine, ...]:
    return _runtime(reader).conversation(args.get("with")).lines


def _conversations(reader: JournalReader) -> tuple[ConversationView, ...]:
    runtime = reader.service(CHAT_FEATURE)
    return () if runtime is None else runtime.conversations()


def chat_feature() -> Feature:
    return Feature(
        name=CHAT_FEATURE,
        operation_categories={
            name: CHAT_CATEGORIES[name]
            for name in (
                "chat.send_message",
                "chat.create_channel",
                "chat.edit_message",
                "chat.delete_message",
            )
        },
        workflows={
            "chat.send_message": _send,
            "chat.create_channel": _create_channel,
            "chat.edit_message": _edit,
            "chat.delete_message": _delete,
        },
        queries={"chat.history": _history},
        signals=(SignalSpec("chat", _conversations, CHAT_TYPE_IDS),),
        service=ChatRuntime,
        capabilities=(str(CHAT_SEND),),
        requires=("contacts",),
        needs_account_keys=True,
        description="Direct conversations with contacts: AMP-sealed, guarded, synced.",
    )
