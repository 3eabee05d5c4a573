"""Each alert rule fires on a constructed risk snapshot and resolves past its clear level."""

from __future__ import annotations

import pytest

from monitor.alerts import AlertEngine, AlertsConfig, AlertTransition
from tests.unit.alerts.snapshots import T0, asset, position, snapshot

SWAP = "okx:BTC-USDT-SWAP"


def only(transitions: list[AlertTransition]) -> AlertTransition:
    """The single transition of a list (fails the test if there are zero or several)."""
    assert len(transitions) == 1, transitions
    return transitions[0]


def test_hedge_ratio_low_fires_below_the_band_and_resolves_near_target() -> None:
    """hedge_ratio_low fires under target - band and resolves at target - band / 2."""
    engine = AlertEngine(AlertsConfig())
    # 120 contracts * 0.01 BTC / 1.5 BTC = 0.80 < 1.00 - 0.10 = 0.90
    fired = only(engine.evaluate(snapshot(T0, assets={"BTC": asset(0.80)})))
    assert (fired.rule, fired.subject, fired.state) == ("hedge_ratio_low", "BTC", "firing")
    assert fired.value == pytest.approx(0.80)
    assert fired.threshold == pytest.approx(0.90)
    assert fired.message == "BTC hedge ratio 0.80 is below the target band 0.90\u20131.10 (target 1.00)"
    # 0.96 >= 1.00 - 0.5 * 0.10 = 0.95
    resolved = only(engine.evaluate(snapshot(T0 + 1000, assets={"BTC": asset(0.96)})))
    assert (resolved.state, resolved.id) == ("resolved", f"{fired.id}:resolved")
    assert resolved.threshold == pytest.approx(0.95)
    assert resolved.message == (
        "BTC hedge ratio 0.96 is back within 0.95\u20131.05 (target 1.00, band 0.90\u20131.10)"
    )


def test_hedge_ratio_high_uses_the_snapshot_target_and_band() -> None:
    """hedge_ratio_high reads target and band from the snapshot, not the rule's default band."""
    engine = AlertEngine(AlertsConfig())
    # target 0.5, band 0.2: fires above 0.5 + 0.2 = 0.7; 0.75 > 0.7
    fired = only(engine.evaluate(snapshot(T0, assets={"ETH": asset(0.75, target=0.5, band=0.2)})))
    assert (fired.rule, fired.subject) == ("hedge_ratio_high", "ETH")
    assert fired.threshold == pytest.approx(0.7)
    assert fired.message == "ETH hedge ratio 0.75 is above the target band 0.30\u20130.70 (target 0.50)"
    # 0.65 is inside the band but above the clear level 0.5 + 0.5 * 0.2 = 0.6: still firing
    assert engine.evaluate(snapshot(T0 + 1, assets={"ETH": asset(0.65, target=0.5, band=0.2)})) == []
    # 0.58 <= 0.60: resolved
    resolved = only(engine.evaluate(snapshot(T0 + 2, assets={"ETH": asset(0.58, target=0.5, band=0.2)})))
    assert resolved.state == "resolved"
    assert resolved.threshold == pytest.approx(0.6)


def test_hedge_ratio_band_falls_back_to_the_rule_threshold() -> None:
    """A null hedge_band uses the rule's threshold as the band."""
    config = AlertsConfig.from_mapping({"hedge_ratio_low": {"threshold": 0.25}}, source="t")
    engine = AlertEngine(config)
    # band 0.25: fires below 1.00 - 0.25 = 0.75, so 0.80 does not fire, 0.70 does
    assert engine.evaluate(snapshot(T0, assets={"BTC": asset(0.80, band=None)})) == []
    fired = only(engine.evaluate(snapshot(T0 + 1, assets={"BTC": asset(0.70, band=None)})))
    assert fired.threshold == pytest.approx(0.75)


