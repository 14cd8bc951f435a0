"""The choreography runtime: the seed's KeyRotation end to end, and the runner's rules."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import anyio
import nacl.bindings
import pytest

from aura_core.errors import AuthorizationDenied, InvalidEncoding, InvalidInput, ProtocolViolation
from aura_core.identifiers import ContextId, Epoch, SessionId
from aura_effects.simulated import FaultPlan, Simulation
from aura_journal.mpst import parse_choreography, parse_choreography_file, project, project_all
from aura_protocol.choreo import (
    ChoreoMessage,
    ChoreoNode,
    ChoreoParticipant,
    ChoreoRunner,
    MemoryEnvelopeHub,
    PayloadType,
    PayloadTypes,
    RoleBinding,
    run_role,
)
from aura_protocol.guards import read_flow_row


def _load_world():
    name = "aura_protocol_test_guard_world"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("protocol_guard_world.py")
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


W = _load_world()
CTX = ContextId(bytes(range(32, 48)))
SESSION = SessionId(bytes(range(16)))
KEY_ROTATION = parse_choreography_file(
    Path(__file__).parents[2] / "aura-journal" / "tests" / "choreo" / "key_rotation.choreo"
)
ROLES = {"Initiator": "initiator", "Witness1": "witness1", "Witness2": "witness2"}


def _rotation_from_wire(value: Any) -> dict[str, Any]:
    if type(value) is not dict or value.keys() != {"epoch", "group_key"}:
        raise InvalidEncoding("RotationData is {epoch, group_key}")
    if type(value["epoch"]) is not int or not 0 <= value["epoch"] < 2**64:
        raise InvalidEncoding("RotationData.epoch must be a u64")
    if type(value["group_key"]) is not bytes or len(value["group_key"]) != 32:
        raise InvalidEncoding("RotationData.group_key must be 32 bytes")
    return dict(value)


ROTATION_TYPES = PayloadTypes(
    {"RotationData": PayloadType("RotationData", _rotation_from_wire, _rotation_from_wire)}
)


class Initiator:
    def __init__(self, proposal: dict[str, Any]) -> None:
        self.proposal = proposal
        self.votes: dict[str, bool] = {}

    def payload(self, to: str, label: str) -> dict[str, Any]:
        return {"data": self.proposal}

    def choose(self, labels: tuple[str, ...]) -> str:  # pragma: no cover - no choice here
        raise AssertionError(labels)

    def facts(self, to: str, label: str, values: dict[str, Any]) -> tuple:
        return ()

    def received(self, sender: str, label: str, values: dict[str, Any]) -> None:
        self.votes[sender] = values["vote"]

    @property
    def approved(self) -> bool:
        return len(self.votes) == 2 and all(self.votes.values())


class Witness:
    """Votes for a rotation to the next epoch with a valid Ed25519 group key."""

    def __init__(self, current_epoch: int) -> None:
        self.current_epoch = current_epoch
        self.vote: bool | None = None
        self.proposal: dict[str, Any] | None = None

    def received(self, sender: str, label: str, values: dict[str, Any]) -> None:
        data = values["data"]
        self.proposal = data
        self.vote = data["epoch"] == self.current_epoch + 1 and bool(
            nacl.bindings.crypto_core_ed25519_is_valid_point(data["group_key"])
        )

    def payload(self, to: str, label: str) -> dict[str, Any]:
        assert self.vote is not None
        return {"vote": self.vote}

    def choose(self, labels: tuple[str, ...]) -> str:  # pragma: no cover
        raise AssertionError(labels)

    def facts(self, to: str, label: str, values: dict[str, Any]) -> tuple:
        return ()


def _new_key() -> bytes:
    return nacl.bindings.crypto_sign_seed_keypair(b"\x07" * 32)[0]


def _setup(proposal: dict[str, Any], *, addresses: str = "mem", grants=None):
    world = W.GuardWorld(list(ROLES.values()))
    world.context(
        CTX,
        list(ROLES.values()),
        grants=grants or {"initiator": (W.ROTATE,), "witness1": (W.VOTE,), "witness2": (W.VOTE,)},
    )
    cast = {
        role: RoleBinding(world[name].authority, f"mem://{name}" if addresses == "mem" else name)
        for role, name in ROLES.items()
    }
    locals_ = project_all(KEY_ROTATION)
    behaviours = {"Initiator": Initiator(proposal), "Witness1": Witness(4), "Witness2": Witness(4)}
    participants = {
        role: ChoreoParticipant(
            runner=ChoreoRunner(
                protocol=KEY_ROTATION.name,
                session=SESSION,
                role=role,
                roles=KEY_ROTATION.roles,
                local=locals_[role],
                behaviour=behaviours[role],
                types=ROTATION_TYPES,
            ),
            stack=world[name].stack,
            context=CTX,
            cast=cast,
        )
        for role, name in ROLES.items()
    }
    return world, participants, behaviours


def _check_charges(world) -> None:
    initiator, w1, w2 = (world[n] for n in ROLES.values())
    with initiator.storage.transaction(readonly=True) as txn:
        assert read_flow_row(txn, CTX, w1.authority) == (10, Epoch(0))
        assert read_flow_row(txn, CTX, w2.authority) == (10, Epoch(0))
    for witness in (w1, w2):
        with witness.storage.transaction(readonly=True) as txn:
            assert read_flow_row(txn, CTX, initiator.authority) == (5, Epoch(0))


def test_key_rotation_runs_end_to_end_in_memory() -> None:
    proposal = {"epoch": 5, "group_key": _new_key()}
    world, participants, behaviours = _setup(proposal)
    hub = MemoryEnvelopeHub()
    inboxes = {role: hub.inbox(f"mem://{name}") for role, name in ROLES.items()}

    async def main() -> None:
        async with hub, anyio.create_task_group() as tg:
            for role, participant in participants.items():
                tg.start_soon(run_role, participant, inboxes[role], hub)

    anyio.run(main)
    assert behaviours["Initiator"].votes == {"Witness1": True, "Witness2": True}
    assert behaviours["Initiator"].approved
    assert behaviours["Witness1"].proposal == proposal
    _check_charges(world)
    # every message is in the receiver's context journal as a receipt, exactly once
    assert len(world.context_facts("initiator", CTX)) == 2 + 2  # 2 sent + 2 received receipts
    assert all(p.done and not p.stack.sender.pending() for p in participants.values())


def test_witnesses_vote_no_on_a_bad_proposal() -> None:
    _world, participants, behaviours = _setup({"epoch": 9, "group_key": bytes(32)})
    hub = MemoryEnvelopeHub()
    inboxes = {role: hub.inbox(f"mem://{name}") for role, name in ROLES.items()}

    async def main() -> None:
        async with hub, anyio.create_task_group() as tg:
            for role, participant in participants.items():
                tg.start_soon(run_role, participant, inboxes[role], hub)

    anyio.run(main)
    assert behaviours["Initiator"].votes == {"Witness1": False, "Witness2": False}
    assert not behaviours["Initiator"].approved


def _simulate(seed: int) -> tuple[Simulation, dict, dict, object]:
    world, participants, behaviours = _setup({"epoch": 5, "group_key": _new_key()}, addresses="sim")
    sim = Simulation(
        seed, faults=FaultPlan(latency_s=0.01, jitter_s=0.02, drop_rate=0.3, duplicate_rate=0.3)
    )
    nodes = {}
    for role, name in ROLES.items():

        def factory(env, role=role):
            nodes[role] = ChoreoNode(participants[role], now=sim.local_now(env.name))
            return nodes[role]

        sim.add_node(name, factory)
    sim.run(for_s=30)
    return sim, nodes, behaviours, world


def test_key_rotation_runs_over_a_lossy_simulated_network() -> None:
    sim, nodes, behaviours, world = _simulate(7)
    assert all(node.settled for node in nodes.values())
    assert behaviours["Initiator"].votes == {"Witness1": True, "Witness2": True}
    assert sim.network.dropped > 0  # the run really lost messages and recovered
    assert not any(node.errors for node in nodes.values())
    _check_charges(world)  # retransmissions are not charged again
    again, _, _, _ = _simulate(7)
    assert again.trace_hash() == sim.trace_hash()


def test_a_send_the_guard_chain_refuses_stops_the_role() -> None:
    _, participants, _ = _setup(
        {"epoch": 5, "group_key": _new_key()},
        grants={"initiator": (W.VOTE,), "witness1": (W.VOTE,), "witness2": (W.VOTE,)},
    )
    with pytest.raises(AuthorizationDenied, match="key_rotation:rotate"):
        participants["Initiator"].start()
    assert participants["Initiator"].stack.sender.pending() == []


PING = parse_choreography(
    """
    protocol Ping {
      roles: A, B;
      rec Loop {
        choice at A {
          more: { A -> B: Next(n: int); continue Loop; }
          stop: { A -> B: Stop(note: str); }
        }
      }
      B -> A: Done(total: int);
    }
    """
)


class Counter:
    def __init__(self, count: int) -> None:
        self.count, self.sent, self.total, self.seen = count, 0, 0, []

    def choose(self, labels):
        return "more" if self.sent < self.count else "stop"

    def payload(self, to, label):
        if label == "Next":
            self.sent += 1
            return {"n": self.sent}
        if label == "Stop":
            return {"note": "enough"}
        return {"total": self.total}

    def facts(self, to, label, values):
        return ()

    def received(self, sender, label, values):
        self.seen.append((label, values))
        if label == "Next":
            self.total += values["n"]


def _runner(role: str, behaviour) -> ChoreoRunner:
    return ChoreoRunner(
        protocol="Ping",
        session=SESSION,
        role=role,
        roles=("A", "B"),
        local=project(PING, role),
        behaviour=behaviour,
    )


def test_the_runner_restores_per_peer_order_and_drops_duplicates() -> None:
    a, b = Counter(3), Counter(0)
    sender, receiver = _runner("A", a), _runner("B", b)
    messages = [send.message for send in sender.start()]
    assert [m.label for m in messages] == ["Next", "Next", "Next", "Stop"]
    receiver.start()
    replies = []
    for message in [messages[2], messages[0], messages[0], messages[3], messages[1]]:
        replies += receiver.receive(message)
    assert [label for label, _ in b.seen] == ["Next", "Next", "Next", "Stop"]
    assert receiver.done and [r.message.values for r in replies] == [{"total": 6}]
    sender.receive(replies[0].message)
    assert sender.done


def test_the_runner_rejects_what_the_local_type_does_not_allow() -> None:
    receiver = _runner("B", Counter(0))
    receiver.start()
    bad_label = ChoreoMessage("Ping", SESSION, "A", "B", 0, "Done", {"total": 1})
    with pytest.raises(ProtocolViolation, match="expected one of"):
        receiver.receive(bad_label)
    receiver = _runner("B", Counter(0))
    receiver.start()
    with pytest.raises(ProtocolViolation, match="bad value"):
        receiver.receive(ChoreoMessage("Ping", SESSION, "A", "B", 0, "Next", {"n": "one"}))
    with pytest.raises(ProtocolViolation, match="fields"):
        _runner_started().receive(ChoreoMessage("Ping", SESSION, "A", "B", 0, "Next", {}))
    with pytest.raises(ProtocolViolation, match="session"):
        _runner_started().receive(
            ChoreoMessage("Ping", SessionId(bytes(16)), "A", "B", 0, "Next", {"n": 1})
        )
    with pytest.raises(ProtocolViolation, match="peer role"):
        _runner_started().receive(ChoreoMessage("Ping", SESSION, "C", "B", 0, "Next", {"n": 1}))


def _runner_started() -> ChoreoRunner:
    runner = _runner("B", Counter(0))
    runner.start()
    return runner


def test_unknown_field_types_are_refused_before_running() -> None:
    with pytest.raises(InvalidInput, match="RotationData"):
        ChoreoRunner(
            protocol="KeyRotation",
            session=SESSION,
            role="Witness1",
            roles=KEY_ROTATION.roles,
            local=project(KEY_ROTATION, "Witness1"),
            behaviour=Witness(0),
        )


def test_messages_decode_strictly() -> None:
    message = ChoreoMessage("Ping", SESSION, "A", "B", 3, "Next", {"n": 1})
    assert ChoreoMessage.decode(message.encode()) == message
    with pytest.raises(InvalidEncoding):
        ChoreoMessage.decode(message.encode()[:-1])
    with pytest.raises(InvalidEncoding):
        ChoreoMessage.decode(b"\xa0")
