"""End to end over real loopback TCP with Noise: enrolling a device, and a guardian recovery.

The same sans-IO objects as in the simulator, each behind its own Noise
``IKpsk2`` listener on 127.0.0.1, with OS randomness and the real clock.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import pytest

from aura_core.crypto import verify_signature
from aura_effects import SodiumCrypto, SystemRandom
from aura_features.devices import (
    DeviceKeys,
    DeviceManager,
    EnrollmentRequested,
    add_device,
)
from aura_features.recovery import (
    GuardianAgent,
    RecoveryCoordinator,
    RecoveryReleased,
    RecoveryWatch,
    recovery_registry,
)

pytestmark = pytest.mark.anyio


def _load_world():
    name = "aura_features_test_custody_world"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("features_custody_world.py")
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


W = _load_world()


class Sponsor:
    """A device whose user agrees to every enrollment it receives."""

    def __init__(self, manager: DeviceManager, rng: SystemRandom) -> None:
        self.manager = manager
        self.rng = rng

    def receive(self, message, now):
        out = self.manager.receive(message, now)
        for event in self.manager.take_events():
            if isinstance(event, EnrollmentRequested):
                change = add_device(
                    self.manager.view, event.request.profile, tag=self.rng.random_bytes(16)
                )
                out += self.manager.propose(change, now)
        return out

    def next_timer(self):
        return self.manager.next_timer()

    def on_timer(self, now):
        return self.manager.on_timer(now)


def _manager(keys, account, **state) -> DeviceManager:
    rng = SystemRandom()
    return DeviceManager(
        keys=keys,
        account=account,
        rng=rng,
        crypto=SodiumCrypto(rng),
        registry=recovery_registry(),
        approval=lambda _change: True,
        **state,
    )


async def test_a_device_enrolls_over_noise_tcp() -> None:
    rng = SystemRandom()
    acct = W.make_account(rng, 2, 2)
    group_key = bytes(acct.public.verifying_key)
    devices = {
        name: _manager(
            keys,
            acct.account,
            group_key=group_key,
            key_package=acct.key_packages[int(name[1:])],
            facts=acct.facts,
        )
        for name, keys in acct.keys.items()
    }
    new_keys = DeviceKeys.generate(rng)
    newcomer = _manager(new_keys, acct.account, group_key=group_key)
    nodes = {
        devices["d1"].address: Sponsor(devices["d1"], rng),
        devices["d2"].address: devices["d2"],
        newcomer.address: newcomer,
    }
    mesh = W.LoopbackMesh(nodes, clock_offset=W.START - time.monotonic())
    await mesh.run(
        lambda: [
            (
                newcomer.address,
                newcomer.request_enrollment(devices["d1"].address, mesh.now()),
            )
        ],
        lambda: newcomer.is_member and devices["d2"].key_epoch.epoch == 1,
        timeout_s=20,
    )
    assert newcomer.group_key == group_key
    assert [leaf.leaf_id.value for leaf in newcomer.tree.devices()] == [1, 2, 3]
    signature = W.frost_sign(
        [newcomer.key_package, devices["d2"].key_package],
        newcomer.key_epoch.public_key_package,
        b"over tcp",
        rng,
    )
    assert verify_signature(group_key, b"over tcp", signature)
    assert mesh.messages > 10


async def test_two_of_three_guardians_restore_a_lost_phone_over_noise_tcp() -> None:
    world = W.CustodyWorld(41, devices=2, threshold=2)
    world.seat_guardians(["g1", "g2", "g3"], threshold=2, window_s=1)
    laptop = world.manager("d2")
    rng = SystemRandom()
    kept = _manager(
        laptop.keys,
        world.account,
        key_package=laptop.key_package,
        facts=tuple(laptop.journal),
        extensions=(RecoveryWatch(),),
    )
    guardians = {}
    for name in ("g1", "g2", "g3"):
        agent = world.guardian(name)
        journal = agent.journal_for(world.account)
        guardians[name] = W.AutoApprove(
            GuardianAgent(
                keys=world.guardian_keys[name],
                rng=rng,
                crypto=SodiumCrypto(rng),
                wards={
                    world.account: (
                        world.group_key,
                        tuple(journal),
                        agent.share_for(world.account),
                    )
                },
            )
        )
    coordinator = RecoveryCoordinator(
        guardians=[g.agent.address for g in guardians.values()][:2],
        threshold=2,
        kept=(2,),
        rng=rng,
        expected_group_key=world.group_key,
    )
    phone = _manager(DeviceKeys.generate(rng), world.account, extensions=(coordinator,))
    nodes = {kept.address: kept, phone.address: phone}
    nodes |= {g.agent.address: g for g in guardians.values()}
    mesh = W.LoopbackMesh(nodes, clock_offset=W.START + 3600 - time.monotonic())
    await mesh.run(
        lambda: [(phone.address, coordinator.start(mesh.now()))],
        lambda: coordinator.outcome is not None and kept.is_member and kept.key_epoch.epoch == 1,
        timeout_s=20,
    )
    assert coordinator.outcome == "completed"
    assert phone.is_member and phone.account == world.account
    assert phone.group_key == kept.group_key == world.group_key
    signature = W.frost_sign(
        [phone.key_package, kept.key_package], phone.key_epoch.public_key_package, b"back", rng
    )
    assert verify_signature(world.group_key, b"back", signature)
    released = [
        g for g in guardians.values() if any(isinstance(e, RecoveryReleased) for e in g.events)
    ]
    assert len(released) == 2
