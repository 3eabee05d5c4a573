"""Runs one connection supervisor per (venue, stream) in a task group.

Cancelling ``VenueRunner.run`` cancels every supervisor; each closes its socket and reports
``disconnected``. A failure that escapes a supervisor (the sink failing) ends the group and
propagates to the caller.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence

from monitor.ingest.http import HttpTransport
from monitor.ingest.sink import IngestSink
from monitor.ingest.supervisor import ConnectionSupervisor, SupervisorSettings
from monitor.venues.base import Venue


class VenueRunner:
    """The supervisors of a set of venues; ``supervisors`` is exposed for metrics."""

    def __init__(
        self,
        venues: Sequence[Venue],
        sink: IngestSink,
        http: HttpTransport,
        settings: SupervisorSettings | None = None,
        *,
        seed: int | None = None,
    ) -> None:
        names = [venue.name for venue in venues]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"each venue may be run once; duplicated: {', '.join(duplicates)}")
        rng = random.Random(seed)
        self.supervisors: tuple[ConnectionSupervisor, ...] = tuple(
            ConnectionSupervisor(
                venue,
                stream,
                sink,
                http,
                settings,
                rng=random.Random(rng.getrandbits(64)),
            )
            for venue in venues
            for stream in venue.stream_names()
        )

    def supervisor(self, venue: str, stream: str) -> ConnectionSupervisor:
        """The supervisor of one stream; KeyError if there is none."""
        for candidate in self.supervisors:
            if candidate.venue.name == venue and candidate.stream == stream:
                return candidate
        raise KeyError(f"{venue}/{stream}")

    async def run(self) -> None:
        """Run every supervisor until cancelled."""
        async with asyncio.TaskGroup() as group:
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
