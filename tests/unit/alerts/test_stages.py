"""Staged liquidation alerts: warning, critical, emergency in % and in volatility units; calm."""

from __future__ import annotations

from typing import Any

import pytest

from monitor.alerts import AlertConfigError, AlertEngine, AlertsConfig
from monitor.domain.formulas import realised_volatility
from monitor.domain.snapshot import RiskSnapshot
from tests.unit.alerts.snapshots import T0, asset, position, snapshot

SWAP = "okx:BTC-USDT-SWAP"
STAGED = {"liquidation_distance_low": {"stages": {"warning": 0.08, "emergency": 0.02}}}


def at(ts: int, distance: float, sigma: float | None = None) -> RiskSnapshot:
    """A snapshot with the leg ``distance`` from liquidation and BTC's realised volatility."""
    return snapshot(T0 + ts, positions=[position(liquidation_distance=distance, liquidation_price=65_000.0)],
                    assets={"BTC": asset(1.0, realised_volatility=sigma)})


def test_stages_escalate_once_each_and_resolve_once() -> None:
    """warning below 8 %, critical below 5 % (today's level), emergency below 2 %; a milder stage
    is not re-notified; the alert resolves at 9 % (the 8 % stage plus the rule's 1 % gap)."""
    engine = AlertEngine(AlertsConfig.from_mapping(STAGED, source="t"))
    seen = [(t.state, t.severity) for ts, distance in enumerate(
        [0.07, 0.069, 0.04, 0.015, 0.04, 0.07, 0.085, 0.095]) for t in engine.evaluate(at(ts, distance))]
    assert seen == [("firing", "warning"), ("firing", "critical"), ("firing", "emergency"),
                    ("resolved", "emergency")]


def test_an_escalation_has_its_own_id_and_the_stage_in_the_message() -> None:
    """The escalation's id is the firing's + ':critical'; the message names the stage."""
    engine = AlertEngine(AlertsConfig.from_mapping(STAGED, source="t"))
    fired = engine.evaluate(at(0, 0.07))[0]
    worse = engine.evaluate(at(1, 0.04))[0]
    assert worse.id == f"{fired.id}:critical"
    assert worse.since_ms == fired.since_ms
    assert worse.message.endswith("below 5.0 % [critical]")
    assert fired.message.endswith("below 8.0 % [warning]")


def test_without_stages_the_rule_is_todays() -> None:
    """The defaults: one critical stage below 5 %, resolved at 6 %; no stage in the message."""
    engine = AlertEngine(AlertsConfig())
    assert engine.evaluate(at(0, 0.07)) == []
    fired = engine.evaluate(at(1, 0.04))[0]
    assert (fired.severity, fired.threshold) == ("critical", 0.05)
    assert fired.message.endswith("below 5.0 %")
    assert [t.state for t in engine.evaluate(at(2, 0.061))] == ["resolved"]


def test_volatility_units_stage_a_calm_distance_in_a_wild_market() -> None:
    """9 % away is past every % stage, but with sigma 0.0002 per sqrt-second it is
    0.09 / (0.0002 x sqrt(3600)) = 0.09 / 0.012 = 7.5 units over 1 h: below the warning's 8."""
    config = AlertsConfig.from_mapping({"liquidation_distance_low": {
        "stages": {"warning": 0.08}, "vol_stages": {"warning": 8.0, "critical": 6.0}}}, source="t")
    engine = AlertEngine(config)
    fired = engine.evaluate(at(0, 0.09, sigma=0.0002))
    assert [(t.state, t.severity) for t in fired] == [("firing", "warning")]
    assert "(7.5 volatility units over 1 h)" in fired[0].message
    # 0.07 / 0.012 = 5.8 units < 6: critical by volatility (the % stage says warning)
    assert [(t.state, t.severity) for t in engine.evaluate(at(1, 0.07, sigma=0.0002))] == [
        ("firing", "critical")]
    # calmer market: 0.1 / (0.0001 x 60) = 16.7 units >= 1.2 x 8 = 9.6, and 10 % >= 9 %: resolved
    assert [t.state for t in engine.evaluate(at(2, 0.10, sigma=0.0001))] == ["resolved"]


