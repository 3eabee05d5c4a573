"""Binance USDⓈ-M contract terms and leverage brackets (the ``InstrumentSource`` of ``binance``).

``GET /fapi/v1/exchangeInfo`` (public) lists every symbol: ``contractType`` (``PERPETUAL``;
``CURRENT_QUARTER`` / ``NEXT_QUARTER`` and the monthly ones are dated, delivered at
``deliveryDate``; a perpetual's ``deliveryDate`` is the placeholder 4133404800000), ``baseAsset``,
``quoteAsset``, ``marginAsset`` (the settlement asset) and the ``LOT_SIZE`` filter (``stepSize``,
``minQty``). A USDⓈ-M quantity is in base units: one contract is 1 base unit.
https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Exchange-Information

``GET /fapi/v1/leverageBracket`` (USER_DATA, signed, per account): ``brackets[]`` with
``notionalFloor``, ``notionalCap`` (USD notional), ``maintMarginRatio``, ``initialLeverage`` and
``cum`` (the maintenance amount). Without credentials no bracket is read: the shipped brackets stay.
https://developers.binance.com/docs/derivatives/usds-margined-futures/account/rest-api/Notional-and-Leverage-Brackets
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from monitor.domain.events import ContractType, InstrumentEvent, InstrumentTier
from monitor.venues._common import (
    JsonObject,
    as_list,
    as_object,
    frame_errors,
    number,
    objects,
    optional_number,
    text,
    time_ms,
)
from monitor.venues.base import Credentials, HttpRequest
from monitor.venues.listings import InstrumentReading, load_listing, unknown_purpose

EXCHANGE_INFO_PATH = "/fapi/v1/exchangeInfo"
LEVERAGE_BRACKET_PATH = "/fapi/v1/leverageBracket"
SOURCE = "GET /fapi/v1/exchangeInfo"
_DATED = frozenset({"CURRENT_QUARTER", "NEXT_QUARTER", "CURRENT_MONTH", "NEXT_MONTH"})


def contract_type_of(value: str) -> ContractType | None:
    """``PERPETUAL`` (and ``TRADIFI_PERPETUAL``) is a perpetual, the quarterlies and monthlies are
    dated; anything else (``""`` for a delisted symbol) is no contract the monitor reads."""
    if value.endswith("PERPETUAL"):
        return "perpetual"
    if value in _DATED:
        return "future"
    return None


def lot_size(symbol: JsonObject) -> tuple[float, float]:
    """(``stepSize``, ``minQty``) of the ``LOT_SIZE`` filter; (1, 0) when the symbol lists none."""
    for item in objects(symbol, "filters", "exchangeInfo symbol", default_empty=True):
        if item.get("filterType") == "LOT_SIZE":
            return number(item, "stepSize", "LOT_SIZE"), number(item, "minQty", "LOT_SIZE")
    return 1.0, 0.0


class BinanceUsdmListings:
    """``instrument_requests`` / ``tier_requests`` / ``parse_instruments`` of Binance USDⓈ-M."""

    name: str
    _rest: str
    _credentials: Credentials | None
    listing_venue: ClassVar[str] = "binance"

    def _signed(self, path: str, purpose: str, now_ms: int) -> HttpRequest:
        raise NotImplementedError  # the venue class signs

    def instrument_requests(self, now_ms: int) -> tuple[HttpRequest, ...]:  # noqa: ARG002 -- InstrumentSource
        """The public ``exchangeInfo``."""
        return (HttpRequest("GET", self._rest, EXCHANGE_INFO_PATH, "instruments"),)

    def tier_requests(self, now_ms: int, symbols: Sequence[str]) -> tuple[HttpRequest, ...]:
        """One signed ``leverageBracket`` call (every symbol); none without credentials or symbols."""
        if self._credentials is None or not symbols:
            return ()
        return (self._signed(LEVERAGE_BRACKET_PATH, "tiers", now_ms),)

    def parse_instruments(self, request: HttpRequest, body: bytes, receive_ms: int) -> InstrumentReading:
        """Terms from ``exchangeInfo``, brackets from ``leverageBracket``."""
        venue = self.listing_venue
        with frame_errors(venue):
            payload = load_listing(body, venue)
            if request.purpose == "instruments":
                return InstrumentReading(terms=self._terms(as_object(payload, "exchangeInfo"), receive_ms))
            if request.purpose == "tiers":
                rows = [payload] if isinstance(payload, dict) else as_list(payload, "leverageBracket")
                tiers: dict[str, tuple[InstrumentTier, ...]] = {}
                for row in rows:
                    item = as_object(row, "leverageBracket item")
                    tiers[text(item, "symbol", "leverageBracket")] = tuple(
                        InstrumentTier(
                            floor=number(b, "notionalFloor", "bracket"),
                            cap=number(b, "notionalCap", "bracket"),
                            mmr=number(b, "maintMarginRatio", "bracket"),
                            max_leverage=number(b, "initialLeverage", "bracket"),
                            cum=optional_number(b, "cum", "bracket"),
                        )
                        for b in sorted(objects(item, "brackets", "leverageBracket"),
                                        key=lambda b: number(b, "notionalFloor", "bracket")))
                return InstrumentReading(tiers=tiers)
        raise unknown_purpose(venue, request)

    def _terms(self, info: JsonObject, receive_ms: int) -> tuple[InstrumentEvent, ...]:
        venue = self.listing_venue
        out: list[InstrumentEvent] = []
        for symbol in objects(info, "symbols", "exchangeInfo"):
            kind = contract_type_of(str(symbol.get("contractType") or ""))
            if kind is None:
                continue
            step, minimum = lot_size(symbol)
            expiry = time_ms(symbol, "deliveryDate", "exchangeInfo symbol") if kind == "future" else None
            out.append(InstrumentEvent(
                instrument=f"{venue}:{text(symbol, 'symbol', 'exchangeInfo symbol')}",
                kind="linear",
                contract_type=kind,
                base=text(symbol, "baseAsset", "exchangeInfo symbol"),
                quote=text(symbol, "quoteAsset", "exchangeInfo symbol"),
                settle=text(symbol, "marginAsset", "exchangeInfo symbol"),
                contract_size=1.0,
                contract_value=0.0,
                lot_step=step,
                min_quantity=minimum,
                expiry_ms=expiry,
                tiers=(),
                source=SOURCE,
                ts_event_ms=receive_ms,
                ts_receive_ms=receive_ms,
            ))
        return tuple(out)
