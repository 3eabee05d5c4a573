"""The instrument-terms seam of a venue: which REST calls list its contracts and tiers, and how to
read them into ``InstrumentEvent``s (hedge.instruments).

Pure, like the rest of a venue module: a venue builds the ``HttpRequest``s and parses the bodies;
``monitor.ingest.instruments.InstrumentFetcher`` does the I/O at ingest start, on a schedule and on
meeting a symbol it has no terms for. A venue without this seam (``instrument_source`` returns
None) keeps the shipped catalog as its only source of terms.

Flow of one refresh::

    for request in venue.instrument_requests(now_ms):          # contract terms (every listing)
        reading = venue.parse_instruments(request, body, ms)   # terms, maybe a next page
    for request in venue.tier_requests(now_ms, symbols):       # tiers of the symbols of interest
        reading = venue.parse_instruments(request, body, ms)   # tiers by symbol
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import orjson

from monitor.domain.events import InstrumentEvent, InstrumentTier
from monitor.venues.base import FrameError, HttpRequest

MAX_LISTING_BYTES = 16 << 20
"""A listing body may be this large (Binance's exchangeInfo is over 1 MiB, the stream frame limit)."""
MAX_PAGES = 50
"""At most this many pages are followed for one listing request (a guard against a cursor loop)."""


@dataclass(frozen=True, slots=True)
class InstrumentReading:
    """What one listing or tier response said: terms, tiers by venue symbol, and a next page."""

    terms: tuple[InstrumentEvent, ...] = ()
    tiers: Mapping[str, tuple[InstrumentTier, ...]] = field(default_factory=dict)
    next_request: HttpRequest | None = None


@runtime_checkable
class InstrumentSource(Protocol):
    """A venue that lists its contract terms and margin tiers over REST."""

    name: str

    def instrument_requests(self, now_ms: int) -> tuple[HttpRequest, ...]:
        """The REST calls that list every contract's terms."""
        ...

    def tier_requests(self, now_ms: int, symbols: Sequence[str]) -> tuple[HttpRequest, ...]:
        """The REST calls that list the tiers of these symbols (may be none, e.g. unsigned)."""
        ...

    def parse_instruments(self, request: HttpRequest, body: bytes, receive_ms: int) -> InstrumentReading:
        """Read one listing or tier response; FrameError with a reason when it cannot be read."""
        ...


def instrument_source(venue: object) -> InstrumentSource | None:
    """The venue's instrument seam, or None for a venue that has none (the catalog then serves)."""
    return venue if isinstance(venue, InstrumentSource) else None


def load_listing(body: bytes, venue: str) -> object:
    """Decode one listing or tier body (up to ``MAX_LISTING_BYTES``), or FrameError."""
    if len(body) > MAX_LISTING_BYTES:
        raise FrameError(f"{venue}: listing of {len(body)} bytes exceeds the limit of {MAX_LISTING_BYTES}")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise FrameError(f"{venue}: invalid JSON ({exc})") from None


def unknown_purpose(venue: str, request: HttpRequest) -> FrameError:
    """The error for a response this venue did not ask for."""
    return FrameError(f"{venue}: unknown instruments purpose {request.purpose!r}")


def tiers_from_caps(
    rows: Sequence[tuple[float, float, float, float | None]],
) -> tuple[InstrumentTier, ...]:
    """Tiers from (cap, mmr, max_leverage, cum) rows sorted by cap: each floor is the previous cap.

    Bybit lists only each tier's cap (``riskLimitValue``); the first tier starts at 0.
    """
    tiers: list[InstrumentTier] = []
    floor = 0.0
    for cap, mmr, leverage, cum in sorted(rows, key=lambda row: row[0]):
        tiers.append(InstrumentTier(floor, cap, mmr, leverage, cum))
        floor = cap
    return tuple(tiers)


__all__ = [
    "MAX_LISTING_BYTES", "MAX_PAGES", "InstrumentReading", "InstrumentSource", "instrument_source",
    "load_listing", "tiers_from_caps", "unknown_purpose",
]
