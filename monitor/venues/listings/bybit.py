"""Bybit v5 contract terms and risk limits (the ``InstrumentSource`` of ``bybit``).

``GET /v5/market/instruments-info?category=linear|inverse`` (public, paged by ``cursor`` /
``nextPageCursor``): ``symbol``, ``contractType`` (``LinearPerpetual``, ``LinearFutures``,
``InversePerpetual``, ``InverseFutures``), ``baseCoin``, ``quoteCoin``, ``settleCoin``,
``deliveryTime`` (ms; ``"0"`` for a perpetual) and ``lotSizeFilter`` (``qtyStep``, ``minOrderQty``).
A linear quantity is in base coin (one contract = 1 base unit); an inverse quantity in USD (one
contract = 1 USD). https://bybit-exchange.github.io/docs/v5/market/instrument

``GET /v5/market/risk-limit?category=..&symbol=..``: one row per tier, ``riskLimitValue`` (the
tier's cap, USD value), ``maintenanceMargin``, ``initialMargin``, ``maxLeverage`` and
``mmDeduction``. The documented example lists the rates in percent (``"maintenanceMargin": "0.5"``,
``"initialMargin": "1"`` beside ``"maxLeverage": "100.00"``) where live answers give fractions; the
unit is read off the documented relation initial margin rate = 1 / max leverage (percent when
``initialMargin * maxLeverage`` is 100). https://bybit-exchange.github.io/docs/v5/market/risk-limit
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from monitor.domain.events import ContractType, InstrumentEvent, InstrumentKindName, InstrumentTier
from monitor.venues._common import (
    JsonObject,
    as_object,
    frame_errors,
    number,
    objects,
    optional_number,
    optional_text,
    text,
    time_ms,
)
from monitor.venues.base import FrameError, HttpRequest
from monitor.venues.listings import InstrumentReading, load_listing, tiers_from_caps, unknown_purpose

INSTRUMENTS_PATH = "/v5/market/instruments-info"
RISK_LIMIT_PATH = "/v5/market/risk-limit"
SOURCE = "GET /v5/market/instruments-info"
CATEGORIES = ("linear", "inverse")
_INVERSE_SYMBOL = re.compile(r"[A-Z0-9]+USD(?:[FGHJKMNQUVXZ][0-9]{2})?")
_CONTRACT_TYPES: dict[str, tuple[InstrumentKindName, ContractType]] = {
    "LinearPerpetual": ("linear", "perpetual"),
    "LinearFutures": ("linear", "future"),
    "InversePerpetual": ("inverse", "perpetual"),
    "InverseFutures": ("inverse", "future"),
}


def result_of(payload: object, what: str) -> JsonObject:
    """``result`` of a ``retCode`` 0 answer; FrameError naming ``retCode`` / ``retMsg`` otherwise."""
    obj = as_object(payload, what)
    code = obj.get("retCode")
    if code != 0:
        raise FrameError(f"{what}: retCode {code!r} ({str(obj.get('retMsg'))[:80]})")
    return as_object(obj.get("result"), f"{what}: result")


def rate_scale(row: JsonObject) -> float:
    """100 when the row's rates are in percent (initialMargin * maxLeverage is 100), else 1."""
    initial = optional_number(row, "initialMargin", "risk limit")
    leverage = optional_number(row, "maxLeverage", "risk limit")
    if initial is None or leverage is None or leverage <= 0:
        return 1.0
    return 100.0 if initial * leverage > 10 else 1.0


