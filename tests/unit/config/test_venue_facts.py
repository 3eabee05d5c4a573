"""Venue facts the config relies on: declared on each venue class, read through the registry."""

from __future__ import annotations

import pytest

from monitor.config import ConfigError, ConfigProblem, parse_config
from monitor.domain.instruments import default_catalog
from monitor.venues.bybit import Bybit
from monitor.venues.okx import Okx
from monitor.venues.registry import UnknownVenueError, build_venue, venue_class, venue_names


def _problems(text: str) -> tuple[ConfigProblem, ...]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="t.toml")
    return caught.value.problems


@pytest.fixture
def key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """An API key and secret for the accounts below."""
    monkeypatch.setenv("HEDGE_MONITOR_TEST_KEY", "test-key")
    monkeypatch.setenv("HEDGE_MONITOR_TEST_SECRET", "test-secret")


BYBIT_ACCOUNT = (
    '[[accounts]]\nid = "b"\nvenue = "bybit"\nportfolio = "p"\n'
    'api_key = "env:HEDGE_MONITOR_TEST_KEY"\napi_secret = "env:HEDGE_MONITOR_TEST_SECRET"\n'
)


def test_every_venue_class_declares_its_facts() -> None:
    """Each registered venue's own class sets needs_passphrase and takes_ws_api_url (nothing inherited)."""
    for name in venue_names():
        own = vars(venue_class(name))
        assert isinstance(own.get("needs_passphrase"), bool), name
        assert isinstance(own.get("takes_ws_api_url"), bool), name


def test_venue_class_is_the_class_the_registry_builds() -> None:
    """venue_class(name) is the type of the venue object build_venue makes for that name."""
    catalog = default_catalog()
    for name in venue_names():
        symbol = next(i for i in catalog.ids() if i.startswith(f"{name}:")).split(":", 1)[1]
        venue = build_venue(name, symbols=[symbol], account=None, catalog=catalog)
        built: type[object] = type(venue)
        assert built is venue_class(name), name


def test_facts_as_the_venues_document_them() -> None:
    """OKX and WEEX API keys carry a passphrase; only Binance spot takes a websocket-API URL."""
    # OKX v5 "REST Authentication" signs with OK-ACCESS-PASSPHRASE; WEEX contract API (V2 docs) with
    # ACCESS-PASSPHRASE; Binance, Bybit, BingX and MEXC sign with the key and secret alone.
    assert {name for name in venue_names() if venue_class(name).needs_passphrase} == {"okx", "weex"}
    # Binance spot reads user data over its WebSocket API (ws-api.binance.com); no other venue here has one.
    assert {name for name in venue_names() if venue_class(name).takes_ws_api_url} == {"binance-spot"}


def test_unknown_venue_has_no_class() -> None:
    """A venue name no module implements is refused, naming the known ones."""
    with pytest.raises(UnknownVenueError, match="unknown venue 'kraken'; known: binance, binance-spot"):
        venue_class("kraken")


def test_config_asks_for_a_passphrase_when_the_venue_class_says_so(
    key_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The passphrase check follows Bybit.needs_passphrase: the config keeps no list of its own."""
    (account,) = parse_config(BYBIT_ACCOUNT, source="t.toml").accounts
    assert account.credentials is not None
    assert account.credentials.passphrase is None
    monkeypatch.setattr(Bybit, "needs_passphrase", True)
    assert _problems(BYBIT_ACCOUNT) == (
        ConfigProblem("t.toml", 1, ("accounts", 0, "passphrase"),
                      "missing 'passphrase': bybit API keys come with a passphrase"),
    )


def test_config_takes_a_ws_api_url_when_the_venue_class_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ws_api_url check and its message follow each class's takes_ws_api_url."""
    feed = '[[feeds]]\nvenue = "{venue}"\nsymbols = ["{symbol}"]\nws_api_url = "wss://ws-api.example.test/v3"\n'
    okx_feed = feed.format(venue="okx", symbol="BTC-USDT-SWAP")
    binance_feed = feed.format(venue="binance", symbol="BTCUSDT")
    assert _problems(okx_feed) == (
        ConfigProblem("t.toml", 4, ("feeds", 0, "ws_api_url"), "ws_api_url is only used by binance-spot"),
    )
    monkeypatch.setattr(Okx, "takes_ws_api_url", True)
    (okx,) = parse_config(okx_feed, source="t.toml").feeds
    assert okx.ws_api_url == "wss://ws-api.example.test/v3"
    assert _problems(binance_feed) == (
        ConfigProblem("t.toml", 4, ("feeds", 0, "ws_api_url"),
                      "ws_api_url is only used by binance-spot, okx"),
    )


HYPERLIQUID_ACCOUNT = '[[accounts]]\nid = "hl"\nvenue = "hyperliquid"\nportfolio = "p"\n'
WALLET = "0x5e9ee1089755c3435139848e47e6635505d5a13a"


def test_a_hyperliquid_account_is_read_by_its_address_without_credentials() -> None:
    """``address = "0x..."`` is taken (lower-cased) and handed to the venue; no API key is needed."""
    (account,) = parse_config(HYPERLIQUID_ACCOUNT + f'address = "{WALLET.upper().replace("0X", "0x")}"\n',
                              source="t.toml").accounts
    assert account.address == WALLET
    assert account.credentials is None
    assert WALLET not in repr(account)
    context = account.context()
    assert context.address == WALLET
    venue = build_venue("hyperliquid", symbols=("BTC",), account=context, catalog=default_catalog())
    assert WALLET in venue.connect_plan("private", 0, None).on_open[0]


@pytest.mark.parametrize(("line", "message"), [
    ("", ("missing 'address': a hyperliquid account is watched by its wallet address; "
         'set address = "0x" followed by 40 hex digits')),
    ('address = "0x5e9e"\n', ('address must be a 20-byte wallet address, "0x" followed by 40 hex digits '
                             "(42 characters); got a string of 6 characters")),
    (f'address = "{WALLET[2:]}00"\n', ('address must be a 20-byte wallet address, "0x" followed by 40 hex '
                                      "digits (42 characters); got a string of 42 characters")),
    ("address = 5\n", ('address must be a 20-byte wallet address, "0x" followed by 40 hex digits '
                      "(42 characters); got a TOML int")),
])
def test_a_bad_address_is_a_problem_naming_file_key_and_fix(line: str, message: str) -> None:
    """A missing or malformed address names t.toml, accounts[0].address and what to write."""
    (problem,) = _problems(HYPERLIQUID_ACCOUNT + line)
    assert (problem.file, problem.key, problem.message) == ("t.toml", "accounts[0].address", message)
    assert WALLET[2:] not in str(problem)


def test_address_belongs_to_address_venues_only(key_env: None) -> None:
    """A Bybit account with an address is told the key is Hyperliquid's; a Hyperliquid key is refused."""
    del key_env
    (problem,) = _problems(BYBIT_ACCOUNT + f'address = "{WALLET}"\n')
    assert problem.message == "address is only used by hyperliquid: remove it"
    keys = 'api_key = "env:HEDGE_MONITOR_TEST_KEY"\napi_secret = "env:HEDGE_MONITOR_TEST_SECRET"\n'
    problems = _problems(HYPERLIQUID_ACCOUNT + f'address = "{WALLET}"\n' + keys)
    assert [p.message for p in problems] == [
        ("hyperliquid is read by wallet address and needs no API key: remove api_key, api_secret and "
        "passphrase")]
