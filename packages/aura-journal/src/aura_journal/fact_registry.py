"""The registry of fact types and reducers a journal knows.

Features (and feature packages from outside this repository) describe their
facts here: how to decode the body, which attestations it needs, which
namespaces it may live in, stateless domain rules, and an optional stateful
admission check that consults the journal's views (the commitment tree uses
one). A registry is an ordinary object handed to each journal, never a
module-level global, so two agents in one process can know different types.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import attrs

from aura_core.errors import AuraError, InvalidEncoding, InvalidInput
from aura_journal.attestation import ATTESTATION_KINDS
from aura_journal.errors import AttestationRequired, UnknownFactType
from aura_journal.facts import Fact, FactBody, check_type_id
from aura_journal.namespace import JournalNamespace

if TYPE_CHECKING:
    from aura_journal.journal import Journal
    from aura_journal.reduction import AnyReducer

__all__ = ["NAMESPACE_KINDS", "FactRegistry", "FactType"]

NAMESPACE_KINDS = frozenset({"authority", "context"})

BodyDecoder = Callable[[Any], Any]
Validator = Callable[[Fact, Any, JournalNamespace], None]
Admission = Callable[["Journal", Fact, Any], None]


def _kinds(allowed: frozenset[str]) -> Callable[[object, attrs.Attribute, frozenset[str]], None]:
    def check(_instance: object, attribute: attrs.Attribute, value: frozenset[str]) -> None:
        if type(value) is not frozenset or not value or not value <= allowed:
            raise InvalidInput(
                f"FactType.{attribute.name} must be a non-empty frozenset of {sorted(allowed)}"
            )

    return check


@attrs.frozen
class FactType:
    """How one type of fact is decoded and validated.

    ``validate(fact, body, namespace)`` holds stateless domain rules;
    ``admit(journal, fact, body)`` holds rules that need the journal's
    current state. Both raise an ``AuraError`` naming what is wrong.
    """

    type_id: str
    decode_body: BodyDecoder
    attestations: frozenset[str] = attrs.field(
        default=ATTESTATION_KINDS, validator=_kinds(ATTESTATION_KINDS)
    )
    namespaces: frozenset[str] = attrs.field(
        default=NAMESPACE_KINDS, validator=_kinds(NAMESPACE_KINDS)
    )
    validate: Validator | None = None
    admit: Admission | None = None

    @classmethod
    def for_body(cls, body_type: type[FactBody], **options: Any) -> FactType:
        """A fact type whose body is ``body_type`` (its ``TYPE_ID`` and ``from_canonical``)."""
        return cls(body_type.TYPE_ID, body_type.from_canonical, **options)


class FactRegistry:
    """Fact types by type id and reducers by name.

    Registering is explicit and local to this object; ``copy()`` gives an
    independent registry to extend.
    """

    def __init__(self, types: Iterable[FactType] = (), reducers: Iterable[AnyReducer] = ()) -> None:
        self._types: dict[str, FactType] = {}
        self._reducers: dict[str, AnyReducer] = {}
        self._version = 0
        for fact_type in types:
            self.register(fact_type)
        for reducer in reducers:
            self.register_reducer(reducer)

    def copy(self) -> FactRegistry:
        return FactRegistry(self._types.values(), self._reducers.values())

    def register(self, fact_type: FactType) -> FactRegistry:
        """Add a fact type; a type id can be registered once."""
        if not isinstance(fact_type, FactType):
            raise InvalidInput(f"expected a FactType, got {type(fact_type).__name__}")
        check_type_id(fact_type.type_id)
        if fact_type.type_id in self._types:
            raise InvalidInput(f"fact type {fact_type.type_id!r} is already registered")
        self._types[fact_type.type_id] = fact_type
        self._version += 1
        return self

    def register_reducer(self, reducer: AnyReducer) -> FactRegistry:
        """Add a reducer; names are unique (views and snapshots refer to reducers by name)."""
        name = getattr(reducer, "name", None)
        if type(name) is not str or not name:
            raise InvalidInput("a reducer needs a non-empty str name")
        if name in self._reducers:
            raise InvalidInput(f"reducer {name!r} is already registered")
        self._reducers[name] = reducer
        self._version += 1
        return self

    # ------------------------------------------------------------------ lookups

    @property
    def version(self) -> int:
        """Grows with every registration (journals use it to refresh cached routing)."""
        return self._version

    @property
    def type_ids(self) -> frozenset[str]:
        return frozenset(self._types)

    @property
    def reducers(self) -> tuple[AnyReducer, ...]:
        return tuple(self._reducers.values())

    def knows(self, type_id: str) -> bool:
        return type_id in self._types

    def fact_type(self, type_id: str) -> FactType:
        try:
            return self._types[type_id]
        except KeyError:
            raise UnknownFactType(f"fact type {type_id!r} is not registered") from None

    def reducer(self, name: str) -> AnyReducer:
        try:
            return self._reducers[name]
        except KeyError:
            raise InvalidInput(f"no reducer named {name!r} is registered") from None

    # ------------------------------------------------------------------ validation

    def body(self, fact: Fact) -> Any:
        """The fact's typed body, decoded strictly once and cached on the fact."""
        fact_type = self.fact_type(fact.type_id)  # a cached body does not make the type known
        body = fact.cached_body
        if body is not None:
            return body
        try:
            body = fact_type.decode_body(fact.payload_value())
        except InvalidEncoding as exc:
            raise InvalidEncoding(f"{fact.type_id} payload: {exc.message}") from None
        except AuraError as exc:
            raise InvalidEncoding(f"{fact.type_id} payload: {exc.message}") from None
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise InvalidEncoding(
                f"{fact.type_id} payload is malformed ({type(exc).__name__})"
            ) from None
        fact.cache_body(body)
        return body

    def check(self, fact: Fact, namespace: JournalNamespace) -> Any:
        """Every stateless rule: known type, namespace, body, attestation kind and signature.

        Returns the typed body. Stateful admission is the journal's job.
        """
        fact_type = self.fact_type(fact.type_id)
        kind = "authority" if namespace.is_authority else "context"
        if kind not in fact_type.namespaces:
            raise InvalidInput(f"{fact.type_id} facts cannot live in a {kind} journal")
        attestation_kind = fact.attestation.kind
        if attestation_kind not in fact_type.attestations:
            raise AttestationRequired(
                f"{fact.type_id} needs a {' or '.join(sorted(fact_type.attestations))} attestation, "
                f"got {attestation_kind}"
            )
        body = self.body(fact)
        fact.verify_attestation(namespace)
        if fact_type.validate is not None:
            fact_type.validate(fact, body, namespace)
        return body