class BybitListings:
    """``instrument_requests`` / ``tier_requests`` / ``parse_instruments`` of Bybit."""

    name: str
    _rest: str
    listing_venue: ClassVar[str] = "bybit"

    def instrument_requests(self, now_ms: int) -> tuple[HttpRequest, ...]:  # noqa: ARG002 -- InstrumentSource
        """``instruments-info`` of the linear and the inverse category (1000 a page)."""
        return tuple(
            HttpRequest("GET", self._rest, INSTRUMENTS_PATH, f"instruments-{category}",
                        (("category", category), ("limit", "1000")))
            for category in CATEGORIES)

    def tier_requests(self, now_ms: int, symbols: Sequence[str]) -> tuple[HttpRequest, ...]:  # noqa: ARG002 -- InstrumentSource
        """``risk-limit`` of each symbol (its category from the symbol: ``..USD`` is inverse)."""
        return tuple(
            HttpRequest("GET", self._rest, RISK_LIMIT_PATH, "tiers",
                        (("category", _category_of(symbol)), ("symbol", symbol)))
            for symbol in sorted(set(symbols)))

    def parse_instruments(self, request: HttpRequest, body: bytes, receive_ms: int) -> InstrumentReading:
        """Terms (and the next page) from ``instruments-info``, tiers from ``risk-limit``."""
        venue = self.listing_venue
        with frame_errors(venue):
            result = result_of(load_listing(body, venue), request.purpose)
            if request.purpose.startswith("instruments-"):
                cursor = optional_text(result, "nextPageCursor", "instruments-info")
                following = None
                if cursor:
                    query = tuple((k, v) for k, v in request.query if k != "cursor")
                    following = HttpRequest(request.method, request.base_url, request.path,
                                            request.purpose, (*query, ("cursor", cursor)))
                return InstrumentReading(terms=self._terms(result, receive_ms), next_request=following)
            if request.purpose == "tiers":
                rows: dict[str, list[tuple[float, float, float, float | None]]] = {}
                for row in objects(result, "list", "risk-limit"):
                    scale = rate_scale(row)
                    rows.setdefault(text(row, "symbol", "risk limit"), []).append((
                        number(row, "riskLimitValue", "risk limit"),
                        number(row, "maintenanceMargin", "risk limit") / scale,
                        number(row, "maxLeverage", "risk limit"),
                        optional_number(row, "mmDeduction", "risk limit"),
                    ))
                tiers: dict[str, tuple[InstrumentTier, ...]] = {
                    symbol: tiers_from_caps(caps) for symbol, caps in rows.items()}
                return InstrumentReading(tiers=tiers)
        raise unknown_purpose(venue, request)

    def _terms(self, result: JsonObject, receive_ms: int) -> tuple[InstrumentEvent, ...]:
        venue = self.listing_venue
        out: list[InstrumentEvent] = []
        for item in objects(result, "list", "instruments-info"):
            found = _CONTRACT_TYPES.get(str(item.get("contractType")))
            if found is None:
                continue
            kind, contract_type = found
            lots = as_object(item.get("lotSizeFilter"), "lotSizeFilter")
            delivery = time_ms(item, "deliveryTime", "instrument")
            out.append(InstrumentEvent(
                instrument=f"{venue}:{text(item, 'symbol', 'instrument')}",
                kind=kind,
                contract_type=contract_type,
                base=text(item, "baseCoin", "instrument"),
                quote=text(item, "quoteCoin", "instrument"),
                settle=text(item, "settleCoin", "instrument"),
                contract_size=1.0 if kind == "linear" else 0.0,
                contract_value=1.0 if kind == "inverse" else 0.0,
                lot_step=number(lots, "qtyStep", "lotSizeFilter"),
                min_quantity=number(lots, "minOrderQty", "lotSizeFilter"),
                expiry_ms=delivery if contract_type == "future" else None,
                tiers=(),
                source=SOURCE,
                ts_event_ms=receive_ms,
                ts_receive_ms=receive_ms,
            ))
        return tuple(out)


def _category_of(symbol: str) -> str:
    """Bybit's inverse contracts are quoted in USD (``BTCUSD``, dated ``BTCUSDH25``); linear ones in
    USDT or USDC (``BTCUSDT``, ``BTCPERP``, dated ``BTC-28MAR25``)."""
    return "inverse" if _INVERSE_SYMBOL.fullmatch(symbol) else "linear"
