"""Metrics: snapshot figures, null handling, closed positions, the portfolio label cap, alerts,
pipeline health and the HTTP endpoint, each asserted on a fresh registry."""

from __future__ import annotations

import asyncio
import inspect
import urllib.request
from dataclasses import replace
from typing import Any

import pytest
from prometheus_client import REGISTRY, CollectorRegistry, Counter, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from monitor.codec import decode_risk
from monitor.metrics import Metrics, NullMetrics, serve_metrics
from tests.unit.deploy.sample_snapshots import (
    SEED_TS_MS,
    exercise_every_metric,
    remediation_value,
    seed_snapshot,
)

ALICE_BTC = {"portfolio": "alice", "asset": "BTC"}
ALICE_SWAP = {"portfolio": "alice", "account": "okx-main", "instrument": "okx:BTC-USDT-SWAP"}


@pytest.fixture
def registry() -> CollectorRegistry:
    """A registry of the test's own."""
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> Metrics:
    """Metrics on the test's registry."""
    return Metrics(registry)


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    """The sample's value, None when the series does not exist."""
    return registry.get_sample_value(name, labels)


def test_asset_figures_come_from_the_snapshot(
    metrics: Metrics, registry: CollectorRegistry
) -> None:
    """Per-asset delta, hedge ratio, band and contracts to target are exported."""
    metrics.observe_snapshot(decode_risk(seed_snapshot()))
    assert value(registry, "hedge_spot_delta_base", **ALICE_BTC) == 1.5
    # -150 * 0.01 = -1.5
    assert value(registry, "hedge_futures_delta_base", **ALICE_BTC) == -1.5
    assert value(registry, "hedge_net_delta_base", **ALICE_BTC) == 0.0
    assert value(registry, "hedge_net_delta_usd", **ALICE_BTC) == 0.0
    assert value(registry, "hedge_asset_price_usd", **ALICE_BTC) == 60000.0
    assert value(registry, "hedge_ratio", **ALICE_BTC) == 1.0
    assert value(registry, "hedge_ratio_target", **ALICE_BTC) == 1.0
    # half-width band 0.1 around target 1.0: 1.0 - 0.1 = 0.9, 1.0 + 0.1 = 1.1
    assert value(registry, "hedge_ratio_band_lower", **ALICE_BTC) == pytest.approx(0.9)
    assert value(registry, "hedge_ratio_band_upper", **ALICE_BTC) == pytest.approx(1.1)
    assert value(registry, "hedge_contracts_to_target", instrument="okx:BTC-USDT-SWAP",
                 **ALICE_BTC) == 0.0
    # 5 bps / 10000 = 0.0005
    assert value(registry, "hedge_basis_ratio", **ALICE_BTC) == pytest.approx(0.0005)


def test_position_margin_figures_come_from_the_snapshot(
    metrics: Metrics, registry: CollectorRegistry
) -> None:
    """Per-position margin buffer, margin ratio and liquidation distance are exported."""
    metrics.observe_snapshot(decode_risk(seed_snapshot()))
    # 9000 - 360 = 8640
    assert value(registry, "hedge_margin_buffer_usd", **ALICE_SWAP) == 8640.0
    # 8640 / 9000 = 0.96
    assert value(registry, "hedge_margin_buffer_ratio", **ALICE_SWAP) == 0.96
    # 360 / 9000 = 0.04
    assert value(registry, "hedge_margin_ratio", **ALICE_SWAP) == 0.04
    # (65737.05 - 60000) / 60000 = 0.0956175
    assert value(registry, "hedge_liquidation_distance_ratio", **ALICE_SWAP) == 0.0956175
    assert value(registry, "hedge_liquidation_price_usd", **ALICE_SWAP) == 65737.05
    assert value(registry, "hedge_position_contracts", **ALICE_SWAP) == -150.0
    # 150 * 0.01 * 60000 = 90000
    assert value(registry, "hedge_position_notional_usd", **ALICE_SWAP) == 90000.0
    assert value(registry, "hedge_position_funding_accrued_usd", **ALICE_SWAP) == 9.0


