"""Smoke test of the Kafka scenarios of the benchmark suite (e2e and ceiling) at tiny size."""

from __future__ import annotations

from bench import e2e


def test_e2e_and_ceiling_measure_drains_and_latencies_on_the_real_broker(kafka_bootstrap: str) -> None:
    """One tiny run drains through the processor and the passthrough and times every offered load."""
    result = e2e.run("tiny", 1, kafka_bootstrap, latency=True, ceiling=True)
    assert result["processor_events_per_s"] > 0
    assert result["ceiling_events_per_s"] > 0
    assert result["ratio"] == result["processor_events_per_s"] / result["ceiling_events_per_s"]
    assert len(result["processor_runs"]) == len(result["ceiling_runs"]) == 1
    loads = result["loads"]
    assert [(level["target"], level["load"]) for level in loads] == [
        ("processor", 0.25), ("processor", 0.5), ("processor", 0.8), ("passthrough", 0.5)]
    for level in loads:
        assert level["outputs_measured"] > 0
        assert 0 < level["p50_ms"] <= level["p99_ms"] <= level["max_ms"]
        # the sink conflates prices but never invents events
        assert level["delivered_per_s"] <= level["offered_per_s"]
    assert isinstance(result["latency_met"], bool)
    ramp = result["ramp"]
    assert ramp
    doubling = [step for step in ramp if not step["bisect"]]
    assert [step["rate"] for step in doubling] == [10.0 * 2**k for k in range(len(doubling))]
    assert all(not step["saturated"] for step in doubling[:-1])
    assert result["sustained_events_per_s"] > 0
    assert "e2e: maximum throughput through Kafka" in result["table"]
