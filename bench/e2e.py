"""e2e and ceiling: ingest -> Kafka -> Processor -> hedge.risk on a real broker, and the raw I/O floor.

Two cases, measured in the same run by the same method, one after the other, on the same broker:

* **desk**: 1,000 portfolios (20 at tiny size) over the 20 instruments; a tick fans out to every
  portfolio holding its instrument (~100 at 1,000 portfolios).
* **trader**: a single trader, one portfolio, whose stream ticks only the instruments it holds (2
  for the seeded portfolio), so every tick reaches it: the latency without the desk's fan-out.

Processes: this driver (workload generator, ``BusSink`` on a ``KafkaBus`` producer, and consumers
of the output topics that timestamp arrivals), the processor (``python -m bench.worker processor``)
and the passthrough loop (``python -m bench.worker ceiling``), each on its own topics (same
partition counts). Each case has its own topics and its own processor worker, started for the case
and stopped before the next case starts, so the two never compete for the cores; the passthrough
worker is shared (its input is the case's own stream). The broker runs in its own JVM. All share the
machine's cores.

Maximum throughput (drain): the worker is frozen with SIGSTOP, a pre-encoded stream of N events is
written to its input topics and acknowledged, then SIGCONT starts the clock; it stops when the
output shows the last effect: for the processor, every portfolio's latest snapshot carries the
newest ``ts_event_ms`` that touched it; for the passthrough, N records are readable. So the input is
truly pre-filled and the producer's speed does not limit the figure. The processor and the
passthrough are measured alternately in each case; the ratio is of their medians in that case.
Each reads at its own best fetch size: the processor at its default ``max_batch_records`` (20,000),
the passthrough at 5,000 (``bench.worker.PASSTHROUGH_MAX_RECORDS``: twice as fast as at 20,000).

The drain rate is a backlog rate: the processor conflates the prices of one fetched batch (up to
20,000 records) to one per instrument, so a backlog costs one fan-out per instrument per batch. A live
stream arrives in small batches and pays a fan-out per tick, so the sustained maximum is found
separately by a ramp: offered rates doubling from a start rate (10 events/s for the desk, 100 for the
trader), each step held for a few seconds, until a step saturates: the processor's CPU share reaches
90 %, or the step's p99 latency exceeds twice the first step's plus 20 ms (latency has started to
rise), or the sink delivers less than half the offered events to Kafka. Then one step halfway between
the last good rate and that one; the sustained maximum is the highest rate that did not saturate. The
ramp stops at the case's drain rate. The sink rule is the trader's: ``BusSink`` conflates each
instrument's prices to one per send round (a produce round trip), so the few instruments of one
portfolio cap what reaches Kafka (a few hundred ticks/s at 2 instruments) however many are offered;
beyond that, a higher offered rate loads this driver, not the processor.

Latency: with the case's processor running, events are offered to the ``BusSink`` at 25 %, 50 % and
80 % of the case's sustained maximum (and, as a floor, at 50 % through the passthrough), each stamped
with ``ts_receive_ms`` (and its exact wall time) when made. ``ts_event_ms`` is ``base + sequence``,
so a snapshot's ``ts_event_ms`` names the newest event it reflects; the latency of a snapshot is its
arrival on hedge.risk minus that event's receive time. The sink conflates prices of one instrument
that wait for the same send (by design), so fewer events may reach Kafka than were offered; both
rates are reported. The latency target (p99 at 50 % load) is evaluated for each case.

JSON: the desk's figures are the top-level keys (as before the trader case existed); the trader's are
under ``"trader"`` with the same keys. Each case, ramp step and load row carries ``"case"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.report import PROJECT_DIR, median, percentile, table
from bench.worker import PASSTHROUGH_MAX_RECORDS, PROCESSOR_MAX_RECORDS
from bench.workload import Workload, bench_catalog
from monitor import eventloop
from monitor.bus.base import Producer, Topics
from monitor.bus.kafka import KafkaBus, KafkaSettings, topic_partitions
from monitor.codec import encode_event, event_key
from monitor.domain.events import Event, PriceEvent
from monitor.ingest.bus_sink import BusSink

PARTITIONS = 6
LOADS = (0.25, 0.5, 0.8)
TARGET_LOAD = 0.5
LATENCY_TARGET_MS = 10.0
CEILING_TARGET = 0.8
READY_TIMEOUT_S = 120.0
DRAIN_TIMEOUT_S = 600.0
SETTLE_TIMEOUT_S = 60.0
OFFER_STEP_S = 0.001
_SNAPSHOT_TIMES = re.compile(rb'"ts_ms":(\d+),"ts_event_ms":(\d+)')
_EVENT_TIME = re.compile(rb'"ts_event_ms":(\d+)')


@dataclass(frozen=True, slots=True)
class E2eSize:
    """Portfolios (desk and trader), events per drain, seconds per offered load and per ramp step."""

    portfolios: int
    trader_portfolios: int
    drain_events: int
    load_seconds: float
    warmup_seconds: float
    ramp_seconds: float


FULL = E2eSize(portfolios=1_000, trader_portfolios=1, drain_events=60_000, load_seconds=10.0,
               warmup_seconds=1.0, ramp_seconds=4.0)
TINY = E2eSize(portfolios=20, trader_portfolios=1, drain_events=2_000, load_seconds=1.5,
               warmup_seconds=0.25, ramp_seconds=1.0)
RAMP_START_PER_S = 10.0
# One portfolio takes far more events/s than the desk: its ramp starts higher (from 10/s: 3-4 more steps).
TRADER_RAMP_START_PER_S = 100.0
RAMP_FACTOR = 2.0
# A ramp step is saturated when the processor's CPU share reaches SATURATED_CPU, when the step's p99
# exceeds KNEE_FACTOR x the first step's p99 + KNEE_SLACK_MS (latency has started to rise), or when
# the sink delivers less than DELIVERED_SHARE of the offered events to Kafka: it conflates each
# instrument's prices to one per send round, so a stream on few instruments (the trader's) is capped
# by the ingest side, not by the processor, and a higher offered rate would not load the processor.
SATURATED_CPU = 0.9
KNEE_FACTOR = 2.0
KNEE_SLACK_MS = 20.0
DELIVERED_SHARE = 0.5


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), 0 where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Worker:
    """A child process of ``bench.worker`` that this run started (and alone stops)."""

    def __init__(self, role: str, bootstrap: str, prefix: str,
                 ready_timeout_s: float = READY_TIMEOUT_S) -> None:
        self.role = role
        self.ready_timeout_s = ready_timeout_s
        self.bootstrap = bootstrap
        self.prefix = prefix
        self.process: asyncio.subprocess.Process | None = None
        self.log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 -- closed in stop()

    async def start(self) -> None:
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(PROJECT_DIR), *filter(None, [os.environ.get("PYTHONPATH")])])}
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.worker", self.role, "--bootstrap", self.bootstrap,
            "--prefix", self.prefix, "--group", f"{self.prefix}group", "--partitions", str(PARTITIONS),
            stdout=asyncio.subprocess.PIPE, stderr=self.log, env=environment, cwd=str(PROJECT_DIR))
        assert self.process.stdout is not None
        try:
            line = await asyncio.wait_for(self.process.stdout.readline(), self.ready_timeout_s)
        except TimeoutError:
            line = b""
        if line.strip() != b"ready":
            log = self.log_tail()
            await self.stop()
            raise RuntimeError(f"the {self.role} worker did not get ready:\n{log}")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def freeze(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def log_tail(self) -> str:
        if self.log.closed:
            return ""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-4000:]

    async def stop(self) -> None:
        process = self.process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGCONT)
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 60)
            except TimeoutError:
                process.kill()
                await process.wait()
        if not self.log.closed:
            self.log.close()


@dataclass(slots=True)
class OutputTail:
    """Reads an output topic, timestamps arrivals, and tracks what a measurement waits for.

    ``snapshots``: risk snapshots, keyed by portfolio, carrying ``ts_ms`` (publish time) and
    ``ts_event_ms``; otherwise forwarded input records (the passthrough), carrying ``ts_event_ms``.
    """

    bootstrap: str
    topic: str
    snapshots: bool
    latest_ts: dict[str, int] = field(default_factory=dict)
    count: int = 0
    pending: set[str] = field(default_factory=set)
    expected: dict[str, int] = field(default_factory=dict)
    count_target: int | None = None
    done_at: float | None = None
    on_output: Callable[[int, int | None, float], None] | None = None
    consumer: AIOKafkaConsumer | None = None
    task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Assign every partition of the topic from the beginning (the topic is new)."""
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False,
            auto_offset_reset="earliest", fetch_max_wait_ms=50)
        await self.consumer.start()
        if not await topic_partitions(self.consumer, self.topic, READY_TIMEOUT_S):  # a new topic
            raise TimeoutError(f"no metadata for {self.topic}")
        partitions = [TopicPartition(self.topic, p) for p in range(PARTITIONS)]
        self.consumer.assign(partitions)
        await self.consumer.seek_to_beginning(*partitions)

    async def run(self) -> None:
        """Consume until cancelled; every record of a fetch gets the fetch's arrival time."""
        assert self.consumer is not None
        while True:
            batches = await self.consumer.getmany(timeout_ms=100, max_records=10_000)
            arrival = time.time()
            for messages in batches.values():
                for message in messages:
                    self._record(message.key, message.value, arrival)
            if batches:
                self._check(arrival)

    def _record(self, key: bytes | None, value: bytes, arrival: float) -> None:
        self.count += 1
        if self.snapshots:
            found = _SNAPSHOT_TIMES.search(value, 0, 400)
            if key is None or found is None:
                return
            publish_ms: int | None = int(found.group(1))
            ts = int(found.group(2))
            portfolio = key.decode()
            if ts > self.latest_ts.get(portfolio, 0):
                self.latest_ts[portfolio] = ts
            if portfolio in self.pending and ts >= self.expected[portfolio]:
                self.pending.discard(portfolio)
        else:
            found = _EVENT_TIME.search(value)
            if found is None:
                return
            publish_ms = None
            ts = int(found.group(1))
        if self.on_output is not None:
            self.on_output(ts, publish_ms, arrival)

    def _check(self, arrival: float) -> None:
        if self.done_at is not None:
            return
        if self.count_target is not None:
            if self.count >= self.count_target:
                self.done_at = arrival
        elif self.expected and not self.pending:
            self.done_at = arrival

    def expect_snapshots(self, expected: dict[str, int]) -> None:
        """Wait for every portfolio's snapshot to reach its expected ``ts_event_ms``."""
        self.done_at = None
        self.count_target = None
        self.expected = expected
        self.pending = {p for p, ts in expected.items() if self.latest_ts.get(p, 0) < ts}

    def expect_count(self, total: int) -> None:
        """Wait until ``total`` records have been read in all."""
        self.done_at = None
        self.expected = {}
        self.pending = set()
        self.count_target = total
        if self.count >= total:
            self.done_at = time.time()  # everything already read

    async def wait(self, timeout_s: float) -> float:
        """The arrival time of the fetch that completed what was expected."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self.task is not None and self.task.done():
                self.task.result()  # the tail failed: raise its error here
                raise RuntimeError(f"the tail of {self.topic} stopped")
            if self.done_at is not None:
                return self.done_at
            if self.count_target is None and not self.pending:
                return time.time()
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{self.topic}: not complete in {timeout_s} s ({len(self.pending)} portfolios, "
                    f"{self.count} records)")
            await asyncio.sleep(0.002)

    async def stop(self) -> None:
        """Close the consumer."""
        if self.consumer is not None:
            await self.consumer.stop()


async def _produce(producer: Producer, values: Sequence[tuple[str, bytes, bytes]]) -> None:
    for topic, key, value in values:
        producer.send(topic, key, value)
    await producer.flush()


def _encode(topics: Topics, events: Sequence[Event]) -> list[tuple[str, bytes, bytes]]:
    return [
        (topics.prices if isinstance(event, PriceEvent) else topics.positions, event_key(event),
         encode_event(event))
        for event in events
    ]


def _retarget(values: Sequence[tuple[str, bytes, bytes]], source: Topics, target: Topics) -> list[
        tuple[str, bytes, bytes]]:
    mapping = {source.prices: target.prices, source.positions: target.positions}
    return [(mapping[topic], key, value) for topic, key, value in values]


@dataclass(frozen=True, slots=True)
class Case:
    """One workload measured end to end: the desk (many portfolios) or a single trader."""

    name: str
    title: str
    portfolios: int
    ramp_start_per_s: float
    # True: the stream ticks only the instruments the portfolios hold (every tick reaches one)
    held_instruments_only: bool

    def workload(self, base_ms: int) -> Workload:
        """The case's workload (seeded by its portfolio count, so every copy makes the same events)."""
        workload = Workload(self.portfolios, bench_catalog(), seed=self.portfolios, base_ms=base_ms)
        if self.held_instruments_only:
            held = {leg.instrument.id for portfolio in workload.portfolios for leg in portfolio.legs}
            workload.instruments = [i for i in workload.instruments if i.id in held]
        return workload