def test_effectiveness_stress_costs_lifecycle_come_from_the_snapshot(
    metrics: Metrics, registry: CollectorRegistry
) -> None:
    """Effectiveness, the stress grid, costs, time left and freshness are exported."""
    metrics.observe_snapshot(decode_risk(seed_snapshot()))
    assert value(registry, "hedge_effectiveness_dollar_offset_ratio", **ALICE_BTC) == 1.0
    assert value(registry, "hedge_effectiveness_r_squared", **ALICE_BTC) == 0.98
    assert value(registry, "hedge_effectiveness_variance_reduction_ratio", **ALICE_BTC) == 0.97
    assert value(registry, "hedge_effectiveness_effective", **ALICE_BTC) == 1.0
    assert value(registry, "hedge_effectiveness_samples", **ALICE_BTC) == 120.0
    # -10 %: spot 90000 * -0.1 = -9000, hedge +9000, net 0
    assert value(registry, "hedge_stress_spot_pnl_usd", portfolio="alice", shock="-0.1") == -9000.0
    assert value(registry, "hedge_stress_net_pnl_usd", portfolio="alice", shock="-0.1") == 0.0
    # +20 %: leg liquidated, net 18000 - 9000 = 9000
    assert value(registry, "hedge_stress_net_pnl_usd", portfolio="alice", shock="0.2") == 9000.0
    assert value(registry, "hedge_stress_liquidated_positions", portfolio="alice",
                 shock="0.2") == 1.0
    assert value(registry, "hedge_stress_liquidated_positions", portfolio="alice",
                 shock="-0.2") == 0.0
    assert value(registry, "hedge_funding_received_usd", portfolio="alice") == 9.0
    assert value(registry, "hedge_fees_usd", portfolio="alice") == 4.5
    # 4.5 + 0 - 9 = -4.5
    assert value(registry, "hedge_cost_usd", portfolio="alice") == -4.5
    assert value(registry, "hedge_protection_usd", portfolio="alice") == 9000.0
    assert value(registry, "hedge_cost_budget_usd", portfolio="alice") == 500.0
    # 7 days = 7 * 86400 = 604800 s
    assert value(registry, "hedge_time_left_seconds", **ALICE_BTC) == 604800.0
    assert value(registry, "hedge_lifecycle_condition", condition="expired", **ALICE_BTC) == 0.0
    # 1_700_000_000_000 ms / 1000 = 1_700_000_000 s
    assert value(registry, "hedge_snapshot_timestamp_seconds", portfolio="alice") == 1.7e9
    assert value(registry, "hedge_portfolio_stale_feeds", portfolio="alice") == 0.0


def test_null_figures_are_not_exported(metrics: Metrics, registry: CollectorRegistry) -> None:
    """Null figures (a spot line's margin, an undefined min-variance ratio) have no series."""
    metrics.observe_snapshot(decode_risk(seed_snapshot()))
    spot = {"portfolio": "alice", "account": "cold", "instrument": "okx:BTC-USDT"}
    assert value(registry, "hedge_margin_buffer_usd", **spot) is None
    assert value(registry, "hedge_liquidation_distance_ratio", **spot) is None
    assert value(registry, "hedge_position_contracts", **spot) == 1.5
    assert value(registry, "hedge_min_variance_ratio", **ALICE_BTC) is None


def test_figure_turning_null_removes_its_series(
    metrics: Metrics, registry: CollectorRegistry
) -> None:
    """A figure that becomes null removes the series instead of setting NaN or keeping it."""
    metrics.observe_snapshot(decode_risk(seed_snapshot()))
    assert value(registry, "hedge_ratio", **ALICE_BTC) == 1.0
    snapshot = seed_snapshot(seq=2)
    snapshot["assets"]["BTC"]["hedge_ratio"] = None
    snapshot["effectiveness"]["BTC"]["dollar_offset"] = None
    metrics.observe_snapshot(decode_risk(snapshot))
    assert value(registry, "hedge_ratio", **ALICE_BTC) is None
    assert value(registry, "hedge_effectiveness_dollar_offset_ratio", **ALICE_BTC) is None
    assert value(registry, "hedge_ratio_target", **ALICE_BTC) == 1.0


