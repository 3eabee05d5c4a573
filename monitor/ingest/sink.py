"""Where the connection supervisor delivers what it reads: events, dead letters and feed status.

The production sink publishes to Kafka (``hedge.prices``, ``hedge.positions``, the dead-letter
topic) and feeds metrics; tests use ``CollectingSink``. Contract for implementations:

- ``publish`` must never drop a position, balance or fill event (they are full state or money);
  price events may be conflated (only the newest price of an instrument matters). ``resync`` is
  True for the full state read back by a REST resync, which a sink may compare with what the
  stream had said (``BusSink`` reports the differences as position mismatches).
- ``dead_letter`` receives frames a venue could not read; ``raw`` is already truncated by the
  caller and never contains credentials (frames are market or account data, not requests).
- ``feed_status`` is synchronous and cheap: it only records the state of one (venue, stream).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from monitor.domain.events import Event, InstrumentEvent

FeedStatus = Literal["connected", "stale", "reconnecting", "resynced", "disconnected"]
FEED_STATUSES: tuple[FeedStatus, ...] = (
    "connected",
    "stale",
    "reconnecting",
    "resynced",
    "disconnected",
)


class IngestSink(Protocol):
    """The consumer of one or more connection supervisors."""

    async def publish(self, events: Sequence[Event], *, resync: bool = False) -> None:
        """Deliver canonical events (never drop position/balance/fill; prices may be conflated)."""
        ...

    async def dead_letter(self, source: str, reason: str, raw: bytes) -> None:
        """Record a frame or response that could not be read, with the reason."""
        ...

    def feed_status(self, venue: str, stream: str, status: str, detail: str) -> None:
        """Record the state of one stream (one of ``FEED_STATUSES``) with a short detail."""
        ...


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One dead-lettered frame as the collecting sink saw it."""

    source: str
    reason: str
    raw: bytes


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One feed-status change as the collecting sink saw it."""

    venue: str
    stream: str
    status: str
    detail: str


class CollectingSink:
    """An in-memory sink for tests and demos; ``wait_for`` blocks until a condition holds."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.dead_letters: list[DeadLetter] = []
        self.statuses: list[StatusChange] = []
        self.instruments: list[InstrumentEvent] = []
        # per publish, whether it asked for the resync compare (``resync=True``)
        self.compared: list[bool] = []
        self._changed = asyncio.Event()

    async def publish(self, events: Sequence[Event], *, resync: bool = False) -> None:
        """Keep every event, in arrival order."""
        self.events.extend(events)
        self.compared.append(resync)
        self._changed.set()

    async def publish_instruments(self, events: Sequence[InstrumentEvent]) -> None:
        """Keep instrument terms (``instruments``, in arrival order)."""
        self.instruments.extend(events)
        self._changed.set()

    async def dead_letter(self, source: str, reason: str, raw: bytes) -> None:
        """Keep the dead letter."""
        self.dead_letters.append(DeadLetter(source, reason, raw))
        self._changed.set()

    def feed_status(self, venue: str, stream: str, status: str, detail: str) -> None:
        """Keep the status change."""
        self.statuses.append(StatusChange(venue, stream, status, detail))
        self._changed.set()

    def status_of(self, venue: str, stream: str) -> str | None:
        """The latest status of one stream, or None if it never reported."""
        for change in reversed(self.statuses):
            if change.venue == venue and change.stream == stream:
                return change.status
        return None

    def statuses_of(self, venue: str, stream: str) -> list[str]:
        """Every status one stream reported, oldest first."""
        return [c.status for c in self.statuses if c.venue == venue and c.stream == stream]

    async def wait_for(self, condition: Callable[[], bool], timeout_s: float) -> None:
        """Return once ``condition()`` is true; raise TimeoutError after ``timeout_s``.

        The condition is re-checked whenever the sink records something (event, dead letter,
        status); a condition on other state (a supervisor's counters) needs a polling loop.
        """
        async with asyncio.timeout(timeout_s):
            while not condition():
                # No await between the check and clear(), so no change can slip in between.
                self._changed.clear()
                await self._changed.wait()
