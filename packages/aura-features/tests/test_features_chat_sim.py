"""Chat in the deterministic simulator: faulty links, members away, crashes, one seed one trace."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from aura_effects.simulated import FaultPlan
from aura_features.chat import MessageShown


def _load_world():
    name = "aura_features_test_chat_world"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("test_features_chat_world.py")
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


W = _load_world()
LOSSY = FaultPlan(latency_s=0.005, jitter_s=0.02, drop_rate=0.2, duplicate_rate=0.2)


def _setup(names, *, seed, faults=None):
    sim, cast = W.simulation(names, seed=seed, faults=faults)
    channel = W.act(sim, names[0], lambda s, now: s.create_channel("general", now))
    sim.run(for_s=3.0)
    for name in names[1:]:
        result = W.act(sim, name, lambda s, now: s.join(channel, now))
        assert not isinstance(result, Exception), result
        sim.run(for_s=5.0)
    for name in names:
        status = sim.protocol(name).service.view.channel(channel).my_status
        assert status == "member", (name, status, sim.seed)
    return sim, cast, channel


def _shown(sim, name, channel):
    """Messages shown since the last call, in the order they were shown."""
    service = sim.protocol(name).service
    return [
        service.view.message(u.message).text
        for u in service.take_updates()
        if isinstance(u, MessageShown) and u.channel == channel
    ]


def _texts(sim, name, channel):
    return [m.text for m in sim.protocol(name).service.view.history(channel)]


def _send(sim, name, channel, text):
    result = W.act(sim, name, lambda s, now: s.send_message(channel, text, now))
    assert not isinstance(result, Exception), result
    return result


@pytest.mark.parametrize("seed", [1, 2])
def test_two_members_chat_both_ways_over_a_lossy_network(seed):
    sim, _cast, channel = _setup(["alice", "bob"], seed=seed, faults=LOSSY)
    for name in ("alice", "bob"):
        _shown(sim, name, channel)
    sent = {"alice": [], "bob": []}
    for i in range(6):
        for name in ("alice", "bob"):
            text = f"{name} says {i}"
            _send(sim, name, channel, text)
            sent[name].append(text)
        sim.run(for_s=0.3)
    sim.run(for_s=60.0)
    for name, other in (("alice", "bob"), ("bob", "alice")):
        shown = _shown(sim, name, channel)
        assert [t for t in shown if t.startswith(other)] == sent[other], sim.seed  # once, in order
        assert sorted(_texts(sim, name, channel)) == sorted(sent["alice"] + sent["bob"])
    assert _texts(sim, "alice", channel) == _texts(sim, "bob", channel)


def test_three_members_over_a_lossy_network():
    names = ["alice", "bob", "carol"]
    sim, _cast, channel = _setup(names, seed=7, faults=LOSSY)
    for name in names:
        _shown(sim, name, channel)
    for i in range(4):
        for name in names:
            _send(sim, name, channel, f"{name} {i}")
        sim.run(for_s=0.5)
    sim.run(for_s=60.0)
    histories = {name: _texts(sim, name, channel) for name in names}
    assert histories["alice"] == histories["bob"] == histories["carol"]
    assert len(histories["alice"]) == 12
    for name in names:
        shown = _shown(sim, name, channel)
        assert len(shown) == len(set(shown)) == 12


def test_a_member_away_gets_its_backlog_once_and_in_order_by_amp_retry():
    sim, _cast, channel = _setup(["alice", "bob"], seed=11, faults=FaultPlan(latency_s=0.01))
    _shown(sim, "bob", channel)
    sim.partition(["alice"], ["bob"])
    sent = [f"while you were out {i}" for i in range(15)]
    for text in sent:
        _send(sim, "alice", channel, text)
        sim.run(for_s=1.0)
    sim.run(for_s=30.0)
    assert _texts(sim, "bob", channel) == []
    sim.heal()
    sim.run(for_s=90.0)
    assert _shown(sim, "bob", channel) == sent
    assert _texts(sim, "bob", channel) == sent
    assert all(
        m.state.name == "DELIVERED" for m in sim.protocol("alice").service.view.history(channel)
    )


def test_a_member_catches_up_from_another_member_while_the_author_is_gone():
    names = ["alice", "bob", "carol"]
    sim, _cast, channel = _setup(names, seed=5, faults=FaultPlan(latency_s=0.01))
    _shown(sim, "carol", channel)
    sim.partition(["carol"], ["alice", "bob"])
    sent = [f"news {i}" for i in range(5)]
    for text in sent:
        _send(sim, "alice", channel, text)
    sim.run(for_s=5.0)
    assert _texts(sim, "bob", channel) == sent
    sim.crash("alice")  # the author is gone for good
    sim.heal()
    sim.run(for_s=30.0)  # anti-entropy with bob brings the facts; carol opens them herself
    assert _texts(sim, "carol", channel) == sent
    assert _shown(sim, "carol", channel) == sent


def test_a_member_restarts_from_its_storage_and_the_conversation_goes_on():
    sim, _cast, channel = _setup(["alice", "bob"], seed=9, faults=FaultPlan(latency_s=0.01))
    for i in range(3):
        _send(sim, "alice", channel, f"before {i}")
        _send(sim, "bob", channel, f"reply {i}")
        sim.run(for_s=1.0)
    sim.run(for_s=5.0)
    before = _texts(sim, "bob", channel)
    sim.crash("bob")
    _send(sim, "alice", channel, "while bob restarts")
    sim.run(for_s=2.0)
    sim.restart("bob")
    assert _texts(sim, "bob", channel) == before  # rebuilt from storage
    sim.run(for_s=70.0)  # the retry reaches the new process
    _send(sim, "bob", channel, "I am back")
    sim.run(for_s=5.0)
    expected = [*before, "while bob restarts", "I am back"]
    assert _texts(sim, "bob", channel) == expected
    assert _texts(sim, "alice", channel) == expected


def test_the_same_seed_gives_the_same_trace():
    def run(seed):
        sim, _cast, channel = _setup(["alice", "bob"], seed=seed, faults=LOSSY)
        for i in range(3):
            _send(sim, "alice", channel, f"m{i}")
            _send(sim, "bob", channel, f"n{i}")
            sim.run(for_s=0.5)
        sim.run(for_s=20.0)
        return sim.trace_hash()

    assert run(3) == run(3)
