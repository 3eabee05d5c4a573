"""Venue name → venue module: the one place that knows which class speaks which exchange."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from monitor.domain.instruments import Catalog
from monitor.errors import HedgeMonitorError
from monitor.venues.base import AccountContext, Venue

VENUE_NAMES: tuple[str, ...] = (
    "binance", "binance-spot", "bybit", "okx", "bingx", "mexc", "weex",
)


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
) -> Venue:
    """The venue object for one account or public feed; base URLs default to production."""
    urls: dict[str, Any] = {"symbols": symbols, "account": account, "catalog": catalog}
    if ws_base_url is not None:
        urls["ws_base_url"] = ws_base_url
    if rest_base_url is not None:
        urls["rest_base_url"] = rest_base_url
    if venue == "binance":
        from monitor.venues.binance_usdm import BinanceUsdm  # noqa: PLC0415 -- load only what is used
        return BinanceUsdm(**urls)
    if venue == "binance-spot":
        from monitor.venues.binance_spot import BinanceSpot  # noqa: PLC0415 -- load only what is used
        if ws_api_url is not None:
            urls["ws_api_url"] = ws_api_url
        return BinanceSpot(**urls)
    if venue == "bybit":
        from monitor.venues.bybit import Bybit  # noqa: PLC0415 -- load only what is used
        return Bybit(**urls)
    if venue == "okx":
        from monitor.venues.okx import Okx  # noqa: PLC0415 -- load only what is used
        return Okx(**urls)
    if venue == "bingx":
        from monitor.venues.bingx import BingxSwap  # noqa: PLC0415 -- load only what is used
        return BingxSwap(**urls)
    if venue == "mexc":
        from monitor.venues.mexc import MexcContract  # noqa: PLC0415 -- load only what is used
        return MexcContract(**urls)
    if venue == "weex":
        from monitor.venues.weex import WeexFutures  # noqa: PLC0415 -- load only what is used
        return WeexFutures(**urls)
    raise UnknownVenueError(f"unknown venue {venue!r}; known: {', '.join(VENUE_NAMES)}")
