"""Third guard: the facts coupled to a send must be exactly the annotated ones, and valid.

The facts are checked against every stateless rule of their type (body,
attestation, signature, namespace) for the context's journal before anything
is written, so the commit that follows cannot fail on them; a refusal is
``JournalCommitFailed`` naming the fact and the rule.
"""

from __future__ import annotations

from aura_core.errors import AuraError, InvalidInput, JournalCommitFailed
from aura_journal.fact_registry import FactRegistry
from aura_journal.namespace import JournalNamespace
from aura_protocol.guards.guard_commands import CommitFacts, GuardCommand
from aura_protocol.guards.send_request import GuardSnapshot, SendRequest

__all__ = ["JournalCouplingGuard"]


class JournalCouplingGuard:
    name = "journal_coupling"

    def __init__(self, registry: FactRegistry) -> None:
        if not isinstance(registry, FactRegistry):
            raise InvalidInput("JournalCouplingGuard needs a FactRegistry")
        self.registry = registry

    def check(self, request: SendRequest, snapshot: GuardSnapshot) -> tuple[GuardCommand, ...]:
        given = sorted({fact.type_id for fact in request.facts})
        if request.fact_types is not None and given != sorted(set(request.fact_types)):
            raise JournalCommitFailed(
                f"the send is annotated with journal facts {sorted(set(request.fact_types))} "
                f"but carries {given}"
            )
        if not request.facts:
            return ()
        namespace = JournalNamespace.context(request.context)
        for index, fact in enumerate(request.facts):
            try:
                self.registry.check(fact, namespace)
            except AuraError as exc:
                raise JournalCommitFailed(
                    f"fact {index} ({fact.type_id}) cannot be committed to {request.context}: "
                    f"{exc.message}"
                ) from None
        return (CommitFacts(namespace, request.facts),)
