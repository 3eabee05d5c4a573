"""Problems as structured items: a key path and a message, made into text only when shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.alerts.config import AlertConfigError, AlertsConfig
from monitor.config import ConfigError, ConfigProblem, load_config, parse_config
from monitor.config.checker import Checker, Locator
from monitor.domain.instruments import CatalogError, instrument_from_mapping


def _problems(text: str) -> tuple[ConfigProblem, ...]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="t.toml")
    return caught.value.problems


def test_problem_holds_the_key_path_and_the_message() -> None:
    """A bad value in the second [[accounts]] is a problem at ("accounts", 1, "portfolio"), line 9."""
    text = (
        '[[accounts]]\nid = "a"\nvenue = "okx"\nportfolio = "p"\n'
        '[[accounts]]\nid = "b"\nvenue = "binance"\n\nportfolio = 5\n'
    )
    (problem,) = _problems(text)
    assert problem == ConfigProblem("t.toml", 9, ("accounts", 1, "portfolio"), "expected a string, got 5")
    assert problem.key == "accounts[1].portfolio"
    assert str(problem) == "t.toml:9: accounts[1].portfolio: expected a string, got 5"


def test_problem_of_the_whole_file_has_no_key_path(tmp_path: Path) -> None:
    """A file that cannot be read is one problem with line 0 and an empty key path."""
    path = tmp_path / "absent.toml"
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (problem,) = caught.value.problems
    assert (problem.line, problem.key_path, problem.key) == (0, (), "")
    assert problem.message == "cannot read the file: No such file or directory"


def test_rule_problem_keeps_its_place_under_an_odd_portfolio_id() -> None:
    """A rule's error carries its key path, so a portfolio id with ': ' in it cannot misplace it."""
    problems = _problems('[portfolios."x: y".alerts.r2_low]\nthreshold = 2\n')
    assert problems == (
        ConfigProblem("t.toml", 1, ("portfolios", "x: y"),
                      "expected an id of letters, digits, '_' and '-' (at most 64) as the portfolio id, "
                      "got 'x: y'"),
        # r2_low's threshold is a fraction: 2 is outside [0, 1]
        ConfigProblem("t.toml", 2, ("portfolios", "x: y", "alerts", "r2_low", "threshold"),
                      "expected a number between 0 and 1, got 2"),
    )
    assert str(problems[1]) == (
        't.toml:2: portfolios."x: y".alerts.r2_low.threshold: expected a number between 0 and 1, got 2')


def test_alert_config_error_carries_where_and_why() -> None:
    """AlertConfigError names the rule and setting under its table apart from the reason."""
    with pytest.raises(AlertConfigError) as caught:
        AlertsConfig.from_mapping({"r2_low": {"threshold": 2}}, source="m.toml", prefix="portfolios.a.alerts")
    error = caught.value
    assert (error.source, error.prefix) == ("m.toml", "portfolios.a.alerts")
    assert error.key_path == ("r2_low", "threshold")
    assert error.reason == "expected a number between 0 and 1, got 2"
    assert str(error) == (
        "m.toml: portfolios.a.alerts.r2_low.threshold: expected a number between 0 and 1, got 2")


def test_catalog_error_carries_the_reason_and_the_instrument() -> None:
    """CatalogError keeps the reason apart from the instrument it is about."""
    with pytest.raises(CatalogError) as caught:
        instrument_from_mapping("okx:SOL-USDT-SWAP", {"kind": "linear", "base": "SOL", "contract_size": 0})
    error = caught.value
    assert error.instrument_id == "okx:SOL-USDT-SWAP"
    assert error.reason == "a linear contract needs contract_size > 0"
    assert str(error) == "instrument okx:SOL-USDT-SWAP: a linear contract needs contract_size > 0"


def test_checker_reports_at_the_line_of_the_key() -> None:
    """The checker alone: a bad value gives the fallback and a problem on the key's own line."""
    check = Checker("t.toml", Locator("[metrics]\n\nport = 'x'\n"))
    assert check.integer({"port": "x"}, ("metrics",), "port", 9464, low=0, high=65_535) == 9464
    assert check.problems == [
        ConfigProblem("t.toml", 3, ("metrics", "port"), "expected an integer between 0 and 65535, got 'x'"),
    ]
