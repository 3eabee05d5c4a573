"""Venue name → venue class: the one place that knows which class speaks which exchange."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from monitor.domain.instruments import Catalog
from monitor.errors import HedgeMonitorError
from monitor.venues._common import VenueSession
from monitor.venues.base import AccountContext, Venue
from monitor.venues.binance_coinm import BinanceCoinm
from monitor.venues.binance_spot import BinanceSpot
from monitor.venues.binance_usdm import BinanceUsdm
from monitor.venues.bingx import BingxSwap
from monitor.venues.bybit import Bybit
from monitor.venues.deribit import Deribit
from monitor.venues.hyperliquid import Hyperliquid
from monitor.venues.mexc import MexcContract
from monitor.venues.okx import Okx
from monitor.venues.weex import WeexFutures

VENUES: Mapping[str, type[Venue]] = MappingProxyType({
    "binance": BinanceUsdm,
    "binance-spot": BinanceSpot,
    "bybit": Bybit,
    "okx": Okx,
    "bingx": BingxSwap,
    "mexc": MexcContract,
    "weex": WeexFutures,
    "binance-coinm": BinanceCoinm,
    "deribit": Deribit,
    "hyperliquid": Hyperliquid,
})
"""The venue class of each venue name (read-only)."""

VENUE_NAMES: tuple[str, ...] = tuple(VENUES)


class UnknownVenueError(HedgeMonitorError, ValueError):
    """A venue name no module implements."""


def build_venue(
    venue: str,
    *,
    symbols: Sequence[str],
    account: AccountContext | None,
    catalog: Catalog,
    ws_base_url: str | None = None,
    rest_base_url: str | None = None,
    ws_api_url: str | None = None,
    portfolio_margin: bool = False,
) -> Venue:
    """The venue object for one account or public feed; base URLs default to production.

    ``ws_api_url`` is taken by Binance Spot only (the WebSocket API of its user data stream);
    ``portfolio_margin`` by Binance USDⓈ-M only (a Portfolio Margin account's ``uniMMR``).
    """
    venue_class = VENUES.get(venue)
    if venue_class is None:
        raise UnknownVenueError(f"unknown venue {venue!r}; known: {', '.join(VENUES)}")
    options: dict[str, Any] = {"symbols": symbols, "account": account, "catalog": catalog}
    if ws_base_url is not None:
        options["ws_base_url"] = ws_base_url
    if rest_base_url is not None:
        options["rest_base_url"] = rest_base_url
    if ws_api_url is not None:
        options["ws_api_url"] = ws_api_url
    if portfolio_margin:
        options["portfolio_margin"] = True
    return venue_class(**options)


def venue_names() -> tuple[str, ...]:
    """The venues an account or a feed can name, in the order messages list them."""
    return VENUE_NAMES


def venue_class(venue: str) -> type[VenueSession]:
    """The class that speaks ``venue``, whose class attributes are the venue's facts."""
    found = VENUES.get(venue)
    if found is None:
        raise UnknownVenueError(f"unknown venue {venue!r}; known: {', '.join(VENUE_NAMES)}")
    if not issubclass(found, VenueSession):
        raise TypeError(f"venue class {found.__name__} does not declare the venue facts")
    return found
