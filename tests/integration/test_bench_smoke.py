"""Smoke test of the Kafka scenarios of the benchmark suite (e2e and ceiling) at tiny size."""

from __future__ import annotations

from typing import Any

from bench import e2e


def _check_case(figures: dict[str, Any], case: str, ramp_start: float) -> None:
    """One case's drains, ramp and loads are well formed (no timing assertions)."""
    assert figures["case"] == case
    assert figures["processor_events_per_s"] > 0
    assert figures["ceiling_events_per_s"] > 0
    assert figures["ratio"] == figures["processor_events_per_s"] / figures["ceiling_events_per_s"]
    assert isinstance(figures["ratio_met"], bool)
    assert len(figures["processor_runs"]) == len(figures["ceiling_runs"]) == 1
    assert figures["portfolios"] <= figures["positions"] <= 3 * figures["portfolios"]
    loads = figures["loads"]
    assert [(level["case"], level["target"], level["load"]) for level in loads] == [
        (case, "processor", 0.25), (case, "processor", 0.5), (case, "processor", 0.8),
        (case, "passthrough", 0.5)]
    for level in loads:
        assert level["outputs_measured"] > 0
        assert 0 < level["p50_ms"] <= level["p99_ms"] <= level["max_ms"]
        # the sink conflates prices but never invents events
        assert level["delivered_per_s"] <= level["offered_per_s"]
    assert isinstance(figures["latency_met"], bool)
    assert figures["latency_p99_ms"] == loads[1]["p99_ms"]
    assert figures["ramp_start_per_s"] == ramp_start
    ramp = figures["ramp"]
    assert ramp
    assert {step["case"] for step in ramp} == {case}
    doubling = [step for step in ramp if not step["bisect"]]
    assert [step["rate"] for step in doubling] == [ramp_start * 2**k for k in range(len(doubling))]
    assert all(not step["saturated"] for step in doubling[:-1])
    for step in ramp:
        assert step["saturated"] == (step["saturated_by"] is not None)
        assert step["saturated_by"] in (None, "processor CPU", "latency", "sink conflation")
    assert figures["sustained_events_per_s"] > 0


def test_e2e_and_ceiling_measure_drains_and_latencies_on_the_real_broker(kafka_bootstrap: str) -> None:
    """One tiny run drains and times every offered load for the desk, then for the single trader."""
    result = e2e.run("tiny", 1, kafka_bootstrap, latency=True, ceiling=True)
    # the desk keeps the top-level keys; 20 portfolios at tiny size
    assert result["portfolios"] == e2e.TINY.portfolios
    assert result["instruments"] == 20
    _check_case(result, "desk", e2e.RAMP_START_PER_S)
    trader = result["trader"]
    assert trader["portfolios"] == 1
    # the trader's stream ticks only the instruments its one portfolio holds (1 to 3 legs)
    assert 1 <= trader["instruments"] <= trader["positions"] <= 3
    _check_case(trader, "trader", e2e.TRADER_RAMP_START_PER_S)
    assert "trader" not in trader
    printed = result["table"]
    assert "e2e: maximum throughput through Kafka" in printed
    assert "single trader (1 portfolio)" in printed
    assert "target p99 <= 10 ms at 50 % of the sustained maximum" in printed
