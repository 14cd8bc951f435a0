"""Guardians' answers to invitations, as facts of the inviting account.

A :class:`GuardianAnswer` holds the guardian's signed
:class:`~aura_features.recovery.recovery_messages.GuardianResponse`: it
certifies itself (the signature is the guardian's), so it needs no
attestation of the account. The :class:`GuardianAnswersReducer` gives, per
invitation, the guardian's latest answer — an acceptance carries the
guardian's profile (signing and encryption keys), which is what adding the
guardian needs; a declined invitation never seats anyone.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import attrs

from aura_core.canonical_fields import read_bytes, read_map
from aura_core.errors import CryptoError, ValidationError
from aura_features.recovery.recovery_messages import RECOVERY_CODEC, GuardianResponse
from aura_journal import Fact, FactRegistry, FactType, JournalNamespace

__all__ = [
    "GUARDIAN_ANSWERS",
    "GUARDIAN_ANSWER_TYPE_ID",
    "GuardianAnswer",
    "GuardianAnswersReducer",
    "guardian_answer_fact_type",
]

GUARDIAN_ANSWER_TYPE_ID = "recovery.guardian_answer"


@attrs.frozen
class GuardianAnswer:
    """Fact body: one guardian's signed answer to one of the account's invitations."""

    TYPE_ID: ClassVar[str] = GUARDIAN_ANSWER_TYPE_ID
    response: GuardianResponse

    def to_canonical(self) -> dict[str, Any]:
        return {"response": RECOVERY_CODEC.encode(self.response)}

    @classmethod
    def from_canonical(cls, value: Any) -> Self:
        fields = read_map(value, "guardian answer", ("response",))
        data = read_bytes(fields["response"], "guardian response", max_size=4096)
        return cls(RECOVERY_CODEC.decode_as(data, GuardianResponse))


def _check_answer(_fact: Fact, body: GuardianAnswer, namespace: JournalNamespace) -> None:
    if namespace != JournalNamespace.authority(body.response.account):
        raise ValidationError("a guardian answer lives in the journal of the account it answers")
    if not body.response.verify():
        raise CryptoError("the guardian answer is not signed by the guardian's key")


def guardian_answer_fact_type() -> FactType:
    return FactType.for_body(
        GuardianAnswer,
        attestations=frozenset({"none"}),
        namespaces=frozenset({"authority"}),
        validate=_check_answer,
    )


class GuardianAnswersReducer:
    """Per invitation id, the answer with the latest time (content id breaks ties)."""

    name = "guardian_answers"
    fact_types = frozenset({GUARDIAN_ANSWER_TYPE_ID})

    def initial(self) -> dict[bytes, tuple[tuple[int, bytes], GuardianResponse]]:
        return {}

    def apply(self, state: dict, fact: Fact, body: Any) -> dict:
        if isinstance(body, GuardianAnswer):
            response = body.response
            rank = (response.answered_at_ms, fact.cid.raw)
            held = state.get(response.invitation)
            if held is None or rank > held[0]:
                state[response.invitation] = (rank, response)
        return state


GUARDIAN_ANSWERS = GuardianAnswersReducer()


def install_answers(registry: FactRegistry) -> None:
    if not registry.knows(GUARDIAN_ANSWER_TYPE_ID):
        registry.register(guardian_answer_fact_type())
    if GUARDIAN_ANSWERS.name not in {r.name for r in registry.reducers}:
        registry.register_reducer(GUARDIAN_ANSWERS)
