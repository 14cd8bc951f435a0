"""Secure channels keyed per context: the seed's ``SecureChannel`` (send, recv, peer).

A :class:`ContextChannel` is a Noise ``IKpsk2`` channel (from the network
effect) whose static keys come from DKD for this context and epoch and whose
PSK is the context's, and whose ``peer`` is the *authority* at the other end,
found by its static key in the context roster. :class:`ContextNetwork` opens
and accepts them: an initiator must know the responder's roster key (IK), a
responder admits only static keys in its roster, and the PSK makes a
handshake meant for one context fail in every other. Channel state is never
stored in journals.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from aura_core.effects import Listener, NetworkEffects, SecureChannel
from aura_core.errors import InvalidInput, TransportError
from aura_core.identifiers import AuthorityId, ContextId
from aura_protocol.guards.context_membership import MembershipTable

__all__ = ["ContextChannel", "ContextChannelHandler", "ContextNetwork"]


class ContextChannel:
    """An authenticated, encrypted channel to one member authority of one context."""

    def __init__(self, inner: SecureChannel, *, context: ContextId, peer: AuthorityId) -> None:
        self._inner = inner
        self._context = context
        self._peer = peer

    @property
    def peer(self) -> AuthorityId:
        """The authority on the other end (authenticated by its context static key)."""
        return self._peer

    @property
    def context(self) -> ContextId:
        return self._context

    @property
    def transport_address(self) -> str:
        return self._inner.peer.address

    async def send(self, message: bytes) -> None:
        await self._inner.send(message)

    async def recv(self) -> bytes:
        return await self._inner.recv()

    async def aclose(self) -> None:
        await self._inner.aclose()


ContextChannelHandler = Callable[[ContextChannel], Awaitable[None]]


class ContextNetwork:
    """Opens and serves :class:`ContextChannel` s for the contexts in a membership table."""

    def __init__(self, network: NetworkEffects, memberships: MembershipTable) -> None:
        if not isinstance(memberships, MembershipTable):
            raise InvalidInput("ContextNetwork needs a MembershipTable")
        self.network = network
        self.memberships = memberships

    @asynccontextmanager
    async def connect(self, context: ContextId, peer: AuthorityId) -> AsyncIterator[ContextChannel]:
        """A channel to ``peer`` in ``context`` (its roster entry must have an address)."""
        membership = self.memberships.get(context)
        member = membership.roster.member(peer)
        if peer == membership.authority:
            raise InvalidInput("a node does not open a channel to itself")
        if member.address is None:
            raise TransportError(f"no address is known for {peer} in {context}")
        async with self.network.connect(
            member.address, membership.identity.channel_keys, remote_static=member.channel_key
        ) as channel:
            if channel.peer.static_public != member.channel_key:  # pragma: no cover - IK pins it
                raise TransportError("the responder's static key is not its roster key")
            yield ContextChannel(channel, context=context, peer=peer)

    @asynccontextmanager
    async def listen(
        self, context: ContextId, address: str, handler: ContextChannelHandler
    ) -> AsyncIterator[Listener]:
        """Serve ``handler`` for every member of ``context`` that connects to ``address``."""
        membership = self.memberships.get(context)
        own_key = membership.identity.channel_public

        def roster_now():
            # A roster replaced later (new members) applies to later connections.
            return self.memberships.get(context).roster

        def admit(static_public: bytes) -> bool:
            member = roster_now().by_channel_key(static_public)
            return member is not None and static_public != own_key

        async def serve(channel: SecureChannel) -> None:
            member = roster_now().by_channel_key(channel.peer.static_public)
            if member is None:  # pragma: no cover - admit() already refused it
                raise TransportError("peer left the context")
            await handler(ContextChannel(channel, context=context, peer=member.authority))

        async with self.network.listen(
            address, membership.identity.channel_keys, serve, accept_peer=admit
        ) as listener:
            yield listener
