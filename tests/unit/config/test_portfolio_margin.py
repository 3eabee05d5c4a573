"""``portfolio_margin`` of a Binance account: its uniMMR becomes the account's buffer figure."""

from __future__ import annotations

import pytest

from monitor.app import build_venues
from monitor.config import ConfigError, parse_config
from monitor.venues.binance_usdm import BinanceUsdm

ACCOUNT = '''
[[accounts]]
id = "binance-pm"
venue = "{venue}"
portfolio = "alice"
api_key = "env:PM_TEST_KEY"
api_secret = "env:PM_TEST_SECRET"
portfolio_margin = true
'''


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PM_TEST_KEY", "key")
    monkeypatch.setenv("PM_TEST_SECRET", "secret")


def test_a_portfolio_margin_account_asks_for_its_papi_account() -> None:
    config = parse_config(ACCOUNT.format(venue="binance"), source="test.toml")
    assert config.accounts[0].portfolio_margin is True
    (venue,) = build_venues(config)
    assert isinstance(venue, BinanceUsdm)
    purposes = {request.purpose: request for request in venue.resync_requests(1)}
    assert purposes["pm-account"].path == "/papi/v1/account"
    assert purposes["pm-account"].base_url == "https://papi.binance.com"


def test_portfolio_margin_on_another_venue_names_the_key_and_the_fix() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(ACCOUNT.format(venue="bybit"), source="test.toml")
    text = str(caught.value)
    assert "test.toml:8: accounts[0].portfolio_margin" in text
    assert "portfolio_margin is a Binance account option" in text
    assert "remove it" in text
