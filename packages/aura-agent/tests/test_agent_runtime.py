"""The embeddable agent: lifecycle inside a host task group, restart from disk, sync."""

from __future__ import annotations

import anyio
import pytest

from aura_agent import (
    Agent,
    AgentConfig,
    HostSecret,
    MemoryRouter,
)
from aura_agent.app import AccountView, JournalCounts
from aura_core.errors import InvalidInput, StorageError
from aura_journal import JournalNamespace

pytestmark = pytest.mark.anyio

KEY = bytes(range(32))


def _config(tmp_path, name="device", **kw):
    return AgentConfig(data_dir=tmp_path / name, signal_batch_s=0.005, sync_interval_s=0.05, **kw)


async def test_agent_runs_in_host_task_group_and_restarts_with_state(tmp_path):
    config = _config(tmp_path)
    async with anyio.create_task_group() as tg:
        agent = await tg.start(Agent(config, HostSecret.from_key(KEY)).serve)
        assert agent.running and agent.account is None
        record = await agent.create_account()
        assert agent.authority == record.authority
        with anyio.fail_after(5):
            async for view in agent.subscribe("account"):
                if view.devices:
                    break
        assert view == AccountView(
            record.authority, (agent.device,), (), 1, view.epoch, view.commitment
        )
        device, facts = agent.device, agent.status().facts
        agent.stop()
    assert not agent.running
    async with Agent(config, HostSecret.from_key(KEY)) as again:
        assert again.device == device
        assert again.account == record
        assert again.status().facts == facts
        assert again.latest("account").devices == (device,)
        assert isinstance(again.latest("journals"), JournalCounts)


async def test_passphrase_unlocks_only_with_the_same_passphrase(tmp_path):
    config = _config(tmp_path)
    async with Agent(config, HostSecret.from_passphrase("correct horse battery")) as agent:
        device = agent.device
    assert config.key_parameters_path.exists()
    with pytest.raises(StorageError):
        async with Agent(config, HostSecret.from_passphrase("wrong horse battery")):
            pass
    async with Agent(config, HostSecret.from_passphrase("correct horse battery")) as agent:
        assert agent.device == device


def test_config_rejects_bad_values(tmp_path):
    with pytest.raises(InvalidInput, match="loopback"):
        AgentConfig(data_dir=tmp_path, metrics_address="10.0.0.1:9000")
    with pytest.raises(InvalidInput, match="listen_address"):
        AgentConfig(data_dir=tmp_path, listen_address=42)
    with pytest.raises(InvalidInput):
        HostSecret.from_passphrase("short")
    with pytest.raises(InvalidInput):
        HostSecret(passphrase="long enough", key=KEY)


async def test_two_agents_sync_a_journal_over_a_transport(tmp_path):
    router = MemoryRouter()
    async with (
        Agent(_config(tmp_path, "a"), HostSecret.from_key(KEY), transport=router) as alice,
        Agent(_config(tmp_path, "b"), HostSecret.from_key(KEY), transport=router) as bob,
    ):
        record = await alice.create_account()
        namespace = JournalNamespace.authority(record.authority)
        alice.set_peers(namespace, {str(bob.device): None})
        bob.set_peers(namespace, {str(alice.device): None})
        with anyio.fail_after(10):
            while bob.status().facts < alice.status().facts:
                await anyio.sleep(0.02)
        assert bob.node.book.journal(namespace) == alice.node.book.journal(namespace)
        assert bob.status().anti_entropy_sessions > 0
        assert bob.status().anti_entropy_lag_s is not None


async def test_profile_nickname_replicates_and_is_checked_against_the_tree(tmp_path):
    router = MemoryRouter()
    async with (
        Agent(_config(tmp_path, "a"), HostSecret.from_key(KEY), transport=router) as alice,
        Agent(_config(tmp_path, "b"), HostSecret.from_key(KEY), transport=router) as bob,
    ):
        assert alice.operations["profile.set_nickname"] == "A"
        record = await alice.create_account()
        await alice.run("profile.set_nickname", nickname="Alice")
        assert alice.latest("profile.nickname") == "Alice"
        namespace = JournalNamespace.authority(record.authority)
        alice.set_peers(namespace, {str(bob.device): None})
        bob.set_peers(namespace, {str(alice.device): None})
        with anyio.fail_after(10):
            while bob.query("profile.nickname", authority=str(record.authority)) != "Alice":
                await anyio.sleep(0.02)
        with pytest.raises(InvalidInput):
            await alice.run("profile.set_nickname", nickname=" spaced ")