def test_the_vol_horizon_is_configurable() -> None:
    """Over 4 h: 0.09 / (0.0002 x sqrt(14400)) = 0.09 / 0.024 = 3.75 units."""
    config = AlertsConfig.from_mapping({"liquidation_distance_low": {
        "vol_stages": {"warning": 4.0}, "vol_horizon_s": 14_400}}, source="t")
    fired = AlertEngine(config).evaluate(at(0, 0.09, sigma=0.0002))
    assert "(3.8 volatility units over 4 h)" in fired[0].message


def test_an_unknown_volatility_does_not_clear_or_fire_by_volatility() -> None:
    """No realised volatility yet: the % stages alone decide."""
    config = AlertsConfig.from_mapping({"liquidation_distance_low": {"vol_stages": {"warning": 8.0}}},
                                       source="t")
    engine = AlertEngine(config)
    assert engine.evaluate(at(0, 0.09)) == []
    assert [t.severity for t in engine.evaluate(at(1, 0.04))] == ["critical"]


def test_realised_volatility_by_hand() -> None:
    """Prices 100, 110, 99 every 60 s: returns ln 1.1 = 0.0953102, ln 0.9 = -0.1053605; mean
    -0.0050252; s = sqrt(2 x 0.1003353^2 / 1) = 0.1418958; / sqrt(60) = 0.0183187."""
    assert realised_volatility([100.0, 110.0, 99.0], 60.0) == pytest.approx(0.0183187, abs=1e-7)
    assert realised_volatility([100.0, 110.0], 60.0) is None


def test_a_checkpointed_emergency_restores() -> None:
    """The engine's checkpoint takes the emergency severity."""
    engine = AlertEngine(AlertsConfig.from_mapping(STAGED, source="t"))
    engine.evaluate(at(0, 0.01))
    restored = AlertEngine(AlertsConfig.from_mapping(STAGED, source="t"))
    restored.restore(engine.state())
    assert restored.firing() == [("alice", "liquidation_distance_low", SWAP, "emergency")]


@pytest.mark.parametrize(("table", "where", "reason"), [
    ({"stages": {"emergency": 0.1}}, "liquidation_distance_low.stages.emergency", "below the critical"),
    ({"stages": {"warning": 0.03}}, "liquidation_distance_low.stages.critical", "below the warning"),
    ({"stages": {"panic": 0.01}}, "liquidation_distance_low.stages.panic", "warning, critical or emergency"),
    ({"stages": {"critical": 0.03}}, "liquidation_distance_low.stages.critical", "set by threshold"),
    ({"stages": [0.08]}, "liquidation_distance_low.stages", "a table of stage = level"),
    ({"vol_horizon_s": 0}, "liquidation_distance_low.vol_horizon_s", "greater than 0"),
    ({"vol_stages": {"warning": -1}}, "liquidation_distance_low.vol_stages.warning", "greater than 0"),
])
def test_stage_errors_name_the_key(table: dict[str, Any], where: str, reason: str) -> None:
    """Every stage mistake names the file, key path and the fix."""
    with pytest.raises(AlertConfigError) as raised:
        AlertsConfig.from_mapping({"liquidation_distance_low": table}, source="hedge.toml")
    assert str(raised.value).startswith(f"hedge.toml: alerts.{where}: ")
    assert reason in str(raised.value)


def test_only_the_liquidation_rule_has_stages() -> None:
    """A stage key on another rule is an unknown key."""
    with pytest.raises(AlertConfigError, match=r"margin_ratio_high\.stages: unknown key"):
        AlertsConfig.from_mapping({"margin_ratio_high": {"stages": {"warning": 0.5}}}, source="t")


def test_the_remediation_restores_where_the_alert_resolves() -> None:
    """Defaults: 6 % (the clear level); with a warning stage at 8 %: 8 % + (6 % - 5 %) = 9 %."""
    assert AlertsConfig().remediation_distance == pytest.approx(0.06)
    assert AlertsConfig.from_mapping(STAGED, source="t").remediation_distance == pytest.approx(0.09)

