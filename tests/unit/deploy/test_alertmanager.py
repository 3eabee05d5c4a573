"""Alertmanager config: amtool accepts it and routes each severity to its own receiver."""

from __future__ import annotations

import pytest

from tests.unit.deploy.tooling import ALERTMANAGER_DIR, require_tool, run_tool

CONFIG = str(ALERTMANAGER_DIR / "alertmanager.yml")


def test_alertmanager_config_is_valid() -> None:
    """``amtool check-config`` accepts alertmanager.yml."""
    amtool = require_tool("amtool")
    result = run_tool(amtool, "check-config", CONFIG)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["alertname=HedgeMarginBufferCritical", "severity=critical", "portfolio=alice"],
         "hedge-critical"),
        (["alertname=liquidation_distance_low", "severity=emergency", "portfolio=alice",
          "source=hedge-monitor"], "hedge-critical"),
        (["alertname=HedgeFeedStale", "severity=warning"], "hedge-warning"),
        (["alertname=HedgeExpiringSoon", "severity=info", "portfolio=alice"], "hedge-info"),
        (["alertname=Unclassified"], "hedge-warning"),
    ],
)
def test_routes_by_severity(labels: list[str], receiver: str) -> None:
    """``amtool config routes test`` sends each severity to its receiver (default: warning)."""
    amtool = require_tool("amtool")
    result = run_tool(amtool, "config", "routes", "test", f"--config.file={CONFIG}",
                      f"--verify.receivers={receiver}", *labels)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receiver


def test_route_test_detects_a_wrong_receiver() -> None:
    """The route check fails when the expected receiver is not the one routed to."""
    amtool = require_tool("amtool")
    result = run_tool(amtool, "config", "routes", "test", f"--config.file={CONFIG}",
                      "--verify.receivers=hedge-info", "severity=critical")
    assert result.returncode != 0