def test_margin_buffer_low_reports_the_worst_account() -> None:
    """margin_buffer_low fires on the lowest buffer among accounts holding the instrument."""
    engine = AlertEngine(AlertsConfig())
    # (9000 - 4860) / 9000 = 0.46 < 0.50 in account b; account a has (9000 - 900) / 9000 = 0.90
    low = [
        position(account="a", margin_buffer_fraction=0.90),
        position(account="b", margin_buffer_fraction=(9000 - 4860) / 9000),
    ]
    fired = only(engine.evaluate(snapshot(T0, positions=low)))
    assert (fired.rule, fired.subject, fired.severity) == ("margin_buffer_low", SWAP, "warning")
    assert fired.value == pytest.approx(0.46)
    assert fired.message == (
        "okx:BTC-USDT-SWAP margin buffer is 46.0 % of margin balance (account b), below 50.0 %"
    )
    # (9000 - 4500) / 9000 = 0.50: not below 0.50, not yet at the clear level 0.55
    between = [position(account="b", margin_buffer_fraction=0.50)]
    assert engine.evaluate(snapshot(T0 + 1, positions=between)) == []
    # (9000 - 3960) / 9000 = 0.56 >= 0.55
    recovered = [position(account="b", margin_buffer_fraction=(9000 - 3960) / 9000)]
    resolved = only(engine.evaluate(snapshot(T0 + 2, positions=recovered)))
    assert resolved.state == "resolved"
    assert resolved.threshold == pytest.approx(0.55)


def test_margin_ratio_high_fires_above_the_level() -> None:
    """margin_ratio_high (critical) fires above 0.80 and resolves at or below 0.75."""
    engine = AlertEngine(AlertsConfig())
    # 7650 / 9000 = 0.85 > 0.80
    fired = only(engine.evaluate(snapshot(T0, positions=[position(margin_ratio=7650 / 9000)])))
    assert (fired.rule, fired.severity, fired.threshold) == ("margin_ratio_high", "critical", 0.8)
    assert fired.message == (
        "okx:BTC-USDT-SWAP margin ratio 85.0 % (account okx-main) is above 80.0 %; liquidation at 100.0 %"
    )
    # 6300 / 9000 = 0.70 <= 0.75
    resolved = only(engine.evaluate(snapshot(T0 + 1, positions=[position(margin_ratio=0.70)])))
    assert (resolved.state, resolved.threshold) == ("resolved", 0.75)


def test_liquidation_distance_low_names_the_liquidation_price() -> None:
    """liquidation_distance_low fires under 5 % from the liquidation price."""
    engine = AlertEngine(AlertsConfig())
    # |62400 - 60000| / 60000 = 0.04 < 0.05
    near = position(liquidation_price=62400.0, liquidation_distance=2400 / 60000)
    fired = only(engine.evaluate(snapshot(T0, positions=[near])))
    assert fired.rule == "liquidation_distance_low"
    assert fired.message == (
        "okx:BTC-USDT-SWAP is 4.0 % from its liquidation price 62,400.00 (account okx-main), below 5.0 %"
    )
    # |64200 - 60000| / 60000 = 0.07 >= 0.06
    far = position(liquidation_price=64200.0, liquidation_distance=4200 / 60000)
    assert only(engine.evaluate(snapshot(T0 + 1, positions=[far]))).state == "resolved"


@pytest.mark.parametrize(
    ("offset", "threshold"),
    [
        # -(F_t - F_0) / (S_t - S_0) = 7000 / 10000 = 0.70 < 0.80
        (7000 / 10000, 0.80),
        # 13000 / 10000 = 1.30 > 1 / 0.80 = 1.25
        (13000 / 10000, 1.25),
    ],
)
def test_dollar_offset_fires_outside_80_125(offset: float, threshold: float) -> None:
    """dollar_offset_out_of_band fires on either side of 0.80-1.25 and names the bound crossed."""
    engine = AlertEngine(AlertsConfig())
    fired = only(engine.evaluate(snapshot(T0, effectiveness={"BTC": {"dollar_offset": offset, "r2": None}})))
    assert fired.rule == "dollar_offset_out_of_band"
    assert fired.threshold == pytest.approx(threshold)
    assert fired.message == (f"BTC dollar offset {offset:.2f} is outside the effective range 0.80\u20131.25")
    # 9800 / 10000 = 0.98 within [0.85, 1 / 0.85 = 1.18]
    resolved = only(engine.evaluate(snapshot(T0 + 1, effectiveness={"BTC": {"dollar_offset": 0.98}})))
    assert resolved.message == "BTC dollar offset 0.98 is back within 0.85\u20131.18"


