"""A relay in the simulator: sealed envelopes held per mailbox tag, on the simulated network.

The live relay (:mod:`aura_features.rendezvous`) speaks its wire protocol over
Noise; in the simulator the same service — deposit an opaque sealed
envelope for a tag, fetch a mailbox by proving its key, acknowledge what was
read — is a sans-IO node whose messages cross the faulty simulated network,
so invitations, descriptors and chat between contacts meet drops,
duplicates, reordering and partitions like everything else. A deposit is
answered with a receipt (the depositor resends until it has one) and an
envelope stays until its reader acknowledges it, so a lost message on
either side costs a retry, never the envelope.
"""

from __future__ import annotations

from typing import Any

from aura_core.dag_cbor import decode, encode
from aura_core.effects import Incoming, Outgoing
from aura_core.errors import AuraError, InvalidEncoding
from aura_effects.simulated import NodeEnvironment
from aura_features.rendezvous import MailboxKey, MailboxTag, SealedEnvelope

__all__ = ["MAX_HELD_PER_MAILBOX", "SimRelay", "relay_ack", "relay_deposit", "relay_fetch"]

MAX_HELD_PER_MAILBOX = 4096
_PAGE = 64


def relay_deposit(envelope: SealedEnvelope) -> bytes:
    return encode({"op": "deposit", "env": envelope.encode()})


def relay_fetch(key: MailboxKey) -> bytes:
    return encode({"op": "fetch", "key": key.secret})


def relay_ack(key: MailboxKey, ids: list[bytes]) -> bytes:
    return encode({"op": "ack", "key": key.secret, "ids": ids})


class SimRelay:
    """Sans-IO relay node: it never reads an envelope, only its tag."""

    def __init__(self, env: NodeEnvironment) -> None:
        self.name = env.name
        self._held: dict[bytes, dict[bytes, bytes]] = {}
        self.deposits = 0
        self.refused = 0

    def receive(self, message: Incoming, now: float) -> list[Outgoing]:
        try:
            request: Any = decode(message.payload, allow_floats=False)
            if not isinstance(request, dict) or type(request.get("op")) is not str:
                raise InvalidEncoding("a relay request is a map with an op")
            return self._answer(message.source, request)
        except (AuraError, KeyError, TypeError):
            self.refused += 1
            return []

    def _answer(self, source: str, request: dict[str, Any]) -> list[Outgoing]:
        op = request["op"]
        if op == "deposit":
            envelope = SealedEnvelope.decode(request["env"])
            held = self._held.setdefault(envelope.tag.raw, {})
            if len(held) >= MAX_HELD_PER_MAILBOX:
                return []  # no receipt: the depositor keeps it and retries later
            if envelope.envelope_id.raw not in held:
                held[envelope.envelope_id.raw] = request["env"]
                self.deposits += 1
            receipt = encode({"op": "deposited", "id": envelope.envelope_id.raw})
            return [Outgoing(source, receipt)]
        key = MailboxKey(request["key"])
        tag: MailboxTag = key.tag
        held = self._held.get(tag.raw, {})
        if op == "fetch":
            page = [held[i] for i in sorted(held)[:_PAGE]]
            if not page:
                return []
            return [Outgoing(source, encode({"op": "mail", "tag": tag.raw, "envs": page}))]
        if op == "ack":
            for envelope_id in request["ids"]:
                held.pop(envelope_id, None)
            return []
        raise InvalidEncoding(f"unknown relay op {op!r:.20}")

    def next_timer(self) -> float | None:
        return None

    def on_timer(self, now: float) -> list[Outgoing]:
        return []
