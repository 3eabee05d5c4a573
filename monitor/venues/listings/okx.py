"""OKX v5 contract terms and position tiers (the ``InstrumentSource`` of ``okx``).

``GET /api/v5/public/instruments?instType=SWAP|FUTURES`` (public): ``instId``, ``instFamily``
(``BTC-USDT``: base and quote), ``ctType`` (``linear``: ``ctVal`` in the base currency, settled in
the quote; ``inverse``: ``ctVal`` in USD, settled in the base), ``ctVal`` x ``ctMult`` (one contract),
``ctValCcy``, ``settleCcy``, ``lotSz`` / ``minSz`` (contracts) and ``expTime`` (the delivery time of
a ``FUTURES``). ``SPOT`` rows (``baseCcy``, ``quoteCcy``, ``lotSz`` in base) are read too.
https://www.okx.com/docs-v5/en/#public-data-rest-api-get-instruments

``GET /api/v5/public/position-tiers?instType=..&tdMode=cross&instFamily=A,B`` (at most 5 families a
call): per tier ``minSz`` / ``maxSz`` (contracts), ``mmr`` and ``maxLever``, for every instrument of
the family and type. https://www.okx.com/docs-v5/en/#public-data-rest-api-get-position-tiers
"""

from __future__ import annotations

import math
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
    to_time_ms,
)
from monitor.venues.base import FrameError, HttpRequest
from monitor.venues.listings import InstrumentReading, load_listing, unknown_purpose

INSTRUMENTS_PATH = "/api/v5/public/instruments"
POSITION_TIERS_PATH = "/api/v5/public/position-tiers"
SOURCE = "GET /api/v5/public/instruments"
INSTRUMENT_TYPES = ("SWAP", "FUTURES")
FAMILIES_PER_CALL = 5


def data_of(payload: object, what: str) -> list[JsonObject]:
    """``data`` of a ``code`` "0" answer; FrameError naming ``code`` / ``msg`` otherwise."""
    obj = as_object(payload, what)
    if obj.get("code") != "0":
        raise FrameError(f"{what}: code {obj.get('code')!r} ({str(obj.get('msg'))[:80]})")
    return objects(obj, "data", what)


