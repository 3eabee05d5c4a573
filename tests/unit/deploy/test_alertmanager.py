"""Alertmanager config: amtool accepts it and routes each severity to its own receiver."""

from __future__ import annotations

import re
from pathlib import Path

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


RECEIVERS_DIR = ALERTMANAGER_DIR / "receivers"
RECEIVER_SECRET_KEYS = {
    "telegram.yml": "bot_token_file",
    "slack.yml": "api_url_file",
    "email.yml": "smtp_auth_password_file",
    "webhook.yml": "credentials_file",
}
# Keys that would hold a secret inline; the examples must read every secret from a file.
INLINE_SECRETS = re.compile(r"^\s*(bot_token|api_url|auth_password|smtp_auth_password|credentials|"
                            r"password|bearer_token):", re.MULTILINE)


def _alertmanager_version(amtool: str) -> tuple[int, int]:
    result = run_tool(amtool, "--version")
    match = re.search(r"version (\d+)\.(\d+)", result.stdout + result.stderr)
    assert match is not None, result.stdout + result.stderr
    return int(match.group(1)), int(match.group(2))


def test_every_example_receiver_is_shipped() -> None:
    """Telegram, Slack, email and a generic webhook, nothing unexpected."""
    assert sorted(path.name for path in RECEIVERS_DIR.glob("*.yml")) == sorted(RECEIVER_SECRET_KEYS)


@pytest.mark.parametrize("name", sorted(RECEIVER_SECRET_KEYS))
def test_example_receiver_reads_its_secret_from_a_file(name: str) -> None:
    """The secret is a ``*_file`` key; no key holds a secret inline."""
    text = (RECEIVERS_DIR / name).read_text(encoding="utf-8")
    assert f"{RECEIVER_SECRET_KEYS[name]}: /run/secrets/" in text
    assert INLINE_SECRETS.findall(text) == []
    assert "remediation" in text


@pytest.mark.parametrize("name", sorted(RECEIVER_SECRET_KEYS))
def test_example_receiver_passes_amtool(name: str, tmp_path: Path) -> None:
    """``amtool check-config`` accepts each example.

    Telegram's ``bot_token_file`` needs Alertmanager 0.26 or newer: on an older amtool (Debian 12
    ships 0.25) the file is checked with the key swapped for an inline placeholder, and the original
    must fail on that key alone.
    """
    amtool = require_tool("amtool")
    path = RECEIVERS_DIR / name
    if name == "telegram.yml" and _alertmanager_version(amtool) < (0, 26):
        original = run_tool(amtool, "check-config", str(path))
        assert original.returncode != 0
        assert re.findall(r"field (\w+) not found", original.stdout + original.stderr) == [
            "bot_token_file", "bot_token_file"]
        swapped = tmp_path / name
        swapped.write_text(path.read_text(encoding="utf-8").replace(
            "bot_token_file: /run/secrets/telegram_bot_token", 'bot_token: "0:placeholder"'),
            encoding="utf-8")
        path = swapped
    result = run_tool(amtool, "check-config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("name", "receiver"), [
    ("slack.yml", "slack-critical"), ("email.yml", "email-critical"), ("webhook.yml", "webhook-critical"),
])
def test_example_receivers_route_critical_and_emergency_together(name: str, receiver: str) -> None:
    """An emergency stage reaches the same receiver as a critical one."""
    amtool = require_tool("amtool")
    for severity in ("critical", "emergency"):
        result = run_tool(amtool, "config", "routes", "test", f"--config.file={RECEIVERS_DIR / name}",
                          f"--verify.receivers={receiver}", f"severity={severity}", "portfolio=alice")
        assert result.returncode == 0, result.stdout + result.stderr