def test_non_finite_and_non_numeric_figures_are_not_exported(
    metrics: Metrics, registry: CollectorRegistry
) -> None:
    """NaN and infinity in a figure leave its series out (booleans and strings never reach the
    metrics: the codec refuses them, tests/unit/test_codec_risk.py)."""
    snapshot = decode_risk(seed_snapshot())
    btc = replace(snapshot.assets["BTC"], hedge_ratio=float("inf"), net_delta=float("nan"))
    metrics.observe_snapshot(replace(snapshot, assets={"BTC": btc}))
    for name in ("hedge_ratio", "hedge_net_delta_base"):
        assert value(registry, name, **ALICE_BTC) is None, name
    assert value(registry, "hedge_asset_price_usd", **ALICE_BTC) == 60_000.0


def test_closed_position_series_are_removed(metrics: Metrics, registry: CollectorRegistry) -> None:
    """A position missing from the portfolio's next snapshot loses all its series."""
    metrics.observe_snapshot(decode_risk(seed_snapshot()))
    metrics.observe_snapshot(decode_risk(seed_snapshot("bob")))
    closed = seed_snapshot(seq=2)
    closed["positions"] = [p for p in closed["positions"] if p["kind"] == "spot"]
    metrics.observe_snapshot(decode_risk(closed))
    for name in ("hedge_margin_buffer_usd", "hedge_position_contracts",
                 "hedge_liquidation_distance_ratio", "hedge_margin_ratio"):
        assert value(registry, name, **ALICE_SWAP) is None, name
    assert value(registry, "hedge_position_contracts", portfolio="alice", account="cold",
                 instrument="okx:BTC-USDT") == 1.5
    # another portfolio's identical position is untouched
    assert value(registry, "hedge_margin_buffer_usd", portfolio="bob", account="okx-main",
                 instrument="okx:BTC-USDT-SWAP") == 8640.0


def test_changed_hedge_instrument_moves_contracts_to_target(
    metrics: Metrics, registry: CollectorRegistry
) -> None:
    """When the hedge instrument changes, the old instrument's contracts series goes away."""
    metrics.observe_snapshot(decode_risk(seed_snapshot()))
    snapshot = seed_snapshot(seq=2)
    snapshot["assets"]["BTC"]["hedge_instrument"] = "cme:MBT"
    snapshot["assets"]["BTC"]["contracts_to_target"] = 15.0
    metrics.observe_snapshot(decode_risk(snapshot))
    assert value(registry, "hedge_contracts_to_target", instrument="okx:BTC-USDT-SWAP",
                 **ALICE_BTC) is None
    assert value(registry, "hedge_contracts_to_target", instrument="cme:MBT", **ALICE_BTC) == 15.0


def test_snapshot_without_portfolio_is_rejected(metrics: Metrics) -> None:
    """A snapshot with no portfolio id is a programming error, not silently dropped."""
    snapshot: dict[str, Any] = seed_snapshot()
    del snapshot["portfolio"]
    with pytest.raises(ValueError, match="portfolio"):
        metrics.observe_snapshot(decode_risk(snapshot))


def test_portfolio_label_cap(registry: CollectorRegistry) -> None:
    """Portfolios past the limit get no series; the overflow counter and gauge count them."""
    metrics = Metrics(registry, portfolio_label_limit=2)
    for portfolio in ("alice", "bob", "carol", "carol", "dave"):
        metrics.observe_snapshot(decode_risk(seed_snapshot(portfolio)))
    assert value(registry, "hedge_net_delta_usd", portfolio="bob", asset="BTC") == 0.0
    assert value(registry, "hedge_net_delta_usd", portfolio="carol", asset="BTC") is None
    assert value(registry, "hedge_net_delta_usd", portfolio="dave", asset="BTC") is None
    # dropped snapshots: carol twice + dave once = 3
    assert value(registry, "hedge_portfolio_label_overflow_total") == 3.0
    # distinct overflowed portfolios: carol, dave = 2
    assert value(registry, "hedge_portfolio_label_overflow_portfolios") == 2.0
    assert value(registry, "hedge_portfolios_tracked") == 2.0
    # an admitted portfolio keeps its series later on
    metrics.observe_snapshot(decode_risk(seed_snapshot("alice", seq=2, price=61000.0)))
    assert value(registry, "hedge_asset_price_usd", portfolio="alice", asset="BTC") == 61000.0


