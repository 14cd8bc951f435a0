"""Protocol layer figures (aura_protocol).

``guard_chain_send_us``: one guarded send made durable — capability check
(Biscuit), flow charge (signed fact + ledger row), signed receipt (fact),
one coupled fact and the outbox row, in one SQLite transaction with
``synchronous=FULL`` in a temporary directory. ``guard_chain_cpu_us`` is the
same send on in-memory storage (the work without the fsync) and
``guard_commit_floor_us`` a bare transaction with the same writes (the fsync
floor of this disk right now), so the figure can be read on a loaded machine.

The anti-entropy (``anti_entropy_*``) and AMP (``amp_*``) figures, and exactly
what they count, are described in ``_sync_and_messaging.py``.
The consensus figures (``consensus_*``: fast-path round trips measured in the
simulator, wall time of a whole 2-of-3 fast path in process) are described in
``_consensus.py``.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

import attrs
from nacl.signing import SigningKey

from aura_core.errors import ValidationError
from aura_core.identifiers import AuthorityId, ContextId, DeviceId, Epoch
from aura_core.time_domains import OrderTime, PhysicalTime
from aura_effects import SqliteStorage
from aura_effects.simulated import MemoryStorage, SeededRandom
from aura_journal.authorization import (
    Capability,
    CapabilityAuthorizer,
    CapabilityToken,
    Delegation,
    DeviceRootKey,
    SignedDelegation,
    TrustedAuthority,
)
from aura_journal.builtin_registry import default_registry
from aura_journal.fact_registry import FactType
from aura_journal.facts import Fact, FactMetadata
from aura_protocol.guards import (
    ContextIdentity,
    ContextMembership,
    ContextRoster,
    DeviceSigner,
    FlowLimits,
    GuardStack,
    SendRequest,
)
from benchmarks import _consensus, _sync_and_messaging

GOALS = {
    "guard_chain_send_us": "<= 500 (capability + charge + receipt + 1 fact + outbox, one fsynced SQLite commit)",
    "guard_chain_cpu_us": "the same send on in-memory storage (no fsync); no goal",
    "guard_commit_floor_us": "a bare transaction with the same writes (this disk's fsync floor now); no goal",
}

_CONTEXT = ContextId(bytes(range(16)))
_SEND = Capability.parse("bench:send")


@attrs.frozen
class _Note:
    TYPE_ID: ClassVar[str] = "bench.note"
    text: str

    def to_canonical(self) -> dict[str, Any]:
        return {"text": self.text}

    @classmethod
    def from_canonical(cls, value: Any) -> _Note:
        if type(value) is not dict or value.keys() != {"text"}:
            raise ValidationError("a bench note is {text}")
        return cls(value["text"])


class _Clock:
    def now(self) -> PhysicalTime:
        return PhysicalTime(1_700_000_000_000)

    def monotonic(self) -> float:
        return 0.0

    async def sleep(self, seconds: float) -> None:  # pragma: no cover - unused
        return None


def _stack(storage, name: bytes) -> tuple[GuardStack, AuthorityId, AuthorityId]:
    rng = SeededRandom(name)
    group = SigningKey(rng.random_bytes(32))
    authority, peer = AuthorityId(rng.random_bytes(16)), AuthorityId(rng.random_bytes(16))
    root, peer_root = rng.random_bytes(32), rng.random_bytes(32)
    device_root = DeviceRootKey.from_seed(rng.random_bytes(32))
    authorizer = CapabilityAuthorizer(
        [TrustedAuthority(authority, bytes(group.verify_key), Epoch(1))]
    )
    registry = default_registry()
    registry.register(FactType.for_body(_Note, attestations=frozenset({"none"})))
    stack = GuardStack(
        authority=authority,
        device=DeviceSigner.derive(
            root, authority=authority, device=DeviceId(rng.random_bytes(16))
        ),
        storage=storage,
        time=_Clock(),
        random=rng.fork("effects"),
        authorizer=authorizer,
        flow_limits=FlowLimits({_SEND: 2**62}),
        registry=registry,
    )
    statement = Delegation.of(
        authority=authority,
        group_key=bytes(group.verify_key),
        device_root=device_root.public_key,
        epoch=Epoch(1),
        capabilities={_SEND},
    )
    token = CapabilityToken.issue(
        root=device_root,
        delegation=SignedDelegation(statement, group.sign(statement.signing_message()).signature),
        grants=[(_CONTEXT, _SEND)],
    )
    identity = ContextIdentity.derive(root, authority=authority, context=_CONTEXT)
    peer_identity = ContextIdentity.derive(peer_root, authority=peer, context=_CONTEXT)
    roster = ContextRoster.of(_CONTEXT, Epoch(0), [identity.member(), peer_identity.member()])
    stack.memberships.put(
        ContextMembership(
            identity=identity,
            roster=roster,
            token=authorizer.verify(token, now=_Clock().now()),
        )
    )
    return stack, authority, peer


def _send_median_us(storage, count: int) -> float:
    stack, _authority, peer = _stack(storage, b"bench")
    samples = []
    for i in range(count):
        order = OrderTime(i.to_bytes(32, "big"))
        note = Fact.create(_Note(f"note {i}"), FactMetadata(order, order))
        request = SendRequest(
            context=_CONTEXT,
            peer=peer,
            address="tcp://127.0.0.1:9",
            payload=b"m" * 200,
            capability=_SEND,
            cost=1,
            facts=(note,),
            fact_types=("bench.note",),
        )
        begin = time.perf_counter()
        stack.sender.commit(request)
        samples.append(time.perf_counter() - begin)
    return round(statistics.median(samples) * 1e6, 1)


def _commit_floor_us(storage, count: int) -> float:
    samples = []
    for i in range(count):
        begin = time.perf_counter()
        with storage.transaction() as txn:
            txn.get("guard_flow", b"k" * 32)
            for j in range(3):
                txn.append_fact("context-bench", (i * 4 + j).to_bytes(36, "big"), b"f" * 300)
            txn.put("guard_flow", b"k" * 32, b"v" * 12)
            txn.enqueue_outbox("tcp://127.0.0.1:9", b"e" * 1200)
        samples.append(time.perf_counter() - begin)
    return round(statistics.median(samples) * 1e6, 1)


def _guard_chain_figures(quick: bool) -> dict[str, float]:
    count = 200 if quick else 1000
    with tempfile.TemporaryDirectory() as directory:
        durable = SqliteStorage(Path(directory) / "guards.db", secrets_key=bytes(32))
        floor = SqliteStorage(Path(directory) / "floor.db", secrets_key=bytes(32))
        try:
            send_us = _send_median_us(durable, count)
            floor_us = _commit_floor_us(floor, count)
        finally:
            durable.close()
            floor.close()
    memory = MemoryStorage(secrets_key=bytes(32), random=SeededRandom(0))
    return {
        "guard_chain_send_us": send_us,
        "guard_chain_cpu_us": _send_median_us(memory, count),
        "guard_commit_floor_us": floor_us,
    }


GOALS.update(_sync_and_messaging.GOALS)
GOALS.update(_consensus.GOALS)


def _anti_entropy_figures(quick: bool) -> dict[str, float]:
    """Reconciliation bytes and time at 100k facts (see ``_sync_and_messaging``)."""
    return _sync_and_messaging.anti_entropy_figures(quick)


def _amp_figures(quick: bool) -> dict[str, float]:
    """AMP seal/open and the endpoint round trip (see ``_sync_and_messaging``)."""
    return _sync_and_messaging.amp_figures(quick)


def run(quick: bool) -> dict[str, float]:
    return {
        **_guard_chain_figures(quick),
        **_anti_entropy_figures(quick),
        **_amp_figures(quick),
        **_consensus.consensus_figures(quick),
    }