def test_r2_low_fires_below_080() -> None:
    """r2_low fires when the regression R² drops under 0.80 and resolves at 0.85."""
    engine = AlertEngine(AlertsConfig())
    # R² = 0.8 ** 2 = 0.64 < 0.80
    weak = {"BTC": {"r2": 0.64, "samples": 60, "dollar_offset": None}}
    fired = only(engine.evaluate(snapshot(T0, effectiveness=weak)))
    assert fired.message == "BTC hedge regression R\u00b2 0.64 over 60 samples is below 0.80"
    # 0.82 is between 0.80 and 0.85: keeps firing; 0.90 >= 0.85 resolves
    assert engine.evaluate(snapshot(T0 + 1, effectiveness={"BTC": {"r2": 0.82}})) == []
    assert only(engine.evaluate(snapshot(T0 + 2, effectiveness={"BTC": {"r2": 0.9}}))).state == ("resolved")


def test_basis_wide_fires_on_either_sign_after_its_for_duration() -> None:
    """basis_wide compares |basis_bps| with 100 bps and waits its default 60 s."""
    engine = AlertEngine(AlertsConfig())
    # (59100 - 60000) / 60000 * 10000 = -150 bps, |-150| > 100
    wide = [position(basis_bps=(59100 - 60000) / 60000 * 10000)]
    assert engine.evaluate(snapshot(T0, positions=wide)) == []
    assert engine.evaluate(snapshot(T0 + 59_999, positions=wide)) == []
    fired = only(engine.evaluate(snapshot(T0 + 60_000, positions=wide)))
    assert (fired.rule, fired.since_ms, fired.ts_ms) == ("basis_wide", T0, T0 + 60_000)
    assert fired.value == pytest.approx(-150.0)
    assert fired.message == "okx:BTC-USDT-SWAP basis -150.0 bps is wider than \u00b1100.0 bps"
    # (60300 - 60000) / 60000 * 10000 = +50 bps <= 80
    narrow = [position(basis_bps=50.0)]
    resolved = only(engine.evaluate(snapshot(T0 + 61_000, positions=narrow)))
    assert resolved.message == "okx:BTC-USDT-SWAP basis +50.0 bps is back within \u00b180.0 bps"


def test_cost_budget_exceeded_compares_hedge_cost_with_the_budget() -> None:
    """cost_budget_exceeded fires when hedge cost passes the budget, resolves under 95 % of it."""
    engine = AlertEngine(AlertsConfig())
    # hedge cost = fees 400 + funding paid 900 - received 100 = 1200 > 1000
    costs = {"fees_usd": 400.0, "hedge_cost_usd": 400.0 + 900.0 - 100.0, "cost_budget_usd": 1000.0}
    fired = only(engine.evaluate(snapshot(T0, costs=costs)))
    assert (fired.rule, fired.subject, fired.value, fired.threshold) == (
        "cost_budget_exceeded",
        "portfolio",
        1200.0,
        1000.0,
    )
    assert fired.message == ("hedge cost 1,200.00 USD is above 100.0 % of the cost budget 1,000.00 USD")
    # 960 is under the budget but above 0.95 * 1000 = 950: still firing; 900 <= 950 resolves
    assert engine.evaluate(snapshot(T0 + 1, costs={**costs, "hedge_cost_usd": 960.0})) == []
    resolved = only(engine.evaluate(snapshot(T0 + 2, costs={**costs, "hedge_cost_usd": 900.0})))
    assert (resolved.state, resolved.threshold) == ("resolved", 950.0)


@pytest.mark.parametrize(
    ("rule", "flag", "severity", "message"),
    [
        ("hedge_expired", "expired", "warning",
         "BTC hedge plan has expired: roll or close the hedge"),
        ("exit_level_crossed", "exit_level_crossed", "warning",
         "BTC price at 65,100.00 crossed the hedge plan's exit level"),
        ("stop_loss_hit", "stop_loss_hit", "critical", "BTC hedge leg reached its stop-loss"),
    ],
)  # fmt: skip
def test_lifecycle_flags_fire_and_resolve(rule: str, flag: str, severity: str, message: str) -> None:
    """Each lifecycle flag fires its own rule while true and resolves when false."""
    engine = AlertEngine(AlertsConfig())
    flags = {"expired": False, "exit_level_crossed": False, "stop_loss_hit": False}
    assets = {"BTC": asset(1.0, price=65100.0)}
    assert engine.evaluate(snapshot(T0, assets=assets, lifecycle={"BTC": flags})) == []
    fired = only(engine.evaluate(snapshot(T0 + 1, assets=assets, lifecycle={"BTC": {**flags, flag: True}})))
    assert (fired.rule, fired.subject, fired.severity, fired.message) == (
        rule,
        "BTC",
        severity,
        message,
    )
    assert (fired.value, fired.threshold) == (None, None)
    resolved = only(engine.evaluate(snapshot(T0 + 2, assets=assets, lifecycle={"BTC": flags})))
    assert (resolved.rule, resolved.state) == (rule, "resolved")


