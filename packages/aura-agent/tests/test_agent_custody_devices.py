"""An account across three agents: created on one device, two more enrolled, threshold 2-of-3.

Each agent has its own data directory (SQLite, encrypted secrets); the custody
ceremonies travel as service frames between them through an in-process
:class:`MemoryRouter` (so every frame crosses the codec).
"""

from __future__ import annotations

import os

import anyio
import pytest

from aura_agent import Agent, AgentConfig, HostSecret, MemoryRouter
from aura_agent.builtin_features import BUILTIN_FEATURES
from aura_agent.custody_feature import devices_feature
from aura_core.crypto import verify_signature
from aura_core.errors import InvalidInput, NotFound, ValidationError
from aura_features.invitation import SignedInvite
from aura_testkit import loopback_relay

pytestmark = pytest.mark.anyio

SIGNING = {"contacts", "chat"}
KEY = os.urandom(32)


def _agent(tmp_path, name, router):
    config = AgentConfig(data_dir=tmp_path / name, sync_interval_s=0.2, signal_batch_s=0.0)
    # Contacts and chat sign with the account key, which a threshold account has on no
    # single device (see docs/devices-and-recovery.md): these agents run without them.
    features = [f for f in (make() for make in BUILTIN_FEATURES) if f.name not in SIGNING]
    features = [f for f in features if f.name != "devices"] + [devices_feature()]
    return Agent(config, HostSecret.from_key(KEY), features=features, transport=router)


async def _until(predicate, timeout=20.0):
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(0.02)


def _member_of(agent, authority, threshold, count):
    status = agent.query("devices.status")
    return (
        status["member"]
        and status["authority"] == authority
        and status["threshold"] == threshold
        and len(status["devices"]) == count
    )


async def test_three_devices_share_a_two_of_three_account(tmp_path):
    router = MemoryRouter()
    async with (
        _agent(tmp_path, "phone", router) as phone,
        _agent(tmp_path, "laptop", router) as laptop,
        _agent(tmp_path, "tablet", router) as tablet,
    ):
        record = await phone.run("devices.create_account")
        assert phone.authority == record.authority and record.threshold == 1
        assert phone.query("account.devices") == (str(phone.device),)

        for newcomer in (laptop, tablet):
            await phone.run("devices.add", device=str(newcomer.device))
            await newcomer.run(
                "devices.join", authority=str(record.authority), sponsor=str(phone.device)
            )
            await _until(lambda n=newcomer: n.authority == record.authority)
        agents = (phone, laptop, tablet)
        await _until(lambda: all(_member_of(a, record.authority, 2, 3) for a in agents))

        # Same group key throughout; the tree in every journal lists the three devices.
        for agent in agents:
            assert agent.account.group_public_key == record.group_public_key
            assert agent.query("devices.status")["group_key"] == record.group_public_key
        expected = {str(a.device) for a in agents}
        await _until(lambda: all(set(a.query("account.devices")) == expected for a in agents))

        # Any two of the three shares sign for the account's key.
        shares = [a.node.services["devices"].manager.key_package for a in (laptop, tablet)]
        public = laptop.node.services["devices"].manager.key_epoch.public_key_package
        from aura_core.crypto import SigningPackage, aggregate, commit, sign

        rounds = [commit(k, phone.effects.random) for k in shares]
        package = SigningPackage.from_unsorted([c for _n, c in rounds], b"two of three")
        parts = [sign(package, n, k) for (n, _c), k in zip(rounds, shares, strict=True)]
        signature = aggregate(package, parts, public)
        assert verify_signature(record.group_public_key, b"two of three", signature)

        # 3-of-3 and back (a removal needs enough signers besides the removed device),
        # then drop the tablet: 2-of-2 between phone and laptop.
        await laptop.run("devices.set_threshold", threshold=3)
        await _until(lambda: all(_member_of(a, record.authority, 3, 3) for a in agents))
        with pytest.raises(ValidationError):
            await phone.run("devices.remove", identifier=1)
        await tablet.run("devices.set_threshold", threshold=2)
        await _until(lambda: all(_member_of(a, record.authority, 2, 3) for a in agents))
        tablet_id = tablet.query("devices.status")["identifier"]
        await phone.run("devices.remove", identifier=tablet_id)
        await _until(lambda: all(_member_of(a, record.authority, 2, 2) for a in (phone, laptop)))
        await _until(lambda: not tablet.query("devices.status")["member"])
        kept = {str(phone.device), str(laptop.device)}
        await _until(lambda: set(phone.query("account.devices")) == kept)
        assert [o for _h, o in phone.query("devices.outcomes")] == ["completed"] * 5


