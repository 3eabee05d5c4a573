"""e2e and ceiling: ingest -> Kafka -> Processor -> hedge.risk on a real broker, and the raw I/O floor.

Processes: this driver (workload generator, ``BusSink`` on a ``KafkaBus`` producer, and consumers
of the output topics that timestamp arrivals), the processor (``python -m bench.worker processor``)
and the passthrough loop (``python -m bench.worker ceiling``), each on its own topics (same
partition counts). The broker runs in its own JVM. All share the machine's cores.

Maximum throughput (drain): the worker is frozen with SIGSTOP, a pre-encoded stream of N events is
written to its input topics and acknowledged, then SIGCONT starts the clock; it stops when the
output shows the last effect: for the processor, every portfolio's latest snapshot carries the
newest ``ts_event_ms`` that touched it; for the passthrough, N records are readable. So the input is
truly pre-filled and the producer's speed does not limit the figure. The processor and the
passthrough are measured alternately in the same run; the ratio is of their medians.

The drain rate is a backlog rate: the processor conflates the prices of one fetched batch (up to
5,000 records) to one per instrument, so a backlog costs one fan-out per instrument per batch. A live
stream arrives in small batches and pays a fan-out per tick, so the sustained maximum is found
separately by a ramp: offered rates doubling from 10 events/s, each step held for a few seconds,
until the processor saturates (its CPU share reaches 90 %, or the step's p99 latency exceeds twice
the first step's plus 20 ms: latency has started to rise), then one step halfway between the last
good rate and that one; the sustained maximum is the highest rate that did not saturate.

Latency: with the processor running, events are offered to the ``BusSink`` at 25 %, 50 % and 80 %
of the sustained maximum (and, as a floor, at 50 % through the passthrough), each stamped with
``ts_receive_ms`` (and its exact wall time) when made. ``ts_event_ms`` is ``base + sequence``, so a
snapshot's ``ts_event_ms`` names the newest event it reflects; the latency of a snapshot is its
arrival on hedge.risk minus that event's receive time. The sink conflates prices of one instrument
that wait for the same send (by design), so fewer events may reach Kafka than were offered; both
rates are reported.
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
from bench.workload import Workload, bench_catalog
from monitor.bus.base import Producer, Topics
from monitor.bus.kafka import KafkaBus, KafkaSettings
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
    """Portfolios, events per drain, seconds per offered load and per ramp step."""

    portfolios: int
    drain_events: int
    load_seconds: float
    warmup_seconds: float
    ramp_seconds: float


FULL = E2eSize(portfolios=1_000, drain_events=60_000, load_seconds=10.0, warmup_seconds=1.0,
               ramp_seconds=4.0)
TINY = E2eSize(portfolios=20, drain_events=2_000, load_seconds=1.5, warmup_seconds=0.25,
               ramp_seconds=1.0)
RAMP_START_PER_S = 10.0
RAMP_FACTOR = 2.0
# The processor is saturated at a ramp step when its CPU share reaches SATURATED_CPU, or when the
# step's p99 exceeds KNEE_FACTOR x the first step's p99 + KNEE_SLACK_MS (latency has started to rise).
SATURATED_CPU = 0.9
KNEE_FACTOR = 2.0
KNEE_SLACK_MS = 20.0


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), 0 where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Worker:
    """A child process of ``bench.worker`` that this run started (and alone stops)."""

    def __init__(self, role: str, bootstrap: str, prefix: str) -> None:
        self.role = role
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
            line = await asyncio.wait_for(self.process.stdout.readline(), READY_TIMEOUT_S)
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
        return _cpu_seconds(self.pid)

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
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not self.consumer.partitions_for_topic(self.topic):  # metadata of a new topic
            if time.monotonic() > deadline:
                raise TimeoutError(f"no metadata for {self.topic}")
            await self.consumer._client.force_metadata_update()  # as KafkaBus.table_consumer does
            await asyncio.sleep(0.05)
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
class Target:
    """A worker with its topics, the tail of its output and its own copy of the workload.

    Both targets' workloads have the same seed, so they make the same kinds and sizes of events;
    each tracks what its own worker was sent (the newest event per instrument and portfolio).
    """

    name: str
    worker: Worker
    topics: Topics
    tail: OutputTail
    workload: Workload


@dataclass(slots=True)
class KafkaRun:
    """Everything one e2e/ceiling run holds: the producer and the two targets."""

    size: E2eSize
    bus: KafkaBus
    producer: Producer
    processor: Target
    ceiling: Target
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @staticmethod
    def now_ms() -> int:
        """Wall-clock epoch milliseconds."""
        return int(time.time() * 1000)

    async def drain(self, target: Target) -> dict[str, float]:
        """Freeze the worker, pre-fill N events, thaw, time until their last effect is readable."""
        events = target.workload.stream(self.size.drain_events, self.now_ms())
        values = _encode(target.topics, events)
        target.worker.freeze()
        try:
            await _produce(self.producer, values)
        finally:
            if target is self.processor:
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
            if target is self.processor:
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

    async def ramp(self, ceiling_per_s: float) -> tuple[list[dict[str, Any]], float]:
        """Offered rates doubling from RAMP_START_PER_S until the processor saturates, then one step
        halfway between the last good rate and the saturated one.

        Returns every step and the sustained maximum: the highest offered rate of a step at which
        the processor was not saturated (see SATURATED_CPU and KNEE_FACTOR).
        """
        steps: list[dict[str, Any]] = []
        sustained = 0.0
        good = 0.0
        rate = RAMP_START_PER_S
        baseline: float | None = None

        async def step(rate: float, *, bisect: bool) -> bool:
            nonlocal baseline, sustained
            figures = await self.offer(self.processor, rate, self.size.ramp_seconds)
            figures.pop("latencies_ms")
            p99 = figures["p99_ms"]
            if baseline is None:
                baseline = p99
            saturated = figures["cpu_share"] >= SATURATED_CPU or p99 is None or (
                baseline is not None and p99 > KNEE_FACTOR * baseline + KNEE_SLACK_MS)
            steps.append({"target": "processor", "rate": rate, "bisect": bisect,
                          "saturated": saturated, **figures})
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


async def _open(bootstrap: str, size: E2eSize) -> KafkaRun:
    run_id = uuid.uuid4().hex[:8]
    bus = KafkaBus(KafkaSettings(bootstrap_servers=bootstrap))
    targets: list[Target] = []
    for name, role, prefix in (("processor", "processor", f"bench{run_id}."),
                               ("passthrough", "ceiling", f"bench{run_id}c.")):
        topics = Topics.with_prefix(prefix)
        await bus.create_topics(topics.specs(PARTITIONS))
        workload = Workload(size.portfolios, bench_catalog(), seed=size.portfolios,
                            base_ms=int(time.time() * 1000))
        targets.append(Target(name, Worker(role, bootstrap, prefix), topics,
                              OutputTail(bootstrap, topics.risk, snapshots=role == "processor"), workload))
    run = KafkaRun(size, bus, await bus.producer(), targets[0], targets[1])
    try:
        for target in targets:
            await target.tail.start()
            target.tail.task = asyncio.create_task(target.tail.run(), name=f"tail-{target.name}")
            run.tasks.append(target.tail.task)
            await target.worker.start()
    except BaseException:
        await _close(run)
        raise
    return run


async def _close(run: KafkaRun) -> None:
    for target in (run.processor, run.ceiling):
        await target.worker.stop()
    for task in run.tasks:
        task.cancel()
    for task in run.tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    for target in (run.processor, run.ceiling):
        await target.tail.stop()
    await run.producer.stop()


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


async def measure(
    bootstrap: str, size: E2eSize, repeats: int, *, latency: bool, ceiling: bool,
) -> dict[str, Any]:
    """Drain rates (processor, and passthrough when ``ceiling``), then latencies when ``latency``."""
    run = await _open(bootstrap, size)
    try:
        workload = run.processor.workload
        await _produce(run.producer, _encode(run.processor.topics, workload.setup_events(run.now_ms())))
        run.processor.tail.expect_snapshots(workload.expected_final_ts())
        await run.processor.tail.wait(DRAIN_TIMEOUT_S)
        processor_runs: list[dict[str, float]] = []
        ceiling_runs: list[dict[str, float]] = []
        for warmup in (True, *([False] * repeats)):
            # The first drain of each warms the JVM, the connections and the code paths: not counted.
            processor_run = await run.drain(run.processor)
            if not warmup:
                processor_runs.append(processor_run)
            if ceiling:
                ceiling_run = await run.drain(run.ceiling)
                if not warmup:
                    ceiling_runs.append(ceiling_run)
        maximum = median([r["events_per_s"] for r in processor_runs])
        result: dict[str, Any] = {
            "portfolios": size.portfolios,
            "positions": workload.held_positions(),
            "partitions": PARTITIONS,
            "drain_events": size.drain_events,
            "processor_runs": processor_runs,
            "processor_events_per_s": maximum,
            "processor_cpu_share": median([r["cpu_share"] for r in processor_runs]),
        }
        if ceiling:
            ceiling_rate = median([r["events_per_s"] for r in ceiling_runs])
            result.update({
                "ceiling_runs": ceiling_runs,
                "ceiling_events_per_s": ceiling_rate,
                "ceiling_cpu_share": median([r["cpu_share"] for r in ceiling_runs]),
                "ratio": maximum / ceiling_rate,
                "ratio_target": CEILING_TARGET,
                "ratio_met": maximum / ceiling_rate >= CEILING_TARGET,
            })
        if latency:
            steps, sustained = await run.ramp(maximum)
            if sustained <= 0:
                sustained = RAMP_START_PER_S / RAMP_FACTOR  # saturated from the first step
            loads: list[dict[str, Any]] = []
            for load in LOADS:
                runs = [await run.offer(run.processor, sustained * load, size.load_seconds)
                        for _ in range(repeats)]
                loads.append({"target": "processor", **_level(load, runs)})
            # The floor: the same sink, load and broker with the passthrough instead of the processor.
            floor = [await run.offer(run.ceiling, sustained * TARGET_LOAD, size.load_seconds)
                     for _ in range(repeats)]
            loads.append({"target": "passthrough", **_level(TARGET_LOAD, floor)})
            half = loads[LOADS.index(TARGET_LOAD)]
            result.update({
                "ramp": steps,
                "sustained_events_per_s": sustained,
                "loads": loads,
                "latency_target_ms": LATENCY_TARGET_MS,
                "latency_met": half["p99_ms"] is not None and half["p99_ms"] <= LATENCY_TARGET_MS,
            })
    except BaseException:
        sys.stderr.write(f"processor log:\n{run.processor.worker.log_tail()}\n")
        raise
    else:
        return result
    finally:
        await _close(run)


THROUGHPUT_COLUMNS = (
    ("portfolios", "portfolios"), ("positions", "positions"), ("drain_events", "events/drain"),
    ("processor_events_per_s", "processor drain/s"), ("processor_cpu_share", "processor CPU"),
    ("ceiling_events_per_s", "passthrough drain/s"), ("ceiling_cpu_share", "passthrough CPU"),
    ("ratio", "ratio"), ("sustained_events_per_s", "sustained/s"),
)
RAMP_COLUMNS = (
    ("rate", "offered/s"), ("delivered_per_s", "to Kafka/s"), ("cpu_share", "processor CPU"),
    ("outputs_measured", "snapshots"), ("p50_ms", "p50 ms"), ("p99_ms", "p99 ms"),
    ("saturated", "saturated"),
)
LATENCY_COLUMNS = (
    ("target", "through"), ("load", "load"), ("offered_per_s", "offered/s"),
    ("delivered_per_s", "to Kafka/s"), ("cpu_share", "CPU"), ("outputs_measured", "outputs"),
    ("p50_ms", "p50 ms"), ("p99_ms", "p99 ms"), ("max_ms", "max ms"),
    ("p50_to_publish_ms", "p50 to round"), ("p50_publish_to_read_ms", "p50 round->read"),
)


def run(size: str, repeats: int, bootstrap: str, *, latency: bool, ceiling: bool) -> dict[str, Any]:
    """The e2e and/or ceiling figures on the broker at ``bootstrap``."""
    plan = FULL if size == "full" else TINY
    result = asyncio.run(measure(bootstrap, plan, repeats, latency=latency, ceiling=ceiling))
    tables = [table("e2e: maximum throughput through Kafka (median of drains)", THROUGHPUT_COLUMNS, [result])]
    if latency:
        tables.append(table("e2e: ramp to the sustained maximum (processor not saturated)",
                            RAMP_COLUMNS, result["ramp"]))
        tables.append(table("e2e: receive -> readable on the output topic, per output, at loads of "
                            "the sustained maximum (median of runs)", LATENCY_COLUMNS, result["loads"]))
    result["table"] = "\n\n".join(tables)
    return result
