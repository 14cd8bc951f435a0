"""Direct links: a contact that is online is reached over Noise without the relay.

When the agent is configured with ``listen_address`` (``tcp://127.0.0.1:0``,
``tcp://0.0.0.0:7400``...), it opens one Noise ``IKpsk2`` listener per
relational context, with that context's static key (DKD) and PSK, admitting
only the contact's static key from the context roster — so a listener of one
context answers nobody from another. Its bound address goes into this
agent's rendezvous descriptor for the context. A frame for a contact whose
descriptor names an address is sent over a fresh channel to it (the
responder's key is pinned by IK); if that fails, the frame goes through the
relay as usual. Guarded envelopes keep using the relay mailbox (their outbox
row is acknowledged only by a relay receipt), so direct links speed up
anti-entropy and service traffic and keep contexts in sync while a relay is
down, without weakening delivery guarantees.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import anyio
import anyio.abc

from aura_agent.relay_mail import context_route, parse_context_route
from aura_core.effects import SecureChannel
from aura_core.errors import AuraError, TransportError
from aura_core.identifiers import ContextId
from aura_features.rendezvous import RENDEZVOUS_DESCRIPTORS
from aura_journal import JournalNamespace

if TYPE_CHECKING:
    from aura_agent.runtime import Agent

__all__ = ["CONNECT_TIMEOUT_S", "DirectLinks"]

CONNECT_TIMEOUT_S = 2.0
_RECEIVE_LIMIT = 10_000


class DirectLinks:
    """Per-context listeners and direct sends of one agent."""

    def __init__(self, agent: Agent, listen_address: str) -> None:
        self._agent = agent
        self._listen_address = listen_address
        self._listening: dict[ContextId, str] = {}
        self.sent = 0
        self.fallbacks = 0
        self.received = 0

    @property
    def addresses(self) -> dict[ContextId, str]:
        return dict(self._listening)

    async def run(self, tg: anyio.abc.TaskGroup) -> None:
        """Keep a listener open for every context with a guarded membership."""
        while True:
            node = self._agent.node
            guards = node.guards
            if guards is not None:
                for context in guards.memberships.contexts:
                    if context not in self._listening:
                        address = await tg.start(self._serve, context)
                        self._listening[context] = address
                        node.set_direct_address(context, address, self._agent._now())
                        self._agent._after_command()
            await anyio.sleep(self._agent.config.relay_poll_s)

    async def _serve(
        self,
        context: ContextId,
        *,
        task_status: anyio.abc.TaskStatus[str] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        node = self._agent.node
        guards = node.guards
        assert guards is not None
        membership = guards.memberships.get(context)
        own_key = membership.identity.channel_public

        def admit(static_public: bytes) -> bool:
            if context not in guards.memberships:
                return False
            member = guards.memberships.get(context).roster.by_channel_key(static_public)
            return member is not None and static_public != own_key

        async def handle(channel: SecureChannel) -> None:
            member = guards.memberships.get(context).roster.by_channel_key(
                channel.peer.static_public
            )
            if member is None:
                return
            route = context_route(context, member.authority)
            for _ in range(_RECEIVE_LIMIT):
                try:
                    frame = await channel.recv()
                except TransportError:
                    return
                self.received += 1
                self._agent.deliver_frame(route, frame)

        network = self._agent.effects.network
        async with network.listen(
            self._listen_address, membership.identity.channel_keys, handle, accept_peer=admit
        ) as listener:
            task_status.started(listener.address)
            await anyio.sleep(math.inf)

    async def send(self, route: str, frame: bytes) -> bool:
        """Send ``frame`` straight to the contact behind ``route``; ``False`` if not possible."""
        parsed = parse_context_route(route)
        node = self._agent.node
        guards = node.guards
        if parsed is None or guards is None:
            return False
        context, peer = parsed
        if context not in guards.memberships:
            return False
        namespace = JournalNamespace.context(context)
        descriptor = (
            node.book.journal(namespace)
            .state(RENDEZVOUS_DESCRIPTORS.name)
            .current(peer, node.time.now().ts_ms)
        )
        if descriptor is None or not descriptor.addresses:
            return False
        keys = guards.memberships.get(context).identity.channel_keys
        try:
            with anyio.fail_after(CONNECT_TIMEOUT_S):
                async with self._agent.effects.network.connect(
                    descriptor.addresses[0], keys, remote_static=descriptor.noise_key
                ) as channel:
                    await channel.send(frame)
        except (AuraError, OSError, TimeoutError):
            self.fallbacks += 1
            return False
        self.sent += 1
        return True
