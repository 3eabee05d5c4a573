"""The venue registry: a name -> class table that ``build_venue`` reads."""

from __future__ import annotations

import pytest

from monitor.domain.instruments import default_catalog
from monitor.errors import HedgeMonitorError
from monitor.fuzzing import VENUE_SYMBOLS, fuzz_account
from monitor.venues.binance_spot import BinanceSpot
from monitor.venues.binance_usdm import BinanceUsdm
from monitor.venues.registry import VENUE_NAMES, VENUES, UnknownVenueError, build_venue, venue_names

SIM_WS = "ws://127.0.0.1:9/sim"


def test_the_table_names_every_venue_the_config_accepts() -> None:
    """Every venue name a config may use (read through the registry) has a class, and no other."""
    assert venue_names() == tuple(VENUES)
    assert VENUE_NAMES == ("binance", "binance-spot", "bybit", "okx", "bingx", "mexc", "weex",
                           "binance-coinm", "deribit", "hyperliquid")
    assert VENUES["binance"] is BinanceUsdm
    assert VENUES["binance-spot"] is BinanceSpot


def test_the_table_is_read_only() -> None:
    """Nobody can swap a venue's class at run time."""
    with pytest.raises(TypeError):
        # the assignment the read-only table must refuse at run time, as its type already does
        VENUES["binance"] = BinanceSpot  # type: ignore[index]


@pytest.mark.parametrize("name", sorted(VENUES))
def test_build_venue_makes_the_tables_class_with_the_given_urls(name: str) -> None:
    """``build_venue`` builds the class its name maps to, named so, on the base URL given."""
    venue = build_venue(name, symbols=VENUE_SYMBOLS[name], account=None, catalog=default_catalog(),
                        ws_base_url=SIM_WS, rest_base_url="http://127.0.0.1:9/rest")
    assert type(venue) is VENUES[name]
    assert venue.name == name
    assert venue.connect_plan("market", 0, None).url.startswith(SIM_WS)


def test_only_binance_spot_takes_a_websocket_api_url() -> None:
    """Binance Spot's user data stream connects to the ``ws_api_url`` given; another venue refuses one."""
    venue = build_venue("binance-spot", symbols=(), account=fuzz_account(), catalog=default_catalog(),
                        ws_api_url="ws://127.0.0.1:9/ws-api")
    assert venue.connect_plan("private", 0, None).url == "ws://127.0.0.1:9/ws-api"
    with pytest.raises(TypeError, match="ws_api_url"):
        build_venue("okx", symbols=("BTC-USDT-SWAP",), account=None, catalog=default_catalog(),
                    ws_api_url="ws://127.0.0.1:9/ws-api")


def test_an_unknown_venue_is_refused_with_the_known_ones() -> None:
    """An unknown name is UnknownVenueError (a ValueError and a HedgeMonitorError) listing the names."""
    with pytest.raises(UnknownVenueError) as caught:
        build_venue("kraken", symbols=("XBTUSD",), account=None, catalog=default_catalog())
    assert str(caught.value) == ("unknown venue 'kraken'; known: binance, binance-spot, bybit, okx, "
                                 "bingx, mexc, weex, binance-coinm, deribit, hyperliquid")
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, HedgeMonitorError)
