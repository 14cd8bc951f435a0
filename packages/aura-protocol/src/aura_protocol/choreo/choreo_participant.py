"""Binding a runner to a context, its cast of authorities, and the guard stack.

:class:`ChoreoParticipant` is the glue both drivers share: every send the
runner makes becomes a :class:`~aura_protocol.guards.SendRequest` built from
the send's annotations (capability, cost, coupled facts, leakage) and is
committed by the guarded sender; every envelope that arrives is checked by the
guarded receiver (receipts, context, facts), must come from the authority
cast in the sending role, and is then fed to the runner.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from aura_core.errors import InvalidInput, ProtocolViolation
from aura_core.identifiers import AuthorityId, ContextId
from aura_protocol.choreo.choreo_message import ChoreoMessage
from aura_protocol.choreo.choreo_runner import ChoreoRunner, ChoreoSend
from aura_protocol.guards.guard_stack import GuardStack
from aura_protocol.guards.guarded_receiver import Delivery
from aura_protocol.guards.send_request import SendRequest

__all__ = ["ChoreoParticipant", "RoleBinding"]


@attrs.frozen
class RoleBinding:
    """The authority playing a role, and where its envelopes go."""

    authority: AuthorityId = attrs.field(validator=attrs.validators.instance_of(AuthorityId))
    address: str = attrs.field(validator=attrs.validators.instance_of(str))


class ChoreoParticipant:
    """One role of one session, executed through the guard chain."""

    def __init__(
        self,
        *,
        runner: ChoreoRunner,
        stack: GuardStack,
        context: ContextId,
        cast: Mapping[str, RoleBinding],
    ) -> None:
        if set(cast) != set(runner.roles):
            raise InvalidInput("the cast must bind every role of the protocol, and only those")
        if cast[runner.role].authority != stack.authority:
            raise InvalidInput("this stack's authority is not the one cast in this role")
        if len({b.authority for b in cast.values()}) != len(cast):
            raise InvalidInput("one authority cannot play two roles")
        self.runner = runner
        self.stack = stack
        self.context = context
        self.cast = dict(cast)
        self._roles = {binding.authority: role for role, binding in cast.items()}

    @property
    def done(self) -> bool:
        return self.runner.done

    def start(self) -> int:
        """Run until the role first waits; commits its sends. Returns how many."""
        return self._commit(self.runner.start())

    def accept(self, envelope: bytes) -> Delivery:
        """Check and record an arriving envelope and feed it to the runner."""
        delivery = self.stack.receiver.accept(envelope, context=self.context)
        if delivery.duplicate or not delivery.for_me:
            return delivery
        message = ChoreoMessage.decode(delivery.payload)
        expected = self.cast.get(message.sender)
        if expected is None or expected.authority != delivery.origin:
            raise ProtocolViolation(
                f"a {message.label} claiming role {message.sender!r} came from {delivery.origin}, "
                "which is not cast in that role"
            )
        self._commit(self.runner.receive(message))
        return delivery

    def _commit(self, sends: list[ChoreoSend]) -> int:
        for send in sends:
            binding = self.cast[send.to]
            self.stack.sender.commit(
                SendRequest.from_annotations(
                    context=self.context,
                    peer=binding.authority,
                    address=binding.address,
                    payload=send.message.encode(),
                    annotations=send.annotations,
                    facts=send.facts,
                )
            )
        return len(sends)