def test_firing_alerts_counted_by_rule_and_severity(
    metrics: Metrics, registry: CollectorRegistry
) -> None:
    """Firing alerts are counted per rule and severity and flagged per portfolio."""
    metrics.set_firing_alerts([
        ("alice", "margin_buffer", "critical"),
        ("bob", "margin_buffer", "critical"),
        ("bob", "margin_buffer", "critical"),  # a duplicate is one firing alert
        ("alice", "hedge_ratio_band", "warning"),
    ])
    # alice + bob = 2
    assert value(registry, "hedge_alerts_firing", rule="margin_buffer", severity="critical") == 2
    assert value(registry, "hedge_alerts_firing", rule="hedge_ratio_band", severity="warning") == 1
    assert value(registry, "hedge_portfolio_alerts_firing", portfolio="bob",
                 rule="margin_buffer", severity="critical") == 1
    metrics.set_firing_alerts([("bob", "margin_buffer", "critical")])
    assert value(registry, "hedge_alerts_firing", rule="margin_buffer", severity="critical") == 1
    # a rule that stopped firing stays at 0 rather than disappearing
    assert value(registry, "hedge_alerts_firing", rule="hedge_ratio_band", severity="warning") == 0
    assert value(registry, "hedge_portfolio_alerts_firing", portfolio="alice",
                 rule="margin_buffer", severity="critical") is None
    assert value(registry, "hedge_portfolio_alerts_firing", portfolio="alice",
                 rule="hedge_ratio_band", severity="warning") is None


def test_firing_alerts_beyond_the_cap_are_still_counted(registry: CollectorRegistry) -> None:
    """An overflowed portfolio's alert counts in the aggregate but has no per-portfolio series."""
    metrics = Metrics(registry, portfolio_label_limit=1)
    metrics.observe_snapshot(decode_risk(seed_snapshot("alice")))
    metrics.set_firing_alerts(
        [("alice", "stale_feed", "warning"), ("zoe", "stale_feed", "warning")]
    )
    # alice + zoe = 2
    assert value(registry, "hedge_alerts_firing", rule="stale_feed", severity="warning") == 2
    assert value(registry, "hedge_portfolio_alerts_firing", portfolio="zoe", rule="stale_feed",
                 severity="warning") is None
    assert value(registry, "hedge_portfolio_alerts_firing", portfolio="alice", rule="stale_feed",
                 severity="warning") == 1
    assert value(registry, "hedge_portfolio_label_overflow_total") == 1


def test_pipeline_counters(metrics: Metrics, registry: CollectorRegistry) -> None:
    """Event, dead-letter and reconnect counters add up per label."""
    metrics.events_processed("price")
    metrics.events_processed("price", 4)
    metrics.dead_letter("okx", 2)
    metrics.reconnect("okx", "public")
    metrics.reconnect("okx", "public")
    # 1 + 4 = 5
    assert value(registry, "hedge_events_processed_total", kind="price") == 5
    assert value(registry, "hedge_dead_letters_total", source="okx") == 2
    assert value(registry, "hedge_reconnects_total", venue="okx", stream="public") == 2


def test_feed_event_time_and_staleness(metrics: Metrics, registry: CollectorRegistry) -> None:
    """The feed keeps its latest event time in seconds, never moving back; staleness is 0/1."""
    labels = {"venue": "okx", "instrument": "okx:BTC-USDT-SWAP"}
    metrics.feed_event("okx:BTC-USDT-SWAP", SEED_TS_MS + 1500)
    metrics.feed_event("okx:BTC-USDT-SWAP", SEED_TS_MS)  # older, arrives late
    # (1_700_000_000_000 + 1500) / 1000 = 1_700_000_001.5
    assert value(registry, "hedge_feed_last_event_timestamp_seconds", **labels) == 1_700_000_001.5
    assert value(registry, "hedge_feed_events_total", **labels) == 2
    metrics.feed_stale("okx:BTC-USDT-SWAP", stale=True)
    assert value(registry, "hedge_feed_stale", **labels) == 1
    metrics.feed_stale("okx:BTC-USDT-SWAP", stale=False)
    assert value(registry, "hedge_feed_stale", **labels) == 0


