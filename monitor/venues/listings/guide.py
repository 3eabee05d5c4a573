"""BingX, MEXC and WEEX contract terms (their ``InstrumentSource``), from each venue module's own
catalog-override parser of its contract endpoint:

- BingX ``GET /openApi/swap/v2/quote/contracts`` (``asset``, ``currency``, ``quantityPrecision``,
  ``tradeMinQuantity``; quantities in base coin) and tiers from ``GET /openApi/swap/v1/maintMarginRatio``
  (``minPositionVal``, ``maxPositionVal`` in USDT notional, ``maintMarginRatio``) per symbol.
- MEXC ``GET /api/v1/contract/detail`` (``contractSize`` base coin per contract, ``volUnit``,
  ``minVol`` in contracts). Its risk levels are by volume (contracts) and become notional tiers
  only at a price, so live tiers are not read: the shipped ones stay.
- WEEX ``GET /capi/v3/market/exchangeInfo`` (sizes in base coin, ``contractVal`` the lot step,
  ``minOrderSize``). WEEX documents no tier endpoint.

All three list perpetuals only. The parsers write ``settle`` "USD" for a USDⓈ-margined contract; the
terms published name the quote (USDT, USDC) the contract settles in, as the shipped catalog does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from monitor.domain.events import InstrumentEvent, InstrumentTier
from monitor.venues.base import FrameError, HttpRequest
from monitor.venues.listings import InstrumentReading, unknown_purpose

OverrideParser = Callable[[bytes], dict[str, dict[str, Any]]]


def terms_from_overrides(
    overrides: Mapping[str, Mapping[str, Any]], source: str, receive_ms: int
) -> tuple[InstrumentEvent, ...]:
    """Perpetual linear terms of every ``venue:symbol`` entry of a parser's catalog overrides."""
    out: list[InstrumentEvent] = []
    for instrument_id, entry in sorted(overrides.items()):
        quote = str(entry["quote"])
        settle = str(entry.get("settle", quote))
        out.append(InstrumentEvent(
            instrument=instrument_id, kind="linear", contract_type="perpetual",
            base=str(entry["base"]), quote=quote, settle=quote if settle == "USD" else settle,
            contract_size=float(entry["contract_size"]), contract_value=0.0,
            lot_step=float(entry["lot_step"]), min_quantity=float(entry["min_quantity"]),
            expiry_ms=None, tiers=(), source=source, ts_event_ms=receive_ms, ts_receive_ms=receive_ms,
        ))
    return tuple(out)


class GuideListings:
    """``instrument_requests`` / ``tier_requests`` / ``parse_instruments`` from a venue's parsers."""

    name: str
    _rest: str
    listing_path: ClassVar[str]
    listing_parser: ClassVar[OverrideParser]
    tier_path: ClassVar[str | None] = None
    tier_parser: ClassVar[OverrideParser | None] = None

    def instrument_requests(self, now_ms: int) -> tuple[HttpRequest, ...]:  # noqa: ARG002 -- InstrumentSource
        """The venue's public contract listing."""
        return (HttpRequest("GET", self._rest, self.listing_path, "instruments"),)

    def tier_requests(self, now_ms: int, symbols: Sequence[str]) -> tuple[HttpRequest, ...]:  # noqa: ARG002 -- InstrumentSource
        """One tier call per symbol where the venue has a tier endpoint, else none."""
        if self.tier_path is None:
            return ()
        return tuple(HttpRequest("GET", self._rest, self.tier_path, "tiers", (("symbol", symbol),))
                     for symbol in sorted(set(symbols)))

    def parse_instruments(self, request: HttpRequest, body: bytes, receive_ms: int) -> InstrumentReading:
        """Terms from the listing, tiers from the tier endpoint (the parsers raise FrameError)."""
        if request.purpose == "instruments":
            parser = type(self).listing_parser
            return InstrumentReading(terms=terms_from_overrides(
                parser(body), f"GET {self.listing_path}", receive_ms))
        tier_parser = type(self).tier_parser
        if request.purpose == "tiers" and tier_parser is not None:
            tiers: dict[str, tuple[InstrumentTier, ...]] = {}
            for instrument_id, entry in tier_parser(body).items():
                try:
                    tiers[instrument_id.split(":", 1)[1]] = tuple(
                        InstrumentTier(float(t["floor"]), float(t["cap"]), float(t["mmr"]),
                                       float(t.get("max_leverage", 1.0)))
                        for t in entry["tiers"])
                except (KeyError, ValueError) as exc:
                    raise FrameError(f"{self.name}: tiers of {instrument_id}: {exc}") from None
            return InstrumentReading(tiers=tiers)
        raise unknown_purpose(self.name, request)
