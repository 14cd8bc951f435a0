"""Operations figures: status snapshot, Prometheus text (checked by the reference parser), HTTP."""

from __future__ import annotations

import math

import anyio
import pytest
from prometheus_client.parser import text_string_to_metric_families

from aura_agent import (
    Agent,
    AgentConfig,
    HostSecret,
    RelayHealth,
    StatusSnapshot,
    render_prometheus,
    serve_metrics,
)
from aura_core.errors import InvalidInput

pytestmark = pytest.mark.anyio


def _snapshot(**changes) -> StatusSnapshot:
    values = dict(
        device="device-x",
        authority=None,
        uptime_s=1.5,
        features=("account", "notes"),
        journals=2,
        facts=7,
        contexts=1,
        receipts_accepted=9,
        receipts_rejected=1,
        consensus_backlog=2,
        consensus_decided=3,
        flow_spent=25,
        flow_limit=100,
        flow_max_utilization=0.5,
        anti_entropy_lag_s=None,
        anti_entropy_sessions=4,
        anti_entropy_failures=0,
        outbox_pending=0,
        signal_emissions=11,
        corrupt_records=0,
        relays=(
            RelayHealth("tcp://127.0.0.1:7000", True, 5, 1, 10.0),
            RelayHealth('ws://relay"odd\\name', False, 0, 3, None),
        ),
        frames_received=12,
        frames_refused=2,
    )
    values.update(changes)
    return StatusSnapshot(**values)


def _families(text: str) -> dict:
    return {family.name: family for family in text_string_to_metric_families(text)}


def test_prometheus_text_parses_and_carries_the_contract_figures():
    snapshot = _snapshot()
    families = _families(render_prometheus(snapshot))
    assert snapshot.receipt_acceptance_rate == 0.9
    ratio = families["aura_receipt_acceptance_ratio"].samples[0].value
    assert ratio == pytest.approx(0.9)
    assert families["aura_consensus_backlog"].samples[0].value == 2
    assert families["aura_flow_budget_utilization_ratio"].samples[0].value == pytest.approx(0.25)
    assert math.isnan(families["aura_anti_entropy_lag_seconds"].samples[0].value)
    receipts = {s.labels["result"]: s.value for s in families["aura_receipts"].samples}
    assert receipts == {"accepted": 9, "rejected": 1}
    reachable = {s.labels["relay"]: s.value for s in families["aura_relay_reachable"].samples}
    assert reachable == {"tcp://127.0.0.1:7000": 1, 'ws://relay"odd\\name': 0}
    for family in families.values():
        assert family.documentation and family.type in {"gauge", "counter"}


def test_no_receipts_yet_is_not_a_rate_of_zero():
    text = render_prometheus(_snapshot(receipts_accepted=0, receipts_rejected=0, relays=()))
    families = _families(text)
    assert math.isnan(families["aura_receipt_acceptance_ratio"].samples[0].value)
    assert families["aura_relay_reachable"].samples == []


async def _http_get(port: int, path: str) -> bytes:
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        await stream.send(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        data = b""
        while True:
            try:
                data += await stream.receive()
            except anyio.EndOfStream:
                return data


async def test_an_agent_serves_its_metrics_on_loopback(tmp_path):
    config = AgentConfig(data_dir=tmp_path, metrics_address="127.0.0.1:0")
    async with Agent(config, HostSecret.from_key(bytes(32))) as agent:
        await agent.create_account()
        assert agent.metrics_port
        with anyio.fail_after(5):
            reply = await _http_get(agent.metrics_port, "/metrics")
            missing = await _http_get(agent.metrics_port, "/")
        head, _, body = reply.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        assert b"text/plain; version=0.0.4" in head
        families = _families(body.decode())
        assert families["aura_facts"].samples[0].value >= 1
        assert families["aura_agent_info"].samples[0].labels["has_account"] == "true"
        assert missing.startswith(b"HTTP/1.1 404")
        status = agent.status()
        assert status.authority == str(agent.authority)
        assert status.facts >= 1


async def test_metrics_endpoint_refuses_other_than_loopback():
    with pytest.raises(InvalidInput, match="loopback"):
        await serve_metrics("0.0.0.0:9000", lambda: "")
