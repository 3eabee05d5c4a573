"""shipped: ``hedge-monitor process`` as a user starts it, metrics on, fed ticks one at a time.

The desk of the desk-engine issue: 1,000 portfolios (30 at tiny size), a third of them holding each
of 3 BTC perpetuals (binance, okx, bybit), each with 1.5 BTC spot. The processor is the shipped
command (``python -m monitor process --kafka ... --metrics-port ...``), with its metrics endpoint
scraped every second. Ticks are sent one at a time at paced rates (1.25 to 50 ticks/s), each
stamped with its send time. A tick is *reflected* when every holder of its instrument has a
snapshot on ``hedge.risk`` whose ``ts_event_ms`` is at least the tick's; its latency is the arrival
of the last of those snapshots minus the send time. *Exact* counts the ticks whose holders were each
published at exactly that tick (not conflated into a later one).

The throttled desk is the same command with ``--publish-interval-ms 1000`` (one snapshot per
portfolio per second, urgent legs at once), offered 1,000 to 10,000 ticks/s: a tick is reflected
once every holder published a snapshot at or after it, so its latency is up to the interval plus a
round; a sample of the ticks (``MEASURED_TICKS`` per rate) is measured. A rate is *sustained* when
every measured tick was reflected, the p99 stays within ``SUSTAINED_P99_FACTOR`` intervals and the
processor's CPU is below ``SATURATED_CPU``.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import random
import signal
import socket
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench.e2e import PARTITIONS, READY_TIMEOUT_S, SATURATED_CPU, cpu_seconds
from bench.report import PROJECT_DIR, percentile, table
from monitor import eventloop
from monitor.bus.base import Topics
from monitor.bus.kafka import KafkaBus, KafkaSettings, topic_partitions
from monitor.codec import encode_event, event_key
from monitor.domain.events import BalanceEvent, Event, PositionEvent, PriceEvent

INSTRUMENTS = ("binance:BTCUSDT", "okx:BTC-USDT-SWAP", "bybit:BTCUSDT")
CONTRACTS = {"binance:BTCUSDT": -1.5, "okx:BTC-USDT-SWAP": -150.0, "bybit:BTCUSDT": -1.5}
START_PRICE = 60_000.0
SCRAPE_INTERVAL_S = 1.0
SETTLE_TIMEOUT_S = 60.0
THROTTLE_MS = 1_000
MEASURED_TICKS = 2_000
SUSTAINED_P99_FACTOR = 1.5


@dataclass(frozen=True, slots=True)
class ShippedSize:
    """Portfolios, offered tick rates and seconds per rate."""

    portfolios: int
    rates: tuple[float, ...]
    seconds: float
    throttled_rates: tuple[float, ...]
    throttled_seconds: float


FULL = ShippedSize(portfolios=1_000, rates=(1.25, 5.0, 10.0, 20.0, 50.0), seconds=20.0,
                   throttled_rates=(1_000.0, 2_500.0, 5_000.0, 10_000.0), throttled_seconds=10.0)
TINY = ShippedSize(portfolios=30, rates=(2.0,), seconds=3.0, throttled_rates=(200.0,),
                   throttled_seconds=2.0)

COLUMNS = (("rate", "ticks/s offered"), ("ticks", "ticks"), ("reflected", "reflected"),
           ("exact_share", "exact"), ("p50_ms", "p50 (ms)"), ("p99_ms", "p99 (ms)"),
           ("max_ms", "max (ms)"), ("cpu_share", "processor CPU"))
THROTTLED_COLUMNS = (("rate", "ticks/s offered"), ("sent_per_s", "ticks/s sent"),
                     ("ticks", "ticks"), ("measured", "measured"), ("reflected", "reflected"),
                     ("p50_ms", "p50 (ms)"), ("p99_ms", "p99 (ms)"), ("max_ms", "max (ms)"),
                     ("cpu_share", "processor CPU"), ("sustained", "sustained"))


def _free_port() -> int:
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        port: int = bound.getsockname()[1]
        return port


def _setup(portfolios: int, ts_ms: int) -> list[Event]:
    events: list[Event] = []
    for index in range(portfolios):
        name = f"desk-{index:05d}"
        instrument = INSTRUMENTS[index % len(INSTRUMENTS)]
        events.append(BalanceEvent(name, "cold", "BTC", 1.5, ts_ms, ts_ms))
        events.append(PositionEvent(name, instrument.split(":")[0], instrument, CONTRACTS[instrument],
                                    START_PRICE, 5.0, "isolated", 18_000.0, ts_ms, ts_ms))
    events.extend(PriceEvent(i, START_PRICE, START_PRICE * 0.9995, 1e-4, None, ts_ms, ts_ms)
                  for i in INSTRUMENTS)
    return events


@dataclass(slots=True)
class _Arrivals:
    """Per portfolio, the (ts_event_ms, arrival) of each snapshot, in arrival order."""

    topic: str
    bootstrap: str
    seen: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        self.consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None,
                                         enable_auto_commit=False, auto_offset_reset="earliest",
                                         fetch_max_wait_ms=20)
        await self.consumer.start()
        await topic_partitions(self.consumer, self.topic, READY_TIMEOUT_S)
        partitions = [TopicPartition(self.topic, p) for p in range(PARTITIONS)]
        self.consumer.assign(partitions)
        await self.consumer.seek_to_beginning(*partitions)

    async def run(self) -> None:
        assert self.consumer is not None
        while True:
            batches = await self.consumer.getmany(timeout_ms=50, max_records=10_000)
            arrival = time.time()
            for messages in batches.values():
                for message in messages:
                    if message.key is None or message.value is None:
                        continue
                    start = message.value.find(b'"ts_event_ms":')
                    if start < 0:
                        continue
                    end = message.value.find(b",", start)
                    ts = int(message.value[start + 14:end])
                    history = self.seen.setdefault(message.key.decode(), [])
                    if not history or ts > history[-1][0]:
                        history.append((ts, arrival))

    def reflected_at(self, portfolio: str, ts: int) -> tuple[float, int] | None:
        """Arrival and ts of the first snapshot of ``portfolio`` reflecting ``ts``, if any."""
        history = self.seen.get(portfolio, [])
        index = bisect.bisect_left(history, (ts, -1.0))
        return None if index == len(history) else (history[index][1], history[index][0])


async def _scrape(port: int, stop: asyncio.Event) -> None:
    url = f"http://127.0.0.1:{port}/metrics"
    while not stop.is_set():
        with contextlib.suppress(OSError):
            await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), SCRAPE_INTERVAL_S)


async def _wait_until(condition: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"shipped: {what} not within {timeout_s} s")
        await asyncio.sleep(0.05)


@dataclass(slots=True)
class _Feed:
    """Sends ticks one at a time and measures when every holder reflects each."""

    producer: AIOKafkaProducer
    topics: Topics
    holders: dict[str, list[str]]
    last_ts: int
    rng: random.Random = field(default_factory=lambda: random.Random(1))
    marks: dict[str, float] = field(default_factory=lambda: dict.fromkeys(INSTRUMENTS, START_PRICE))

    async def send(self, rate: float, seconds: float) -> tuple[list[tuple[str, int, float]], float]:
        """Offer ``rate`` ticks/s for ``seconds``: (instrument, ts, send time) of each, and seconds taken.

        Each tick's ``ts_event_ms`` is its send time in ms, one more than the last when two share a
        millisecond; a send is handed to aiokafka without awaiting its acknowledgement.
        """
        sent: list[tuple[str, int, float]] = []
        count = max(1, int(rate * seconds))
        started = time.perf_counter()
        for index in range(count):
            delay = started + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            instrument = INSTRUMENTS[index % len(INSTRUMENTS)]
            self.marks[instrument] *= 1 + self.rng.gauss(0.0, 2e-4)
            send_time = time.time()
            self.last_ts = max(self.last_ts + 1, int(send_time * 1000))
            mark = self.marks[instrument]
            tick = PriceEvent(instrument, mark, mark * 0.9995, 1e-4, None, self.last_ts, self.last_ts)
            await self.producer.send(self.topics.prices, encode_event(tick), key=event_key(tick))
            sent.append((instrument, self.last_ts, send_time))
        return sent, time.perf_counter() - started

    async def settle(self, sent: list[tuple[str, int, float]], arrivals: _Arrivals) -> None:
        """Wait (up to SETTLE_TIMEOUT_S) until every holder reflects the last tick sent."""
        instrument, ts, _ = sent[-1]
        with contextlib.suppress(TimeoutError):
            await _wait_until(lambda: all(arrivals.reflected_at(n, ts) for n in self.holders[instrument]),
                              SETTLE_TIMEOUT_S, "the last tick")

    def reflected(self, tick: tuple[str, int, float], arrivals: _Arrivals) -> tuple[float, bool] | None:
        """A tick's latency in ms and whether each holder was published at exactly it; None when
        some holder does not reflect it."""
        held, tick_ts, send_time = tick
        found = [arrivals.reflected_at(n, tick_ts) for n in self.holders[held]]
        reflected = [f for f in found if f is not None]
        if len(reflected) < len(found):
            return None
        return (max(a for a, _ in reflected) - send_time) * 1000, all(t == tick_ts for _, t in reflected)

    async def rate(self, rate: float, seconds: float, arrivals: _Arrivals, pid: int) -> dict[str, Any]:
        """Offer ``rate`` ticks/s for ``seconds``, settle, and measure every tick."""
        cpu_before = cpu_seconds(pid)
        sent, elapsed = await self.send(rate, seconds)
        await self.settle(sent, arrivals)
        cpu = cpu_seconds(pid) - cpu_before
        latencies: list[float] = []
        exact = 0
        for tick in sent:
            found = self.reflected(tick, arrivals)
            if found is not None:
                latencies.append(found[0])
                exact += found[1]
        return {
            "rate": rate, "ticks": len(sent), "reflected": len(latencies),
            "exact_share": exact / len(sent),
            "p50_ms": percentile(latencies, 0.5) if latencies else None,
            "p99_ms": percentile(latencies, 0.99) if latencies else None,
            "max_ms": max(latencies) if latencies else None,
            "cpu_share": cpu / max(elapsed, 1e-9),
        }

    async def throttled_rate(self, rate: float, seconds: float, arrivals: _Arrivals, pid: int
                             ) -> dict[str, Any]:
        """Offer ``rate`` ticks/s to a throttled processor; measure a sample of the ticks.

        The processor's CPU share is taken over the sending only, before the settle (which idles).
        """
        cpu_before = cpu_seconds(pid)
        sent, elapsed = await self.send(rate, seconds)
        cpu = cpu_seconds(pid) - cpu_before
        await self.settle(sent, arrivals)
        measured = sent[:: max(1, len(sent) // MEASURED_TICKS)]
        latencies = [found[0] for tick in measured
                     if (found := self.reflected(tick, arrivals)) is not None]
        p99 = percentile(latencies, 0.99) if latencies else None
        cpu_share = cpu / max(elapsed, 1e-9)
        return {
            "rate": rate, "sent_per_s": len(sent) / max(elapsed, 1e-9), "ticks": len(sent),
            "measured": len(measured), "reflected": len(latencies),
            "p50_ms": percentile(latencies, 0.5) if latencies else None, "p99_ms": p99,
            "max_ms": max(latencies) if latencies else None, "cpu_share": cpu_share,
            "sustained": (len(latencies) == len(measured) and p99 is not None
                          and p99 <= SUSTAINED_P99_FACTOR * THROTTLE_MS and cpu_share < SATURATED_CPU),
        }


async def measure(bootstrap: str, plan: ShippedSize, *, throttled: bool = False) -> dict[str, Any]:
    """Start the shipped command, feed it each rate in turn, and report the latencies.

    ``throttled``: the command with ``--publish-interval-ms THROTTLE_MS``, fed ``throttled_rates``.
    """
    prefix = f"bench-shipped-{uuid.uuid4().hex[:8]}-"
    topics = Topics.with_prefix(prefix)
    await KafkaBus(KafkaSettings(bootstrap_servers=bootstrap)).create_topics(topics.specs(PARTITIONS))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all",
                                linger_ms=0)
    await producer.start()
    arrivals = _Arrivals(topics.risk, bootstrap)
    await arrivals.start()
    tail = asyncio.create_task(arrivals.run(), name="shipped-tail")
    port = _free_port()
    log = tempfile.TemporaryFile()  # noqa: SIM115 -- closed below
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor", "process", "--kafka", bootstrap, "--topic-prefix", prefix,
        "--group-id", f"{prefix}group", "--partitions", str(PARTITIONS), "--metrics-port", str(port),
        *(["--publish-interval-ms", str(THROTTLE_MS)] if throttled else []),
        stdout=log, stderr=log, cwd=str(PROJECT_DIR))
    stop_scraping = asyncio.Event()
    scraper = asyncio.create_task(_scrape(port, stop_scraping), name="shipped-scrape")
    rows: list[dict[str, Any]] = []
    try:
        setup_ms = int(time.time() * 1000)
        for event in _setup(plan.portfolios, setup_ms):
            topic = topics.prices if isinstance(event, PriceEvent) else topics.positions
            await producer.send(topic, encode_event(event), key=event_key(event))
        await producer.flush()
        names = [f"desk-{index:05d}" for index in range(plan.portfolios)]
        await _wait_until(lambda: all(arrivals.reflected_at(n, setup_ms) for n in names),
                          READY_TIMEOUT_S, "every portfolio's first snapshot")
        holders = {i: names[index::len(INSTRUMENTS)] for index, i in enumerate(INSTRUMENTS)}
        feed = _Feed(producer, topics, holders, last_ts=setup_ms)
        if throttled:
            rows.extend([await feed.throttled_rate(rate, plan.throttled_seconds, arrivals, process.pid)
                         for rate in plan.throttled_rates])
        else:
            rows.extend([await feed.rate(rate, plan.seconds, arrivals, process.pid)
                         for rate in plan.rates])
    finally:
        stop_scraping.set()
        await scraper
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 60)
            except TimeoutError:
                process.kill()
                await process.wait()
        tail.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tail
        assert arrivals.consumer is not None
        await arrivals.consumer.stop()
        await producer.stop()
        log.close()
    return {"portfolios": plan.portfolios, "holders_per_tick": plan.portfolios // len(INSTRUMENTS),
            "rows": rows}


def run(size: str, bootstrap: str) -> dict[str, Any]:
    """The shipped command's figures on the broker at ``bootstrap``."""
    plan = FULL if size == "full" else TINY
    result = eventloop.run(measure(bootstrap, plan))
    throttled = eventloop.run(measure(bootstrap, plan, throttled=True))
    sustained = [row["sent_per_s"] for row in throttled["rows"] if row["sustained"]]
    throttled["sustained_ticks_per_s"] = max(sustained, default=0.0)
    result["throttled"] = throttled
    result["table"] = table(
        f"shipped: `hedge-monitor process --metrics-port`, {plan.portfolios} portfolios, "
        f"{result['holders_per_tick']} holders per tick; tick sent -> every holder's snapshot "
        "readable on hedge.risk", COLUMNS, result["rows"]) + "\n" + table(
        f"shipped, throttled: `--publish-interval-ms {THROTTLE_MS}`, the same desk; tick sent -> "
        f"every holder reflects it (a sample of {MEASURED_TICKS} ticks per rate); sustained "
        f"{throttled['sustained_ticks_per_s']:,.0f} ticks/s", THROTTLED_COLUMNS, throttled["rows"])
    return result
