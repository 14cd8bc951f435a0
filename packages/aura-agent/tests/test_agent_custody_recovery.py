"""Alice's account across devices, Bob and Carol as guardians, and a recovery after a loss.

Five agents with their own data directories, connected by an in-process
:class:`MemoryRouter`: every custody and recovery message crosses the agent
frame codec as a service frame.
"""

from __future__ import annotations

import os

import anyio
import pytest

from aura_agent import Agent, AgentConfig, HostSecret, MemoryRouter
from aura_agent.builtin_features import BUILTIN_FEATURES
from aura_agent.custody_feature import devices_feature
from aura_agent.recovery_feature import recovery_feature
from aura_core.errors import InvalidInput, NotFound

pytestmark = pytest.mark.anyio

SIGNING = {"contacts", "chat"}
KEY = os.urandom(32)


def _agent(tmp_path, name, router):
    config = AgentConfig(data_dir=tmp_path / name, sync_interval_s=0.2, signal_batch_s=0.0)
    features = [f for f in (make() for make in BUILTIN_FEATURES) if f.name not in SIGNING]
    features = [f for f in features if f.name not in {"devices", "recovery"}]
    features += [devices_feature(), recovery_feature()]
    return Agent(config, HostSecret.from_key(KEY), features=features, transport=router)


async def _until(predicate, timeout=20.0):
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(0.02)


async def _invite(phone, guardians):
    for guardian in guardians:
        invitation = await phone.run(
            "recovery.invite_guardian", guardian=str(guardian.authority), route=str(guardian.device)
        )
        await _until(lambda g=guardian: g.query("recovery.status")["invitations"])
        ((waiting, account),) = guardian.query("recovery.status")["invitations"]
        assert (waiting, account) == (invitation, str(phone.authority))
        await guardian.run("recovery.accept", invitation=invitation)
    await _until(lambda: len(phone.query("recovery.status")["accepted"]) == len(guardians))


async def _enroll(sponsor, newcomer, authority):
    await sponsor.run("devices.add", device=str(newcomer.device))
    await newcomer.run("devices.join", authority=str(authority), sponsor=str(sponsor.device))
    await _until(lambda: newcomer.authority == authority)


async def test_bob_and_carol_restore_alices_account_on_a_new_phone(tmp_path):
    router = MemoryRouter()
    async with (
        _agent(tmp_path, "bob", router) as bob,
        _agent(tmp_path, "carol", router) as carol,
        _agent(tmp_path, "laptop", router) as laptop,
        _agent(tmp_path, "tablet", router) as tablet,
    ):
        await bob.create_account()
        await carol.create_account()
        async with _agent(tmp_path, "phone", router) as phone:
            # Invitations are signed with the account key: while the account is 1-of-1.
            record = await phone.run("devices.create_account")
            await _invite(phone, [bob, carol])
            await _enroll(phone, laptop, record.authority)
            await _enroll(phone, tablet, record.authority)
            await _until(lambda: phone.query("devices.status")["threshold"] == 2)
            # Seating is a consensus-decided change of the 2-of-3 account.
            await phone.run("recovery.seat_guardians", threshold=2, dispute_window_s=1)
            for device in (phone, laptop, tablet):
                await _until(lambda d=device: len(d.query("recovery.status")["guardians"]) == 2)
            assert laptop.query("recovery.status")["guardian_threshold"] == 2
            for guardian in (bob, carol):
                await _until(lambda g=guardian: g.query("recovery.status")["wards"])
            kept = [d.query("devices.status")["identifier"] for d in (laptop, tablet)]
        # The phone is lost. A new phone asks Bob and Carol; the laptop is kept.
        async with _agent(tmp_path, "new-phone", router) as new_phone:
            recovery = await new_phone.run(
                "recovery.start",
                authority=str(record.authority),
                guardians={
                    str(bob.authority): str(bob.device),
                    str(carol.authority): str(carol.device),
                },
                threshold=2,
                kept=kept,
                group_key=record.group_public_key.hex(),
            )
            for guardian in (bob, carol):
                await _until(lambda g=guardian: g.query("recovery.status")["requests"])
                ((waiting, account, device),) = guardian.query("recovery.status")["requests"]
                assert (waiting, account, device) == (
                    recovery,
                    str(record.authority),
                    str(new_phone.device),
                )
                await guardian.run("recovery.approve", recovery=recovery)
            await _until(lambda: new_phone.authority == record.authority)
            await _until(
                lambda: new_phone.query("recovery.status")["recovering"]["outcome"] == "completed"
            )
            status = new_phone.query("devices.status")
            assert status["member"] and status["group_key"] == record.group_public_key
            assert new_phone.account.group_public_key == record.group_public_key
            # Laptop, tablet and the new phone share the account; the lost phone is gone.
            expected = {str(d.device) for d in (laptop, tablet, new_phone)}
            for device in (laptop, tablet, new_phone):
                await _until(
                    lambda d=device: (
                        {r for _i, r in d.query("devices.status")["devices"]} == expected
                    )
                )
            with pytest.raises(NotFound):
                await new_phone.run("recovery.approve", recovery=recovery)
            with pytest.raises(InvalidInput):
                await new_phone.run("recovery.start", authority=str(record.authority), guardians={})


async def test_a_device_of_the_account_disputes_a_recovery_it_did_not_ask_for(tmp_path):
    router = MemoryRouter()
    async with (
        _agent(tmp_path, "bob", router) as bob,
        _agent(tmp_path, "carol", router) as carol,
        _agent(tmp_path, "phone", router) as phone,
        _agent(tmp_path, "laptop", router) as laptop,
        _agent(tmp_path, "thief", router) as thief,
    ):
        await bob.create_account()
        await carol.create_account()
        record = await phone.run("devices.create_account")
        await _invite(phone, [bob, carol])
        await _enroll(phone, laptop, record.authority)
        await phone.run("recovery.seat_guardians", threshold=2, dispute_window_s=2)
        for device in (phone, laptop):
            await _until(lambda d=device: len(d.query("recovery.status")["guardians"]) == 2)
        recovery = await thief.run(
            "recovery.start",
            authority=str(record.authority),
            guardians={str(g.authority): str(g.device) for g in (bob, carol)},
            threshold=2,
            kept=[laptop.query("devices.status")["identifier"]],
            group_key=record.group_public_key.hex(),
        )
        # Bob and Carol are fooled; the laptop sees their approvals and objects in time.
        for guardian in (bob, carol):
            await _until(lambda g=guardian: g.query("recovery.status")["requests"])
            await guardian.run("recovery.approve", recovery=recovery)
        await _until(lambda: recovery in laptop.query("recovery.status")["watched"])
        await laptop.run("recovery.dispute", recovery=recovery, reason="I still have my devices")
        await _until(lambda: thief.query("recovery.status")["recovering"]["outcome"] is not None)
        assert thief.query("recovery.status")["recovering"]["outcome"] != "completed"
        await anyio.sleep(2.5)  # past the dispute window: nothing is released
        assert thief.authority is None
        assert not thief.query("devices.status")["member"]
        assert len(phone.query("devices.status")["devices"]) == 2
        with pytest.raises(NotFound):
            await bob.run("recovery.approve", recovery="00" * 16)
        with pytest.raises(InvalidInput):
            await laptop.run("recovery.dispute", recovery="zz")