def test_lag_buffer_and_restore_gauges(metrics: Metrics, registry: CollectorRegistry) -> None:
    """Consumer lag per partition, ingest buffer and state restores are exported."""
    metrics.consumer_lag("hedge.prices", 2, 42)
    metrics.ingest_buffered(17)
    metrics.state_restored(3)
    metrics.state_restored(6)
    assert value(registry, "hedge_consumer_lag_messages", topic="hedge.prices", partition="2") == 42
    assert value(registry, "hedge_ingest_buffered_events") == 17
    assert value(registry, "hedge_state_restored_partitions") == 6
    assert value(registry, "hedge_state_restores_total") == 2


def test_event_loop_lag_gauge_holds_the_latest_measurement(
    metrics: Metrics, registry: CollectorRegistry,
) -> None:
    """The event-loop lag gauge reads the last overshoot set, not a sum or a maximum."""
    metrics.event_loop_lag(0.25)
    metrics.event_loop_lag(0.003)
    assert value(registry, "hedge_event_loop_lag_seconds") == 0.003


def test_latency_histogram_buckets(metrics: Metrics, registry: CollectorRegistry) -> None:
    """Latency lands in buckets from 0.5 ms to 5 s."""
    metrics.observe_latency(0.0004)
    metrics.observe_latency(0.003)
    metrics.observe_latency(3.0)
    name = "hedge_event_to_publish_seconds_bucket"
    assert value(registry, name, le="0.0005") == 1
    assert value(registry, name, le="0.005") == 2
    assert value(registry, name, le="2.5") == 2
    assert value(registry, name, le="5.0") == 3
    assert value(registry, "hedge_event_to_publish_seconds_count") == 3
    # 0.0004 + 0.003 + 3.0 = 3.0034
    assert value(registry, "hedge_event_to_publish_seconds_sum") == pytest.approx(3.0034)


def test_metrics_stay_off_the_global_registry(registry: CollectorRegistry) -> None:
    """Two Metrics in one process do not collide and never touch the global registry."""
    Metrics(registry).events_processed("price")
    other = CollectorRegistry()
    Metrics(other)
    assert value(other, "hedge_events_processed_total", kind="price") is None
    assert REGISTRY.get_sample_value("hedge_events_processed_total", {"kind": "price"}) is None


def test_hot_path_caches_labelled_children(
    metrics: Metrics, registry: CollectorRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Repeated counts on the same labels call ``labels()`` once."""
    calls: list[tuple[object, ...]] = []
    original = Counter.labels

    def counting_labels(self: Counter, *values: object, **named: object) -> Counter:
        calls.append(values)
        return original(self, *values, **named)

    monkeypatch.setattr(Counter, "labels", counting_labels)
    for _ in range(5):
        metrics.events_processed("fill")
    assert calls == [("fill",)]
    assert value(registry, "hedge_events_processed_total", kind="fill") == 5


def test_sample_run_gives_every_metric_a_series(
    metrics: Metrics, registry: CollectorRegistry
) -> None:
    """The deploy checks' sample run leaves no metric family without a series."""
    exercise_every_metric(metrics)
    empty = [family.name for family in registry.collect() if not family.samples]
    assert empty == []
    assert len(list(registry.collect())) > 50


def _public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(member) for name, member in inspect.getmembers(cls, inspect.isfunction)
            if not name.startswith("_")}


def test_null_metrics_has_every_public_method_of_metrics() -> None:
    """NullMetrics and Metrics have the same public methods with the same signatures."""
    methods = _public_methods(Metrics)
    assert {"observe_snapshot", "consumer_lag", "state_restored"} <= set(methods)
    assert _public_methods(NullMetrics) == methods


def test_null_metrics_takes_every_call_and_reads_as_off() -> None:
    """The sample run that feeds every metric passes through NullMetrics; it says nobody reads it."""
    exercise_every_metric(NullMetrics())
    assert NullMetrics.enabled is False
    assert Metrics.enabled is True


