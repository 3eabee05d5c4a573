"""Child processes of the e2e and ceiling scenarios: the processor, or a raw passthrough loop.

``python -m bench.worker processor --bootstrap B --prefix P --group G`` runs the real ``Processor``
on ``KafkaBus`` with the bench catalog and alert engines (as ``hedge-monitor process`` does);
``... ceiling ...`` runs the raw aiokafka ``getmany -> send`` loop that does no processing: every
record of the input topics is sent on to the risk topic, and each fetched batch is flushed (every
ack awaited) before the next fetch, like the processor's loop. Each prints ``ready`` once it consumes
and stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench.workload import bench_catalog
from monitor import eventloop
from monitor.alerts import AlertEngine, AlertsConfig
from monitor.bus.base import Topics
from monitor.bus.kafka import KafkaBus, KafkaSettings
from monitor.domain.plans import PortfolioSettings
from monitor.processor.engine import RiskEngine
from monitor.processor.runner import Processor, ProcessorSettings
from monitor.runtime import install_stop_signals

FETCH_TIMEOUT_MS = 200
PROCESSOR_MAX_RECORDS = ProcessorSettings().max_batch_records
# The passthrough's own best fetch size, measured 2026-11-24 with `python -m bench ceiling --size
# full`: 74k events/s at 5,000 records per getmany against 37k at 20,000 (it awaits each batch's
# acks before the next fetch, so a batch that empties the fetcher's buffer stalls). The ceiling is
# the raw loop at its best, not at the processor's size.
PASSTHROUGH_MAX_RECORDS = 5_000


def _ready() -> None:
    sys.stdout.write("ready\n")
    sys.stdout.flush()


async def run_processor(bootstrap: str, topics: Topics, group: str) -> None:
    """The processor until a stop signal."""
    alerts = AlertsConfig()
    engine = RiskEngine(bench_catalog(), lambda _: PortfolioSettings(), lambda _: AlertEngine(alerts))
    processor = Processor(KafkaBus(KafkaSettings(bootstrap_servers=bootstrap)), engine,
                          ProcessorSettings(topics=topics, group_id=group))
    stop = asyncio.Event()
    install_stop_signals(stop)
    task = asyncio.create_task(processor.run(stop), name="processor")
    ready = asyncio.create_task(processor.ready.wait(), name="ready")
    await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
    if ready.done():
        _ready()
    else:
        ready.cancel()
    await task


async def run_ceiling(bootstrap: str, topics: Topics, partitions: int) -> None:
    """getmany -> send every record to the risk topic -> await the batch's acks, until a stop signal."""
    stop = asyncio.Event()
    install_stop_signals(stop)
    settings = KafkaSettings(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(**settings.client_options(), group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    producer = AIOKafkaProducer(**settings.client_options(), enable_idempotence=True, acks="all",
                                linger_ms=settings.linger_ms, max_batch_size=settings.max_batch_size)
    await consumer.start()
    await producer.start()
    try:
        assigned = [
            TopicPartition(topic, partition)
            for topic in (topics.prices, topics.positions)
            for partition in range(partitions)
        ]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        _ready()
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=FETCH_TIMEOUT_MS, max_records=PASSTHROUGH_MAX_RECORDS)
            deliveries: list[asyncio.Future[Any]] = [
                await producer.send(topics.risk, message.value, key=message.key)
                for messages in batches.values() for message in messages
            ]
            if deliveries:
                await asyncio.gather(*deliveries)
    finally:
        await consumer.stop()
        await producer.stop()


def main(argv: list[str] | None = None) -> int:
    """Run one worker."""
    parser = argparse.ArgumentParser(prog="python -m bench.worker")
    parser.add_argument("role", choices=("processor", "ceiling"))
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--group", default="hedge-bench")
    parser.add_argument("--partitions", type=int, default=6, help="partitions of each input topic")
    args = parser.parse_args(argv)
    topics = Topics.with_prefix(args.prefix)
    if args.role == "processor":
        eventloop.run(run_processor(args.bootstrap, topics, args.group))
    else:
        eventloop.run(run_ceiling(args.bootstrap, topics, args.partitions))
    return 0


if __name__ == "__main__":
    sys.exit(main())
