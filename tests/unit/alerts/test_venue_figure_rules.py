"""Alert rules on the venue's own figures: model divergence, account margin ratio, ADL bucket."""

from __future__ import annotations

from typing import Any

from monitor.alerts import AlertEngine, AlertsConfig
from monitor.alerts.registry import observe
from monitor.codec import decode_risk
from tests.unit.deploy.sample_snapshots import add_venue_figures, seed_snapshot

SWAP = "okx:BTC-USDT-SWAP"


def _snapshot(venue_liquidation_price: float = 66_000.0) -> dict[str, Any]:
    snapshot = seed_snapshot()
    add_venue_figures(snapshot, venue_liquidation_price)
    return snapshot


def test_model_divergence_within_tolerance_does_not_fire() -> None:
    """Model 65737.05 against the venue's 66000: |65737.05 - 66000| / 66000 = 0.398 % <= 0.5 %."""
    config = AlertsConfig()
    observations = observe("model_divergence", decode_risk(_snapshot()), config.model_divergence)
    assert observations is not None
    assert observations[SWAP].status == "clear"
    assert observations[SWAP].value == abs(65_737.05 - 66_000.0) / 66_000.0


def test_model_divergence_past_the_tolerance_fires_and_names_the_figure() -> None:
    """The venue reports 66500: |65737.05 - 66500| / 66500 = 1.147 % > 0.5 %: breach."""
    engine = AlertEngine(AlertsConfig())
    transitions = engine.evaluate(decode_risk(_snapshot(66_500.0)))
    fired = [t for t in transitions if t.rule == "model_divergence"]
    assert len(fired) == 1
    assert fired[0].state == "firing"
    assert fired[0].value == abs(65_737.05 - 66_500.0) / 66_500.0
    assert "liquidation price is 1.1 % from the venue's own figure" in fired[0].message
    # back to 66000 (0.398 % <= the 0.4 % clear level): resolved
    resolved = [t for t in engine.evaluate(decode_risk(_snapshot(66_000.0))) if t.rule == "model_divergence"]
    assert [t.state for t in resolved] == ["resolved"]


def test_model_divergence_is_unknown_without_a_venue_figure() -> None:
    observations = observe("model_divergence", decode_risk(seed_snapshot()), AlertsConfig().model_divergence)
    assert observations is not None
    assert observations[SWAP].status == "unknown"


def test_account_margin_ratio_high() -> None:
    """Bybit UTA accountMMRate 0.85 of a liquidation ratio 1.0: 85 % used > 80 %: breach; 0.1:
    clear."""
    snapshot = _snapshot()
    observations = observe("account_margin_ratio_high", decode_risk(snapshot),
                           AlertsConfig().account_margin_ratio_high)
    assert observations is not None
    assert observations["bybit-uta"].status == "clear"
    snapshot["accounts"]["bybit-uta"]["buffer_used"] = 0.85
    engine = AlertEngine(AlertsConfig())
    fired = [t for t in engine.evaluate(decode_risk(snapshot)) if t.rule == "account_margin_ratio_high"]
    assert [(t.subject, t.state, t.severity) for t in fired] == [("bybit-uta", "firing", "critical")]
    assert "has used 85.0 % of its margin to the venue's liquidation level" in fired[0].message


def test_adl_top_bucket_fires_only_for_a_profitable_leg() -> None:
    """The seed leg at rank 5 of 5: with uPnL 0 it is not profitable (no alert); with +120 USD
    it is, and the venue would deleverage it first."""
    snapshot = _snapshot()
    snapshot["positions"][0]["venue_figures"]["adl_rank"] = 5
    rule = AlertsConfig().adl_top_bucket
    observations = observe("adl_top_bucket", decode_risk(snapshot), rule)
    assert observations is not None
    assert observations[SWAP].status == "clear"
    snapshot["positions"][0]["unrealized_pnl_usd"] = 120.0
    engine = AlertEngine(AlertsConfig())
    fired = [t for t in engine.evaluate(decode_risk(snapshot)) if t.rule == "adl_top_bucket"]
    assert [(t.subject, t.state) for t in fired] == [(SWAP, "firing")]
    assert "top auto-deleveraging bucket (5 of 5)" in fired[0].message
    snapshot["positions"][0]["venue_figures"]["adl_rank"] = 3
    resolved = [t for t in engine.evaluate(decode_risk(snapshot)) if t.rule == "adl_top_bucket"]
    assert [t.state for t in resolved] == ["resolved"]
