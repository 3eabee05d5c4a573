"""Reading whole topics and a consumer group's lag, for the crash test and its verifier."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiokafka.admin import AIOKafkaAdminClient

from monitor.bus.base import Bus, Consumer, Record, TopicPartition
from monitor.bus.kafka import KafkaSettings

FETCH_TIMEOUT_MS = 200
FETCH_MAX_RECORDS = 10_000


class TopicTail:
    """Reads a topic from the beginning, in steps, up to its end at the time of each step.

    Records reach ``handle`` in offset order within each partition (the only order Kafka
    guarantees); a consumer of the ``Bus`` seam is used, so the Kafka bus and the in-process bus
    both work.
    """

    def __init__(self, bus: Bus, topic: str, handle: Callable[[Record], None]) -> None:
        self.bus = bus
        self.topic = topic
        self._handle = handle
        self._consumer: Consumer | None = None
        self._positions: dict[TopicPartition, int] = {}
        self.records = 0

    async def __aenter__(self) -> TopicTail:
        self._consumer = await self.bus.table_consumer([self.topic])
        self._positions = dict.fromkeys(self._consumer.assignment(), 0)
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def read_to_end(self, timeout_s: float = 120.0) -> int:
        """Hand every record up to the current end of each partition to ``handle``; the count read."""
        consumer = self._consumer
        if consumer is None:
            raise RuntimeError("TopicTail is used outside its 'async with' block")
        ends = await consumer.end_offsets(sorted(self._positions, key=lambda p: p.partition))
        read = 0
        async with asyncio.timeout(timeout_s):
            while any(self._positions[p] < end for p, end in ends.items()):
                batches = await consumer.getmany(FETCH_TIMEOUT_MS, FETCH_MAX_RECORDS)
                for partition, records in batches.items():
                    for record in records:
                        self._positions[partition] = record.offset + 1
                        self._handle(record)
                    read += len(records)
        self.records += read
        return read


async def read_topic(bus: Bus, topic: str, handle: Callable[[Record], None], timeout_s: float = 300.0) -> int:
    """Hand every record of ``topic`` so far to ``handle``; the number of records."""
    async with TopicTail(bus, topic, handle) as tail:
        return await tail.read_to_end(timeout_s)


async def end_offsets(bus: Bus, topic: str) -> dict[int, int]:
    """The current end offset of every partition of ``topic``."""
    consumer = await bus.table_consumer([topic])
    try:
        ends = await consumer.end_offsets(sorted(consumer.assignment(), key=lambda p: p.partition))
    finally:
        await consumer.stop()
    return {partition.partition: offset for partition, offset in ends.items()}


async def committed_offsets(settings: KafkaSettings, group_id: str, topic: str) -> dict[int, int]:
    """The offsets ``group_id`` committed on ``topic``, per partition (admin API, no group join)."""
    admin = AIOKafkaAdminClient(**settings.client_options())
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group_id)
    finally:
        await admin.close()
    return {
        partition.partition: int(meta.offset)
        for partition, meta in offsets.items()
        if partition.topic == topic and meta.offset >= 0
    }


async def group_lag(bus: Bus, settings: KafkaSettings, group_id: str, topic: str) -> dict[int, int]:
    """Records of ``topic`` not yet committed by ``group_id``, per partition."""
    ends = await end_offsets(bus, topic)
    committed = await committed_offsets(settings, group_id, topic)
    return {partition: end - committed.get(partition, 0) for partition, end in ends.items()}
