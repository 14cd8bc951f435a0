"""Semilattice interfaces and reusable law checks.

Aura's state is two semilattices: facts grow by join, capabilities shrink by
meet. Anything that claims to be one must obey the laws; the ``check_*``
functions assert them for three sample values and are meant to be driven by
hypothesis strategies in tests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, Self, TypeVar, runtime_checkable

__all__ = [
    "JoinSemilattice",
    "MeetSemilattice",
    "check_join_laws",
    "check_meet_laws",
    "check_semilattice_laws",
]

T = TypeVar("T")


@runtime_checkable
class JoinSemilattice(Protocol):
    """A value whose ``join`` is commutative, associative and idempotent (grows)."""

    def join(self, other: Self) -> Self: ...


@runtime_checkable
class MeetSemilattice(Protocol):
    """A value whose ``meet`` is commutative, associative and idempotent (narrows)."""

    def meet(self, other: Self) -> Self: ...


def check_semilattice_laws(
    op: Callable[[T, T], T],
    a: T,
    b: T,
    c: T,
    *,
    eq: Callable[[T, T], bool] = lambda x, y: x == y,
    name: str = "op",
) -> None:
    """Assert commutativity, associativity and idempotence of ``op`` on ``a, b, c``."""
    if not eq(op(a, b), op(b, a)):
        raise AssertionError(f"{name} is not commutative for {a!r} and {b!r}")
    if not eq(op(op(a, b), c), op(a, op(b, c))):
        raise AssertionError(f"{name} is not associative for {a!r}, {b!r}, {c!r}")
    if not eq(op(a, a), a):
        raise AssertionError(f"{name} is not idempotent for {a!r}")


def check_join_laws(a: T, b: T, c: T, *, eq: Callable[[T, T], bool] = lambda x, y: x == y) -> None:
    """The join laws for values with a ``join`` method."""
    check_semilattice_laws(lambda x, y: x.join(y), a, b, c, eq=eq, name="join")  # type: ignore[attr-defined]


def check_meet_laws(a: T, b: T, c: T, *, eq: Callable[[T, T], bool] = lambda x, y: x == y) -> None:
    """The meet laws for values with a ``meet`` method."""
    check_semilattice_laws(lambda x, y: x.meet(y), a, b, c, eq=eq, name="meet")  # type: ignore[attr-defined]
