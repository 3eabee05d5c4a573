"""The real broker from deploy/kafka/kafka.sh works with aiokafka the way hedge-monitor uses it."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from tests.integration.conftest import RestartBroker
from tests.support import eventually

pytestmark = pytest.mark.integration

PARTITIONS = 3
KEYS = ("okx:BTC-USDT-SWAP", "binance:BTCUSDT", "bybit:BTCUSDT", "deribit:BTC-PERPETUAL")
RECORDS_PER_KEY = 5
DEADLINE_S = 30.0


async def _create_topic(bootstrap: str, topic: str) -> int:
    """Create topic with PARTITIONS partitions; return the partition count the broker reports."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)]
        )
        (description,) = await admin.describe_topics([topic])
        return len(description["partitions"])
    finally:
        await admin.close()


async def test_topic_round_trips_keyed_records_through_a_consumer_group(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    """Records from an idempotent acks=all producer reach a consumer group intact, in key order."""
    topic = f"{topic_prefix}broker-check"
    assert await _create_topic(kafka_bootstrap, topic) == PARTITIONS

    sent = [
        (key.encode(), f"{key}#{sequence}".encode())
        for sequence in range(RECORDS_PER_KEY)
        for key in KEYS
    ]
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        # send() only enqueues into a batch and hands back the delivery future; delivery is
        # awaited once for all records below.
        deliveries = [await producer.send(topic, key=key, value=value) for key, value in sent]
        metadata = await asyncio.gather(*deliveries)
    finally:
        await producer.stop()

    partitions_by_key: dict[bytes, set[int]] = defaultdict(set)
    for (key, _value), record in zip(sent, metadata, strict=True):
        partitions_by_key[key].add(record.partition)
    assert all(len(partitions) == 1 for partitions in partitions_by_key.values())

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"{topic_prefix}group",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        received: list[tuple[bytes | None, bytes | None, int]] = []

        async def all_received() -> bool:
            batches = await consumer.getmany(timeout_ms=500)  # the fetch itself waits
            for partition, records in batches.items():
                received.extend(
                    (record.key, record.value, partition.partition) for record in records
                )
            return len(received) >= len(sent)

        await eventually(all_received, DEADLINE_S, interval_s=0, state=lambda: received)
        assert consumer.assignment() == {
            TopicPartition(topic, number) for number in range(PARTITIONS)
        }
        await consumer.commit()
        committed = {
            number: await consumer.committed(TopicPartition(topic, number))
            for number in range(PARTITIONS)
        }
    finally:
        await consumer.stop()

    assert sorted((key, value) for key, value, _ in received) == sorted(sent)
    for instrument in KEYS:
        key = instrument.encode()
        records_of_key = [(value, number) for got_key, value, number in received if got_key == key]
        # Same key, same partition, so the consumer sees each key's records in send order.
        assert [value for value, _ in records_of_key] == [
            f"{instrument}#{sequence}".encode() for sequence in range(RECORDS_PER_KEY)
        ]
        assert {number for _, number in records_of_key} == partitions_by_key[key]
    # The group's committed offsets add up to every record read: 4 keys * 5 records = 20.
    assert sum(offset or 0 for offset in committed.values()) == len(KEYS) * RECORDS_PER_KEY


async def test_producing_to_a_missing_topic_fails_instead_of_creating_it(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    """auto.create.topics.enable=false: producing to a missing topic fails and creates nothing."""
    topic = f"{topic_prefix}never-created"
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, request_timeout_ms=1000)
    await producer.start()
    try:
        with pytest.raises(KafkaError):
            await producer.send_and_wait(topic, b"lost")
    finally:
        await producer.stop()

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        assert topic not in await admin.list_topics()
    finally:
        await admin.close()


async def _read_all(bootstrap: str, topic: str, expected: int) -> list[bytes | None]:
    """Values of topic from the beginning, fetched until `expected` arrive (or fail at DEADLINE_S)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        values: list[bytes | None] = []

        async def all_read() -> bool:
            batches = await consumer.getmany(timeout_ms=500)  # the fetch itself waits
            values.extend(record.value for records in batches.values() for record in records)
            return len(values) >= expected

        await eventually(all_read, DEADLINE_S, interval_s=0, state=lambda: values)
        return values
    finally:
        await consumer.stop()


async def test_acknowledged_records_survive_a_broker_crash_and_restart(
    kafka_bootstrap: str, topic_prefix: str, kafka_restart: RestartBroker
) -> None:
    """After SIGKILL and a restart on the same data, the topic and its acked records are back."""
    topic = f"{topic_prefix}crash-check"
    await _create_topic(kafka_bootstrap, topic)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        deliveries = [
            await producer.send(topic, f"before-{number}".encode()) for number in range(3)
        ]
        await asyncio.gather(*deliveries)
    finally:
        await producer.stop()

    kafka_restart(crash=True)

    values = await _read_all(kafka_bootstrap, topic, expected=3)
    assert len(values) == 3
    assert set(values) == {b"before-0", b"before-1", b"before-2"}
