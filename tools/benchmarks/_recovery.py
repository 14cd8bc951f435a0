"""Guardian recovery figure for the features area (called from ``features.py``).

``recovery_ms``: wall time of a whole 2-of-3 guardian recovery over real
loopback TCP, every node behind its own Noise ``IKpsk2`` listener: the new
device's signed request to two guardians, their checks and signed approvals
(copied to the account's remaining device), the release request, each
guardian's deal (a reshare of its guardian share, sealed to the new device
and the kept laptop, with its copy of the account journal attached), both
devices assembling and checking their new shares, the FROST attestation of
the tree update and key epoch by the two new holders, and the completion
message to everyone. The **dispute window is excluded**: when nothing is in
flight and only the guardians' window timers are pending, the nodes' clock is
moved to the window's end instead of waiting (and the few milliseconds spent
noticing the idleness are subtracted). The account, its guardians and their
shares are set up beforehand in the simulator and are not timed.
"""

from __future__ import annotations

import importlib.util
import statistics
import sys
import time
from pathlib import Path

import anyio

from aura_effects import SodiumCrypto, SystemRandom
from aura_features.devices import DeviceKeys, DeviceManager
from aura_features.recovery import (
    GuardianAgent,
    RecoveryCoordinator,
    RecoveryWatch,
    recovery_registry,
)

GOALS = {
    "recovery_ms": (
        "2-of-3 guardians, loopback Noise TCP, whole ceremony (request, approvals, release, "
        "reshare, attestation, completion) EXCLUDING the dispute window wait; goal <= 250 ms"
    ),
}

_WORLD = (
    Path(__file__).resolve().parents[2] / "packages/aura-features/tests/features_custody_world.py"
)


def _world_module():
    name = "aura_features_bench_custody_world"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, _WORLD)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


async def _one_recovery(seed: int) -> float:
    W = _world_module()
    world = W.CustodyWorld(seed, devices=2, threshold=2)
    world.seat_guardians(["g1", "g2", "g3"], threshold=2, window_s=60)
    rng = SystemRandom()
    laptop = world.manager("d2")
    kept = DeviceManager(
        keys=laptop.keys,
        account=world.account,
        rng=rng,
        crypto=SodiumCrypto(rng),
        key_package=laptop.key_package,
        facts=tuple(laptop.journal),
        registry=recovery_registry(),
        extensions=(RecoveryWatch(),),
    )
    guardians = {}
    for name in ("g1", "g2", "g3"):
        agent = world.guardian(name)
        guardians[name] = W.AutoApprove(
            GuardianAgent(
                keys=world.guardian_keys[name],
                rng=rng,
                crypto=SodiumCrypto(rng),
                wards={
                    world.account: (
                        world.group_key,
                        tuple(agent.journal_for(world.account)),
                        agent.share_for(world.account),
                    )
                },
            )
        )
    coordinator = RecoveryCoordinator(
        guardians=[guardians["g1"].agent.address, guardians["g2"].agent.address],
        threshold=2,
        kept=(2,),
        rng=rng,
        expected_group_key=world.group_key,
    )
    phone = DeviceManager(
        keys=DeviceKeys.generate(rng),
        account=world.account,
        rng=rng,
        crypto=SodiumCrypto(rng),
        registry=recovery_registry(),
        extensions=(coordinator,),
    )
    dealers = [guardians["g1"].agent, guardians["g2"].agent]
    nodes = {kept.address: kept, phone.address: phone}
    nodes |= {g.agent.address: g for g in guardians.values()}
    mesh = W.LoopbackMesh(
        nodes,
        clock_offset=W.START + 3600 - time.monotonic(),
        fast_forward=lambda now: _window_end(dealers, now),
    )
    started = time.perf_counter()
    await mesh.run(
        lambda: [(phone.address, coordinator.start(mesh.now()))],
        lambda: coordinator.outcome is not None and kept.is_member,
        timeout_s=60,
    )
    elapsed = time.perf_counter() - started - mesh.skipped_s
    if coordinator.outcome != "completed" or phone.group_key != world.group_key:
        raise RuntimeError(f"the recovery did not complete: {coordinator.outcome}")
    return elapsed * 1000


def _window_end(dealers: list[GuardianAgent], now: float) -> float | None:
    """When both dealing guardians only wait for their dispute windows: the later window end."""
    deadlines = [agent.next_timer() for agent in dealers]
    if any(d is None or d > now + 3600 for d in deadlines):
        return None  # a guardian has no release pending yet (only its week-long expiry)
    return max(d for d in deadlines if d is not None)


def recovery_ms(quick: bool) -> float:
    """Median over runs, after one warm-up run (imports, first connections)."""
    anyio.run(_one_recovery, 0)
    runs = [anyio.run(_one_recovery, seed) for seed in range(1, 3 if quick else 7)]
    return round(statistics.median(runs), 1)
