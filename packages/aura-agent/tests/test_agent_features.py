"""The feature plug-in interface: entry-point discovery, the outside example package, checks."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import anyio
import pytest

from aura_agent import (
    ENTRY_POINT_GROUP,
    Agent,
    AgentConfig,
    Feature,
    HostSecret,
    SignalSpec,
    discover_features,
    feature_from_entry_point,
    order_features,
)
from aura_agent.builtin_features import BUILTIN_FEATURES
from aura_core.errors import InvalidInput, NotFound, ValidationError

pytestmark = pytest.mark.anyio

KEY = bytes(32)


def test_the_outside_package_is_discovered_through_its_entry_point():
    features = discover_features(BUILTIN_FEATURES)
    names = [feature.name for feature in features]
    assert "notes" in names
    # Dependencies first: notes requires account.
    assert names.index("account") < names.index("notes")
    notes = next(f for f in features if f.name == "notes")
    assert notes.operation_categories == {"notes.add": "A"}
    assert notes.start is not None


async def test_the_outside_feature_works_inside_an_agent_and_survives_restart(tmp_path):
    config = AgentConfig(data_dir=tmp_path, signal_batch_s=0.0)
    async with Agent(config, HostSecret.from_key(KEY)) as agent:
        assert "notes" in agent.features
        with pytest.raises(NotFound):
            await agent.run("notes.add", text="before an account")
        await agent.create_account()
        assert await agent.run("notes.add", text="buy milk") == 1
        assert await agent.run("notes.add", text="call Bob") == 2
        with pytest.raises(InvalidInput):
            await agent.run("notes.add", text="")
        assert sorted(agent.latest("notes")) == ["buy milk", "call Bob"]
    async with Agent(config, HostSecret.from_key(KEY)) as agent:
        assert sorted(agent.query("notes.list")) == ["buy milk", "call Bob"]
        with anyio.fail_after(5):
            async for loaded in agent.subscribe("notes.loaded"):
                assert loaded == 2
                break


async def test_features_can_be_chosen_by_name(tmp_path):
    config = AgentConfig(data_dir=tmp_path, features=("profile",))
    async with Agent(config, HostSecret.from_key(KEY)) as agent:
        assert agent.features == ("account", "profile")  # account comes as a requirement
        with pytest.raises(NotFound, match=r"notes\.add"):
            await agent.run("notes.add", text="x")
    with pytest.raises(InvalidInput, match="not found: nosuch"):
        discover_features(BUILTIN_FEATURES, enabled=["nosuch"])


def test_entry_point_problems_are_named():
    broken = EntryPoint("broken", "aura_feature_example:does_not_exist", ENTRY_POINT_GROUP)
    with pytest.raises(InvalidInput, match="broken"):
        feature_from_entry_point(broken)
    renamed = EntryPoint("other", "aura_feature_example:notes_feature", ENTRY_POINT_GROUP)
    with pytest.raises(InvalidInput, match=r"named 'notes'"):
        feature_from_entry_point(renamed)
    not_a_feature = EntryPoint("x", "aura_feature_example:MAX_NOTE_CHARS", ENTRY_POINT_GROUP)
    with pytest.raises(InvalidInput, match="not a Feature"):
        feature_from_entry_point(not_a_feature)


def test_feature_declarations_are_checked():
    with pytest.raises(InvalidInput, match="name"):
        Feature(name="Bad Name")
    with pytest.raises(InvalidInput, match=r"'x\.op' must be named"):
        Feature(name="y", operation_categories={"x.op": "A"})
    with pytest.raises(InvalidInput, match="not A, B or C"):
        Feature(name="y", operation_categories={"y.op": "D"})
    with pytest.raises(InvalidInput, match="no operation category"):
        Feature(name="y", workflows={"y.op": lambda host, args: None})
    with pytest.raises(InvalidInput, match="signal name"):
        SignalSpec("Bad", lambda reader: None)
    a = Feature(name="a", requires=("b",))
    b = Feature(name="b", requires=("a",))
    with pytest.raises(InvalidInput, match="circle"):
        order_features([a, b])
    with pytest.raises(InvalidInput, match="not loaded"):
        order_features([a])
    with pytest.raises(InvalidInput, match="two features"):
        order_features([Feature(name="c"), Feature(name="c")])


async def test_a_signal_that_raises_does_not_stop_the_others(tmp_path):
    def broken(_reader):
        raise ValidationError("boom")

    bad = Feature(name="bad", signals=(SignalSpec("bad.signal", broken),))
    features = [factory() for factory in BUILTIN_FEATURES] + [bad]
    async with Agent(
        AgentConfig(data_dir=tmp_path), HostSecret.from_key(KEY), features=features
    ) as agent:
        await agent.create_account()
        assert agent.latest("account").devices == (agent.device,)
        assert agent.latest("bad.signal") is None
        assert any(name == "bad.signal" and "boom" in text for name, text in agent.signals.errors)


class _PingService:
    """A feature service with its own little protocol: ping -> pong."""

    def __init__(self, node):
        self.node = node
        self.pongs: list[str] = []

    def receive(self, source, body, now):
        if body == b"ping":
            self.node.send_service("ping", source, b"pong")
        elif body == b"pong":
            self.pongs.append(source)
        else:
            raise ValidationError("not ping or pong")


def _ping_feature() -> Feature:
    def ping(host, args):
        service = host.reader.service("ping")
        if service is None:
            raise NotFound("ping needs an account")
        service.node.send_service("ping", args["route"], b"ping")

    return Feature(
        name="ping",
        service=_PingService,
        operation_categories={"ping.send": "A"},
        workflows={"ping.send": ping},
    )


async def test_a_feature_service_talks_its_own_protocol_between_agents(tmp_path):
    from aura_agent import MemoryRouter

    router = MemoryRouter()
    features = [*(factory() for factory in BUILTIN_FEATURES), _ping_feature()]
    secret = HostSecret.from_key(KEY)
    async with (
        Agent(
            AgentConfig(data_dir=tmp_path / "a"), secret, features=features, transport=router
        ) as a,
        Agent(
            AgentConfig(data_dir=tmp_path / "b"), secret, features=features, transport=router
        ) as b,
    ):
        with pytest.raises(NotFound):
            await a.run("ping.send", route=str(b.device))  # no account: no services yet
        await a.create_account()
        await b.create_account()
        await a.run("ping.send", route=str(b.device))
        with anyio.fail_after(5):
            while not a.node.services["ping"].pongs:
                await anyio.sleep(0.01)
        assert a.node.services["ping"].pongs == [str(b.device)]
        refused = b.status().frames_refused
        a.node.send_service("ping", str(b.device), b"garbage")
        a.sync_now()
        with anyio.fail_after(5):
            while b.status().frames_refused == refused:
                await anyio.sleep(0.01)