class OkxListings:
    """``instrument_requests`` / ``tier_requests`` / ``parse_instruments`` of OKX."""

    name: str
    _rest: str
    listing_venue: ClassVar[str] = "okx"
    _families: dict[str, tuple[str, str]]
    """symbol -> (instType, instFamily), learnt from the listing (the tiers are per family)."""

    def instrument_requests(self, now_ms: int) -> tuple[HttpRequest, ...]:  # noqa: ARG002 -- InstrumentSource
        """``instruments`` of the swaps and the dated futures."""
        return tuple(
            HttpRequest("GET", self._rest, INSTRUMENTS_PATH, "instruments", (("instType", kind),))
            for kind in INSTRUMENT_TYPES)

    def tier_requests(self, now_ms: int, symbols: Sequence[str]) -> tuple[HttpRequest, ...]:  # noqa: ARG002 -- InstrumentSource
        """``position-tiers`` (cross) of the families of these symbols, 5 families a call."""
        families = getattr(self, "_families", {})
        wanted: dict[str, set[str]] = {}
        for symbol in symbols:
            found = families.get(symbol)
            if found is not None:
                wanted.setdefault(found[0], set()).add(found[1])
        requests: list[HttpRequest] = []
        for kind, names in sorted(wanted.items()):
            ordered = sorted(names)
            for start in range(0, len(ordered), FAMILIES_PER_CALL):
                chunk = ",".join(ordered[start:start + FAMILIES_PER_CALL])
                requests.append(HttpRequest(
                    "GET", self._rest, POSITION_TIERS_PATH, "tiers",
                    (("instType", kind), ("tdMode", "cross"), ("instFamily", chunk))))
        return tuple(requests)

    def parse_instruments(self, request: HttpRequest, body: bytes, receive_ms: int) -> InstrumentReading:
        """Terms from ``instruments``, tiers (by symbol of the family) from ``position-tiers``."""
        venue = self.listing_venue
        with frame_errors(venue):
            rows = data_of(load_listing(body, venue), request.purpose)
            if request.purpose == "instruments":
                return InstrumentReading(terms=self._terms(rows, receive_ms))
            if request.purpose == "tiers":
                kind = dict(request.query).get("instType", "")
                by_family: dict[str, list[InstrumentTier]] = {}
                for row in rows:
                    family = optional_text(row, "instFamily", "position tier") or ""
                    if not family:
                        continue  # a MARGIN or single-instrument row: no contract family
                    by_family.setdefault(family, []).append(InstrumentTier(
                        floor=number(row, "minSz", "position tier"),
                        cap=_cap(row),
                        mmr=number(row, "mmr", "position tier"),
                        max_leverage=number(row, "maxLever", "position tier"),
                    ))
                families = getattr(self, "_families", {})
                tiers = {
                    symbol: tuple(sorted(by_family[family], key=lambda t: t.floor))
                    for symbol, (inst_type, family) in families.items()
                    if family in by_family and (not kind or inst_type == kind)
                }
                return InstrumentReading(tiers=tiers)
        raise unknown_purpose(venue, request)

    def _terms(self, rows: list[JsonObject], receive_ms: int) -> tuple[InstrumentEvent, ...]:
        venue = self.listing_venue
        if not hasattr(self, "_families"):
            self._families = {}
        out: list[InstrumentEvent] = []
        for row in rows:
            inst_type = text(row, "instType", "instrument")
            symbol = text(row, "instId", "instrument")
            if inst_type == "SPOT":
                out.append(InstrumentEvent(
                    f"{venue}:{symbol}", "spot", "spot", text(row, "baseCcy", "instrument"),
                    text(row, "quoteCcy", "instrument"), text(row, "quoteCcy", "instrument"),
                    1.0, 0.0, number(row, "lotSz", "instrument"), number(row, "minSz", "instrument"),
                    None, (), SOURCE, receive_ms, receive_ms))
                continue
            if inst_type not in INSTRUMENT_TYPES:
                continue
            family = text(row, "instFamily", "instrument")
            base, _, quote = family.partition("-")
            ct_type = text(row, "ctType", "instrument")
            kind: InstrumentKindName
            if ct_type == "linear":
                kind = "linear"
            elif ct_type == "inverse":
                kind = "inverse"
            else:
                raise FrameError(f"instrument {symbol}: unknown ctType {ct_type[:20]!r}")
            contract = number(row, "ctVal", "instrument") * (
                number(row, "ctMult", "instrument") if row.get("ctMult") not in (None, "") else 1.0)
            contract_type: ContractType = "future" if inst_type == "FUTURES" else "perpetual"
            expiry = None
            if contract_type == "future":
                expiry = to_time_ms(row.get("expTime"), f"instrument {symbol}: field 'expTime'")
            self._families[symbol] = (inst_type, family)
            out.append(InstrumentEvent(
                instrument=f"{venue}:{symbol}",
                kind=kind,
                contract_type=contract_type,
                base=base or text(row, "ctValCcy", "instrument"),
                quote=quote or "USD",
                settle=text(row, "settleCcy", "instrument"),
                contract_size=contract if kind == "linear" else 0.0,
                contract_value=contract if kind == "inverse" else 0.0,
                lot_step=number(row, "lotSz", "instrument"),
                min_quantity=number(row, "minSz", "instrument"),
                expiry_ms=expiry,
                tiers=(),
                source=SOURCE,
                ts_event_ms=receive_ms,
                ts_receive_ms=receive_ms,
            ))
        return tuple(out)


def _cap(row: JsonObject) -> float:
    """``maxSz``; empty for a last tier without an upper bound (infinite)."""
    value = optional_number(row, "maxSz", "position tier")
    return math.inf if value is None else value
