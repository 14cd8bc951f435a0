"""First guard: the sender must hold a token that allows the capability it exercises."""

from __future__ import annotations

from aura_core.errors import AuthorizationDenied, InvalidInput
from aura_journal.authorization import AccessRequest, CapabilityAuthorizer
from aura_protocol.guards.guard_commands import GuardCommand
from aura_protocol.guards.send_request import GuardSnapshot, SendRequest

__all__ = ["CapabilityGuard"]

_REQUEST_CACHE = 4096


class CapabilityGuard:
    """Evaluates the sender's Biscuit token against the request (pure; no commands)."""

    name = "capability"

    def __init__(self, authorizer: CapabilityAuthorizer) -> None:
        if not isinstance(authorizer, CapabilityAuthorizer):
            raise InvalidInput("CapabilityGuard needs a CapabilityAuthorizer")
        self.authorizer = authorizer
        self._requests: dict[tuple[object, object, object], AccessRequest] = {}

    def check(self, request: SendRequest, snapshot: GuardSnapshot) -> tuple[GuardCommand, ...]:
        token = snapshot.token
        if token is not None and token.authority != snapshot.sender:
            raise AuthorizationDenied(
                f"authorization denied: the token was issued to {token.authority}, "
                f"not to the sender {snapshot.sender}"
            )
        if request.capability is None:
            return ()
        if token is None:
            raise AuthorizationDenied(
                f"authorization denied: {request.capability} is required and the sender holds "
                f"no token for {request.context}"
            )
        key = (request.context, request.capability, request.resource)
        access = self._requests.get(key)
        if access is None:  # requests repeat; building one prints its ids (measurably slow)
            if len(self._requests) >= _REQUEST_CACHE:
                self._requests.clear()
            access = self._requests[key] = AccessRequest(*key)
        self.authorizer.authorize(
            token,
            access,
            now=snapshot.now,
            facts=snapshot.authorization_facts,
        )
        return ()
