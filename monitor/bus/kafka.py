"""The Kafka bus (aiokafka): idempotent batched producer, group and table consumers, admin.

Security settings (TLS, SASL) pass straight through to aiokafka; the SASL password is a
``Secret`` and is revealed only when the client is built.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka import TopicPartition as KafkaTopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context

from monitor.bus.base import (
    AssignmentCallback,
    Consumer,
    Producer,
    Record,
    TopicPartition,
    TopicSpec,
)
from monitor.secrets import Secret

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class KafkaSettings:
    """Connection settings of the Kafka bus."""

    bootstrap_servers: str
    client_id: str = "hedge-monitor"
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: Secret | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    linger_ms: int = 0
    max_batch_size: int = 256 * 1024
    replication_factor: int = 1

    def client_options(self) -> dict[str, Any]:
        """Options common to aiokafka producers, consumers and the admin client."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "client_id": self.client_id,
            "security_protocol": self.security_protocol,
        }
        if self.security_protocol in ("SSL", "SASL_SSL"):
            options["ssl_context"] = create_ssl_context(
                cafile=self.ssl_cafile, certfile=self.ssl_certfile, keyfile=self.ssl_keyfile)
        if self.sasl_mechanism is not None:
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.sasl_username
            if self.sasl_password is not None:
                options["sasl_plain_password"] = self.sasl_password.reveal()
        return options


def _to_kafka(partition: TopicPartition) -> KafkaTopicPartition:
    return KafkaTopicPartition(partition.topic, partition.partition)


def _from_kafka(partition: KafkaTopicPartition) -> TopicPartition:
    return TopicPartition(partition.topic, partition.partition)


class KafkaBus:
    """Producers and consumers of one Kafka cluster."""

    def __init__(self, settings: KafkaSettings) -> None:
        self.settings = settings

    async def create_topics(self, specs: Sequence[TopicSpec]) -> None:
        """Create topics that do not exist yet (replication per settings; compaction per spec)."""
        admin = AIOKafkaAdminClient(**self.settings.client_options())
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            missing = [spec for spec in specs if spec.name not in existing]
            if not missing:
                return
            new_topics = []
            for spec in missing:
                configs = {"cleanup.policy": "compact" if spec.compact else "delete"}
                if spec.retention_ms is not None:
                    configs["retention.ms"] = str(spec.retention_ms)
                new_topics.append(NewTopic(
                    spec.name, spec.partitions, self.settings.replication_factor, topic_configs=configs))
            try:
                await admin.create_topics(new_topics)
            except TopicAlreadyExistsError:
                log.debug("topics created concurrently by another process")
        finally:
            await admin.close()

    async def producer(self) -> Producer:
        """An idempotent, acks=all producer batching with ``linger_ms``."""
        producer = AIOKafkaProducer(
            **self.settings.client_options(),
            enable_idempotence=True,
            acks="all",
            linger_ms=self.settings.linger_ms,
            max_batch_size=self.settings.max_batch_size,
        )
        await producer.start()
        return KafkaProducer(producer)

    async def group_consumer(
        self,
        topics: Sequence[str],
        group_id: str,
        on_assigned: AssignmentCallback,
        on_revoked: AssignmentCallback,
    ) -> Consumer:
        """A group member with manual commits; the callbacks run inside the rebalance."""
        consumer = AIOKafkaConsumer(
            **self.settings.client_options(),
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_interval_ms=300_000,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=1_000,
        )
        consumer.subscribe(list(topics), listener=_Listener(on_assigned, on_revoked))
        await consumer.start()
        return KafkaConsumer(consumer)

    async def table_consumer(self, topics: Sequence[str]) -> Consumer:
        """Every partition of ``topics`` from the beginning, no group."""
        consumer = AIOKafkaConsumer(
            **self.settings.client_options(), group_id=None, enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        partitions: list[KafkaTopicPartition] = []
        for topic in topics:
            ids = consumer.partitions_for_topic(topic)
            deadline = asyncio.get_running_loop().time() + 10
            while not ids and asyncio.get_running_loop().time() < deadline:
                await consumer._client.force_metadata_update()
                ids = consumer.partitions_for_topic(topic)
            partitions.extend(KafkaTopicPartition(topic, i) for i in sorted(ids or ()))
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        return KafkaConsumer(consumer)

    async def close(self) -> None:
        """Nothing held between calls."""


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, on_assigned: AssignmentCallback, on_revoked: AssignmentCallback) -> None:
        self._on_assigned = on_assigned
        self._on_revoked = on_revoked

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self._on_revoked({_from_kafka(p) for p in revoked})

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self._on_assigned({_from_kafka(p) for p in assigned})


class KafkaProducer:
    """Queues sends, hands them to aiokafka in batches, and awaits every ack on ``flush``."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer
        self._pending: list[tuple[str, bytes | None, bytes]] = []
        self._deliveries: list[asyncio.Future[Any]] = []

    def send(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Queue one message."""
        self._pending.append((topic, key, value))

    async def hand_off(self) -> None:
        """Enqueue the queued messages into aiokafka's batches and let its sender run once."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        for topic, key, value in pending:
            # send() only waits for buffer room; the returned future resolves on acknowledgement.
            self._deliveries.append(await self._producer.send(topic, value, key=key))
        await asyncio.sleep(0)

    async def flush(self) -> None:
        """Enqueue every queued message into aiokafka's batches, then wait for all acks."""
        try:
            await self.hand_off()
        finally:
            deliveries, self._deliveries = self._deliveries, []
            # Every enqueued send is awaited, so no acknowledgement error goes unretrieved.
            results = await asyncio.gather(*deliveries, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def stop(self) -> None:
        """Flush and close."""
        try:
            await self.flush()
        finally:
            await self._producer.stop()


class KafkaConsumer:
    """Adapts aiokafka's consumer to the bus interface."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self._consumer = consumer
        self._stopped = False

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Record]]:
        """One fetch."""
        batches = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
        result: dict[TopicPartition, list[Record]] = {}
        for partition, messages in batches.items():
            result[_from_kafka(partition)] = [
                Record(m.topic, m.partition, m.offset, m.key, m.value, m.timestamp)
                for m in messages if m.value is not None
            ]
        return result

    def assignment(self) -> set[TopicPartition]:
        """Currently assigned partitions."""
        return {_from_kafka(p) for p in self._consumer.assignment()}

    async def seek(self, partition: TopicPartition, offset: int) -> None:
        """Continue from ``offset``."""
        self._consumer.seek(_to_kafka(partition), offset)

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Commit the next offsets to read."""
        if offsets:
            await self._consumer.commit({_to_kafka(p): o for p, o in offsets.items()})

    async def end_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        """High watermarks."""
        ends = await self._consumer.end_offsets([_to_kafka(p) for p in partitions])
        return {_from_kafka(p): int(o) for p, o in ends.items()}

    async def committed(self, partition: TopicPartition) -> int | None:
        """The group's committed offset."""
        offset = await self._consumer.committed(_to_kafka(partition))
        return None if offset is None else int(offset)

    async def stop(self) -> None:
        """Leave the group and close (idempotent)."""
        if not self._stopped:
            self._stopped = True
            await self._consumer.stop()
