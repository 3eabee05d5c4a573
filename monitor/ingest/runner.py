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
    ) -> None:
        rng = random.Random(seed)
        seen: dict[str, int] = {}
        supervisors: list[ConnectionSupervisor] = []
        for venue in venues:
            seen[venue.name] = seen.get(venue.name, 0) + 1
            label = venue.name if seen[venue.name] == 1 else f"{venue.name}#{seen[venue.name]}"
            supervisors.extend(
                ConnectionSupervisor(
                    venue,
                    stream,
                    sink,
                    http,
                    settings,
                    rng=random.Random(rng.getrandbits(64)),
                    label=label,
                )
                for stream in venue.stream_names()
            )
        self.supervisors: tuple[ConnectionSupervisor, ...] = tuple(supervisors)

    def supervisor(self, venue: str, stream: str) -> ConnectionSupervisor:
        """The supervisor of one stream by label (``okx``, ``okx#2``); KeyError if there is none."""
        for candidate in self.supervisors:
            if candidate.label == venue and candidate.stream == stream:
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