def cases(size: E2eSize) -> tuple[Case, Case]:
    """The desk and the single trader at ``size``."""
    trader = "1 portfolio" if size.trader_portfolios == 1 else f"{size.trader_portfolios} portfolios"
    return (
        Case("desk", f"desk ({size.portfolios:,} portfolios)", size.portfolios, RAMP_START_PER_S,
             held_instruments_only=False),
        Case("trader", f"single trader ({trader})", size.trader_portfolios, TRADER_RAMP_START_PER_S,
             held_instruments_only=True),
    )


@dataclass(frozen=True, slots=True)
class Target:
    """A worker with its topics, the tail of its output and its own copy of the case's workload.

    The processor and the passthrough get copies of the same seed, so they make the same kinds and
    sizes of events; each tracks what its own worker was sent (the newest event per instrument and
    portfolio).
    """

    name: str
    worker: Worker
    topics: Topics
    tail: OutputTail
    workload: Workload


@dataclass(slots=True)
class KafkaRun:
    """What one e2e/ceiling run shares across its cases: the broker address, the bus and a producer."""

    size: E2eSize
    bootstrap: str
    bus: KafkaBus
    producer: Producer

    @staticmethod
    def now_ms() -> int:
        """Wall-clock epoch milliseconds."""
        return int(time.time() * 1000)

    async def start_target(self, name: str, role: str, prefix: str, workload: Workload) -> Target:
        """Create the topics under ``prefix``, start tailing the output, then start the worker."""
        topics = Topics.with_prefix(prefix)
        await self.bus.create_topics(topics.specs(PARTITIONS))
        tail = OutputTail(self.bootstrap, topics.risk, snapshots=role == "processor")
        target = Target(name, Worker(role, self.bootstrap, prefix), topics, tail, workload)
        try:
            await tail.start()
            tail.task = asyncio.create_task(tail.run(), name=f"tail-{prefix}")
            await target.worker.start()
        except BaseException:
            await stop_target(target)
            raise
        return target

    async def drain(self, target: Target) -> dict[str, float]:
        """Freeze the worker, pre-fill N events, thaw, time until their last effect is readable."""
        events = target.workload.stream(self.size.drain_events, self.now_ms())
        values = _encode(target.topics, events)
        target.worker.freeze()
        try:
            await _produce(self.producer, values)
        finally:
            if target.tail.snapshots:
                target.tail.expect_snapshots(target.workload.expected_final_ts())
            else:
                target.tail.expect_count(target.tail.count + len(values))
            cpu_before = target.worker.cpu_seconds()
            started = time.time()
            target.worker.thaw()
        done = await target.tail.wait(DRAIN_TIMEOUT_S)
        elapsed = done - started
        return {"seconds": elapsed, "events_per_s": len(values) / elapsed,
                "cpu_share": (target.worker.cpu_seconds() - cpu_before) / elapsed}

    async def offer(self, target: Target, rate: float, seconds: float) -> dict[str, Any]:
        """Offer ``rate`` events/s to a BusSink for ``seconds``; the latency of each output."""
        sink_producer = await self.bus.producer()
        sink = BusSink(sink_producer, target.topics)
        stop = asyncio.Event()
        sink_task = asyncio.create_task(sink.run(stop), name="bench-sink")
        workload = target.workload
        latencies = _Latencies(warm_until=workload.base_ms + workload.sequence + 1)
        count_before = target.tail.count
        target.tail.on_output = latencies.on_output
        cpu_before = target.worker.cpu_seconds()
        started = time.perf_counter()
        offered = 0
        try:
            while (elapsed := time.perf_counter() - started) < seconds:
                if elapsed < self.size.warmup_seconds:
                    latencies.warm_until = workload.base_ms + workload.sequence
                due = int(rate * elapsed) - offered
                if due > 0:
                    now = time.time()
                    events = [workload.next_event(int(now * 1000)) for _ in range(due)]
                    latencies.received(events, now)
                    await sink.publish(events)
                    offered += due
                await asyncio.sleep(OFFER_STEP_S)
            stop.set()
            await sink_task
            cpu_share = (target.worker.cpu_seconds() - cpu_before) / (time.perf_counter() - started)
            if target.tail.snapshots:
                target.tail.expect_snapshots(workload.expected_final_ts())
            else:
                target.tail.expect_count(count_before + sink.published_events)
            try:
                await target.tail.wait(SETTLE_TIMEOUT_S)
            except TimeoutError as exc:
                read = target.tail.count - count_before
                raise TimeoutError(f"{exc}; offered {offered}, the sink delivered "
                                   f"{sink.published_events}, read {read}") from None
        finally:
            stop.set()
            if not sink_task.done():
                sink_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sink_task
            target.tail.on_output = None
            await sink_producer.stop()
        return {
            "offered_per_s": offered / seconds,
            "delivered_per_s": sink.published_events / seconds,
            "cpu_share": cpu_share,
            **latencies.summary(),
        }

    async def ramp(self, case: Case, processor: Target, ceiling_per_s: float) -> tuple[
            list[dict[str, Any]], float]:
        """Offered rates doubling from the case's start rate until the processor saturates, then one
        step halfway between the last good rate and the saturated one.

        Returns every step and the sustained maximum: the highest offered rate of a step at which
        the pipeline was not saturated (see SATURATED_CPU, KNEE_FACTOR and DELIVERED_SHARE).
        """
        steps: list[dict[str, Any]] = []
        sustained = 0.0
        good = 0.0
        rate = case.ramp_start_per_s
        baseline: float | None = None

        async def step(rate: float, *, bisect: bool) -> bool:
            nonlocal baseline, sustained
            figures = await self.offer(processor, rate, self.size.ramp_seconds)
            figures.pop("latencies_ms")
            p99 = figures["p99_ms"]
            if baseline is None:
                baseline = p99
            limit = None
            if figures["cpu_share"] >= SATURATED_CPU:
                limit = "processor CPU"
            elif p99 is None or (baseline is not None and p99 > KNEE_FACTOR * baseline + KNEE_SLACK_MS):
                limit = "latency"
            elif figures["delivered_per_s"] < DELIVERED_SHARE * figures["offered_per_s"]:
                limit = "sink conflation"
            saturated = limit is not None
            steps.append({"case": case.name, "target": "processor", "rate": rate, "bisect": bisect,
                          "saturated": saturated, "saturated_by": limit, **figures})
            if not saturated:
                sustained = figures["offered_per_s"]
            return saturated

        while rate <= ceiling_per_s:
            if await step(rate, bisect=False):
                if good > 0:
                    await step((good + rate) / 2, bisect=True)
                break
            good = rate
            rate *= RAMP_FACTOR
        return steps, sustained


