"""Live instrument terms at ingest: fetch each venue's contract listing and tiers, publish them.

An ``InstrumentFetcher`` runs beside a venue's stream supervisors. It refreshes at start, then
every ``refresh_interval_s`` (default 6 h), and at once when ``request`` is called: the runner calls
it when a position arrives in a symbol the fetcher has no terms (or no tiers) for. One refresh reads
every listing page (``venue.instrument_requests``), then the tiers of the symbols of interest (the
configured ones and those held, ``venue.tier_requests``), and publishes one ``InstrumentEvent`` per
listed contract to ``hedge.instruments`` (compacted: the latest terms per instrument stay).

A body the venue cannot read goes to the dead-letter sink with its reason; a failed call leaves the
terms of the last refresh in force and is retried after ``retry_s``. Configured symbols the listing
does not have are logged (the ingest confirms at start what only live metadata could).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

from monitor.domain.events import EventError, InstrumentEvent, InstrumentTier
from monitor.ingest.http import HttpTransport, IngestError, describe
from monitor.ingest.supervisor import truncate_raw
from monitor.venues.base import FrameError, HttpRequest
from monitor.venues.listings import MAX_PAGES, InstrumentReading, InstrumentSource

log = logging.getLogger(__name__)

DEFAULT_REFRESH_INTERVAL_S = 6 * 3600.0


@runtime_checkable
class InstrumentSink(Protocol):
    """Where instrument terms go (``BusSink``: hedge.instruments) and unreadable bodies."""

    async def publish_instruments(self, events: Sequence[InstrumentEvent]) -> None:
        """Queue the terms of listed instruments (the latest per instrument wins)."""
        ...

    async def dead_letter(self, source: str, reason: str, raw: bytes) -> None:
        """Record a body the venue could not read."""
        ...


@dataclass(frozen=True, slots=True)
class InstrumentSettings:
    """How often terms are refreshed; ``refresh_interval_s`` inf (or 0) refreshes only at start."""

    refresh_interval_s: float = DEFAULT_REFRESH_INTERVAL_S
    retry_s: float = 30.0
    http_timeout_s: float = 30.0


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class InstrumentFetcher:
    """Keeps one venue's contract terms published; ``request`` asks for a refresh now."""

    def __init__(
        self,
        source: InstrumentSource,
        sink: InstrumentSink,
        http: HttpTransport,
        settings: InstrumentSettings | None = None,
        *,
        configured: Iterable[str] = (),
        wall_clock_ms: Callable[[], int] = _wall_clock_ms,
    ) -> None:
        self.source = source
        self.sink = sink
        self.http = http
        self.settings = settings or InstrumentSettings()
        self.configured: tuple[str, ...] = tuple(configured)
        self.held: set[str] = set()
        self.listed: dict[str, InstrumentEvent] = {}
        """Terms of every contract of the last refresh, by venue symbol."""
        self.tiered: set[str] = set()
        self.refreshes = 0
        self.failures = 0
        self.unlisted: tuple[str, ...] = ()
        """Configured symbols the last refresh did not find listed."""
        self._wall_clock_ms = wall_clock_ms
        self._wake = asyncio.Event()
        self.refreshed = asyncio.Event()
        """Set after every successful refresh (tests and the runner wait on it)."""

    def interest(self) -> list[str]:
        """The symbols whose tiers are read: configured and held."""
        return sorted({*self.configured, *self.held})

    def note_held(self, symbol: str) -> None:
        """A position in ``symbol`` is held: refresh now if its terms or tiers are not known yet."""
        if symbol in self.held:
            return  # asked once; a symbol still unlisted waits for the scheduled refresh
        self.held.add(symbol)
        if symbol not in self.listed or symbol not in self.tiered:
            self.request()

    def request(self) -> None:
        """Refresh as soon as the running loop can."""
        self._wake.set()

    async def run(self) -> None:
        """Refresh at start, then on schedule and on request, until cancelled."""
        interval = self.settings.refresh_interval_s
        while True:
            self._wake.clear()
            ok = await self.refresh()
            wait = interval if ok else self.settings.retry_s
            timeout = None if not (wait > 0 and math.isfinite(wait)) else wait
            try:
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def refresh(self) -> bool:
        """One refresh of terms and tiers; True when every call succeeded and was read."""
        listed: dict[str, InstrumentEvent] = {}
        for first in self.source.instrument_requests(self._wall_clock_ms()):
            request: HttpRequest | None = first
            pages = 0
            while request is not None and pages < MAX_PAGES:
                reading = await self._read(request)
                if reading is None:
                    self.failures += 1
                    return False
                for terms in reading.terms:
                    listed[terms.symbol] = terms
                request = reading.next_request
                pages += 1
        self.listed = listed or self.listed
        tiers: dict[str, tuple[InstrumentTier, ...]] = {}
        wanted = [symbol for symbol in self.interest() if symbol in self.listed]
        complete = True
        for request in self.source.tier_requests(self._wall_clock_ms(), wanted):
            reading = await self._read(request)
            if reading is None:
                complete = False
                continue
            tiers.update(reading.tiers)
        events = [
            replace(terms, tiers=tiers[symbol]) if tiers.get(symbol) else terms
            for symbol, terms in sorted(self.listed.items())
        ]
        self.tiered = {symbol for symbol in tiers if tiers[symbol]}
        if events:
            await self.sink.publish_instruments(events)
        self.unlisted = tuple(s for s in self.configured if s not in self.listed)
        if self.unlisted:
            log.error("%s does not list %s: no live terms for them (check the symbols in the config)",
                      self.source.name, ", ".join(self.unlisted))
        self.refreshes += 1
        self.refreshed.set()
        log.info("%s: %d instruments listed, tiers of %d", self.source.name, len(events), len(self.tiered))
        if not complete:
            self.failures += 1
        return complete

    async def _read(self, request: HttpRequest) -> InstrumentReading | None:
        try:
            response = await self.http.send(request, self.settings.http_timeout_s)
        except IngestError as exc:
            log.warning("%s: instruments %s failed: %s", self.source.name, request.purpose, exc)
            return None
        if not response.ok:
            log.warning("%s: %s HTTP %d", self.source.name, describe(request), response.status)
            await self.sink.dead_letter(self.source.name, f"instruments {request.purpose}: HTTP "
                                        f"{response.status}", truncate_raw(response.body))
            return None
        try:
            return self.source.parse_instruments(request, response.body, self._wall_clock_ms())
        except FrameError as exc:
            reason = exc.reason
        except EventError as exc:  # terms that cannot be (a lot size of 0, a future without expiry)
            reason = str(exc)
        except Exception as exc:  # a parser defect must not end the ingest: dead-letter it, loudly
            log.exception("%s: parse_instruments raised %s", self.source.name, type(exc).__name__)
            reason = f"internal: {type(exc).__name__}"
        await self.sink.dead_letter(self.source.name, f"instruments {request.purpose}: {reason}",
                                    truncate_raw(response.body))
        return None
