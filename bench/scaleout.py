"""scaleout: 1 against 2 processors in one consumer group, with memory per portfolio.

The e2e workload at 100,000 portfolios (2,000 at tiny size): their setup events, then a stream of
ticks and position changes (99 % ticks). For each processor count (1, then 2 in one group, on their
own topics) the workers are started and ready first; then the whole input is written, and the
clock runs from the first write to the moment every portfolio's snapshot on ``hedge.risk`` reflects
its newest input. Throughput is input records over that time. Memory per portfolio is the workers'
resident memory after the run, less their resident memory when ready, over the portfolios.

The machine's cores are shared by the broker, this driver and the workers, so the ratio is bounded
by the cores, not by the group: both are reported with each worker's CPU share.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.e2e import PARTITIONS, OutputTail, Worker
from bench.report import table
from bench.workload import Workload, bench_catalog
from monitor import eventloop
from monitor.bus.base import Producer, Topics
from monitor.bus.kafka import KafkaBus, KafkaSettings
from monitor.codec import encode_event, event_key
from monitor.domain.events import PriceEvent

SCALE_TARGET = 1.7
DRAIN_TIMEOUT_S = 1_800.0
HAND_OFF_RECORDS = 20_000


@dataclass(frozen=True, slots=True)
class ScaleSize:
    """Portfolios and stream events."""

    portfolios: int
    stream_events: int


FULL = ScaleSize(portfolios=100_000, stream_events=100_000)
TINY = ScaleSize(portfolios=2_000, stream_events=2_000)

COLUMNS = (("processors", "processors"), ("records", "input records"), ("seconds", "seconds"),
           ("records_per_s", "records/s"), ("cpu_shares", "CPU share per worker"),
           ("rss_mib", "RSS per worker (MiB)"), ("bytes_per_portfolio", "bytes per portfolio"))


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def _write(producer: Producer, topics: Topics, workload: Workload, stream_events: int) -> int:
    now_ms = int(time.time() * 1000)
    events = [*workload.setup_events(now_ms), *workload.stream(stream_events, now_ms)]
    for index, event in enumerate(events, 1):
        topic = topics.prices if isinstance(event, PriceEvent) else topics.positions
        producer.send(topic, event_key(event), encode_event(event))
        if index % HAND_OFF_RECORDS == 0:
            await producer.hand_off()
    await producer.flush()
    return len(events)


async def _measure_count(bootstrap: str, bus: KafkaBus, producer: Producer, plan: ScaleSize,
                         processors: int) -> dict[str, Any]:
    prefix = f"bench-scale{processors}-{uuid.uuid4().hex[:8]}-"
    topics = Topics.with_prefix(prefix)
    await bus.create_topics(topics.specs(PARTITIONS))
    tail = OutputTail(bootstrap, topics.risk, snapshots=True)
    await tail.start()
    tail.task = asyncio.create_task(tail.run(), name=f"tail-{prefix}")
    workers = [Worker("processor", bootstrap, prefix) for _ in range(processors)]
    try:
        for worker in workers:
            await worker.start()
        idle_rss = [_rss_bytes(w.pid) for w in workers]
        cpu_before = [w.cpu_seconds() for w in workers]
        workload = Workload(plan.portfolios, bench_catalog(), base_ms=int(time.time() * 1000))
        started = time.time()
        records = await _write(producer, topics, workload, plan.stream_events)
        tail.expect_snapshots(workload.expected_final_ts())
        done = await tail.wait(DRAIN_TIMEOUT_S)
        seconds = done - started
        cpu = [(w.cpu_seconds() - before) / seconds
               for w, before in zip(workers, cpu_before, strict=True)]
        rss = [_rss_bytes(w.pid) for w in workers]
    finally:
        for worker in workers:
            await worker.stop()
        tail.task.cancel()
        await tail.stop()
    grown = sum(rss) - sum(idle_rss)
    return {"processors": processors, "portfolios": plan.portfolios, "records": records,
            "seconds": seconds, "records_per_s": records / seconds,
            "cpu_shares": " / ".join(f"{share:.2f}" for share in cpu),
            "rss_mib": " / ".join(f"{value / 2**20:.0f}" for value in rss),
            "bytes_per_portfolio": grown / plan.portfolios}


async def measure(bootstrap: str, plan: ScaleSize) -> dict[str, Any]:
    """One processor, then two in one group, on the same broker."""
    bus = KafkaBus(KafkaSettings(bootstrap_servers=bootstrap))
    producer = await bus.producer()
    try:
        rows = [await _measure_count(bootstrap, bus, producer, plan, count) for count in (1, 2)]
    finally:
        await producer.stop()
    ratio = rows[1]["records_per_s"] / rows[0]["records_per_s"]
    return {"rows": rows, "ratio": ratio, "target": SCALE_TARGET, "met": ratio >= SCALE_TARGET}


def run(size: str, bootstrap: str) -> dict[str, Any]:
    """The scale-out figures on the broker at ``bootstrap``."""
    plan = FULL if size == "full" else TINY
    result = eventloop.run(measure(bootstrap, plan))
    verdict = "met" if result["met"] else f"missed by {SCALE_TARGET / result['ratio']:.2f}x"
    result["table"] = (
        table(f"scaleout: {plan.portfolios:,} portfolios, 1 and 2 processors in one group",
              COLUMNS, result["rows"])
        + f"\n2 / 1 processors: {result['ratio']:.2f} (target >= {SCALE_TARGET}; {verdict})")
    return result
