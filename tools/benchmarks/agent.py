"""Agent figures: start-up, one workflow, signal batching, simulator speed, chat over a relay.

Everything runs in this process on real handlers (SQLite, Noise over
loopback TCP) except the simulator figures, which use the deterministic
handlers by design.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

import anyio

from aura_agent import Agent, AgentConfig, HostSecret
from aura_agent.simulator import run_scenario
from aura_features.rendezvous import run_relay

GOALS = {
    "agent_start_ms": "open storage, load features and journals, start tasks (account exists)",
    "workflow_nickname_us": "<= 5000: profile.set_nickname, device-signed fact, fsynced commit",
    "signal_recomputations_per_1000_facts": "batching: one burst of 1000 facts, few recomputations",
    "sim_events_per_s": "contacts+chat scenario (2 agents, 1 relay, faults), events / CPU second",
    "sim_contacts_chat_s": "the whole 90 virtual-second scenario, wall time",
    "relay_chat_delivery_ms": "<= 500: chat message sent to opened at the contact, via a loopback relay (poll 20 ms)",
}

SCENARIOS = Path(__file__).resolve().parents[2] / "packages" / "aura-agent" / "scenarios"
KEY = bytes(range(32))


async def _start_and_work(data_dir: Path, rounds: int) -> dict[str, float]:
    config = AgentConfig(data_dir=data_dir, signal_batch_s=0.0)
    async with Agent(config, HostSecret.from_key(KEY)) as agent:
        await agent.create_account()
    starts = []
    for _ in range(rounds):
        begin = time.perf_counter()
        async with Agent(config, HostSecret.from_key(KEY)) as agent:
            starts.append((time.perf_counter() - begin) * 1000)
    async with Agent(config, HostSecret.from_key(KEY)) as agent:
        samples = []
        for index in range(rounds * 5):
            begin = time.perf_counter()
            await agent.run("profile.set_nickname", nickname=f"name {index}")
            samples.append((time.perf_counter() - begin) * 1e6)
    return {
        "agent_start_ms": round(statistics.median(starts), 2),
        "workflow_nickname_us": round(statistics.median(samples), 1),
    }


async def _signal_batching(data_dir: Path) -> int:
    config = AgentConfig(data_dir=data_dir, signal_batch_s=0.01)
    async with Agent(config, HostSecret.from_key(KEY)) as agent:
        await agent.create_account()
        agent.signals.flush()
        before = agent.signals.recomputations
        for index in range(1000):
            agent.node.run_workflow("profile.set_nickname", {"nickname": f"n{index}"}, 0.0)
        await anyio.sleep(0.05)
        agent.signals.flush()
        return agent.signals.recomputations - before


async def _relay_chat(tmp: Path, messages: int) -> float:
    tmp.mkdir(parents=True, exist_ok=True)
    async with anyio.create_task_group() as tg:
        endpoint = await tg.start(
            partial(
                run_relay,
                "127.0.0.1",
                0,
                tmp / "relay.db",
                relay_key=os.urandom(32),
                sweep_interval_s=None,
            )
        )
        secret = HostSecret.from_key(KEY)

        def config(name: str) -> AgentConfig:
            return AgentConfig(
                data_dir=tmp / name, relays=endpoint.hints, relay_poll_s=0.02, signal_batch_s=0.0
            )

        async with Agent(config("a"), secret) as alice, Agent(config("b"), secret) as bob:
            await alice.create_account()
            await bob.create_account()
            await bob.run("contacts.accept", code=await alice.run("contacts.invite"))
            with anyio.fail_after(30):
                while not all(
                    len(a.query("contacts.list")) == 1 and a.query("contacts.list")[0].reachable
                    for a in (alice, bob)
                ):
                    await anyio.sleep(0.01)
            peer = str(bob.authority)
            samples = []
            for index in range(messages):
                text = f"message {index}"
                begin = time.perf_counter()
                await alice.run("chat.send_message", to=peer, text=text)
                with anyio.fail_after(30):
                    while text not in [
                        line.text
                        for line in bob.query("chat.history", **{"with": str(alice.authority)})
                    ]:
                        await anyio.sleep(0.002)
                samples.append((time.perf_counter() - begin) * 1000)
        tg.cancel_scope.cancel()
    return round(statistics.median(samples[1:] or samples), 1)


def run(quick: bool) -> dict[str, float | int | str]:
    rounds = 3 if quick else 9
    results: dict[str, float | int | str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results.update(anyio.run(_start_and_work, Path(tmp) / "work", rounds))
        results["signal_recomputations_per_1000_facts"] = anyio.run(
            _signal_batching, Path(tmp) / "signals"
        )
        cpu = time.process_time()
        wall = time.perf_counter()
        outcome = run_scenario(SCENARIOS / "contacts-chat-partition.toml", 0)
        results["sim_contacts_chat_s"] = round(time.perf_counter() - wall, 2)
        results["sim_events_per_s"] = round(outcome.events / max(time.process_time() - cpu, 1e-9))
        results["relay_chat_delivery_ms"] = anyio.run(
            _relay_chat, Path(tmp) / "relay", 5 if quick else 15
        )
    return results
