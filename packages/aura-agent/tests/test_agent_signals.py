"""Journal changes reach signals through reducers, batched; subscribers see the latest state."""

from __future__ import annotations

import anyio
import pytest
from nacl.signing import SigningKey

from aura_agent.app import SignalBoard
from aura_agent.feature import SignalSpec
from aura_core.identifiers import AuthorityId, ContextId, DeviceId
from aura_core.time_domains import PhysicalTime
from aura_effects import SignalHub, SystemTime
from aura_journal import (
    FactMetadata,
    FlowCharge,
    Journal,
    JournalNamespace,
    default_registry,
    order_time_from_entropy,
)
from aura_journal.facts import Fact

pytestmark = pytest.mark.anyio

AUTHORITY = AuthorityId(bytes(range(16)))
NAMESPACE = JournalNamespace.authority(AUTHORITY)
CONTEXT = ContextId(bytes(16))
PEER = AuthorityId(bytes([1] * 16))


class _Reader:
    def __init__(self, journal: Journal) -> None:
        self._journal = journal

    authority = AUTHORITY

    @property
    def namespaces(self):
        return (NAMESPACE,)

    def journal(self, namespace):
        return self._journal

    def contexts(self):
        return ()


def _charges(count: int) -> list[Fact]:
    key = SigningKey(bytes(32))
    device = DeviceId(bytes(16))
    facts = []
    for i in range(count):
        body = FlowCharge(CONTEXT, PEER, 0, 1)
        meta = FactMetadata(
            order_time_from_entropy(i.to_bytes(16, "big")), PhysicalTime(1_700_000_000_000 + i)
        )
        facts.append(Fact.create(body, meta).signed_by_device(NAMESPACE, device, key))
    return facts


def _spent(reader) -> int:
    ledger = reader.journal(NAMESPACE).state("flow_budget")
    return ledger.budget(CONTEXT, PEER, 10**9).spent


def test_flush_recomputes_each_dirty_signal_once_and_skips_unchanged_values():
    journal = Journal(NAMESPACE, default_registry())
    hub = SignalHub()
    board = SignalBoard(hub, _Reader(journal))
    calls = []

    def spent(reader):
        calls.append(1)
        return _spent(reader)

    board.add(SignalSpec("flow.spent", spent, {"flow.charge"}))
    board.add(SignalSpec("other", lambda reader: "constant", {"tree.op"}))
    assert board.flush() == 2
    facts = _charges(50)
    for fact in facts:
        journal.add(fact)
        board.journal_changed(NAMESPACE, [fact])
    assert board.dirty == {"flow.spent"}  # tree.op facts did not arrive: 'other' stays clean
    calls.clear()
    assert board.flush() == 1
    assert calls == [1]  # fifty facts, one recomputation
    assert hub.latest("flow.spent") == 50
    board.invalidate(["other"])
    assert board.flush() == 0  # recomputed, same value: not emitted again
    assert hub.version("other") == 1


async def test_a_slow_subscriber_always_sees_the_latest_state():
    journal = Journal(NAMESPACE, default_registry())
    hub = SignalHub()
    board = SignalBoard(hub, _Reader(journal))
    board.add(SignalSpec("flow.spent", _spent, {"flow.charge"}))
    seen: list[int] = []
    facts = _charges(200)

    async def slow_subscriber() -> None:
        async for value in hub.subscribe("flow.spent"):
            seen.append(value)
            if value == len(facts):
                return
            await anyio.sleep(0.01)  # a UI busy rendering

    async with anyio.create_task_group() as tg:
        tg.start_soon(board.run, SystemTime(), 0.002)
        tg.start_soon(slow_subscriber)
        for start in range(0, len(facts), 10):
            for fact in facts[start : start + 10]:
                journal.add(fact)
                board.journal_changed(NAMESPACE, [fact])
            await anyio.sleep(0.001)
        with anyio.fail_after(10):
            while not seen or seen[-1] != len(facts):
                await anyio.sleep(0.005)
        tg.cancel_scope.cancel()
    assert seen == sorted(seen)  # never an older state after a newer one
    assert seen[-1] == len(facts)
    assert len(seen) < len(facts) / 2  # batched and coalesced, not one value per fact
    assert board.recomputations < len(facts)
