"""recovery: a processor's restart time against hours of price history on a real broker.

The workload's portfolios (1,000; 20 at tiny size) are set up, then ``hours`` of ticks are written
to ``hedge.prices``: 20 instruments at 10 ticks/s each, event times spread over the past ``hours``
and ending now. A compacted topic's active segment is never compacted, so a reader of the whole
topic re-reads every one of those ticks.

Two starts of the processor worker (``python -m bench.worker processor``), each timed from its
spawn to the moment every portfolio's snapshot on ``hedge.risk`` reflects the newest tick:

1. **cold**: no checkpoint exists; the processor reads the whole history.
2. **restart**: the first processor is stopped (SIGTERM: its last checkpoint holds the price table
   and the offsets it reflects), 60 s of further ticks arrive, then a new processor starts. It
   restores the price table and reads only the ticks after the checkpoint.

The restart target is 5 s to the first correct snapshot. "First" and "every" are both reported:
the first portfolio's correct snapshot, and every portfolio's.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any

from bench.e2e import PARTITIONS, OutputTail, Worker
from bench.report import table
from bench.workload import Workload, bench_catalog
from monitor import eventloop
from monitor.bus.base import Producer, Topics
from monitor.bus.kafka import KafkaBus, KafkaSettings
from monitor.codec import decode, encode_event, event_key
from monitor.domain.events import PriceEvent

TICKS_PER_SECOND = 10
AFTER_CHECKPOINT_S = 60
TARGET_S = 5.0
HAND_OFF_RECORDS = 20_000
# Acknowledged in slices, so the producer never holds a day of ticks in memory.
FLUSH_RECORDS = 200_000
WAIT_TIMEOUT_S = 1_800.0
# A tick as the codec writes it (checked against the codec when the run starts): formatting the
# bytes directly makes the 17 million ticks of a day cheap enough to write in the run.
_TICK = ('{"v":2,"type":"price","instrument":"%s","mark":%.2f,"index":%.2f,"funding_rate":0.0001,'
         '"next_funding_ms":null,"ts_event_ms":%d,"ts_receive_ms":%d}')


@dataclass(frozen=True, slots=True)
class RecoverySize:
    """Hours of history per measurement and portfolios."""

    hours: tuple[float, ...]
    portfolios: int


FULL = RecoverySize(hours=(1.0, 24.0), portfolios=1_000)
TINY = RecoverySize(hours=(0.02,), portfolios=20)

COLUMNS = (("hours", "hours of ticks"), ("history_records", "ticks in hedge.prices"),
           ("cold_first_s", "cold: first correct (s)"), ("cold_all_s", "cold: every portfolio (s)"),
           ("restart_first_s", "restart: first correct (s)"),
           ("restart_all_s", "restart: every portfolio (s)"), ("verdict", "restart target 5 s"))


def _tick(instrument: str, mark: float, ts_ms: int) -> bytes:
    return (_TICK % (instrument, mark, mark * 0.9995, ts_ms, ts_ms)).encode()


def _check_tick_format() -> None:
    sample = PriceEvent("binance:BTCUSDT", 60_000.0, 59_970.0, 1e-4, None, 1_000, 1_000)
    if decode(_tick("binance:BTCUSDT", 60_000.0, 1_000)) != sample or decode(encode_event(sample)) != sample:
        raise RuntimeError("the bench's tick bytes no longer match the codec")


async def _ticks(producer: Producer, topics: Topics, workload: Workload, start_ms: int,
                 seconds: float) -> int:
    """Ticks of every instrument at TICKS_PER_SECOND from ``start_ms`` for ``seconds``; the last ts."""
    marks = dict(workload.marks)
    steps = int(seconds * TICKS_PER_SECOND)
    step_ms = 1000 // TICKS_PER_SECOND
    sent = 0
    ts = start_ms
    for step in range(steps):
        ts = start_ms + step * step_ms
        wobble = 1 + 1e-4 * ((step % 200) - 100) / 100
        for instrument in workload.instruments:
            producer.send(topics.prices, instrument.id.encode(),
                          _tick(instrument.id, marks[instrument.id] * wobble, ts))
            sent += 1
            if sent % FLUSH_RECORDS == 0:
                await producer.flush()
            elif sent % HAND_OFF_RECORDS == 0:
                await producer.hand_off()
    await producer.flush()
    return ts


async def _newest_ticks(producer: Producer, topics: Topics, workload: Workload) -> dict[str, int]:
    """One tick per instrument at now; every portfolio's snapshot must reflect it."""
    ts = int(time.time() * 1000)
    for instrument in workload.instruments:
        producer.send(topics.prices, instrument.id.encode(),
                      _tick(instrument.id, workload.marks[instrument.id], ts))
    await producer.flush()
    return {portfolio.name: ts for portfolio in workload.portfolios}


