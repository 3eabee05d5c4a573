"""AlertsConfig: defaults, overrides from a config table and exact error messages."""

from __future__ import annotations

from typing import Any

import pytest

from monitor.alerts import RULE_NAMES, AlertConfigError, AlertsConfig, RuleConfig


def test_defaults_match_the_documented_levels() -> None:
    """The default levels are the ones the brief and the rules table document."""
    config = AlertsConfig()
    assert config.margin_buffer_low == RuleConfig(0.5, 0.55, 0, "warning", True)
    assert config.margin_ratio_high == RuleConfig(0.8, 0.75, 0, "critical", True)
    assert config.liquidation_distance_low == RuleConfig(0.05, 0.06, 0, "critical", True)
    assert config.dollar_offset_out_of_band.threshold == 0.80
    assert config.r2_low.threshold == 0.80
    assert config.basis_wide.threshold == 100.0
    assert config.hedge_expired == RuleConfig(None, None, 0, "warning", True)
    assert config.position_mismatch.severity == "critical"
    assert tuple(config.rule(name) for name in RULE_NAMES) == tuple(
        getattr(config, name) for name in RULE_NAMES
    )


def test_from_mapping_overrides_only_the_given_keys() -> None:
    """Keys given replace the defaults; every other setting keeps its default."""
    config = AlertsConfig.from_mapping(
        {
            "margin_buffer_low": {"threshold": 0.4, "clear_threshold": 0.5, "severity": "critical"},
            "basis_wide": {"for_ms": 0},
            "stale_feed": {"enabled": False},
        },
        source="monitor.toml",
    )
    assert config.margin_buffer_low == RuleConfig(0.4, 0.5, 0, "critical", True)
    assert config.basis_wide == RuleConfig(100.0, 80.0, 0, "info", True)
    assert config.stale_feed.enabled is False
    assert config.margin_ratio_high == AlertsConfig().margin_ratio_high


def test_threshold_alone_keeps_the_hysteresis_gap() -> None:
    """Setting only the threshold moves the clear level with it by the default gap."""
    config = AlertsConfig.from_mapping(
        {"margin_buffer_low": {"threshold": 0.3}, "margin_ratio_high": {"threshold": 0.9}},
        source="monitor.toml",
    )
    # default gap 0.55 - 0.50 = +0.05, so 0.30 + 0.05 = 0.35
    assert config.margin_buffer_low.clear_threshold == pytest.approx(0.35)
    # default gap 0.75 - 0.80 = -0.05, so 0.90 - 0.05 = 0.85
    assert config.margin_ratio_high.clear_threshold == pytest.approx(0.85)


def test_per_portfolio_table_overrides_the_global_one() -> None:
    """With base=, a per-portfolio table starts from the global settings, not the defaults."""
    global_config = AlertsConfig.from_mapping(
        {"r2_low": {"threshold": 0.7, "clear_threshold": 0.75}}, source="monitor.toml"
    )
    alice = AlertsConfig.from_mapping(
        {"r2_low": {"severity": "critical"}},
        source="monitor.toml",
        prefix="alerts.portfolios.alice",
        base=global_config,
    )
    assert alice.r2_low == RuleConfig(0.7, 0.75, 0, "critical", True)


RULE_LIST = (
    "hedge_ratio_low, hedge_ratio_high, margin_buffer_low, margin_ratio_high,"
    " liquidation_distance_low, dollar_offset_out_of_band, r2_low, basis_wide,"
    " cost_budget_exceeded, hedge_expired, exit_level_crossed, stop_loss_hit, stale_feed,"
    " position_mismatch, funding_cost_high, model_divergence, account_margin_ratio_high, adl_top_bucket,"
    " hedge_broken, unpriced_position"
)


@pytest.mark.parametrize(
    ("data", "path", "expected"),
    [
        (
            {"margin_buffer_low": {"threshold": "abc"}},
            "alerts.margin_buffer_low.threshold",
            "expected a number between 0 and 1, got 'abc'",
        ),
        (
            {"margin_buffer_low": {"threshold": 1.5}},
            "alerts.margin_buffer_low.threshold",
            "expected a number between 0 and 1, got 1.5",
        ),
        (
            {"margin_buffer": {"threshold": 0.5}},
            "alerts.margin_buffer",
            f"unknown rule; expected one of: {RULE_LIST}",
        ),
        (
            {"r2_low": {"treshold": 0.5}},
            "alerts.r2_low.treshold",
            "unknown key; expected one of: clear_threshold, enabled, for_ms, severity, threshold",
        ),
        (
            {"hedge_expired": {"threshold": 1}},
            "alerts.hedge_expired.threshold",
            "unknown key; expected one of: enabled, for_ms, severity (this rule has no threshold)",
        ),
        (
            {"margin_buffer_low": {"threshold": 0.5, "clear_threshold": 0.4}},
            "alerts.margin_buffer_low.clear_threshold",
            "expected a number at or above the threshold 0.5, got 0.4",
        ),
        (
            {"margin_ratio_high": {"clear_threshold": 0.9}},
            "alerts.margin_ratio_high.clear_threshold",
            "expected a number at or below the threshold 0.8, got 0.9",
        ),
        (
            {"basis_wide": {"for_ms": 1.5}},
            "alerts.basis_wide.for_ms",
            "expected a non-negative integer of milliseconds, got 1.5",
        ),
        (
            {"basis_wide": {"for_ms": -1}},
            "alerts.basis_wide.for_ms",
            "expected a non-negative integer of milliseconds, got -1",
        ),
        (
            {"stop_loss_hit": {"severity": "page"}},
            "alerts.stop_loss_hit.severity",
            "expected one of 'critical', 'warning', 'info', got 'page'",
        ),
        (
            {"stale_feed": {"enabled": "yes"}},
            "alerts.stale_feed.enabled",
            "expected true or false, got 'yes'",
        ),
        (
            {"basis_wide": {"threshold": True}},
            "alerts.basis_wide.threshold",
            "expected a number greater than 0, got True",
        ),
        (
            {"dollar_offset_out_of_band": {"threshold": 1.0}},
            "alerts.dollar_offset_out_of_band.threshold",
            "expected a number greater than 0 and less than 1, got 1.0",
        ),
        (
            {"r2_low": 0.8},
            "alerts.r2_low",
            "expected a table of rule settings, got 0.8",
        ),
    ],
)
def test_from_mapping_error_messages_are_exact(data: dict[str, Any], path: str, expected: str) -> None:
    """Each invalid setting is rejected with the file, the key path and what is expected."""
    with pytest.raises(AlertConfigError) as caught:
        AlertsConfig.from_mapping(data, source="monitor.toml")
    assert str(caught.value) == f"monitor.toml: {path}: {expected}"


def test_direct_construction_is_checked_too() -> None:
    """An AlertsConfig built in code is checked like one read from a file."""
    with pytest.raises(AlertConfigError) as caught:
        AlertsConfig(margin_buffer_low=RuleConfig(0.5, 0.45))
    assert str(caught.value) == (
        "AlertsConfig: margin_buffer_low.clear_threshold: expected a number at or above the"
        " threshold 0.5, got 0.45"
    )
