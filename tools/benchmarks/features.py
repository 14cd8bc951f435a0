"""Feature figures: one function per figure (relay, chat over the relay, guardian recovery).

The relay runs in its own process (``run_relay`` on loopback TCP, a real
SQLite database with fsynced commits), the way an operator runs it; the
client sends from this process over a Noise connection. Envelopes are sealed
before timing starts: the figures measure the relay path, not the sealing.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import nacl.bindings

from aura_core.identifiers import AuthorityId, ContextId
from aura_effects import NoiseNetwork, SodiumCrypto, SystemRandom
from aura_features.ed25519_signer import KeySigner
from aura_features.rendezvous import (
    EnvelopeId,
    MailboxKey,
    RelayClient,
    RelayHint,
    SealedEnvelope,
    seal_envelope,
)
from benchmarks._chat import GOALS as _CHAT_GOALS
from benchmarks._chat import chat_e2e_latency_ms_p50, chat_msgs_per_s, chat_msgs_per_s_single
from benchmarks._recovery import GOALS as _RECOVERY_GOALS
from benchmarks._recovery import recovery_ms

GOALS = {
    "relay_envelopes_per_s": (
        ">= 5000 (deposit + fetch + ack of 200-byte messages through a loopback relay process, "
        "fsynced commits; one sender connection, one recipient draining; connection rate quota lifted)"
    ),
    "relay_deposit_ms": "context: one envelope deposited and durably committed, round trip",
    **_RECOVERY_GOALS,
    **_CHAT_GOALS,
}

_RELAY_SCRIPT = """
import sys, anyio
from aura_features.rendezvous import RelayLimits, run_relay

async def main():
    async def report(endpoint):
        print(endpoint.addresses[0], endpoint.public_key.hex(), flush=True)
    async with anyio.create_task_group() as tg:
        endpoint = await tg.start(lambda task_status: run_relay(
            "127.0.0.1", 0, sys.argv[1], relay_key=bytes.fromhex(sys.argv[2]),
            limits=RelayLimits(mailbox_max_envelopes=100_000, connection_deposit_rate=1e9),
            task_status=task_status))
        await report(endpoint)

try:
    anyio.run(main)
except KeyboardInterrupt:
    pass
"""


@contextmanager
def _relay_process(directory: Path) -> Iterator[RelayHint]:
    """A relay in a child process; yields its hint and stops it (SIGINT: clean shutdown)."""
    process = subprocess.Popen(
        [sys.executable, "-c", _RELAY_SCRIPT, str(directory / "relay.db"), os.urandom(32).hex()],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        address, key = process.stdout.readline().split()
        yield RelayHint(address, bytes.fromhex(key))
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _envelopes(count: int, mailbox: MailboxKey) -> list[SealedEnvelope]:
    crypto = SodiumCrypto(SystemRandom())
    recipient = nacl.bindings.crypto_scalarmult_base(os.urandom(32))
    signer = KeySigner(os.urandom(32))
    context, sender = ContextId(os.urandom(16)), AuthorityId(os.urandom(16))
    return [
        seal_envelope(
            crypto,
            recipient_seal_key=recipient,
            tag=mailbox.tag,
            context=context,
            sender=sender,
            signer=signer,
            body=os.urandom(200),
        )
        for _ in range(count)
    ]


async def _through_relay(relay: RelayHint, count: int, rounds: int) -> float:
    """Best-of-``rounds`` envelopes per second: deposit ``count`` pipelined, then drain them."""
    mailbox = MailboxKey(os.urandom(32))
    batches = [_envelopes(count, mailbox) for _ in range(rounds)]
    rates = []
    async with RelayClient.connect(NoiseNetwork(), relay, random=SystemRandom()) as client:
        for envelopes in batches:
            start = time.perf_counter()
            results = await client.deposit_many(envelopes)
            drained = await client.drain(mailbox)
            elapsed = time.perf_counter() - start
            refused = [r for r in results if not isinstance(r, EnvelopeId)]
            if refused or len(drained) != count:
                raise RuntimeError(
                    f"the relay refused {len(refused)} and returned {len(drained)} of {count} "
                    f"envelopes: {refused[:1]}"
                )
            rates.append(count / elapsed)
    return max(rates)


async def _deposit_latency(relay: RelayHint, samples: int) -> float:
    mailbox = MailboxKey(os.urandom(32))
    envelopes = _envelopes(samples, mailbox)
    times = []
    async with RelayClient.connect(NoiseNetwork(), relay, random=SystemRandom()) as client:
        for envelope in envelopes:
            start = time.perf_counter()
            await client.deposit(envelope)
            times.append(time.perf_counter() - start)
        await client.drain(mailbox)
    return statistics.median(times) * 1000


def relay_envelopes_per_s(relay: RelayHint, quick: bool) -> int:
    count = 2000 if quick else 5000
    return round(anyio.run(_through_relay, relay, count, 2 if quick else 3))


def relay_deposit_ms(relay: RelayHint, quick: bool) -> float:
    return round(anyio.run(_deposit_latency, relay, 50 if quick else 300), 3)


def run(quick: bool) -> dict[str, float | int]:
    with tempfile.TemporaryDirectory() as directory, _relay_process(Path(directory)) as relay:
        results: dict[str, float | int] = {
            "relay_envelopes_per_s": relay_envelopes_per_s(relay, quick),
            "relay_deposit_ms": relay_deposit_ms(relay, quick),
            "chat_msgs_per_s": chat_msgs_per_s(relay, quick),
            "chat_msgs_per_s_single": chat_msgs_per_s_single(relay, quick),
            "chat_e2e_latency_ms_p50": chat_e2e_latency_ms_p50(relay, quick),
        }
    results["recovery_ms"] = recovery_ms(quick)
    return results