async def _timed_start(bootstrap: str, prefix: str, tail: OutputTail,
                       expected: dict[str, int]) -> tuple[Worker, float, float]:
    """Start a processor; seconds from its spawn to the first and to every expected snapshot."""
    first: list[float] = []
    newest = min(expected.values())

    def on_output(ts: int, _publish_ms: int | None, arrival: float) -> None:
        if ts >= newest and not first:
            first.append(arrival)

    tail.on_output = on_output
    tail.expect_snapshots(expected)
    spawned = time.time()
    worker = Worker("processor", bootstrap, prefix, ready_timeout_s=WAIT_TIMEOUT_S)
    await worker.start()
    done = await tail.wait(WAIT_TIMEOUT_S)
    tail.on_output = None
    return worker, first[0] - spawned, done - spawned


async def _measure_hours(bootstrap: str, bus: KafkaBus, producer: Producer, plan: RecoverySize,
                         hours: float) -> dict[str, Any]:
    prefix = f"bench-recovery-{uuid.uuid4().hex[:8]}-"
    topics = Topics.with_prefix(prefix)
    await bus.create_topics(topics.specs(PARTITIONS))
    now_ms = int(time.time() * 1000)
    workload = Workload(plan.portfolios, bench_catalog(), base_ms=now_ms - int(hours * 3_600_000) - 10_000)
    for event in workload.setup_events(now_ms):
        producer.send(topics.prices if isinstance(event, PriceEvent) else topics.positions,
                      event_key(event), encode_event(event))
    await producer.flush()
    history_start = now_ms - int(hours * 3_600_000)
    await _ticks(producer, topics, workload, history_start, hours * 3_600)
    history_records = int(hours * 3_600 * TICKS_PER_SECOND) * len(workload.instruments)
    tail = OutputTail(bootstrap, topics.risk, snapshots=True)
    await tail.start()
    tail.task = asyncio.create_task(tail.run(), name=f"tail-{prefix}")
    worker: Worker | None = None
    try:
        expected = await _newest_ticks(producer, topics, workload)
        worker, cold_first, cold_all = await _timed_start(bootstrap, prefix, tail, expected)
        await worker.stop()
        worker = None
        await _ticks(producer, topics, workload, int(time.time() * 1000), AFTER_CHECKPOINT_S)
        expected = await _newest_ticks(producer, topics, workload)
        worker, restart_first, restart_all = await _timed_start(bootstrap, prefix, tail, expected)
    finally:
        if worker is not None:
            await worker.stop()
        tail.task.cancel()
        await tail.stop()
    return {"hours": hours, "history_records": history_records, "portfolios": plan.portfolios,
            "cold_first_s": cold_first, "cold_all_s": cold_all,
            "restart_first_s": restart_first, "restart_all_s": restart_all,
            "verdict": "met" if restart_first <= TARGET_S else f"missed by {restart_first / TARGET_S:.1f}x"}


async def measure(bootstrap: str, plan: RecoverySize) -> dict[str, Any]:
    """Every row of the plan on the broker at ``bootstrap``."""
    _check_tick_format()
    bus = KafkaBus(KafkaSettings(bootstrap_servers=bootstrap))
    producer = await bus.producer()
    try:
        rows = []
        for hours in plan.hours:
            rows.append(await _measure_hours(bootstrap, bus, producer, plan, hours))
            sys.stdout.write(f"  {hours} h: {rows[-1]}\n")
            sys.stdout.flush()
    finally:
        await producer.stop()
    return {"rows": rows, "target_s": TARGET_S, "ticks_per_second_per_instrument": TICKS_PER_SECOND}


def run(size: str, bootstrap: str) -> dict[str, Any]:
    """The recovery figures on the broker at ``bootstrap``."""
    plan = FULL if size == "full" else TINY
    result = eventloop.run(measure(bootstrap, plan))
    result["table"] = table(
        f"recovery: spawn -> correct snapshots on hedge.risk, {plan.portfolios} portfolios, "
        f"20 instruments at {TICKS_PER_SECOND} ticks/s", COLUMNS, result["rows"])
    return result
