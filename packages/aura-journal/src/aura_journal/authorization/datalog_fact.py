"""Typed Datalog facts: how journal facts enter a Biscuit authorizer.

The journal layer turns its facts into :class:`DatalogFact` values; the
authorizer renders them as Datalog with every term passed as a Biscuit
*parameter*, never spliced into source text, and with names checked against
a strict pattern. A hostile string therefore cannot add facts, rules or
policies ("Datalog injection"). Names that the authorization model itself
uses (``time``, ``capability``...) are reserved so a journal fact cannot
impersonate the request or a grant.
"""

from __future__ import annotations

import functools
import re

import attrs
import biscuit_auth

from aura_core.errors import InvalidInput

__all__ = ["RESERVED_PREDICATES", "DatalogFact", "DatalogTerm"]

DatalogTerm = str | int | bytes | bool
"""The term types a journal fact may carry."""

RESERVED_PREDICATES = frozenset(
    {"time", "operation", "context", "resource", "capability", "authority", "epoch"}
)
"""Predicates owned by the authorization model; journal facts may not use them."""

_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_MAX_TERMS = 16
_MAX_TEXT = 1024
_MAX_BYTES = 1024
_I64_MIN = -(2**63)
_I64_MAX = 2**63 - 1


def _check_name(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not str or not _NAME.fullmatch(value):
        raise InvalidInput(
            f"Datalog fact name must match [a-z][a-z0-9_]{{0,63}}, got {value!r:.80}"
        )
    if value in RESERVED_PREDICATES:
        raise InvalidInput(f"Datalog fact name {value!r} is reserved by the authorization model")


def _check_terms(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not tuple:
        raise InvalidInput("Datalog fact terms must be a tuple")
    if not 1 <= len(value) <= _MAX_TERMS:
        raise InvalidInput(f"a Datalog fact needs 1..{_MAX_TERMS} terms, got {len(value)}")
    for index, term in enumerate(value):
        kind = type(term)
        if kind is bool:
            continue
        if kind is int:
            if not _I64_MIN <= term <= _I64_MAX:
                raise InvalidInput(f"Datalog term {index} is outside the signed 64-bit range")
        elif kind is str:
            if len(term) > _MAX_TEXT:
                raise InvalidInput(f"Datalog term {index} is longer than {_MAX_TEXT} characters")
            if "\x00" in term:
                raise InvalidInput(f"Datalog term {index} contains a NUL character")
        elif kind is bytes:
            if len(term) > _MAX_BYTES:
                raise InvalidInput(f"Datalog term {index} is longer than {_MAX_BYTES} bytes")
        else:
            raise InvalidInput(
                f"Datalog term {index} has type {kind.__name__}; expected str, int, bytes or bool"
            )


@attrs.frozen(cache_hash=True)
class DatalogFact:
    """``name(term, ...)`` with validated name and typed terms."""

    name: str = attrs.field(validator=_check_name)
    terms: tuple[DatalogTerm, ...] = attrs.field(validator=_check_terms)

    def render(self, prefix: str, params: dict[str, DatalogTerm]) -> str:
        """Datalog source for this fact with parameter placeholders; fills ``params``.

        ``prefix`` must be unique per fact in one program; placeholders are
        ``{prefix_i}`` so values never appear in the source text.
        """
        slots = []
        for index, term in enumerate(self.terms):
            key = f"{prefix}_{index}"
            params[key] = term
            slots.append("{" + key + "}")
        return f"{self.name}({', '.join(slots)});"


@functools.lru_cache(maxsize=8192)
def biscuit_fact(fact: DatalogFact) -> biscuit_auth.Fact:
    """The Biscuit fact for ``fact``, built with parameters and cached.

    Journal facts repeat across requests; parsing each one again costs about
    5 us, while adding a cached fact costs about 1 us. (One big parameterised
    program is worse still: Biscuit's parameter substitution is quadratic.)
    """
    params: dict[str, DatalogTerm] = {}
    source = fact.render("term", params)
    return biscuit_auth.Fact(source.rstrip(";"), params)
