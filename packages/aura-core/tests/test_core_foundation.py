"""Errors, effect context and semilattice law checks."""

from __future__ import annotations

import pytest

from aura_core import (
    AuraError,
    AuthorityId,
    AuthorizationDenied,
    ContextId,
    EffectContext,
    ErrorKind,
    ExecutionMode,
    InsufficientBudget,
    InvalidEncoding,
    InvalidInput,
    JournalCommitFailed,
    SessionId,
    check_join_laws,
    check_meet_laws,
    check_semilattice_laws,
)


def test_error_kinds_default_and_override():
    assert InsufficientBudget("no headroom").kind is ErrorKind.TRANSIENT
    assert AuthorizationDenied("denied").kind is ErrorKind.PERMANENT
    assert JournalCommitFailed("disk").kind is ErrorKind.SYSTEM
    err = AuthorizationDenied("retry later", kind=ErrorKind.TRANSIENT)
    assert err.kind is ErrorKind.TRANSIENT
    assert AuthorizationDenied("x").kind is ErrorKind.PERMANENT  # the override is per instance
    assert isinstance(InvalidEncoding("x"), InvalidInput)
    assert isinstance(InvalidEncoding("x"), AuraError)
    assert str(err) == "retry later"
    assert "transient" in repr(err)


def test_effect_context_scoping_and_log_fields():
    ctx = EffectContext(AuthorityId(b"a" * 16), SessionId(b"s" * 16))
    scoped = ctx.with_context(ContextId(b"c" * 16)).with_metadata(op="chat:send")
    fields = scoped.as_log_fields()
    assert fields["context"].startswith("context-")
    assert fields["meta.op"] == "chat:send"
    assert fields["mode"] == ExecutionMode.PRODUCTION.value
    assert ctx.context is None
    assert hash(scoped) == hash(scoped.with_metadata(other="x"))
    with pytest.raises(TypeError):
        scoped.metadata["op"] = "x"  # type: ignore[index]
    with pytest.raises(InvalidInput):
        ctx.with_metadata(bad=3)  # type: ignore[arg-type]


class _MaxInt:
    def __init__(self, v: int) -> None:
        self.v = v

    def join(self, other: _MaxInt) -> _MaxInt:
        return _MaxInt(max(self.v, other.v))

    def meet(self, other: _MaxInt) -> _MaxInt:
        return _MaxInt(min(self.v, other.v))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _MaxInt) and other.v == self.v

    __hash__ = None  # type: ignore[assignment]


def test_law_checks_accept_lattices_and_catch_violations():
    a, b, c = _MaxInt(1), _MaxInt(5), _MaxInt(3)
    check_join_laws(a, b, c)
    check_meet_laws(a, b, c)
    with pytest.raises(AssertionError, match="commutative"):
        check_semilattice_laws(lambda x, y: x, 1, 2, 3)
    with pytest.raises(AssertionError, match="idempotent"):
        check_semilattice_laws(lambda x, y: x + y, 1, 2, 3)
    with pytest.raises(AssertionError, match="associative"):
        check_semilattice_laws(lambda x, y: abs(x - y), 1, 2, 4)
