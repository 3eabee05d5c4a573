"""The soak's verdict (growth after the warm-up, the lag rule, busy processors) and its ingest config."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.reliability.soak import (
    Sample,
    SoakSettings,
    ingest_config,
    judge,
    metric_values,
    percentile,
    portfolio_of,
    run_soak,
    warmup_seconds,
)
from monitor.sim.scenario import load_scenario

P = "processor-0"


def samples(rss: Sequence[int], *, lags: Sequence[int] | None = None,
            processed: Sequence[float] | None = None, interval_s: float = 10.0) -> list[Sample]:
    """One sample per ``rss`` value (KiB of processor-0), ``interval_s`` apart from ``interval_s`` on."""
    lags = lags or [0] * len(rss)
    processed = processed or [100.0 * (index + 1) for index in range(len(rss))]
    return [Sample(at_s=interval_s * (index + 1), rss_kib={P: value}, fds={P: 12}, lag=lags[index],
                   loop_lag_s={P: 0.001 * (index + 1)}, processed={P: processed[index]})
            for index, value in enumerate(rss)]


# warm-up 30 s: the samples at 10 and 20 s are cut; 8 remain (30 .. 100 s), 3 at each edge
WARMING_THEN_FLAT_4_PERCENT = [50_000, 80_000, 100_000, 101_000, 99_000, 102_000, 103_000,
                               104_000, 106_000, 103_000]


def test_growth_is_the_median_of_the_last_three_against_the_first_three_after_the_warm_up() -> None:
    """start median(100000, 101000, 99000) = 100000, end median(104000, 106000, 103000) = 104000: +4 %."""
    verdict = judge(samples(WARMING_THEN_FLAT_4_PERCENT), 30.0, [P], 0, [P])
    (growth,) = verdict.growth
    assert (growth.start_kib, growth.end_kib) == (100_000, 104_000)
    assert growth.ratio == pytest.approx(0.04)
    assert verdict.ok, verdict.problems


def test_growth_above_five_percent_after_the_warm_up_fails() -> None:
    """end median(105000, 107000, 106000) = 106000 against 100000: +6 % > 5 %."""
    rss = [*WARMING_THEN_FLAT_4_PERCENT[:7], 105_000, 107_000, 106_000]
    verdict = judge(samples(rss), 30.0, [P], 0, [P])
    assert verdict.growth[0].ratio == pytest.approx(0.06)
    assert not verdict.ok
    assert "processor-0: RSS grew +6.0%" in verdict.problems[0]


def test_the_warm_up_is_cut_before_the_baseline() -> None:
    """With no warm-up the first three are 50000, 80000, 100000 (median 80000): 104000 / 80000 = +30 %."""
    verdict = judge(samples(WARMING_THEN_FLAT_4_PERCENT), 0.0, [P], 0, [P])
    assert verdict.growth[0].ratio == pytest.approx(0.30)
    assert not verdict.ok


def test_unchecked_processes_are_reported_but_never_fail() -> None:
    """The simulator is measured, not judged: +30 % there passes."""
    verdict = judge(samples(WARMING_THEN_FLAT_4_PERCENT), 0.0, [], 0, [P])
    assert verdict.growth[0].ratio == pytest.approx(0.30)
    assert not verdict.growth[0].checked
    assert verdict.ok


def test_a_short_run_uses_fewer_edge_samples_that_never_overlap() -> None:
    """3 samples after the warm-up: one at each edge, 100000 -> 104000 (+4 %); the middle one unused."""
    verdict = judge(samples([50_000, 100_000, 999_000, 104_000]), 20.0, [P], 0, [P])
    assert (verdict.growth[0].start_kib, verdict.growth[0].end_kib) == (100_000, 104_000)


def test_fewer_than_two_samples_after_the_warm_up_fail() -> None:
    """One sample cannot show growth."""
    verdict = judge(samples([100_000, 100_000]), 20.0, [P], 0, [P])
    assert not verdict.ok
    assert "1 samples after the warm-up" in verdict.problems[0]


def test_the_lag_must_return_to_zero_after_the_drain() -> None:
    """A peak of 40 during the run is fine; 3 left after the drain fails, an unknown lag fails."""
    run = samples(WARMING_THEN_FLAT_4_PERCENT, lags=[0, 0, 40, 5, 0, 0, 0, 0, 0, 0])
    passed = judge(run, 30.0, [P], 0, [P])
    assert (passed.peak_lag, passed.final_lag, passed.ok) == (40, 0, True)
    stuck = judge(run, 30.0, [P], 3, [P])
    assert stuck.problems == ("the consumer lag did not return to 0 (still 3 after the drain)",)
    assert not judge(run, 30.0, [P], None, [P]).ok


def test_a_processor_that_processed_nothing_after_the_warm_up_fails() -> None:
    """Processed counts flat at 500 from 30 s on: the processor was idle (no load reached it)."""
    verdict = judge(samples(WARMING_THEN_FLAT_4_PERCENT, processed=[100, 300] + [500] * 8), 30.0, [P], 0, [P])
    assert verdict.problems == ("processor-0 processed no events after the warm-up",)


def test_event_loop_lag_p99_and_max_over_every_sample() -> None:
    """Loop lags 1 .. 10 ms: nearest-rank p99 of 10 values is the 10th (ceil(9.9) = 10), 10 ms."""
    verdict = judge(samples(WARMING_THEN_FLAT_4_PERCENT), 30.0, [P], 0, [P])
    assert verdict.loop_lag_p99_s[P] == pytest.approx(0.010)
    assert verdict.loop_lag_max_s[P] == pytest.approx(0.010)


def test_percentile_is_nearest_rank() -> None:
    """1 .. 100: p99 is 99 (ceil(0.99 * 100) = 99), p50 is 50; of 3 values p99 is the 3rd (ceil(2.97))."""
    values = [float(v) for v in range(100, 0, -1)]
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 0.5) == 50.0
    assert percentile([0.2, 0.001, 0.002], 0.99) == 0.2


def test_warm_up_is_ten_percent_of_the_run_and_at_least_one_interval() -> None:
    """60 min: 6 min = 360 s; 1 min: 6 s, raised to the 10 s interval; 5 minutes asked: 300 s."""
    assert warmup_seconds(60, 10, None) == 360.0
    assert warmup_seconds(1, 10, None) == 10.0
    assert warmup_seconds(60, 10, 5) == 300.0
    assert SoakSettings("127.0.0.1:9092", minutes=2).warmup_s == 12.0


def test_settings_reject_a_warm_up_as_long_as_the_run() -> None:
    """The warm-up must leave samples to judge."""
    with pytest.raises(ValueError, match="warmup_minutes"):
        SoakSettings("127.0.0.1:9092", minutes=2, warmup_minutes=2)


def test_metric_values_reads_a_prometheus_exposition() -> None:
    """Both series of a labelled counter, the unlabelled gauge, not a longer name sharing the prefix."""
    text = ("# HELP hedge_event_loop_lag_seconds x\nhedge_event_loop_lag_seconds 0.0025\n"
            "hedge_event_loop_lag_seconds_other 9.0\n"
            'hedge_events_processed_total{kind="price"} 120.0\n'
            'hedge_events_processed_total{kind="position"} 3.0\n')
    assert metric_values(text, "hedge_event_loop_lag_seconds") == [0.0025]
    assert sum(metric_values(text, "hedge_events_processed_total")) == 123.0


def test_the_desk_ingest_config_is_a_valid_config(tmp_path: Path) -> None:
    """The config the soak writes for the desk scenario loads (as check-config reads it): every account."""
    scenario = load_scenario("desk")
    text, env = ingest_config(scenario, 8765, "127.0.0.1:9092", "soak-1.", 6)
    path = tmp_path / "ingest.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        config = load_config(path)
    assert len(config.accounts) == len(scenario.accounts) == 18
    assert config.topics.positions == "soak-1.hedge.positions"
    assert sorted(config.portfolio_ids()) == [f"desk-{x}" for x in "abcdef"]
    assert portfolio_of("okx-a") == "desk-a"


async def test_a_scenario_shorter_than_the_soak_is_refused_before_anything_starts(tmp_path: Path) -> None:
    """seed-drop lasts 420 s: a 60-minute soak on it would run without load, so it fails at once."""
    result = await run_soak(SoakSettings("127.0.0.1:1", minutes=60, scenario="seed-drop", work_dir=tmp_path))
    assert not result.ok
    assert "scenario seed-drop lasts 420 s, shorter than the soak (3600 s)" in result.all_problems[0]