def test_negative_label_limit_is_rejected() -> None:
    """A negative portfolio label limit is a configuration error."""
    with pytest.raises(ValueError, match="portfolio_label_limit"):
        Metrics(CollectorRegistry(), portfolio_label_limit=-1)


def fetch(url: str) -> str:
    """GET ``url`` and return the body as text."""
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 -- loopback test URL
        body: bytes = response.read()
    return body.decode()


async def test_serve_metrics_on_loopback_with_port_zero(metrics: Metrics) -> None:
    """The endpoint binds 127.0.0.1 on a free port, serves the registry, and closes."""
    metrics.events_processed("price", 3)
    server = await serve_metrics(metrics, port=0)
    try:
        assert server.port > 0
        body = await asyncio.to_thread(fetch, f"http://127.0.0.1:{server.port}/metrics")
        assert 'hedge_events_processed_total{kind="price"} 3.0' in body
        metrics.observe_snapshot(decode_risk(seed_snapshot()))
        body = await asyncio.to_thread(fetch, f"http://127.0.0.1:{server.port}/metrics")
        assert 'hedge_asset_price_usd{portfolio="alice",asset="BTC"} 60000.0' in body
    finally:
        await server.close()
    await server.close()  # idempotent
    with pytest.raises(OSError):  # noqa: PT011 -- connection refused: the socket is released
        await asyncio.to_thread(fetch, f"http://127.0.0.1:{server.port}/metrics")


def _samples(text: str) -> set[tuple[str, tuple[tuple[str, str], ...], float]]:
    """Every sample of an exposition as (name, sorted labels, value)."""
    return {(sample.name, tuple(sorted(sample.labels.items())), sample.value)
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_the_endpoint_text_holds_every_sample_of_the_registry(metrics: Metrics) -> None:
    """``render`` (cached lines for snapshot gauges) parses to exactly what prometheus_client renders."""
    exercise_every_metric(metrics)
    odd = seed_snapshot()
    odd["portfolio"] = 'desk "7"\\eu\nwest'  # a quote, a backslash and a newline in a label value
    metrics.observe_snapshot(decode_risk(odd))
    slow = generate_latest(metrics.registry).decode()
    fast = metrics.render().decode()
    assert _samples(fast) == _samples(slow)
    assert ("hedge_asset_price_usd", (("asset", "BTC"), ("portfolio", 'desk "7"\\eu\nwest')),
            60_000.0) in _samples(fast)
    assert fast.count("# TYPE hedge_asset_price_usd gauge") == 1


def test_a_snapshot_gauge_series_removed_leaves_the_endpoint_text(metrics: Metrics) -> None:
    """A figure that becomes null is gone from the served text too, not only from the registry."""
    snapshot = seed_snapshot()
    metrics.observe_snapshot(decode_risk(snapshot))
    assert "hedge_basis_ratio{" in metrics.render().decode()
    snapshot["assets"]["BTC"]["basis_bps"] = None
    metrics.observe_snapshot(decode_risk(snapshot))
    assert "hedge_basis_ratio{" not in metrics.render().decode()


def test_remediation_gauges_follow_the_leg_remediation(
    metrics: Metrics, registry: CollectorRegistry
) -> None:
    """A leg inside the target distance exports its remediation; back outside, the series go."""
    snapshot = seed_snapshot()
    snapshot["positions"][0]["remediation"] = remediation_value(23.61, 1.0, 0.06)
    metrics.observe_snapshot(decode_risk(snapshot))
    labels = {"portfolio": "alice", "account": "okx-main", "instrument": "okx:BTC-USDT-SWAP"}
    assert value(registry, "hedge_remediation_margin_usd", **labels) == 23.61
    assert value(registry, "hedge_remediation_reduce_contracts", **labels) == 1.0
    assert value(registry, "hedge_remediation_target_distance_ratio", **labels) == 0.06
    snapshot["positions"][0]["remediation"] = None
    metrics.observe_snapshot(decode_risk(snapshot))
    assert value(registry, "hedge_remediation_margin_usd", **labels) is None
