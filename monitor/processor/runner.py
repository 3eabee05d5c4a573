"""The stateful processor: hedge.prices + hedge.positions in, hedge.risk + hedge.alerts out.

Guarantees (docs/guarantees.md):

* ``hedge.positions`` is consumed in a consumer group, so portfolios are spread over instances;
  ``hedge.prices`` is read in full by every instance as a table of latest prices.
* At-least-once with idempotent outputs. The commit order of one checkpoint is: publish the
  outputs of every processed record -> write the state of every changed portfolio and a partition
  marker holding the next input offset -> flush the producer (wait for every ack) -> commit that
  offset. The regular checkpoint spreads the state writes over rounds and commits in the
  background; the marker still follows every state it covers. The price table is checkpointed
  with the price offsets it reflects, so a restart reads only the ticks after it.
  On assignment the state is read back and the partition resumes from its marker; a
  portfolio skips input offsets it already reflects, so a replay does not double-count fees.
* Alert transitions go through an outbox: the alert state that produced them is written to
  ``hedge.state`` (and flushed) before they are published, so a crash can only re-publish the
  same transitions with the same ids, never fire the same alert again under another id.
* A position or balance record is never conflated or dropped; a malformed one goes to
  ``hedge.dlq`` with the reason, and processing continues.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import heapq
import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from monitor.bus.base import Bus, BusError, Consumer, Producer, Record, TopicPartition, Topics
from monitor.codec import (
    DecodeError,
    dead_letter_value,
    decode,
    decode_instrument,
    encode_risk,
    event_to_dict,
)
from monitor.domain.events import PriceEvent
from monitor.domain.snapshot import RiskSnapshot
from monitor.errors import HedgeMonitorError
from monitor.metrics import Metrics, NullMetrics
from monitor.processor.engine import RiskEngine, UnknownInstrumentError

log = logging.getLogger(__name__)

# While building the snapshots of one round, hand what is built to the producer this often.
HAND_OFF_INTERVAL_S = 0.002
# With a publish interval, the snapshots that came due are built this long per loop turn at most
# (urgent ones all): a desk's portfolios come due together, and a tick must not wait for them all.
THROTTLED_SLICE_S = 0.005
# A loop that did not turn for this long may have missed enough heartbeats to be expelled (the
# session timeout is 10 s): it writes nothing until the group confirms its membership.
STALL_S = 5.0
# portfolios rebuilt between two yields to the loop while restoring (heartbeats must go on)
RESTORE_SLICE = 50
# Snapshot gauges are exported at most this often (the latest snapshot of each portfolio): a scrape
# every 15 s needs no more, and exporting one snapshot costs about half as much as building it.
METRICS_EXPORT_INTERVAL_S = 1.0
# An export is spread over loop turns, this much of it per turn: exporting a desk's 500 labelled
# portfolios at once (about 55 us each) would hold a tick's round up by about 30 ms.
METRICS_EXPORT_SLICE_S = 0.002


@dataclass(frozen=True, slots=True)
class ProcessorSettings:
    """How the processor reads, publishes and checkpoints."""

    topics: Topics = field(default_factory=Topics)
    group_id: str = "hedge-monitor"
    instance_id: str | None = None
    publish_interval_ms: int = 0
    checkpoint_interval_ms: int = 1_000
    max_batch_records: int = 20_000
    fetch_timeout_ms: int = 200
    stale_after_ms: int = 30_000
    tick_interval_s: float = 0.25
    young_collection_threshold: int = 100_000
    """The garbage collector's generation-0 threshold while the processor runs (0: the
    interpreter's own, 700). A snapshot allocates a few dozen objects that live until the next
    metrics export; at 700 they outlive young collections, reach the oldest generation and make
    the collector scan every book about once a second (docs/performance.md, 2026-12-04)."""


@dataclass(slots=True)
class _CheckpointCycle:
    """A regular checkpoint in progress: the markers it will write and the states still to write."""

    markers: dict[int, int]
    remaining: list[str]


@dataclass(slots=True)
class _CollectorSetting:
    """The interpreter's collector thresholds while processors hold a raised one (one process can
    run several processors: the first to start sets it, the last to stop restores it)."""

    holders: int = 0
    previous: tuple[int, ...] = ()


_COLLECTOR = _CollectorSetting()


@contextlib.contextmanager
def young_collections(threshold: int) -> Iterator[None]:
    """The collector's generation-0 ``threshold`` inside the block (0: unchanged), restored when
    the last block of the process ends."""
    if not threshold:
        yield
        return
    if _COLLECTOR.holders == 0:
        _COLLECTOR.previous = gc.get_threshold()
        gc.set_threshold(threshold, *_COLLECTOR.previous[1:])
    _COLLECTOR.holders += 1
    try:
        yield
    finally:
        _COLLECTOR.holders -= 1
        if _COLLECTOR.holders == 0:
            gc.set_threshold(*_COLLECTOR.previous)


class Processor:
    """Runs the risk engine over a bus until stopped."""

    def __init__(
        self,
        bus: Bus,
        engine: RiskEngine,
        settings: ProcessorSettings | None = None,
        *,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.bus = bus
        self.engine = engine
        self.settings = settings or ProcessorSettings()
        self.metrics: Metrics | NullMetrics = NullMetrics() if metrics is None else metrics
        self._clock = clock
        self._lock = asyncio.Lock()
        self._producer: Producer | None = None
        self._group: Consumer | None = None
        self._owned: set[int] = set()
        self._next_offset: dict[int, int] = {}
        self._price_next: dict[int, int] = {}
        self._instrument_next: dict[int, int] = {}
        self._price_events: dict[str, PriceEvent] = {}
        self._price_checkpoint_at: dict[int, int] = {}
        self._pending_publish: set[str] = set()
        self._publish_backlog = False  # throttled snapshots came due and wait for the next turn
        self._last_publish_ms: dict[str, int] = {}
        # Portfolios changed since they were last sampled (``RiskEngine.sample``).
        self._unsampled: set[str] = set()
        # With a publish interval: the pending portfolios by last publish time (entries of one
        # published since are stale and skipped), so a turn reads only the ones that came due.
        self._throttle_queue: list[tuple[int, str]] = []
        self._queued: set[str] = set()
        self._firing: dict[str, list[tuple[str, str, str]]] = {}  # firing alerts by portfolio
        self._hand_off_at = 0.0
        self._firing_gauge_stale = False
        self._last_checkpoint_ms = 0
        self._cycle: _CheckpointCycle | None = None
        self._commit_task: asyncio.Task[None] | None = None
        self._metrics_pending: dict[str, RiskSnapshot] = {}
        self._metrics_exporting: dict[str, RiskSnapshot] = {}  # the export in progress
        self._metrics_exported_at = -math.inf
        self._prices_consumer: Consumer | None = None
        self._round_done = asyncio.Event()
        self._stale: frozenset[str] = frozenset()
        self._restore_pending: set[int] = set()
        self._restore_wanted = asyncio.Event()
        self._assignment_epoch = 0
        self._last_round_at = math.inf
        self._membership_unconfirmed = False
        self._restored_in_round = False
        self.ready = asyncio.Event()
        self.published_snapshots = 0
        self.dead_letters = 0

    @property
    def owned_partitions(self) -> frozenset[int]:
        """The input partitions this instance currently owns."""
        return frozenset(self._owned)

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    # -- lifecycle ------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Catch up on prices, join the group and process until ``stop`` is set; then checkpoint."""
        with young_collections(self.settings.young_collection_threshold):
            await self._run(stop)

    async def _run(self, stop: asyncio.Event) -> None:
        topics = self.settings.topics
        self._producer = await self.bus.producer()
        try:
            # hedge.instruments (live contract terms) is read with the prices, as a table too.
            prices = await self.bus.table_consumer([topics.prices, topics.instruments])
        except BaseException:
            await self._producer.stop()
            raise
        self._prices_consumer = prices
        group: Consumer | None = None
        try:
            await self._restore_prices(prices)
            await self._catch_up_prices(prices)
            group = await self.bus.group_consumer(
                [topics.positions], self.settings.group_id, self._on_assigned, self._on_revoked,
                instance_id=self.settings.instance_id)
            self._group = group
            # partitions assigned while the member started are held back until they are restored
            group.pause(self._positions_partitions(self._restore_pending))
            self.ready.set()
            await self._loop(prices, group, stop)
        finally:
            if group is not None:
                async with self._lock:
                    await self._checkpoint()
                await group.stop()
            await prices.stop()
            await self._producer.stop()

    async def _restore_prices(self, prices: Consumer) -> None:
        """Start from the group's price-table checkpoint, so a restart reads only the ticks after it.

        ``hedge.prices`` is compacted, but its active segment never is, so without the checkpoint a
        restart would re-read every tick of the segment (days of them). The checkpoint holds the
        latest price of each instrument and the offsets it reflects; it is ignored when an offset
        lies past the partition's end (the topic was recreated).
        """
        checkpoint = (await self._read_state(set(), prices_only=True)).get(self._prices_key())
        if checkpoint is None:
            return
        offsets = {int(partition): int(offset) for partition, offset in checkpoint["offsets"].items()}
        topic = self.settings.topics.prices
        assigned = {p.partition: p for p in prices.assignment() if p.topic == topic}
        ends = await prices.end_offsets(sorted(assigned.values(), key=lambda p: p.partition))
        if any(partition not in assigned or offset > ends[assigned[partition]]
               for partition, offset in offsets.items()):
            log.warning("price checkpoint ignored: its offsets %s lie past the topic's ends", offsets)
            return
        for value in checkpoint["prices"]:
            event = decode(orjson.dumps(value))
            if isinstance(event, PriceEvent):
                self._keep_price(event)
                self.engine.apply_price(event)
        for partition, offset in offsets.items():
            await prices.seek(assigned[partition], offset)
            self._price_next[partition] = offset
        self._price_checkpoint_at = dict(offsets)
        log.info("price table restored: %d instruments at offsets %s", len(checkpoint["prices"]), offsets)

    def _keep_price(self, event: PriceEvent) -> None:
        held = self._price_events.get(event.instrument)
        if held is None or event.ts_event_ms >= held.ts_event_ms:
            self._price_events[event.instrument] = event

    def _checkpoint_prices(self, producer: Producer) -> None:
        """Write the price table with the offsets it reflects, when they moved since the last one."""
        if self._price_next == self._price_checkpoint_at:
            return
        value = {"v": 1, "offsets": {str(p): o for p, o in sorted(self._price_next.items())},
                 "prices": [event_to_dict(e) for _, e in sorted(self._price_events.items())]}
        producer.send(self.settings.topics.state, self._prices_key(), orjson.dumps(value))
        self._price_checkpoint_at = dict(self._price_next)

    async def _catch_up_prices(self, prices: Consumer) -> None:
        ends = await prices.end_offsets(sorted(prices.assignment(), key=lambda p: p.partition))
        while any(self._table_next(p) < end for p, end in ends.items()):
            batches = await prices.getmany(self.settings.fetch_timeout_ms, self.settings.max_batch_records)
            self._apply_table(batches)

    async def _loop(self, prices: Consumer, group: Consumer, stop: asyncio.Event) -> None:
        limit = self.settings.max_batch_records
        timeout = self.settings.fetch_timeout_ms
        price_fetch = asyncio.create_task(prices.getmany(timeout, limit), name="fetch-prices")
        position_fetch = asyncio.create_task(group.getmany(timeout, limit), name="fetch-positions")
        stop_wait = asyncio.create_task(stop.wait(), name="stop-wait")
        restore_wait = asyncio.create_task(self._restore_wanted.wait(), name="restore-wait")
        try:
            while not stop.is_set():
                done, _ = await asyncio.wait(
                    {price_fetch, position_fetch, stop_wait, restore_wait},
                    # a checkpoint, an export or due snapshots go on at the next turn of the loop
                    timeout=0 if self._cycle is not None or self._metrics_exporting
                    or self._publish_backlog else self.settings.tick_interval_s,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if restore_wait in done:
                    self._restore_wanted.clear()
                    restore_wait = asyncio.create_task(self._restore_wanted.wait())
                self._note_stall()
                if self._restore_pending:
                    await self._restore(group)
                async with self._lock:
                    if price_fetch in done:
                        self._apply_table(price_fetch.result())
                        price_fetch = asyncio.create_task(prices.getmany(timeout, limit))
                    if position_fetch in done:
                        for partition, records in position_fetch.result().items():
                            self._apply_positions(partition, records)
                        position_fetch = asyncio.create_task(group.getmany(timeout, limit))
                    self._update_stale()
                    if await self._may_write(group):
                        await self._publish_due()
                        await self._flush_outbox()
                        await self._producer_or_fail().flush()
                        await self._advance_checkpoint()
                    else:
                        self._publish_backlog = False  # nothing is published until confirmed
                    self._export_metrics()
                    self._export_firing()
                self._round_done.set()
                self._round_done = asyncio.Event()
        finally:
            for task in (price_fetch, position_fetch, stop_wait, restore_wait):
                task.cancel()
            for task in (price_fetch, position_fetch, stop_wait, restore_wait):
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def _note_stall(self) -> None:
        """After a loop turn later than ``STALL_S`` (a stop, a VM pause), doubt the membership."""
        now = self._clock()
        if now - self._last_round_at > STALL_S and self._owned:
            # a restore awaits (heartbeats go on) but is checked alike: its rebuild is CPU work
            log.log(logging.INFO if self._restored_in_round else logging.WARNING,
                    "the loop did not turn for %.1f s%s: writing nothing until the group confirms "
                    "this member", now - self._last_round_at,
                    " (a restore)" if self._restored_in_round else "")
            self._membership_unconfirmed = True
        self._last_round_at = now
        self._restored_in_round = False

    async def _may_write(self, group: Consumer) -> bool:
        """Whether this round may publish and checkpoint: not while the membership is in doubt.

        A member expelled while stalled learns it only from its next heartbeat or commit; until
        then its snapshots and states would overwrite those of the partitions' new owner.
        """
        if self._membership_lost():
            return False
        if self._membership_unconfirmed:
            if not await group.confirm_membership():
                return False
            self._membership_unconfirmed = False
            log.info("group membership confirmed after the stall")
        return True

    async def drain(self) -> None:
        """Return once every input record present now has been applied and its round published.

        The input ends are read once; the processor's rounds are then awaited (a round ends at least
        every ``tick_interval_s``) until its read positions reach them. Call it while ``run`` runs.
        """
        await self.ready.wait()
        prices, group = self._prices_consumer, self._group
        if prices is None or group is None:
            raise RuntimeError("the processor is not running")
        price_ends = await prices.end_offsets(sorted(prices.assignment(), key=lambda p: p.partition))
        owned = sorted((p for p in group.assignment() if p.partition in self._owned),
                       key=lambda p: p.partition)
        position_ends = await group.end_offsets(owned)

        def reached() -> bool:
            return all(self._table_next(p) >= end for p, end in price_ends.items()) \
                and all(self._next_offset.get(p.partition, 0) >= end
                        for p, end in position_ends.items() if p.partition in self._owned)

        while not reached():
            await self._round_done.wait()
        await self._round_done.wait()  # the round that applied the last record has been published

    def _producer_or_fail(self) -> Producer:
        if self._producer is None:
            raise RuntimeError("the processor is not running")
        return self._producer

    # -- input ----------------------------------------------------------------------------------

    def _dead_letter(self, record: Record, reason: str) -> None:
        self.dead_letters += 1
        self.metrics.dead_letter(record.topic)
        log.warning("dead letter from %s[%d]@%d: %s", record.topic, record.partition,
                    record.offset, reason)
        self._producer_or_fail().send(
            self.settings.topics.dlq, record.topic.encode(),
            dead_letter_value(record.topic, reason, record.value, self._now_ms(),
                              record.partition, record.offset))

    def _table_next(self, partition: TopicPartition) -> int:
        """The next offset to read of a partition of the table topics (prices, instruments)."""
        if partition.topic == self.settings.topics.instruments:
            return self._instrument_next.get(partition.partition, 0)
        return self._price_next.get(partition.partition, 0)

    def _apply_table(self, batches: dict[TopicPartition, list[Record]]) -> None:
        """Apply a fetch of the table topics: instrument terms first, then prices."""
        instruments = self.settings.topics.instruments
        for partition, records in sorted(batches.items(), key=lambda item: item[0].topic != instruments):
            if partition.topic == instruments:
                self._apply_instruments(records)
            else:
                self._apply_prices(records)

    def _apply_instruments(self, records: list[Record]) -> None:
        """Live contract terms into the engine's catalog; an unreadable record is a dead letter."""
        if not records:
            return
        self._instrument_next[records[0].partition] = records[-1].offset + 1
        for record in records:
            try:
                event = decode_instrument(record.value)
            except DecodeError as exc:
                self._dead_letter(record, exc.reason)
                continue
            try:
                touched = self.engine.apply_instrument(event)
            except HedgeMonitorError as exc:  # terms the catalog refuses (CatalogError)
                self._dead_letter(record, str(exc))
                continue
            self._mark_pending(touched)
        self.metrics.events_processed("instrument", len(records))

    def _apply_prices(self, records: list[Record]) -> None:
        if not records:
            return
        self._price_next[records[0].partition] = records[-1].offset + 1
        latest: dict[str, PriceEvent] = {}
        for record in records:
            try:
                event = decode(record.value)
            except DecodeError as exc:
                self._dead_letter(record, exc.reason)
                continue
            if not isinstance(event, PriceEvent):
                self._dead_letter(record, f"a {type(event).__name__} on the prices topic")
                continue
            # Prices may be conflated to the latest within a fetched batch.
            current = latest.get(event.instrument)
            if current is None or event.ts_event_ms >= current.ts_event_ms:
                latest[event.instrument] = event
        for event in latest.values():
            self._keep_price(event)
            self._mark_pending(self.engine.apply_price(event))
            self.metrics.feed_event(event.instrument, event.ts_event_ms)
        self.metrics.events_processed("price", len(records))

    def _apply_positions(self, partition: TopicPartition, records: list[Record]) -> None:
        if partition.partition not in self._owned or not records:
            return
        for record in records:
            try:
                event = decode(record.value)
            except DecodeError as exc:
                self._dead_letter(record, exc.reason)
                continue
            if isinstance(event, PriceEvent):
                self._dead_letter(record, "a price on the positions topic")
                continue
            try:
                portfolio = self.engine.apply_account(event, partition.partition, record.offset)
            except UnknownInstrumentError as exc:
                self._dead_letter(record, str(exc))
                continue
            if portfolio is not None:
                self._mark_pending((portfolio,))
        self._next_offset[partition.partition] = records[-1].offset + 1
        self.metrics.events_processed("account", len(records))

    # -- output ---------------------------------------------------------------------------------

    def _update_stale(self) -> None:
        now = self._now_ms()
        limit = self.settings.stale_after_ms
        stale = frozenset(
            instrument for instrument, price in self.engine.prices.prices.items()
            if now - price.ts_receive_ms > limit
        )
        if stale == self._stale:
            return
        changed = stale ^ self._stale
        self._stale = stale
        for instrument in changed:
            self.metrics.feed_stale(instrument, instrument in stale)
            self._mark_pending(portfolio_id for portfolio_id, state in self.engine.portfolios.items()
                               if instrument in state.watched)

    def _seq(self, partition: int) -> int:
        return sum(self._price_next.values()) + self._next_offset.get(partition, 0)

    def _mark_pending(self, portfolio_ids: Iterable[str]) -> None:
        """Portfolios whose figures changed: sampled and published at the next round."""
        changed = set(portfolio_ids)
        self._pending_publish |= changed
        self._unsampled |= changed

    async def _publish_due(self) -> None:
        """Publish a snapshot of every pending portfolio (and its alert transitions to the outbox).

        Snapshots go to the producer in slices of about ``HAND_OFF_INTERVAL_S`` of work, so the first
        portfolios of a large fan-out are on their way while the rest are built; ``flush`` still
        waits for every acknowledgement before a checkpoint. With a publish interval, urgent
        portfolios go first, then the longest unpublished, for ``THROTTLED_SLICE_S`` per turn; the
        portfolios not yet due are not read at all (``_throttle_queue``).
        """
        self._publish_backlog = False
        portfolios = self.engine.portfolios
        if self._unsampled:
            # a portfolio unchanged since its last sample has nothing new to sample
            self.engine.sample([p for p in self._unsampled if p in portfolios])
            self._unsampled.clear()
        if not self._pending_publish:
            return
        now = self._now_ms()
        producer = self._producer_or_fail()
        self._hand_off_at = time.perf_counter() + HAND_OFF_INTERVAL_S
        if self.settings.publish_interval_ms:
            await self._publish_throttled(now, producer)
        else:
            due = [p for p in self._pending_publish if p in portfolios]
            self._pending_publish = set()
            for portfolio_id in due:
                self._publish_one(portfolio_id, now, producer)
                await self._maybe_hand_off(producer)
        self.engine.urgent.clear()

    async def _publish_throttled(self, now: int, producer: Producer) -> None:
        """With a publish interval: every urgent pending portfolio, then the due ones by last publish
        time for ``THROTTLED_SLICE_S``."""
        interval = self.settings.publish_interval_ms
        pending, queued, queue = self._pending_publish, self._queued, self._throttle_queue
        portfolios, last_publish = self.engine.portfolios, self._last_publish_ms
        for portfolio_id in pending - queued:
            heapq.heappush(queue, (last_publish.get(portfolio_id, 0), portfolio_id))
            queued.add(portfolio_id)
        urgent = sorted((p for p in self.engine.urgent if p in pending and p in portfolios),
                        key=lambda p: last_publish.get(p, 0))
        for portfolio_id in urgent:
            self._publish_one(portfolio_id, now, producer)
            await self._maybe_hand_off(producer)
        started = time.perf_counter()
        throttled = 0  # snapshots published this turn because their interval was up
        while queue:
            published_ms, portfolio_id = queue[0]
            if portfolio_id not in pending or portfolio_id not in portfolios:
                heapq.heappop(queue)
                queued.discard(portfolio_id)
                continue
            if last_publish.get(portfolio_id, 0) != published_ms:
                heapq.heappop(queue)  # published since (urgent); its newer entry is in the queue
                continue
            if now - published_ms < interval:
                break
            if throttled and time.perf_counter() - started >= THROTTLED_SLICE_S:
                self._publish_backlog = True
                break
            heapq.heappop(queue)
            throttled += 1
            self._publish_one(portfolio_id, now, producer)
            await self._maybe_hand_off(producer)

    async def _maybe_hand_off(self, producer: Producer) -> None:
        """Hand the snapshots built so far to the producer every ``HAND_OFF_INTERVAL_S`` of work."""
        if time.perf_counter() >= self._hand_off_at:
            await producer.hand_off()
            self._hand_off_at = time.perf_counter() + HAND_OFF_INTERVAL_S

    def _publish_one(self, portfolio_id: str, now: int, producer: Producer) -> None:
        """Build and send one portfolio's snapshot, and its alert transitions to the outbox."""
        self._pending_publish.discard(portfolio_id)
        self._queued.discard(portfolio_id)
        state = self.engine.portfolios[portfolio_id]
        received_ms = self.engine.last_receive_ms(portfolio_id)
        latency_ms = max(0, now - received_ms) if received_ms else None
        snapshot, transitions = self.engine.snapshot(
            portfolio_id, self._stale, seq=self._seq(state.partition), ts_ms=now,
            latency_ms=latency_ms)
        producer.send(self.settings.topics.risk, portfolio_id.encode(), encode_risk(snapshot))
        self.engine.queue_transitions(portfolio_id, transitions)
        self._last_publish_ms[portfolio_id] = now
        self.published_snapshots += 1
        if portfolio_id in self._metrics_exporting:
            self._metrics_exporting[portfolio_id] = snapshot
        else:
            self._metrics_pending[portfolio_id] = snapshot
        if latency_ms is not None:
            self.metrics.observe_latency(latency_ms / 1000)

    def _export_metrics(self) -> None:
        """Export the latest snapshot of every portfolio published since the last export, when due.

        The export runs ``METRICS_EXPORT_SLICE_S`` per loop turn, so a tick's round never waits for
        all of it; a snapshot published meanwhile replaces the queued one of its portfolio.
        """
        exporting = self._metrics_exporting
        if not exporting:
            now = time.monotonic()
            if not self._metrics_pending or now - self._metrics_exported_at < METRICS_EXPORT_INTERVAL_S:
                return
            self._metrics_exported_at = now
            exporting = self._metrics_exporting = self._metrics_pending
            self._metrics_pending = {}
        deadline = time.perf_counter() + METRICS_EXPORT_SLICE_S
        while exporting:
            self.metrics.observe_snapshot(exporting.popitem()[1])
            if time.perf_counter() >= deadline:
                return

    async def _flush_outbox(self) -> None:
        """Persist the state behind pending alert transitions, then publish them (same ids)."""
        if not self.engine.outboxes:
            return
        portfolios = self.engine.portfolios
        pending = [(p, portfolios[p]) for p in sorted(self.engine.outboxes)
                   if p in portfolios and portfolios[p].outbox]
        self.engine.outboxes.clear()
        if not pending:
            return
        producer = self._producer_or_fail()
        for portfolio_id, state in pending:
            producer.send(self.settings.topics.state, self._state_key(state.partition, portfolio_id),
                          orjson.dumps(self.engine.checkpoint(portfolio_id)))
        await producer.flush()
        for portfolio_id, state in pending:
            for transition in state.outbox:
                producer.send(self.settings.topics.alerts, portfolio_id.encode(), orjson.dumps(transition))
            state.outbox.clear()
            state.dirty = True  # the next checkpoint records the emptied outbox
        await producer.flush()

    def firing_alerts(self) -> list[tuple[str, str, str]]:
        """(portfolio, rule, severity) of every firing alert this instance owns.

        Read again only for the portfolios whose alerts changed since (``RiskEngine.alerts_changed``).
        """
        self._read_changed_alerts()
        return [alert for alerts in self._firing.values() for alert in alerts]

    def _read_changed_alerts(self) -> None:
        """Bring ``_firing`` up to date for the portfolios whose alert state changed."""
        changed = self.engine.alerts_changed
        if not changed:
            return
        portfolios, firing = self.engine.portfolios, self._firing
        for portfolio_id in changed:
            state = portfolios.get(portfolio_id)
            found = [] if state is None or state.alerts is None else [
                (p, rule, severity) for p, rule, _, severity in state.alerts.firing()]
            if found:
                firing[portfolio_id] = found
            else:
                firing.pop(portfolio_id, None)
        changed.clear()
        self._firing_gauge_stale = True

    def _export_firing(self) -> None:
        """Refresh the firing-alerts gauge after any change of alert state: a snapshot's rules, a
        fill or a resync (reported conditions), a restore or a revocation. A turn with no change
        does nothing."""
        self._read_changed_alerts()
        if self._firing_gauge_stale:
            self._firing_gauge_stale = False
            self.metrics.set_firing_alerts(self.firing_alerts())

    # -- state ----------------------------------------------------------------------------------

    def _prices_key(self) -> bytes:
        return f"{self.settings.group_id}/prices".encode()

    def _state_key(self, partition: int, portfolio: str | None = None) -> bytes:
        base = f"{self.settings.group_id}/{partition}"
        return (base if portfolio is None else f"{base}/{portfolio}").encode()

    async def _checkpoint(self, partitions: set[int] | None = None) -> None:
        """Checkpoint ``partitions`` (default every owned one) at once: on revocation and at stop.

        1. publish every pending snapshot and persist then publish pending alert transitions;
        2. write the state of every changed portfolio, the price table and each partition's marker
           (the next input offset);
        3. flush: wait for every acknowledgement;
        4. commit the same offsets to the group, awaiting the commit.

        The regular checkpoint is the same steps spread over rounds (``_advance_checkpoint``).
        """
        owned = self._owned if partitions is None else partitions & self._owned
        if self._cycle is not None:
            for partition in owned:
                self._cycle.markers.pop(partition, None)
        if not owned or self._membership_lost():
            return
        await self._publish_due()
        await self._flush_outbox()
        producer = self._producer_or_fail()
        self._checkpoint_prices(producer)
        for portfolio_id, state in self.engine.portfolios.items():
            if state.partition in owned and self.engine.needs_checkpoint(portfolio_id):
                self._write_state(producer, portfolio_id, state.partition)
        offsets = self._write_markers(
            producer, {p: o for p in owned if (o := self._next_offset.get(p)) is not None})
        await producer.flush()
        await self._commit(self._commit_task, offsets)
        self._commit_task = None

    async def _advance_checkpoint(self) -> None:
        """One round's share of the regular checkpoint, so no round stalls on all of it.

        A cycle starts every ``checkpoint_interval_ms``: it takes each owned partition's next input
        offset as its marker and the portfolios changed by then as its work. Each round writes the
        states of that work for about ``HAND_OFF_INTERVAL_S``. When none is left, the price table and
        the markers are written, flushed, and the offsets committed in the background. A state
        written after the cycle started reflects at least the marker's offsets, and a portfolio
        skips the offsets it already reflects on replay, so the markers stay safe to restore from.
        """
        if self._commit_task is not None and self._commit_task.done():
            self._commit_task.result()  # a commit that failed with a bug stops the processor
        now = self._now_ms()
        if self._cycle is None:
            if now - self._last_checkpoint_ms < self.settings.checkpoint_interval_ms or not self._owned:
                return
            self._last_checkpoint_ms = now
            markers = {p: o for p in self._owned if (o := self._next_offset.get(p)) is not None}
            work = [pid for pid, state in self.engine.portfolios.items()
                    if state.partition in self._owned and self.engine.needs_checkpoint(pid)]
            self._cycle = _CheckpointCycle(markers, work)
        cycle = self._cycle
        producer = self._producer_or_fail()
        give_back_at = time.perf_counter() + HAND_OFF_INTERVAL_S
        while cycle.remaining:
            portfolio_id = cycle.remaining.pop()
            state = self.engine.portfolios.get(portfolio_id)
            if state is not None and state.partition in self._owned \
                    and self.engine.needs_checkpoint(portfolio_id):
                self._write_state(producer, portfolio_id, state.partition)
            if time.perf_counter() >= give_back_at:
                return
        self._cycle = None
        self._checkpoint_prices(producer)
        offsets = self._write_markers(
            producer, {p: o for p, o in cycle.markers.items() if p in self._owned})
        await producer.flush()
        if offsets:
            self._commit_task = asyncio.create_task(
                self._commit(self._commit_task, offsets), name="commit-offsets")

    def _write_state(self, producer: Producer, portfolio_id: str, partition: int) -> None:
        producer.send(self.settings.topics.state, self._state_key(partition, portfolio_id),
                      orjson.dumps(self.engine.checkpoint(portfolio_id)))

    def _write_markers(self, producer: Producer, markers: dict[int, int]) -> dict[TopicPartition, int]:
        offsets: dict[TopicPartition, int] = {}
        for partition, offset in sorted(markers.items()):
            producer.send(self.settings.topics.state, self._state_key(partition),
                          orjson.dumps({"v": 1, "offset": offset}))
            offsets[TopicPartition(self.settings.topics.positions, partition)] = offset
        return offsets

    async def _commit(self, previous: asyncio.Task[None] | None,
                      offsets: dict[TopicPartition, int]) -> None:
        """Commit after the previous commit, so the group's offsets only move forward."""
        if previous is not None:
            await previous
        if self._group is None or not offsets:
            return
        try:
            await self._group.commit(offsets)
        except BusError as exc:  # the state marker written before the commit holds the offset
            log.warning("offset commit failed (%s); the state marker still holds the offset", exc)
        self._report_lag(offsets)

    def _report_lag(self, offsets: dict[TopicPartition, int]) -> None:
        """Consumer lag of the positions partitions: high watermark minus the next offset to apply.

        The high watermark is the one the latest fetch response carried, so no request is made: an
        end-offsets request would wait behind the group consumer's pending fetch (up to the broker's
        fetch wait when no position arrives) and stall the loop that publishes.
        """
        if not self.metrics.enabled or self._group is None:
            return
        for partition, offset in offsets.items():
            end = self._group.highwater(partition)
            if end is not None:
                self.metrics.consumer_lag(partition.topic, partition.partition, max(0, end - offset))

    async def _read_state(self, partitions: set[int], *, prices_only: bool = False) -> dict[bytes, Any]:
        """The latest state value of each key of ``partitions`` (or only the price checkpoint)."""
        consumer = await self.bus.table_consumer([self.settings.topics.state])
        latest: dict[bytes, Any] = {}
        prices_key = self._prices_key()
        prefixes = tuple(f"{self.settings.group_id}/{p}".encode() for p in partitions)
        try:
            ends = await consumer.end_offsets(sorted(consumer.assignment(), key=lambda p: p.partition))
            positions = dict.fromkeys(ends, 0)
            while any(positions[p] < end for p, end in ends.items()):
                batches = await consumer.getmany(self.settings.fetch_timeout_ms, 10_000)
                for partition, records in batches.items():
                    for record in records:
                        positions[partition] = record.offset + 1
                        key = record.key or b""
                        if prices_only:
                            if key == prices_key:
                                latest[key] = orjson.loads(record.value)
                        elif any(
                            key == prefix or key.startswith(prefix + b"/") for prefix in prefixes
                        ):
                            latest[key] = orjson.loads(record.value)
        finally:
            await consumer.stop()
        return latest

    def _positions_partitions(self, partitions: set[int]) -> list[TopicPartition]:
        return [TopicPartition(self.settings.topics.positions, p) for p in sorted(partitions)]

    def _membership_lost(self) -> bool:
        return self._group is not None and self._group.membership_lost()

    async def _on_assigned(self, assigned: set[TopicPartition]) -> None:
        """Hold the new partitions back and let the loop restore them.

        aiokafka sends no heartbeat while this callback runs, and a restore reads the whole state
        topic and rebuilds every portfolio: done here, a slow one got the member expelled, and the
        expelled member's last checkpoint then overwrote its successor's state (lost updates).
        """
        partitions = {p.partition for p in assigned if p.topic == self.settings.topics.positions}
        self._assignment_epoch += 1
        self._restore_pending |= partitions
        if self._group is not None:
            self._group.pause(self._positions_partitions(partitions))
        self._restore_wanted.set()

    async def _restore(self, group: Consumer) -> None:
        """Restore the partitions assigned since the last round, seek them to their markers, resume.

        The state topic is read without the lock, so a revocation meanwhile is not held up (the
        group waits only its rebalance timeout for it); a read that a rebalance overtook is done
        again. The portfolios are rebuilt in slices, so heartbeats go on meanwhile.
        """
        topic = self.settings.topics.positions
        epoch = self._assignment_epoch
        partitions = self._restore_pending & {
            p.partition for p in group.assignment() if p.topic == topic}
        if not partitions:
            return
        state = await self._read_state(partitions)
        async with self._lock:
            if epoch != self._assignment_epoch:
                self._restore_wanted.set()
                return
            assigned = {p.partition for p in group.assignment() if p.topic == topic}
            self._restore_pending &= assigned
            partitions &= self._restore_pending
            if not partitions:
                return
            restored = 0
            for partition in sorted(partitions):
                prefix = self._state_key(partition) + b"/"
                for key, value in state.items():
                    if key.startswith(prefix):
                        self.engine.restore(value["portfolio"], partition, value)
                        self.engine.catch_up_prices(value["portfolio"])
                        # prices may have moved while nobody owned it: publish it at the new prices
                        self._mark_pending((value["portfolio"],))
                        restored += 1
                        if restored % RESTORE_SLICE == 0:
                            await asyncio.sleep(0)
                marker = state.get(self._state_key(partition))
                if marker is not None:
                    offset = int(marker["offset"])
                    await group.seek(TopicPartition(topic, partition), offset)
                    self._next_offset[partition] = offset
                self._owned.add(partition)
            self._restore_pending -= partitions
            group.resume(self._positions_partitions(partitions))
            # Transitions a predecessor persisted but may not have published: publish them now.
            await self._flush_outbox()
            self._restored_in_round = True
            log.info("assigned partitions %s; restored %d portfolios", sorted(partitions), restored)
            self.metrics.state_restored(len(partitions))

    async def _on_revoked(self, revoked: set[TopicPartition]) -> None:
        """Checkpoint and drop revoked partitions; drop without writing if the member was expelled."""
        partitions = {p.partition for p in revoked if p.topic == self.settings.topics.positions}
        self._assignment_epoch += 1
        async with self._lock:
            self._restore_pending -= partitions
            lost = self._membership_lost()
            if not lost:
                await self._checkpoint(partitions)
            for partition in partitions:
                for portfolio_id in self.engine.drop_partition(partition):
                    self._pending_publish.discard(portfolio_id)
                    self._unsampled.discard(portfolio_id)
                    self._queued.discard(portfolio_id)
                    self._metrics_pending.pop(portfolio_id, None)
                    self._metrics_exporting.pop(portfolio_id, None)
                self._owned.discard(partition)
                self._next_offset.pop(partition, None)
            if lost:
                log.warning("partitions %s lost: this member was expelled from the group; their "
                            "state is left to the next owner", sorted(partitions))
            else:
                log.info("revoked partitions %s", sorted(partitions))