async def test_an_unexpected_device_is_not_enrolled(tmp_path):
    router = MemoryRouter()
    async with (
        _agent(tmp_path, "phone", router) as phone,
        _agent(tmp_path, "stranger", router) as stranger,
    ):
        record = await phone.run("devices.create_account")
        await stranger.run(
            "devices.join", authority=str(record.authority), sponsor=str(phone.device)
        )
        await anyio.sleep(0.3)
        assert stranger.authority is None
        assert len(phone.query("devices.status")["devices"]) == 1
        with pytest.raises(NotFound):
            await stranger.run("devices.set_threshold", threshold=2)
        with pytest.raises(InvalidInput):
            await phone.run("devices.create_account")


async def test_a_restarted_device_keeps_its_share_and_takes_part_again(tmp_path):
    router = MemoryRouter()
    async with _agent(tmp_path, "phone", router) as phone:
        record = await phone.run("devices.create_account")
        async with _agent(tmp_path, "laptop", router) as laptop:
            await phone.run("devices.add", device=str(laptop.device))
            await laptop.run(
                "devices.join", authority=str(record.authority), sponsor=str(phone.device)
            )
            await _until(lambda: _member_of(laptop, record.authority, 2, 2))
            first = laptop.query("devices.status")
        # The laptop's process ends; a new one on the same data directory carries on.
        # Adding a third device under 2-of-2 needs the laptop's share.
        async with (
            _agent(tmp_path, "laptop", router) as laptop,
            _agent(tmp_path, "tablet", router) as tablet,
        ):
            assert laptop.authority == record.authority
            assert laptop.query("devices.status") == first
            await laptop.run("devices.add", device=str(tablet.device))
            await tablet.run(
                "devices.join", authority=str(record.authority), sponsor=str(laptop.device)
            )
            for agent in (phone, laptop, tablet):
                await _until(lambda a=agent: _member_of(a, record.authority, 2, 3))
            assert tablet.query("devices.status")["group_key"] == record.group_public_key


async def test_a_one_device_account_of_the_devices_feature_signs_invitations(tmp_path):
    """With every built-in feature: contacts signs with the key the 1-of-1 share derives."""
    features = [make() for make in BUILTIN_FEATURES if make is not devices_feature]
    features.append(devices_feature())
    async with loopback_relay(tmp_path) as relays:
        config = AgentConfig(data_dir=tmp_path / "solo", relays=relays, signal_batch_s=0.0)
        async with Agent(config, HostSecret.from_key(KEY), features=features) as agent:
            record = await agent.run("devices.create_account")
            signer = agent.node.account_signer()
            # The contact key comes from the group secret (threshold derivation), not the
            # group key itself: the same on every device of the account and after a recovery.
            contact = agent.node.account_keys().contact_signer().public_key
            assert signer.public_key == contact != record.group_public_key
            assert verify_signature(contact, b"hello", signer.sign(b"hello"))
            code = await agent.run("contacts.invite", nickname="Alice")
            invite = SignedInvite.parse(code)  # verifies the signature under the contact key
            assert invite.invite.inviter == record.authority
            assert invite.invite.inviter_key == contact
        async with Agent(config, HostSecret.from_key(KEY), features=features) as agent:
            assert agent.authority == record.authority
            assert agent.node.account_signer().public_key == contact
            assert agent.query("devices.status")["threshold"] == 1
