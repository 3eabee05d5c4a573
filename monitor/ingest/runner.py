"""Runs one connection supervisor per (venue, stream) in a task group.

Cancelling ``VenueRunner.run`` cancels every supervisor; each closes its socket and reports
``disconnected``. A failure that escapes a supervisor (the sink failing) ends the group and
propagates to the caller.

Whole accounts: a venue with an instrument seam (``monitor.venues.listings``) gets an
``InstrumentFetcher`` beside its supervisors when the sink takes instrument terms; every position
the venue's streams publish passes a ``PositionFollower``, which tells the fetcher of symbols it has
no terms for and makes the market stream follow (subscribe to) every symbol the account holds.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence

from monitor.domain.events import Event, PositionEvent
from monitor.ingest.http import HttpTransport
from monitor.ingest.instruments import InstrumentFetcher, InstrumentSettings, InstrumentSink
from monitor.ingest.sink import IngestSink
from monitor.ingest.supervisor import ConnectionSupervisor, SupervisorSettings
from monitor.venues.base import Venue
from monitor.venues.listings import instrument_source


class PositionFollower:
    """An ``IngestSink`` in front of one venue's streams: positions it sees are followed.

    A held symbol without live terms asks the venue's ``InstrumentFetcher`` for a refresh; a held
    symbol the market stream does not subscribe to is added (``venue.follow``) and the market
    stream reconnects with it. Everything is passed on to the sink unchanged, nothing is dropped.
    """

    def __init__(self, venue: Venue, sink: IngestSink, fetcher: InstrumentFetcher | None) -> None:
        self.venue = venue
        self.sink = sink
        self.fetcher = fetcher
        self.market: ConnectionSupervisor | None = None
        self._prefix = venue.name + ":"

    async def publish(self, events: Sequence[Event], *, resync: bool = False) -> None:
        """Follow the open positions among ``events``, then pass them on."""
        follow = getattr(self.venue, "follow", None)
        for event in events:
            if not isinstance(event, PositionEvent) or event.quantity == 0 \
                    or not event.instrument.startswith(self._prefix):
                continue
            symbol = event.instrument[len(self._prefix):]
            if self.fetcher is not None:
                self.fetcher.note_held(symbol)
            if follow is not None and follow(symbol) and self.market is not None:
                self.market.request_reconnect(f"following {symbol}")
        await self.sink.publish(events, resync=resync)

    async def dead_letter(self, source: str, reason: str, raw: bytes) -> None:
        """Passed on."""
        await self.sink.dead_letter(source, reason, raw)

    def feed_status(self, venue: str, stream: str, status: str, detail: str) -> None:
        """Passed on."""
        self.sink.feed_status(venue, stream, status, detail)


class VenueRunner:
    """The supervisors of a set of venues; ``supervisors`` is exposed for metrics.

    Two venues of one name (two accounts at one exchange) are labelled ``okx`` and ``okx#2`` in
    feed status, so their streams stay apart.
    """

    def __init__(
        self,
        venues: Sequence[Venue],
        sink: IngestSink,
        http: HttpTransport,
        settings: SupervisorSettings | None = None,
        *,
        seed: int | None = None,
        instrument_settings: InstrumentSettings | None = None,
    ) -> None:
        rng = random.Random(seed)
        seen: dict[str, int] = {}
        supervisors: list[ConnectionSupervisor] = []
        fetchers: list[InstrumentFetcher] = []
        for venue in venues:
            seen[venue.name] = seen.get(venue.name, 0) + 1
            label = venue.name if seen[venue.name] == 1 else f"{venue.name}#{seen[venue.name]}"
            source = instrument_source(venue)
            fetcher = None
            if source is not None and isinstance(sink, InstrumentSink):
                fetcher = InstrumentFetcher(source, sink, http, instrument_settings,
                                            configured=getattr(venue, "symbols", ()))
                fetchers.append(fetcher)
            follower = PositionFollower(venue, sink, fetcher)
            for stream in venue.stream_names():
                supervisor = ConnectionSupervisor(
                    venue,
                    stream,
                    follower,
                    http,
                    settings,
                    rng=random.Random(rng.getrandbits(64)),
                    label=label,
                )
                if stream == "market":
                    follower.market = supervisor
                supervisors.append(supervisor)
        self.supervisors: tuple[ConnectionSupervisor, ...] = tuple(supervisors)
        self.fetchers: tuple[InstrumentFetcher, ...] = tuple(fetchers)

    def supervisor(self, venue: str, stream: str) -> ConnectionSupervisor:
        """The supervisor of one stream by label (``okx``, ``okx#2``); KeyError if there is none."""
        for candidate in self.supervisors:
            if candidate.label == venue and candidate.stream == stream:
                return candidate
        raise KeyError(f"{venue}/{stream}")

    async def run(self) -> None:
        """Run every supervisor until cancelled."""
        async with asyncio.TaskGroup() as group:
            for fetcher in self.fetchers:
                group.create_task(fetcher.run(), name=f"instruments:{fetcher.source.name}")
            for supervisor in self.supervisors:
                group.create_task(supervisor.run(), name=f"ingest:{supervisor.name}")


async def run_venues(
    venues: Sequence[Venue],
    sink: IngestSink,
    http: HttpTransport,
    settings: SupervisorSettings | None = None,
) -> None:
    """Run one supervisor per (venue, stream) until cancelled."""
    await VenueRunner(venues, sink, http, settings).run()
