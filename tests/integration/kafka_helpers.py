"""Small helpers for integration tests against the real broker: produce inputs, read outputs."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from monitor.bus.base import Topics
from monitor.bus.kafka import topic_partitions
from monitor.codec import encode_event, event_key
from monitor.domain.events import Event, PriceEvent

# A condition here mostly reads the broker: ``eventually`` asks it every 0.2 s, not every 10 ms.
BROKER_POLL_S = 0.2


async def produce(bootstrap: str, topics: Topics, events: Sequence[Event]) -> None:
    """Send canonical events to hedge.prices / hedge.positions and wait for every ack."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        deliveries = []
        for event in events:
            topic = topics.prices if isinstance(event, PriceEvent) else topics.positions
            deliveries.append(await producer.send(topic, encode_event(event), key=event_key(event)))
        await asyncio.gather(*deliveries)
    finally:
        await producer.stop()


async def produce_raw(bootstrap: str, topic: str, key: bytes, value: bytes) -> None:
    """Send one raw value."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def read_all(bootstrap: str, topic: str) -> list[tuple[bytes | None, dict[str, Any]]]:
    """Every value of a topic so far, as (key, decoded JSON), partition by partition."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(await topic_partitions(consumer, topic))]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        result: list[tuple[bytes | None, dict[str, Any]]] = []
        positions = dict.fromkeys(partitions, 0)
        while any(positions[p] < ends[p] for p in partitions):
            batches = await consumer.getmany(timeout_ms=200)
            for partition, messages in batches.items():
                for message in messages:
                    positions[partition] = message.offset + 1
                    result.append((message.key, orjson.loads(message.value)))
        return result
    finally:
        await consumer.stop()


def latest_by_key(records: list[tuple[bytes | None, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """The last value per key (what a compacted topic keeps)."""
    latest: dict[str, dict[str, Any]] = {}
    for key, value in records:
        if key is not None:
            latest[key.decode()] = value
    return latest


async def committed_and_ends(
    bootstrap: str, group: str, topic: str, partitions: int
) -> tuple[dict[int, int | None], dict[int, int]]:
    """The group's committed offset and the end offset of each partition of ``topic``."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        wanted = [TopicPartition(topic, p) for p in range(partitions)]
        committed = {p.partition: await consumer.committed(p) for p in wanted}
        ends = {p.partition: int(o) for p, o in (await consumer.end_offsets(wanted)).items()}
        return committed, ends
    finally:
        await consumer.stop()


async def everything_committed(bootstrap: str, group: str, topic: str, partitions: int) -> bool:
    """True when the group has committed every partition of ``topic`` up to its end."""
    committed, ends = await committed_and_ends(bootstrap, group, topic, partitions)
    return all(committed[p] == end for p, end in ends.items() if end)
