"""Hypothesis strategies for Aura's value types.

Identifiers, time stamps and byte keys are here; ``st.from_type`` works for
each of them once this module is imported (the pytest plugin imports it).

Extension point for facts (and any later value type): the package that
defines the type registers a strategy with :func:`register_strategy`, e.g.
``register_strategy(Fact, facts())`` in ``aura_testkit``'s own module for
that layer, and tests then use ``st.from_type(Fact)`` or
:func:`strategy_for`.
"""

from __future__ import annotations

from typing import Any, TypeVar

from hypothesis import strategies as st

from aura_core.errors import NotFound
from aura_core.identifiers import (
    AuthorityId,
    ChannelId,
    ContextId,
    DeviceId,
    Epoch,
    Hash32,
    HomeId,
    NeighborhoodId,
    SessionId,
)
from aura_core.time_domains import LogicalTime, OrderTime, PhysicalTime, RangeTime, TimeStamp

__all__ = [
    "authority_ids",
    "byte_keys",
    "channel_ids",
    "context_ids",
    "device_ids",
    "epochs",
    "hash32s",
    "journal_names",
    "logical_times",
    "order_times",
    "physical_times",
    "range_times",
    "register_strategy",
    "secret_keys",
    "session_ids",
    "strategy_for",
    "table_names",
    "timestamps",
]

T = TypeVar("T")
_U64 = 2**64 - 1
_REGISTRY: dict[type, st.SearchStrategy[Any]] = {}


def register_strategy(kind: type[T], strategy: st.SearchStrategy[T]) -> None:
    """Make ``strategy`` the way to generate ``kind`` (also for ``st.from_type``)."""
    _REGISTRY[kind] = strategy
    st.register_type_strategy(kind, strategy)


def strategy_for(kind: type[T]) -> st.SearchStrategy[T]:
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise NotFound(
            f"no strategy registered for {kind.__name__}; add one with register_strategy"
        ) from None


def _uuid_ids(cls: type[T]) -> st.SearchStrategy[T]:
    return st.binary(min_size=16, max_size=16).map(cls)


def authority_ids() -> st.SearchStrategy[AuthorityId]:
    return _uuid_ids(AuthorityId)


def context_ids() -> st.SearchStrategy[ContextId]:
    return _uuid_ids(ContextId)


def device_ids() -> st.SearchStrategy[DeviceId]:
    return _uuid_ids(DeviceId)


def session_ids() -> st.SearchStrategy[SessionId]:
    return _uuid_ids(SessionId)


def hash32s() -> st.SearchStrategy[Hash32]:
    return st.binary(min_size=32, max_size=32).map(Hash32)


def channel_ids() -> st.SearchStrategy[ChannelId]:
    return st.binary(min_size=32, max_size=32).map(ChannelId)


def epochs(max_value: int = _U64) -> st.SearchStrategy[Epoch]:
    return st.integers(0, max_value).map(Epoch)


def physical_times() -> st.SearchStrategy[PhysicalTime]:
    return st.builds(
        PhysicalTime,
        st.integers(0, _U64),
        st.none() | st.integers(0, 10**9),
    )


def logical_times(max_devices: int = 4) -> st.SearchStrategy[LogicalTime]:
    counters = st.dictionaries(device_ids(), st.integers(0, 2**32), max_size=max_devices)
    return st.builds(LogicalTime.from_mapping, counters, st.integers(0, _U64))


def order_times() -> st.SearchStrategy[OrderTime]:
    return st.binary(min_size=32, max_size=32).map(OrderTime)


def range_times() -> st.SearchStrategy[RangeTime]:
    return st.tuples(st.integers(0, _U64), st.integers(0, _U64)).map(
        lambda p: RangeTime(min(p), max(p))
    )


def timestamps() -> st.SearchStrategy[TimeStamp]:
    return st.one_of(physical_times(), logical_times(), order_times(), range_times())


def byte_keys(max_size: int = 64) -> st.SearchStrategy[bytes]:
    """Storage keys: short byte strings that often share prefixes (to exercise prefix scans)."""
    return st.one_of(
        st.binary(max_size=max_size),
        st.lists(st.sampled_from([b"a", b"b", b"\x00", b"\xff"]), max_size=6).map(b"".join),
    )


def secret_keys() -> st.SearchStrategy[bytes]:
    """32-byte keys (seeds, X25519 private keys, AEAD keys)."""
    return st.binary(min_size=32, max_size=32)


def table_names() -> st.SearchStrategy[str]:
    return st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)


def journal_names() -> st.SearchStrategy[str]:
    return st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=40)


for _kind, _strategy in (
    (AuthorityId, authority_ids()),
    (ContextId, context_ids()),
    (DeviceId, device_ids()),
    (SessionId, session_ids()),
    (Hash32, hash32s()),
    (ChannelId, channel_ids()),
    (HomeId, st.binary(min_size=32, max_size=32).map(HomeId)),
    (NeighborhoodId, st.binary(min_size=32, max_size=32).map(NeighborhoodId)),
    (Epoch, epochs()),
    (PhysicalTime, physical_times()),
    (LogicalTime, logical_times()),
    (OrderTime, order_times()),
    (RangeTime, range_times()),
):
    register_strategy(_kind, _strategy)