def test_stale_feed_only_alerts_on_held_instruments() -> None:
    """stale_feed fires for a stale instrument the portfolio holds and ignores the others."""
    engine = AlertEngine(AlertsConfig())
    held = [position()]
    fired = only(engine.evaluate(snapshot(T0, positions=held, stale=[SWAP, "binance:ETHUSDT"])))
    assert (fired.rule, fired.subject) == ("stale_feed", SWAP)
    assert fired.message == (
        "okx:BTC-USDT-SWAP price feed is stale; risk figures that use it are out of date"
    )
    resolved = only(engine.evaluate(snapshot(T0 + 1, positions=held, stale=["binance:ETHUSDT"])))
    assert (resolved.state, resolved.message) == (
        "resolved",
        "okx:BTC-USDT-SWAP price feed is live again",
    )


def test_position_mismatch_is_reported_externally() -> None:
    """position_mismatch fires and resolves through report_condition with the caller's message."""
    engine = AlertEngine(AlertsConfig())
    fired = only(
        engine.report_condition(
            "alice", "position_mismatch", SWAP, True, 10.0, T0, "resync found -140, book has -150"
        )
    )
    assert (fired.rule, fired.severity, fired.value, fired.message) == (
        "position_mismatch",
        "critical",
        10.0,
        "resync found -140, book has -150",
    )
    # reporting the same condition again is not a new firing
    assert engine.report_condition("alice", "position_mismatch", SWAP, True, 10.0, T0 + 1, "") == []
    # a snapshot never resolves an externally reported condition
    assert engine.evaluate(snapshot(T0 + 2)) == []
    resolved = only(
        engine.report_condition("alice", "position_mismatch", SWAP, False, 0.0, T0 + 3, "matched")
    )
    assert (resolved.state, resolved.id, resolved.message) == (
        "resolved",
        f"{fired.id}:resolved",
        "matched",
    )


def test_report_condition_rejects_snapshot_rules() -> None:
    """Only externally detected rules can be reported; snapshot rules raise ValueError."""
    engine = AlertEngine(AlertsConfig())
    with pytest.raises(ValueError, match="not an externally reported rule"):
        engine.report_condition("alice", "margin_ratio_high", SWAP, True, 0.9, T0, "")


def test_closed_position_resolves_its_alerts() -> None:
    """A position that leaves the snapshot resolves its alerts with a null value."""
    engine = AlertEngine(AlertsConfig())
    only(engine.evaluate(snapshot(T0, positions=[position(margin_ratio=0.9)])))
    resolved = only(engine.evaluate(snapshot(T0 + 1, positions=[])))
    assert (resolved.rule, resolved.state, resolved.value, resolved.threshold) == (
        "margin_ratio_high",
        "resolved",
        None,
        None,
    )
    assert resolved.message == (
        "okx:BTC-USDT-SWAP is no longer held (position closed); margin ratio high alert resolved"
    )


def test_null_figures_keep_the_state() -> None:
    """A null figure neither fires nor resolves."""
    engine = AlertEngine(AlertsConfig())
    only(engine.evaluate(snapshot(T0, assets={"BTC": asset(0.5)})))
    # hedge ratio undefined (no spot holding): keeps firing, publishes nothing
    assert engine.evaluate(snapshot(T0 + 1, assets={"BTC": asset(None)})) == []
    # target unknown: keeps firing
    assert engine.evaluate(snapshot(T0 + 2, assets={"BTC": asset(0.99, target=None)})) == []
    assert engine.firing() == [("alice", "hedge_ratio_low", "BTC", "warning")]
    # a position whose margin figures are all null starts no alert
    fresh = AlertEngine(AlertsConfig())
    assert fresh.evaluate(snapshot(T0, positions=[position()])) == []
    assert fresh.state() == {"v": 1, "alerts": []}
