"""Funding alerts on the accrued figure: net funding paid as a fraction of the leg's notional."""

from __future__ import annotations

from dataclasses import replace

from monitor.alerts import AlertEngine, AlertsConfig
from monitor.domain.snapshot import RiskSnapshot
from tests.unit.alerts.snapshots import T0, position, snapshot


def at(ts: int, accrued: float, rate: float = 0.0001) -> RiskSnapshot:
    """The seed leg (notional 90,000 USD) with ``accrued`` funding (negative: paid)."""
    return snapshot(T0 + ts, positions=[position(notional_usd=90_000.0, funding_accrued_usd=accrued,
                                                 funding_rate=rate)])


def test_net_funding_paid_over_a_tenth_of_a_percent_fires_and_resolves_with_hysteresis() -> None:
    """-120 USD on 90,000 = 0.133 % > 0.1 %: fires; -81 (0.09 %) holds; -72 (0.08 %) resolves."""
    engine = AlertEngine(AlertsConfig())
    fired = engine.evaluate(at(0, -120.0))
    assert [(t.rule, t.state, t.severity) for t in fired] == [("funding_cost_high", "firing", "warning")]
    assert fired[0].message.startswith(
        "okx:BTC-USDT-SWAP (account okx-main) has paid 120.00 USD net funding since the hedge began, "
        "0.13 % of its notional, above 0.10 %")
    assert engine.evaluate(at(1, -81.0)) == []
    assert [t.state for t in engine.evaluate(at(2, -72.0))] == ["resolved"]


def test_a_large_rate_of_either_sign_does_not_fire_on_its_own() -> None:
    """The rate flips sign often: with 50 USD paid in all (0.056 %), a 0.06 % rate fires nothing."""
    engine = AlertEngine(AlertsConfig())
    assert engine.evaluate(at(0, -50.0, rate=0.0006)) == []
    assert engine.evaluate(at(1, -50.0, rate=-0.0006)) == []
    assert engine.evaluate(at(2, 500.0, rate=0.0006)) == []  # received, not paid


def test_the_level_is_configurable_per_portfolio() -> None:
    """bob tolerates 0.5 % of notional; alice keeps the default 0.1 %."""
    bob = AlertsConfig.from_mapping({"funding_cost_high": {"threshold": 0.005}}, source="t")
    engine = AlertEngine(AlertsConfig(), {"bob": bob})
    assert engine.evaluate(replace(at(0, -120.0), portfolio="bob")) == []
    assert [t.rule for t in engine.evaluate(at(0, -120.0))] == ["funding_cost_high"]