async def stop_target(target: Target) -> None:
    """Stop the worker, then the tail of its output."""
    await target.worker.stop()
    task = target.tail.task
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await target.tail.stop()


@dataclass(slots=True)
class _Latencies:
    """Receive times of offered events and the latency of each output that names one of them."""

    warm_until: int
    receive: dict[int, float] = field(default_factory=dict)
    samples: list[float] = field(default_factory=list)
    to_publish: list[float] = field(default_factory=list)
    to_read: list[float] = field(default_factory=list)

    def received(self, events: Sequence[Event], now: float) -> None:
        for event in events:
            self.receive[event.ts_event_ms] = now

    def on_output(self, ts: int, publish_ms: int | None, arrival: float) -> None:
        received = self.receive.get(ts)
        if received is None or ts <= self.warm_until:
            return
        self.samples.append(arrival - received)
        if publish_ms is not None:
            self.to_publish.append(publish_ms / 1000 - received)
            self.to_read.append(arrival - publish_ms / 1000)

    def summary(self) -> dict[str, Any]:
        latencies = [sample * 1e3 for sample in self.samples]
        return {
            "outputs_measured": len(latencies),
            "p50_ms": percentile(latencies, 0.5) if latencies else None,
            "p99_ms": percentile(latencies, 0.99) if latencies else None,
            "max_ms": max(latencies) if latencies else None,
            # The snapshot's ts_ms (whole ms) is stamped once when a publish round starts, so it splits
            # the path into receive -> round start and round start -> read (the round builds every
            # due snapshot, then flushes them all)
            "p50_to_publish_ms": percentile(self.to_publish, 0.5) * 1e3 if self.to_publish else None,
            "p50_publish_to_read_ms": percentile(self.to_read, 0.5) * 1e3 if self.to_read else None,
            "latencies_ms": latencies,
        }


