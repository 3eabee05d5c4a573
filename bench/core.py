"""core: events/s through the Processor on the in-process MemoryBus, draining a pre-filled input.

For each portfolio count a processor (with alert engines, as ``hedge-monitor process`` builds it) is
started on a fresh MemoryBus with one partition per topic, the portfolios' balances and positions are
fed and drained (not timed), then each run appends a pre-encoded stream (99 % prices, 1 % position
changes) in one go and times how long the processor takes to apply all of it and publish the
snapshots it causes. "Drained" is read from the engine: every instrument's latest price is the
stream's last tick of it and the last position record's portfolio reflects that offset; the
processor publishes in the same loop iteration, with no await in between, so by then the snapshots
are on hedge.risk. Staleness is switched off (a backlog would otherwise age the prices).
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.report import median, percentile, table
from bench.workload import Workload, bench_catalog
from monitor import eventloop
from monitor.alerts import AlertEngine, AlertsConfig
from monitor.bus.base import Topics
from monitor.bus.memory import MemoryBus
from monitor.codec import encode_event, event_key
from monitor.domain.events import Event, PriceEvent
from monitor.domain.plans import PortfolioSettings
from monitor.processor.engine import RiskEngine, RiskLevels
from monitor.processor.runner import Processor, ProcessorSettings

DRAIN_TIMEOUT_S = 900.0
POLL_INTERVAL_S = 0.001
LIVE_POLL_INTERVAL_S = 0.0001


@dataclass(frozen=True, slots=True)
class CoreCase:
    """One portfolio count and how many stream events each run drains."""

    portfolios: int
    events: int
    publish_interval_ms: int = 0


# The last case is a desk throttling snapshots to one per portfolio per second: a live tick then
# costs the columnar repricing (and the urgent check), and a snapshot only when a portfolio's interval
# is up. A drain conflates a whole batch anyway, so the throttle shows in the live tick figures.
FULL_CASES = (CoreCase(1, 200_000), CoreCase(1_000, 100_000), CoreCase(10_000, 30_000),
              CoreCase(1_000, 100_000, publish_interval_ms=1_000))
TINY_CASES = (CoreCase(1, 2_000), CoreCase(100, 2_000), CoreCase(1_000, 1_000),
              CoreCase(1_000, 2_000, publish_interval_ms=1_000))
# Live ticks per case: each is fed alone and timed until the processor has applied and published it.
LIVE_TICK_BUDGET = 300_000  # ticks x portfolios, so 10,000 portfolios get 30 ticks
LIVE_TICKS_MAX = 300


def _now_ms() -> int:
    return int(time.time() * 1000)


def _append(bus: MemoryBus, values: Sequence[tuple[str, bytes, bytes]]) -> None:
    for topic, key, value in values:
        bus.append(topic, key, value)


def _encoded(topics: Topics, events: Sequence[Event]) -> list[tuple[str, bytes, bytes]]:
    return [
        (topics.prices if isinstance(event, PriceEvent) else topics.positions,
         event_key(event), encode_event(event))
        for event in events
    ]


class _Drain:
    """Knows when the engine has applied everything appended so far."""

    def __init__(self, bus: MemoryBus, topics: Topics, engine: RiskEngine, workload: Workload) -> None:
        self.bus = bus
        self.topics = topics
        self.engine = engine
        self.workload = workload

    def done(self) -> bool:
        prices = self.engine.prices.prices
        for instrument, ts in self.workload.last_price_ts.items():
            price = prices.get(instrument)
            if price is None or price.ts_event_ms < ts:
                return False
        records = self.bus.partitions(self.topics.positions)[0]
        if not records:
            return True
        last = records[-1]
        state = self.engine.portfolios.get((last.key or b"").decode())
        return state is not None and state.applied_offset >= last.offset

    async def wait(self) -> None:
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while not self.done():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the processor did not drain its input in {DRAIN_TIMEOUT_S} s")
            await asyncio.sleep(POLL_INTERVAL_S)


async def measure_case(case: CoreCase, repeats: int) -> dict[str, Any]:
    """Set up ``case.portfolios`` portfolios, then time ``repeats`` drains of ``case.events``."""
    gc.collect()  # each case starts from a clean heap, not with the last case's garbage
    catalog = bench_catalog()
    workload = Workload(case.portfolios, catalog, seed=case.portfolios, base_ms=_now_ms())
    topics = Topics()
    bus = MemoryBus()
    await bus.create_topics(topics.specs(1))
    alerts = AlertsConfig()
    engine = RiskEngine(catalog, lambda _: PortfolioSettings(), lambda _: AlertEngine(alerts),
                        risk_levels=RiskLevels.from_alerts([alerts]))
    settings = ProcessorSettings(topics=topics, stale_after_ms=24 * 3_600_000,
                                 publish_interval_ms=case.publish_interval_ms)
    processor = Processor(bus, engine, settings)
    stop = asyncio.Event()
    task = asyncio.create_task(processor.run(stop), name="bench-processor")
    drain = _Drain(bus, topics, engine, workload)
    runs: list[dict[str, float]] = []
    try:
        while not processor.ready.is_set():
            if task.done():
                task.result()
            await asyncio.sleep(POLL_INTERVAL_S)
        setup = _encoded(topics, workload.setup_events(_now_ms()))
        started = time.perf_counter()
        _append(bus, setup)
        await drain.wait()
        setup_s = time.perf_counter() - started
        for _ in range(repeats):
            values = _encoded(topics, workload.stream(case.events, _now_ms()))
            published = processor.published_snapshots
            _append(bus, values)
            started = time.perf_counter()
            await drain.wait()
            elapsed = time.perf_counter() - started
            snapshots = processor.published_snapshots - published
            runs.append({
                "seconds": elapsed,
                "events_per_s": case.events / elapsed,
                "snapshots": snapshots,
                "snapshots_per_s": snapshots / elapsed,
            })
        live = await _live_ticks(bus, topics, engine, processor, workload,
                                 max(1, min(LIVE_TICKS_MAX, LIVE_TICK_BUDGET // case.portfolios)))
    finally:
        stop.set()
        await task
    return {
        "portfolios": case.portfolios,
        "publish_interval_ms": case.publish_interval_ms,
        "positions": workload.held_positions(),
        "events": case.events,
        "runs": runs,
        "setup_account_events": sum(1 for _, _, _ in setup) - len(workload.instruments),
        "setup_seconds": setup_s,
        "events_per_s": median([r["events_per_s"] for r in runs]),
        "snapshots_per_s": median([r["snapshots_per_s"] for r in runs]),
        "snapshots_per_event": median([r["snapshots"] / case.events for r in runs]),
        "us_per_event": 1e6 / median([r["events_per_s"] for r in runs]),
        **live,
    }


async def _live_ticks(
    bus: MemoryBus, topics: Topics, engine: RiskEngine, processor: Processor, workload: Workload,
    ticks: int,
) -> dict[str, Any]:
    """Feed ``ticks`` price ticks one at a time; each is timed until applied and published.

    The processor applies a fetched record and publishes what it caused in one loop turn with no
    suspension on the MemoryBus, so once the engine holds the tick its snapshots are on hedge.risk.
    """
    times_ms: list[float] = []
    published = processor.published_snapshots
    for _ in range(ticks):
        tick = workload.price_tick(_now_ms())
        bus.append(topics.prices, event_key(tick), encode_event(tick))
        started = time.perf_counter()
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while (current := engine.prices.prices.get(tick.instrument)) is None or \
                current.ts_event_ms < tick.ts_event_ms:
            if time.monotonic() > deadline:
                raise TimeoutError(f"a live tick was not applied in {DRAIN_TIMEOUT_S} s")
            await asyncio.sleep(LIVE_POLL_INTERVAL_S)
        times_ms.append((time.perf_counter() - started) * 1000)
    return {
        "live_ticks": ticks,
        "live_tick_p50_ms": percentile(times_ms, 0.5),
        "live_tick_p99_ms": percentile(times_ms, 0.99),
        "live_snapshots_per_tick": (processor.published_snapshots - published) / ticks,
    }


COLUMNS = (
    ("portfolios", "portfolios"), ("publish_interval_ms", "publish interval ms"),
    ("positions", "positions"), ("events", "events/run"),
    ("events_per_s", "events/s"), ("snapshots_per_s", "snapshots/s"),
    ("snapshots_per_event", "snapshots/event"), ("us_per_event", "us/event"),
    ("live_snapshots_per_tick", "live snapshots/tick"), ("live_tick_p50_ms", "live tick p50 ms"),
    ("live_tick_p99_ms", "live tick p99 ms"),
)


def run(size: str, repeats: int) -> dict[str, Any]:
    """The core scenario at ``size``: one row per portfolio count."""
    cases = FULL_CASES if size == "full" else TINY_CASES
    rows = [eventloop.run(measure_case(case, repeats)) for case in cases]
    return {
        "description": "Processor on the in-process MemoryBus, draining a pre-filled input "
                       "(99 % prices, 1 % position changes, 20 instruments); medians of runs",
        "settings": {"max_batch_records": ProcessorSettings().max_batch_records,
                     "partitions": 1, "alerts": True},
        "rows": rows,
        "table": table("core: Processor on MemoryBus (median of runs)", COLUMNS, rows),
    }
