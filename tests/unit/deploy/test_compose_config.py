"""The monitor configuration inlined in docker-compose.yml loads with the compose environment."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from monitor.config import parse_config

ROOT = Path(__file__).resolve().parents[3]


def test_inline_monitor_config_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stack's /config/monitor.toml is a valid config once the service environment is set."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    environment = compose["services"]["monitor-ingest"]["environment"]
    for name, value in environment.items():
        monkeypatch.setenv(name, str(value))
    text = compose["configs"]["monitor-config"]["content"]
    config = parse_config(text, source="docker-compose.yml#monitor-config")
    assert [a.id for a in config.accounts] == ["okx-main", "spot-main"]
    assert config.accounts[0].ws_base_url == "ws://simulator:8765/okx"
    assert config.settings_for("seed").plans["BTC"].instrument == "okx:BTC-USDT-SWAP"
