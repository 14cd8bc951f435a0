"""CommitFact and EquivocationProof as journal facts (``aura_journal`` fact types).

Both bodies verify themselves: a commit fact carries the FROST group
signature over its decision, a proof carries two vote-key signatures. The
fact types below decode strictly and run that verification as the type's
stateless rule, so a journal refuses a forged commit or proof on ingest; a
commit for an instance the journal already holds a *different* decision for
is refused too (:class:`ConflictingDecision`).
Register them in a journal's registry copy::

    registry = default_registry().copy()
    for fact_type in consensus_fact_types():
        registry.register(fact_type)
"""

from __future__ import annotations

from aura_core.errors import InvalidInput, ValidationError
from aura_journal import (
    UNATTESTED,
    Attestation,
    Fact,
    FactMetadata,
    FactType,
    Journal,
    JournalNamespace,
)
from aura_protocol.consensus.commit_fact import COMMIT_FACT_TYPE, CommitFact
from aura_protocol.consensus.equivocation import EquivocationProof

__all__ = ["ConflictingDecision", "consensus_fact_types", "fact_for_commit", "fact_for_proof"]


class ConflictingDecision(ValidationError):
    """A commit fact names another operation for an instance the journal already decided.

    Two valid ones can only exist if more witnesses than the set tolerates
    were Byzantine; the journal keeps the first and refuses the second.
    """


_SELF_CERTIFYING = frozenset({"none", "threshold"})


def _check_commit(_fact: Fact, body: CommitFact, _namespace: JournalNamespace) -> None:
    body.verify()


def _admit_commit(journal: Journal, _fact: Fact, body: CommitFact) -> None:
    registry = journal.registry
    for held in journal.facts_of_type(COMMIT_FACT_TYPE):
        other = registry.body(held)
        if other.instance == body.instance and other.operation_hash != body.operation_hash:
            raise ConflictingDecision(
                f"{body.consensus_id} is already decided for another operation on this prestate"
            )


def _check_proof(_fact: Fact, body: EquivocationProof, _namespace: JournalNamespace) -> None:
    body.verify()


def consensus_fact_types() -> tuple[FactType, FactType]:
    """Fact types ``consensus.commit`` and ``consensus.equivocation`` for a journal registry."""
    return (
        FactType.for_body(
            CommitFact,
            attestations=_SELF_CERTIFYING,
            validate=_check_commit,
            admit=_admit_commit,
        ),
        FactType.for_body(EquivocationProof, attestations=_SELF_CERTIFYING, validate=_check_proof),
    )


def fact_for_commit(
    commit: CommitFact, metadata: FactMetadata, attestation: Attestation = UNATTESTED
) -> Fact:
    """The journal fact holding ``commit`` (verified first: a journal never gets a bad one)."""
    if not isinstance(commit, CommitFact):
        raise InvalidInput(f"expected a CommitFact, got {type(commit).__name__}")
    commit.verify()
    return Fact.create(commit, metadata, attestation)


def fact_for_proof(
    proof: EquivocationProof, metadata: FactMetadata, attestation: Attestation = UNATTESTED
) -> Fact:
    """The journal fact holding an equivocation proof (verified first)."""
    if not isinstance(proof, EquivocationProof):
        raise InvalidInput(f"expected an EquivocationProof, got {type(proof).__name__}")
    proof.verify()
    return Fact.create(proof, metadata, attestation)