def _level(load: float, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One offered load: medians over runs of each run's percentiles, and pooled percentiles."""
    p50 = [r["p50_ms"] for r in runs if r["p50_ms"] is not None]
    p99 = [r["p99_ms"] for r in runs if r["p99_ms"] is not None]
    pooled = [latency for r in runs for latency in r.pop("latencies_ms")]
    to_publish = [r["p50_to_publish_ms"] for r in runs if r["p50_to_publish_ms"] is not None]
    to_read = [r["p50_publish_to_read_ms"] for r in runs if r["p50_publish_to_read_ms"] is not None]
    return {
        "load": load,
        "offered_per_s": median([r["offered_per_s"] for r in runs]),
        "delivered_per_s": median([r["delivered_per_s"] for r in runs]),
        "outputs_measured": sum(r["outputs_measured"] for r in runs),
        "p50_ms": median(p50) if p50 else None,
        "p99_ms": median(p99) if p99 else None,
        "pooled_p50_ms": percentile(pooled, 0.5) if pooled else None,
        "pooled_p99_ms": percentile(pooled, 0.99) if pooled else None,
        "max_ms": max(pooled) if pooled else None,
        "p50_to_publish_ms": median(to_publish) if to_publish else None,
        "p50_publish_to_read_ms": median(to_read) if to_read else None,
        "cpu_share": median([r["cpu_share"] for r in runs]),
        "runs": runs,
    }


async def measure_case(
    run: KafkaRun, case: Case, passthrough: Target, prefix: str, repeats: int, *, latency: bool,
    ceiling: bool,
) -> dict[str, Any]:
    """One case with its own processor worker (stopped on return): drains, then latencies."""
    processor = await run.start_target("processor", "processor", prefix, case.workload(run.now_ms()))
    # The shared passthrough gets the case's stream, from a copy with the same seed.
    passthrough = Target(passthrough.name, passthrough.worker, passthrough.topics, passthrough.tail,
                         case.workload(run.now_ms()))
    try:
        workload = processor.workload
        await _produce(run.producer, _encode(processor.topics, workload.setup_events(run.now_ms())))
        processor.tail.expect_snapshots(workload.expected_final_ts())
        await processor.tail.wait(DRAIN_TIMEOUT_S)
        processor_runs: list[dict[str, float]] = []
        ceiling_runs: list[dict[str, float]] = []
        for warmup in (True, *([False] * repeats)):
            # The first drain of each warms the JVM, the connections and the code paths: not counted.
            processor_run = await run.drain(processor)
            if not warmup:
                processor_runs.append(processor_run)
            if ceiling:
                ceiling_run = await run.drain(passthrough)
                if not warmup:
                    ceiling_runs.append(ceiling_run)
        maximum = median([r["events_per_s"] for r in processor_runs])
        result: dict[str, Any] = {
            "case": case.name,
            "portfolios": case.portfolios,
            "positions": workload.held_positions(),
            "instruments": len(workload.instruments),
            "partitions": PARTITIONS,
            "drain_events": run.size.drain_events,
            "processor_runs": processor_runs,
            "processor_events_per_s": maximum,
            "processor_cpu_share": median([r["cpu_share"] for r in processor_runs]),
        }
        if ceiling:
            ceiling_rate = median([r["events_per_s"] for r in ceiling_runs])
            result.update({
                "processor_max_records": PROCESSOR_MAX_RECORDS,
                "ceiling_max_records": PASSTHROUGH_MAX_RECORDS,
                "ceiling_runs": ceiling_runs,
                "ceiling_events_per_s": ceiling_rate,
                "ceiling_cpu_share": median([r["cpu_share"] for r in ceiling_runs]),
                "ratio": maximum / ceiling_rate,
                "ratio_target": CEILING_TARGET,
                "ratio_met": maximum / ceiling_rate >= CEILING_TARGET,
            })
        if latency:
            steps, sustained = await run.ramp(case, processor, maximum)
            if sustained <= 0:
                sustained = case.ramp_start_per_s / RAMP_FACTOR  # saturated from the first step
            loads: list[dict[str, Any]] = []
            for load in LOADS:
                runs = [await run.offer(processor, sustained * load, run.size.load_seconds)
                        for _ in range(repeats)]
                loads.append({"case": case.name, "target": "processor", **_level(load, runs)})
            # The floor: the same sink, load and broker with the passthrough instead of the processor.
            floor = [await run.offer(passthrough, sustained * TARGET_LOAD, run.size.load_seconds)
                     for _ in range(repeats)]
            loads.append({"case": case.name, "target": "passthrough", **_level(TARGET_LOAD, floor)})
            half = loads[LOADS.index(TARGET_LOAD)]
            result.update({
                "ramp_start_per_s": case.ramp_start_per_s,
                "ramp": steps,
                "sustained_events_per_s": sustained,
                "loads": loads,
                "latency_target_ms": LATENCY_TARGET_MS,
                "latency_p99_ms": half["p99_ms"],
                "latency_met": half["p99_ms"] is not None and half["p99_ms"] <= LATENCY_TARGET_MS,
            })
    except BaseException:
        sys.stderr.write(f"{case.name} processor log:\n{processor.worker.log_tail()}\n")
        raise
    else:
        return result
    finally:
        await stop_target(processor)


async def measure(
    bootstrap: str, size: E2eSize, repeats: int, *, latency: bool, ceiling: bool,
) -> dict[str, Any]:
    """Each case in turn (drains, then latencies when ``latency``): the desk's figures at the top
    level, the trader's under ``"trader"``."""
    run_id = uuid.uuid4().hex[:8]
    bus = KafkaBus(KafkaSettings(bootstrap_servers=bootstrap))
    run = KafkaRun(size, bootstrap, bus, await bus.producer())
    desk, trader = cases(size)
    try:
        passthrough = await run.start_target("passthrough", "ceiling", f"bench{run_id}c.",
                                             desk.workload(run.now_ms()))
        try:
            result = await measure_case(run, desk, passthrough, f"bench{run_id}.", repeats,
                                        latency=latency, ceiling=ceiling)
            result["trader"] = await measure_case(run, trader, passthrough, f"bench{run_id}t.", repeats,
                                                  latency=latency, ceiling=ceiling)
        finally:
            await stop_target(passthrough)
    finally:
        await run.producer.stop()
    return result


THROUGHPUT_COLUMNS = (
    ("case", "case"), ("portfolios", "portfolios"), ("positions", "positions"),
    ("instruments", "instruments"), ("drain_events", "events/drain"),
    ("processor_events_per_s", "processor drain/s"), ("processor_cpu_share", "processor CPU"),
    ("ceiling_events_per_s", "passthrough drain/s"), ("ceiling_cpu_share", "passthrough CPU"),
    ("ratio", "ratio"), ("sustained_events_per_s", "sustained/s"),
)
RAMP_COLUMNS = (
    ("case", "case"), ("rate", "offered/s"), ("delivered_per_s", "to Kafka/s"),
    ("cpu_share", "processor CPU"), ("outputs_measured", "snapshots"), ("p50_ms", "p50 ms"),
    ("p99_ms", "p99 ms"), ("saturated", "saturated"), ("saturated_by", "by"),
)
LATENCY_COLUMNS = (
    ("case", "case"), ("target", "through"), ("load", "load"), ("offered_per_s", "offered/s"),
    ("delivered_per_s", "to Kafka/s"), ("cpu_share", "CPU"), ("outputs_measured", "outputs"),
    ("p50_ms", "p50 ms"), ("p99_ms", "p99 ms"), ("max_ms", "max ms"),
    ("p50_to_publish_ms", "p50 to round"), ("p50_publish_to_read_ms", "p50 round->read"),
)


def _verdict(met: bool) -> str:
    return "met" if met else "missed"


def _milliseconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def targets(size: E2eSize, result: dict[str, Any]) -> str:
    """One line per target, with each case's figure and whether it is met."""
    figures = list(zip(cases(size), (result, result["trader"]), strict=True))
    lines = []
    if "latency_met" in result:
        verdicts = "; ".join(
            f"{case.title} {_milliseconds(figure['latency_p99_ms'])} {_verdict(figure['latency_met'])}"
            for case, figure in figures)
        lines.append(f"target p99 <= {LATENCY_TARGET_MS:g} ms at {TARGET_LOAD * 100:g} % of the sustained "
                     f"maximum: {verdicts}")
    if "ratio_met" in result:
        verdicts = "; ".join(f"{case.title} {figure['ratio']:.3f} {_verdict(figure['ratio_met'])}"
                             for case, figure in figures)
        lines.append(f"target processor drain >= {CEILING_TARGET:g} x the passthrough's: {verdicts}")
    return "\n".join(lines)


def run(size: str, repeats: int, bootstrap: str, *, latency: bool, ceiling: bool) -> dict[str, Any]:
    """The e2e and/or ceiling figures on the broker at ``bootstrap``, for the desk and the trader."""
    plan = FULL if size == "full" else TINY
    result = eventloop.run(measure(bootstrap, plan, repeats, latency=latency, ceiling=ceiling))
    trader = result["trader"]
    legend = "cases: " + "; ".join(
        f"{case.name} = {case.title}, {figure['instruments']} instruments ticked"
        for case, figure in zip(cases(plan), (result, trader), strict=True))
    tables = [table("e2e: maximum throughput through Kafka (median of drains)", THROUGHPUT_COLUMNS,
                    [result, trader]) + "\n" + legend]
    if latency:
        tables.append(table("e2e: ramp to the sustained maximum (not saturated)",
                            RAMP_COLUMNS, [*result["ramp"], *trader["ramp"]]))
        tables.append(table("e2e: receive -> readable on the output topic, per output, at loads of "
                            "the sustained maximum (median of runs)", LATENCY_COLUMNS,
                            [*result["loads"], *trader["loads"]]))
    lines = targets(plan, result)
    if lines:
        tables.append(lines)
    result["table"] = "\n\n".join(tables)
    return result
