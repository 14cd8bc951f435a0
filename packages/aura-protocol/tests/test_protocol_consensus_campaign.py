"""The seeded fault campaign: agreement always, liveness whenever an honest quorum exists.

CI runs seeds 0..199 (about 15 s). ``AURA_CONSENSUS_SEEDS=A:B`` picks another
range; ``make sim-sweep`` runs 1,000+. A failing seed's message carries the
command that replays it.
"""

from __future__ import annotations

import os

import attrs
import pytest

from aura_protocol.consensus.campaign import (
    draw_scenario,
    main,
    replay_command,
    run_campaign,
    run_scenario,
)


def _seeds() -> range:
    low, _, high = os.environ.get("AURA_CONSENSUS_SEEDS", "0:200").partition(":")
    return range(int(low), int(high))


def test_campaign_keeps_agreement_and_liveness() -> None:
    results = run_campaign(_seeds())
    failed = [r for r in results if not r.ok]
    report = "\n".join(
        f"seed {r.seed} ({r.description}): {'; '.join(r.failures)}\n  replay: {replay_command(r.seed)}"
        for r in failed
    )
    assert not failed, report
    # The sample must actually exercise the paths it claims to check.
    assert sum(r.decided for r in results) >= 0.9 * len(results)
    assert any(r.fast_path for r in results)
    assert any(r.decided and r.fast_path is False for r in results)
    assert any(r.equivocations_detected for r in results)
    assert sum(r.liveness_required for r in results) >= 0.9 * len(results)


def test_same_seed_same_trace() -> None:
    for seed in (3, 7, 44):
        scenario = draw_scenario(seed)
        assert draw_scenario(seed) == scenario
        assert run_scenario(scenario).trace_hash == run_scenario(scenario).trace_hash
    assert run_scenario(draw_scenario(1)).trace_hash != run_scenario(draw_scenario(2)).trace_hash


def _bridged(seed: int, n: int, t: int, side_a: tuple[str, ...], side_b: tuple[str, ...]):
    """Two initiators on two sides of a partition that only the Byzantine w1 bridges."""
    return attrs.evolve(
        draw_scenario(seed),
        n=n,
        t=t,
        byzantine=1,
        competing=True,
        stale=None,
        crashes=(),
        skews=(),
        drop_rate=0.0,
        delay_rate=0.0,
        partition=(0.0, side_a, side_b),
    )


def test_the_checker_catches_a_violation_when_2t_minus_n_is_not_above_f() -> None:
    """2-of-3 tolerates no equivocating witness: one bridging a partition commits both sides."""
    broken = [
        r
        for seed in range(12)
        if not (r := run_scenario(_bridged(seed, 3, 2, ("init-a", "w2"), ("init-b", "w3")))).ok
    ]
    assert broken, "a Byzantine bridge in a 2-of-3 group should break agreement in some seed"
    assert all(any("AGREEMENT VIOLATED" in f for f in r.failures) for r in broken)


@pytest.mark.parametrize(
    ("side_a", "side_b"),
    [(("init-a", "w2", "w3"), ("init-b", "w4")), (("init-a", "w2"), ("init-b", "w3", "w4"))],
)
def test_3_of_4_survives_the_same_byzantine_bridge(side_a, side_b) -> None:
    for seed in range(12):
        result = run_scenario(_bridged(seed, 4, 3, side_a, side_b))
        assert result.ok, (seed, result.failures)
        assert result.decided


def test_cli_replays_one_seed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--seed", "5"]) == 0
    out = capsys.readouterr().out
    assert "seed 5: ok" in out and "trace " in out and "1 runs" in out
