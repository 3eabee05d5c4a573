"""Symbols only a venue's live listing can confirm: accepted with a warning; whole accounts."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import ConfigError, parse_config
from monitor.config.loader import check_config_command

WHOLE_ACCOUNT = """
[[accounts]]
id = "okx-main"
venue = "okx"
portfolio = "alice"
api_key = "env:HEDGE_TEST_OKX_KEY"
api_secret = "env:HEDGE_TEST_OKX_SECRET"
passphrase = "env:HEDGE_TEST_OKX_PHRASE"
"""


@pytest.fixture(autouse=True)
def _okx_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HEDGE_TEST_OKX_KEY", "HEDGE_TEST_OKX_SECRET", "HEDGE_TEST_OKX_PHRASE"):
        monkeypatch.setenv(name, "example-value")


def test_a_config_naming_only_an_account_is_a_whole_account() -> None:
    """No symbols and no instruments section: no problem, no warning, no symbols."""
    config = parse_config(WHOLE_ACCOUNT, source="test.toml")
    (account,) = config.accounts
    assert account.symbols == ()
    assert config.warnings == ()


def test_a_symbol_only_the_live_listing_knows_is_a_warning() -> None:
    """SOL-USDT-SWAP is not in the shipped catalog; OKX lists its contracts live: a warning."""
    config = parse_config(WHOLE_ACCOUNT + 'symbols = ["SOL-USDT-SWAP"]\n', source="test.toml")
    assert config.accounts[0].symbols == ("SOL-USDT-SWAP",)
    (warning,) = config.warnings
    assert str(warning).startswith("test.toml:9: accounts[0].symbols[0]: okx:SOL-USDT-SWAP is not in "
                                   "the shipped catalog; only the venue's live listing can confirm it")


def test_a_near_miss_of_a_catalogued_symbol_stays_an_error() -> None:
    """BTC-USDT-SWAPP is a typo of BTC-USDT-SWAP, not a new listing."""
    with pytest.raises(ConfigError, match="unknown instrument 'okx:BTC-USDT-SWAPP'"):
        parse_config(WHOLE_ACCOUNT + 'symbols = ["BTC-USDT-SWAPP"]\n', source="test.toml")


def test_a_feed_symbol_only_the_live_listing_knows_is_a_warning_too() -> None:
    """Binance Spot lists its pairs live: SOLUSDT (not in the catalog) is accepted with a warning."""
    text = '[[feeds]]\nvenue = "binance-spot"\nsymbols = ["SOLUSDT"]\n'
    (warning,) = parse_config(text, source="test.toml").warnings
    assert "binance-spot:SOLUSDT is not in the shipped catalog" in str(warning)


def test_check_config_prints_the_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """check-config exits 0 and prints each warning on stderr."""
    path = tmp_path / "monitor.toml"
    path.write_text(WHOLE_ACCOUNT + 'symbols = ["SOL-USDT-SWAP"]\n', encoding="utf-8")
    assert check_config_command(str(path)) == 0
    captured = capsys.readouterr()
    assert "warning: " in captured.err
    assert "okx:SOL-USDT-SWAP is not in the shipped catalog" in captured.err
    assert "OK (1 portfolios, 1 accounts" in captured.out
