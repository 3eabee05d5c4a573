"""The production ingest sink: canonical events onto the bus, buffered while the broker is away.

Account events (positions, balances, fills) are kept in order in a bounded queue and leave it only
after the broker acknowledged them; when the queue is full, ``publish`` waits (backpressure on the
websocket reader) instead of dropping anything. Prices are conflated to the latest per instrument.
Dead letters are buffered too (bounded; the oldest beyond the bound are dropped and counted).

A REST resync's full state is compared with the last value the stream published for the same
position or balance; a difference means the stream missed an update, and a ``MismatchEvent``
(``active``) goes to ``hedge.positions`` after the corrected state, for the processor's
``position_mismatch`` alert; the next resync that agrees sends it again with ``active`` False.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence

from monitor.bus.base import BusError, BusUnavailableError, Producer, Topics
from monitor.codec import dead_letter_value, encode_event, encode_instrument, event_key
from monitor.domain.events import (
    AccountEvent,
    BalanceEvent,
    Event,
    InstrumentEvent,
    MismatchEvent,
    PositionEvent,
    PriceEvent,
)
from monitor.metrics import Metrics, NullMetrics

log = logging.getLogger(__name__)


class BusSink:
    """An ``IngestSink`` publishing to ``hedge.prices``, ``hedge.positions`` and ``hedge.dlq``."""

    def __init__(
        self,
        producer: Producer,
        topics: Topics,
        *,
        max_buffered_account_events: int = 100_000,
        max_buffered_dead_letters: int = 10_000,
        retry_backoff_s: float = 0.5,
        outage_after_s: float = 5.0,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._producer = producer
        self._topics = topics
        self._accounts: deque[AccountEvent] = deque()
        self._prices: dict[str, PriceEvent] = {}
        self._instruments: dict[str, InstrumentEvent] = {}
        self._dead_letters: deque[tuple[bytes, bytes]] = deque(maxlen=max_buffered_dead_letters)
        self._max_accounts = max_buffered_account_events
        self._retry_backoff_s = retry_backoff_s
        self._outage_after_s = outage_after_s
        self._metrics: Metrics | NullMetrics = NullMetrics() if metrics is None else metrics
        self._clock = clock
        self._wake = asyncio.Event()
        self._space = asyncio.Event()
        self.waiting_publishers = 0
        """How many ``publish`` calls are waiting for room (backpressure, observable)."""
        self._space.set()
        self._outage_since: float | None = None
        self.statuses: dict[tuple[str, str], tuple[str, str]] = {}
        self._stream_state: dict[_StateKey, float] = {}
        self._mismatched: set[_StateKey] = set()
        self.published_events = 0
        self.mismatches = 0
        self.dead_letters = 0
        self.dropped_dead_letters = 0

    @property
    def buffered(self) -> int:
        """Events waiting for the broker (account events plus conflated prices)."""
        return len(self._accounts) + len(self._prices) + len(self._instruments)

    async def publish(self, events: Sequence[Event], *, resync: bool = False) -> None:
        """Queue events; waits for room instead of dropping an account event."""
        if resync:
            events = [*events, *self._compare_resync(events)]
        else:
            for event in events:
                state = _state_of(event)
                if state is not None:
                    self._stream_state[state[0]] = state[1]
        for event in events:
            if isinstance(event, PriceEvent):
                current = self._prices.get(event.instrument)
                if current is None or event.ts_event_ms >= current.ts_event_ms:
                    self._prices[event.instrument] = event
                continue
            while len(self._accounts) >= self._max_accounts:
                self._space.clear()
                self._wake.set()
                self.waiting_publishers += 1
                try:
                    await self._space.wait()
                finally:
                    self.waiting_publishers -= 1
            self._accounts.append(event)
        self._wake.set()

    def _compare_resync(self, events: Sequence[Event]) -> list[MismatchEvent]:
        """Mismatch events for resync values that differ from (or agree again with) the stream's."""
        found: list[MismatchEvent] = []
        for event in events:
            state = _state_of(event)
            if state is None:
                continue
            key, resync_quantity = state
            stream_quantity = self._stream_state.get(key)
            self._stream_state[key] = resync_quantity
            if stream_quantity is None:
                continue
            differs = abs(resync_quantity - stream_quantity) > 1e-9 * max(1.0, abs(stream_quantity))
            if not differs and key not in self._mismatched:
                continue
            if differs:
                self._mismatched.add(key)
                self.mismatches += 1
                log.warning("resync of %s/%s found %s = %g where the stream said %g",
                            key[0], key[1], key[2], resync_quantity, stream_quantity)
            else:
                self._mismatched.discard(key)
            found.append(MismatchEvent(
                key[0], key[1], key[2], stream_quantity, resync_quantity, differs,
                event.ts_event_ms, event.ts_receive_ms))
        return found

    async def publish_instruments(self, events: Sequence[InstrumentEvent]) -> None:
        """Queue instrument terms for ``hedge.instruments`` (conflated: the latest per instrument)."""
        for event in events:
            self._instruments[event.instrument] = event
        self._wake.set()

    async def dead_letter(self, source: str, reason: str, raw: bytes) -> None:
        """Queue a dead letter for ``hedge.dlq``."""
        self.dead_letters += 1
        self._metrics.dead_letter(source)
        if len(self._dead_letters) == self._dead_letters.maxlen:
            self.dropped_dead_letters += 1
        value = dead_letter_value(source, reason, raw, int(self._clock() * 1000))
        self._dead_letters.append((source.encode(), value))
        self._wake.set()

    def feed_status(self, venue: str, stream: str, status: str, detail: str) -> None:
        """Record and log a stream's state; count reconnects."""
        previous = self.statuses.get((venue, stream))
        self.statuses[(venue, stream)] = (status, detail)
        if previous is None or previous[0] != status:
            level = logging.WARNING if status in ("stale", "reconnecting") else logging.INFO
            log.log(level, "feed %s/%s %s: %s", venue, stream, status, detail)
        if status == "reconnecting":
            self._metrics.reconnect(venue, stream)

    async def run(self, stop: asyncio.Event) -> None:
        """Send what is buffered until ``stop`` is set and the buffer is empty (or stop again)."""
        while True:
            if stop.is_set() and not self._has_work():
                return
            if not self._has_work():
                self._wake.clear()
                stop_wait = asyncio.ensure_future(stop.wait())
                wake_wait = asyncio.ensure_future(self._wake.wait())
                await asyncio.wait({stop_wait, wake_wait}, return_when=asyncio.FIRST_COMPLETED)
                stop_wait.cancel()
                wake_wait.cancel()
                continue
            try:
                await self._send_once()
            except BusError as exc:  # a broker outage: keep the buffer, retry
                self._note_outage(exc)
                if stop.is_set() and self._outage_since is not None and \
                        self._clock() - self._outage_since > 30:
                    log.error(  # noqa: TRY400 -- the outage was logged; no traceback wanted
                        "giving up after 30 s of broker outage at shutdown; %d events unsent",
                        self.buffered)
                    return
                await asyncio.sleep(self._retry_backoff_s)

    def _has_work(self) -> bool:
        return bool(self._accounts or self._prices or self._dead_letters or self._instruments)

    async def _send_once(self) -> None:
        accounts = list(self._accounts)
        prices = dict(self._prices)
        dead_letters = list(self._dead_letters)
        instruments = dict(self._instruments)
        for terms in instruments.values():  # terms first: the processor reads them before positions
            self._producer.send(self._topics.instruments, terms.instrument.encode(),
                                encode_instrument(terms))
        for account_event in accounts:
            self._producer.send(
                self._topics.positions, event_key(account_event), encode_event(account_event))
        for price in prices.values():
            self._producer.send(self._topics.prices, event_key(price), encode_event(price))
        for key, value in dead_letters:
            self._producer.send(self._topics.dlq, key, value)
        flush = asyncio.ensure_future(self._producer.flush())
        try:
            # An idempotent producer retries an unacknowledged batch until the broker is back, so
            # an outage shows up as a flush that does not finish, not as an error.
            while not (await asyncio.wait({flush}, timeout=self._outage_after_s))[0]:
                self._note_outage(BusUnavailableError(f"no acknowledgement for {self._outage_after_s:g} s"))
        except asyncio.CancelledError:
            flush.cancel()
            raise
        flush.result()
        for _ in accounts:
            self._accounts.popleft()
        for instrument, price in prices.items():
            if self._prices.get(instrument) is price:
                del self._prices[instrument]
        for _ in dead_letters:
            self._dead_letters.popleft()
        for instrument, terms in instruments.items():
            if self._instruments.get(instrument) is terms:
                del self._instruments[instrument]
        self.published_events += len(accounts) + len(prices)
        self._space.set()
        if self._outage_since is not None:
            log.warning("broker reachable again after %.1f s; buffer drained",
                        self._clock() - self._outage_since)
            self._outage_since = None
        self._metrics.ingest_buffered(self.buffered)

    def _note_outage(self, exc: BusError) -> None:
        if self._outage_since is None:
            self._outage_since = self._clock()
            log.warning("broker unavailable (%s); buffering %d events (account events are kept, "
                        "prices conflated)", exc, self.buffered)
        self._metrics.ingest_buffered(self.buffered)


_StateKey = tuple[str, str, str, str]
"""(portfolio, account, instrument or asset, leg): what a resync value is compared with."""


def _state_of(event: Event) -> tuple[_StateKey, float] | None:
    """The compare key and quantity of a position or balance event: a position by (portfolio,
    account, instrument, position_side), so a hedge pair's long and short legs are compared each
    with its own stream value; a balance by (portfolio, account, asset) with the leg ``""``."""
    if isinstance(event, PositionEvent):
        return (event.portfolio, event.account, event.instrument, event.position_side), event.quantity
    if isinstance(event, BalanceEvent):
        return (event.portfolio, event.account, event.asset, ""), event.quantity
    return None
