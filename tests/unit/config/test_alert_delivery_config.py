"""The alert parts of the config file: [alertmanager] for the bridge, stages per portfolio."""

from __future__ import annotations

import pytest

from monitor.config import ConfigError
from monitor.config.loader import parse_config


def test_alertmanager_section_configures_the_bridge() -> None:
    """url (required), resend_s and timeout_s; no section: no bridge."""
    config = parse_config('[alertmanager]\nurl = "http://127.0.0.1:9093/"\nresend_s = 30\n', source="m.toml")
    assert config.alertmanager is not None
    assert config.alertmanager.alerts_url == "http://127.0.0.1:9093/api/v2/alerts"
    assert config.alertmanager.resend_s == 30
    assert parse_config("", source="m.toml").alertmanager is None


@pytest.mark.parametrize(("text", "message"), [
    ("[alertmanager]\nresend_s = 30\n", "alertmanager.url: required"),
    ('[alertmanager]\nurl = "127.0.0.1:9093"\n', "alertmanager.url: expected a URL starting with http://"),
    ('[alertmanager]\nurl = "http://am"\nresend_s = 0\n', "alertmanager.resend_s"),
    ('[alertmanager]\nurl = "http://am"\nrepeat = 1\n', "alertmanager.repeat"),
])
def test_alertmanager_mistakes_name_the_key(text: str, message: str) -> None:
    """Every mistake names the file and the key."""
    with pytest.raises(ConfigError) as raised:
        parse_config(text, source="m.toml")
    assert "m.toml" in str(raised.value)
    assert message in str(raised.value)


def test_stages_are_set_globally_and_per_portfolio() -> None:
    """[alerts] stages apply to every portfolio; a portfolio's own table overrides them."""
    text = """
[alerts.liquidation_distance_low]
stages = { warning = 0.08, emergency = 0.02 }
vol_stages = { warning = 4.0 }

[portfolios.bob.alerts.liquidation_distance_low]
stages = { warning = 0.12 }
"""
    config = parse_config(text, source="m.toml")
    alice = config.alerts_for("alice").liquidation_distance_low
    assert alice.stages == (("warning", 0.08), ("emergency", 0.02))
    assert alice.vol_stages == (("warning", 4.0),)
    bob = config.alerts_for("bob")
    assert bob.liquidation_distance_low.stages == (("warning", 0.12),)
    assert bob.remediation_distance == pytest.approx(0.13)  # 12 % + the 1 % gap


def test_a_stage_mistake_is_reported_with_its_key() -> None:
    """A worse stage above a milder one is refused, naming the stage."""
    with pytest.raises(ConfigError) as raised:
        parse_config("[alerts.liquidation_distance_low]\nstages = { emergency = 0.1 }\n", source="m.toml")
    assert "alerts.liquidation_distance_low.stages.emergency" in str(raised.value)
