"""Binance Spot symbol terms (the ``InstrumentSource`` of ``binance-spot``).

``GET /api/v3/exchangeInfo`` (public): ``symbols[]`` with ``symbol``, ``status``, ``baseAsset``,
``quoteAsset`` and the ``LOT_SIZE`` filter (``stepSize``, ``minQty``; a symbol may list no filter:
lot 1, no minimum). Only ``TRADING`` symbols are read. Spot has no tiers.
https://developers.binance.com/docs/binance-spot-api-docs/rest-api/general-endpoints#exchange-information
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from monitor.domain.events import InstrumentEvent
from monitor.venues._common import as_object, frame_errors, objects, text
from monitor.venues.base import HttpRequest
from monitor.venues.listings import InstrumentReading, load_listing, unknown_purpose
from monitor.venues.listings.binance_usdm import lot_size

EXCHANGE_INFO_PATH = "/api/v3/exchangeInfo"
SOURCE = "GET /api/v3/exchangeInfo"


class BinanceSpotListings:
    """``instrument_requests`` / ``tier_requests`` / ``parse_instruments`` of Binance Spot."""

    name: str
    _rest: str
    listing_venue: ClassVar[str] = "binance-spot"

    def instrument_requests(self, now_ms: int) -> tuple[HttpRequest, ...]:  # noqa: ARG002 -- InstrumentSource
        """The public ``exchangeInfo``."""
        return (HttpRequest("GET", self._rest, EXCHANGE_INFO_PATH, "instruments"),)

    def tier_requests(self, now_ms: int, symbols: Sequence[str]) -> tuple[HttpRequest, ...]:  # noqa: ARG002 -- InstrumentSource
        """Spot has no margin tiers."""
        return ()

    def parse_instruments(self, request: HttpRequest, body: bytes, receive_ms: int) -> InstrumentReading:
        """Spot terms of every trading symbol."""
        venue = self.listing_venue
        if request.purpose != "instruments":
            raise unknown_purpose(venue, request)
        with frame_errors(venue):
            info = as_object(load_listing(body, venue), "exchangeInfo")
            terms: list[InstrumentEvent] = []
            for symbol in objects(info, "symbols", "exchangeInfo"):
                if symbol.get("status") != "TRADING":
                    continue
                step, minimum = lot_size(symbol)
                quote = text(symbol, "quoteAsset", "exchangeInfo symbol")
                terms.append(InstrumentEvent(
                    f"{venue}:{text(symbol, 'symbol', 'exchangeInfo symbol')}", "spot", "spot",
                    text(symbol, "baseAsset", "exchangeInfo symbol"), quote, quote, 1.0, 0.0, step,
                    minimum, None, (), SOURCE, receive_ms, receive_ms))
            return InstrumentReading(terms=tuple(terms))
