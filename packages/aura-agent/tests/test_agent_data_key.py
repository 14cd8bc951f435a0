"""Every device of a 2-of-3 account gets the account's data key from its siblings.

Three agents with their own data directories, connected by an in-process
:class:`MemoryRouter` (every frame crosses the codec), with contacts and chat
loaded: the devices that join learn the data key from the others' sealed
threshold-derivation contributions, then contacts start on them too and sign
with the same contact key.
"""

from __future__ import annotations

import os

import anyio
import pytest

from aura_agent import Agent, AgentConfig, HostSecret, MemoryRouter
from aura_agent.account_keys import DATA_KEY_SECRET
from aura_agent.builtin_features import BUILTIN_FEATURES
from aura_agent.custody_feature import devices_feature
from aura_agent.data_key_feature import DATA_KEY_FEATURE, data_key_feature
from aura_core.crypto import DerivationShare
from aura_core.dag_cbor import encode
from aura_core.errors import AuraError, CryptoError, InvalidEncoding, NotFound
from aura_features.invitation import SignedInvite
from aura_testkit import loopback_relay

pytestmark = pytest.mark.anyio

KEY = os.urandom(32)


def _features():
    loaded = [make() for make in BUILTIN_FEATURES]
    names = {f.name for f in loaded}
    if "devices" not in names:
        loaded.append(devices_feature())
    if DATA_KEY_FEATURE not in names:
        loaded.append(data_key_feature())
    return loaded


def _agent(tmp_path, name, router, relays):
    config = AgentConfig(
        data_dir=tmp_path / name, relays=relays, sync_interval_s=0.2, signal_batch_s=0.0
    )
    return Agent(config, HostSecret.from_key(KEY), features=_features(), transport=router)


async def _until(predicate, timeout=20.0):
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(0.02)


async def _enroll(sponsor, newcomer, authority):
    await sponsor.run("devices.add", device=str(newcomer.device))
    await newcomer.run("devices.join", authority=str(authority), sponsor=str(sponsor.device))
    await _until(lambda: newcomer.authority == authority)


def _data_key(agent):
    keys = agent.node.account_keys()
    return None if keys is None else keys.data_key


async def test_devices_of_a_two_of_three_account_share_one_data_key(tmp_path):
    router = MemoryRouter()
    async with (
        loopback_relay(tmp_path) as relays,
        _agent(tmp_path, "phone", router, relays) as phone,
        _agent(tmp_path, "laptop", router, relays) as laptop,
        _agent(tmp_path, "tablet", router, relays) as tablet,
    ):
        record = await phone.run("devices.create_account")
        mine = _data_key(phone)
        assert mine is not None  # a 1-of-1 share derives it alone
        await _enroll(phone, laptop, record.authority)
        await _enroll(phone, tablet, record.authority)
        await _until(lambda: phone.query("devices.status")["threshold"] == 2)
        for device in (laptop, tablet):
            await _until(lambda d=device: _data_key(d) is not None)
            assert _data_key(device) == mine
            assert device.query("datakey.status")["has_key"]
        signers = {d.node.account_signer().public_key for d in (phone, laptop, tablet)}
        assert len(signers) == 1
        # Contacts started on a device that holds only a 2-of-3 share.
        code = await laptop.run("contacts.invite", nickname="Alice")
        invite = SignedInvite.parse(code)
        assert invite.invite.inviter == record.authority
        assert invite.invite.inviter_key in signers

        # Hostile contributions are refused with a clear error and change nothing.
        service = laptop.node.services[DATA_KEY_FEATURE]
        with pytest.raises(InvalidEncoding):
            service.receive(str(phone.device), b"\xa0", 0.0)
        group_key = record.group_public_key
        forged = encode({"v": 1, "gk": group_key, "need": True, "to": 99, "box": b"x" * 80})
        with pytest.raises(InvalidEncoding, match="participant 99"):
            service.receive(str(phone.device), forged, 0.0)
        ident = laptop.query("devices.status")["identifier"]
        tampered = encode({"v": 1, "gk": group_key, "need": True, "to": ident, "box": b"x" * 120})
        with pytest.raises(CryptoError):
            service.receive(str(phone.device), tampered, 0.0)
        assert service.refused == 3
        assert _data_key(laptop) == mine


async def test_a_restarted_device_keeps_its_data_key(tmp_path):
    router = MemoryRouter()
    async with loopback_relay(tmp_path) as relays:
        async with _agent(tmp_path, "phone", router, relays) as phone:
            await phone.run("devices.create_account")
            before = _data_key(phone)
            signer = phone.node.account_signer().public_key
        async with _agent(tmp_path, "phone", router, relays) as phone:
            assert _data_key(phone) == before
            assert phone.node.account_signer().public_key == signer
            assert "contacts" in phone.node.services


def test_a_contribution_round_trips_through_its_codec():
    with pytest.raises(AuraError):
        DerivationShare.from_bytes(b"")


async def test_a_device_without_its_data_key_waits_for_a_sibling(tmp_path):
    """Contacts say why they are not there yet; the key comes once a sibling is online."""
    router = MemoryRouter()
    async with loopback_relay(tmp_path) as relays:
        async with (
            _agent(tmp_path, "phone", router, relays) as phone,
            _agent(tmp_path, "laptop", router, relays) as laptop,
        ):
            record = await phone.run("devices.create_account")
            await _enroll(phone, laptop, record.authority)
            await _until(lambda: _data_key(laptop) is not None)
            mine = _data_key(phone)
            # Forget the laptop's copy, as if it had joined while the phone was away.
            with laptop.node.storage.transaction() as txn:
                txn.delete_secret(DATA_KEY_SECRET)
        async with _agent(tmp_path, "laptop", router, relays) as laptop:
            assert laptop.authority == record.authority and _data_key(laptop) is None
            with pytest.raises(NotFound, match="waits for the account's data key"):
                await laptop.run("contacts.invite", nickname="Alice")
            async with _agent(tmp_path, "phone", router, relays):
                await _until(lambda: _data_key(laptop) is not None)
            assert _data_key(laptop) == mine
            assert (await laptop.run("contacts.invite", nickname="Alice")).startswith("aura:v1:")
