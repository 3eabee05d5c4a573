"""Smoke test of the shipped, recovery and scaleout benchmark scenarios at tiny size (never timing)."""

from __future__ import annotations

from bench import recovery, scaleout, shipped


def test_recovery_times_a_cold_start_and_a_restart_from_the_price_checkpoint(kafka_bootstrap: str) -> None:
    """One row per hours of history, each with a cold and a restart time and a verdict."""
    result = recovery.run("tiny", kafka_bootstrap)
    (row,) = result["rows"]
    assert row["hours"] == recovery.TINY.hours[0]
    # 0.02 h x 3,600 s x 10 ticks/s x 20 instruments
    assert row["history_records"] == 14_400
    assert 0 < row["cold_first_s"] <= row["cold_all_s"]
    assert 0 < row["restart_first_s"] <= row["restart_all_s"]
    assert row["verdict"] == "met" or row["verdict"].startswith("missed by")
    assert "restart target 5 s" in result["table"]


def test_shipped_feeds_the_installed_command_and_measures_every_tick(kafka_bootstrap: str) -> None:
    """The shipped command reflects every tick sent at the tiny rate, with ordered percentiles."""
    result = shipped.run("tiny", kafka_bootstrap)
    (row,) = result["rows"]
    assert row["ticks"] == int(shipped.TINY.rates[0] * shipped.TINY.seconds)
    assert row["reflected"] == row["ticks"]
    assert 0 < row["p50_ms"] <= row["p99_ms"] <= row["max_ms"]
    assert result["holders_per_tick"] == shipped.TINY.portfolios // len(shipped.INSTRUMENTS)


def test_scaleout_runs_one_then_two_processors_over_the_same_workload(kafka_bootstrap: str) -> None:
    """Two rows (1 and 2 processors), each with a throughput and memory per portfolio."""
    result = scaleout.run("tiny", kafka_bootstrap)
    one, two = result["rows"]
    assert (one["processors"], two["processors"]) == (1, 2)
    assert one["records"] == two["records"] > scaleout.TINY.portfolios
    assert one["records_per_s"] > 0
    assert two["records_per_s"] > 0
    assert result["ratio"] == two["records_per_s"] / one["records_per_s"]
    assert len(two["cpu_shares"].split(" / ")) == 2
