"""The Kafka bus (aiokafka): idempotent batched producer, group and table consumers, admin.

Security settings (TLS, SASL) pass straight through to aiokafka; the SASL password is a
``Secret`` and is revealed only when the client is built.

aiokafka's errors stop here: every call into aiokafka runs under ``_translated``, which raises the
``BusError`` of the kind (``translate_error``) from the original. A client whose start fails is
closed again, so no unclosed aiokafka client is left behind.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Collection, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka import TopicPartition as KafkaTopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    ConsumerStoppedError,
    IllegalOperation,
    IllegalStateError,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    KafkaUnavailableError,
    NoBrokersAvailable,
    TopicAlreadyExistsError,
)
from aiokafka.helpers import create_ssl_context
from aiokafka.protocol.commit import OffsetCommitRequest

from monitor.bus.base import (
    AssignmentCallback,
    BusCommitError,
    BusError,
    BusUnavailableError,
    BusUsageError,
    Consumer,
    Producer,
    Record,
    TopicPartition,
    TopicSpec,
)
from monitor.secrets import Secret

log = logging.getLogger(__name__)

_NO_GENERATION = OffsetCommitRequest.DEFAULT_GENERATION_ID
HEARTBEAT_INTERVAL_MS = 1_000


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


# What aiokafka raises: its KafkaError tree, two errors outside it, and asyncio's TimeoutError
# (the builtin TimeoutError since Python 3.11), which it mostly wraps but not on every path.
_AIOKAFKA_ERRORS: tuple[type[Exception], ...] = (
    KafkaError, ConsumerStoppedError, IllegalOperation, TimeoutError)
# Transient (the broker is away or slow), though aiokafka flags only some of them ``retriable``.
_UNAVAILABLE: tuple[type[Exception], ...] = (
    KafkaConnectionError, KafkaTimeoutError, KafkaUnavailableError, NoBrokersAvailable, TimeoutError)
_MISUSE: tuple[type[Exception], ...] = (IllegalStateError, IllegalOperation, ConsumerStoppedError)


def translate_error(action: str, exc: Exception, refused: type[BusError] = BusError) -> BusError:
    """The ``BusError`` for an aiokafka error raised while doing ``action``.

    Misuse (a stopped consumer, an unassigned partition) is ``BusUsageError``; a transient failure
    (aiokafka marks it ``retriable``, or the broker cannot be reached or did not answer in time) is
    ``BusUnavailableError``; anything else is ``refused`` (``BusCommitError`` for a commit).
    """
    error_class: type[BusError]
    if isinstance(exc, _MISUSE):
        error_class = BusUsageError
    elif isinstance(exc, _UNAVAILABLE) or getattr(exc, "retriable", False):
        error_class = BusUnavailableError
    else:
        error_class = refused
    return error_class(f"{action}: {_describe(exc)}")


def _describe(exc: Exception) -> str:
    """The error named, on one line (aiokafka's ``str`` names the class and a broker error's code)."""
    text = " ".join(str(exc).split())
    if isinstance(exc, KafkaError):
        return text
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


@contextmanager
def _translated(action: str, refused: type[BusError] = BusError) -> Iterator[None]:
    """Raise aiokafka's errors inside the block as ``BusError`` (``translate_error``) from them."""
    try:
        yield
    except _AIOKAFKA_ERRORS as exc:
        raise translate_error(action, exc, refused) from exc


@asynccontextmanager
async def _closed_on_failure(client: Any) -> AsyncIterator[None]:
    """Stop an aiokafka client when the block fails, so a failed start leaves nothing open."""
    try:
        yield
    except BaseException:
        await client.stop()
        raise


TABLE_METADATA_TIMEOUT_S = 10.0
"""How long a table consumer waits for the broker to list a topic's partitions."""


async def topic_partitions(consumer: AIOKafkaConsumer, topic: str, timeout_s: float = 10.0) -> set[int]:
    """The partition ids of ``topic``, refreshing the consumer's metadata until it knows them
    (empty if it still does not after ``timeout_s``, as for a topic that does not exist)."""
    ids = consumer.partitions_for_topic(topic)
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not ids and asyncio.get_running_loop().time() < deadline:
        # aiokafka has no public metadata refresh for a consumer that assigns its own partitions
        await consumer._client.force_metadata_update()  # noqa: SLF001
        ids = consumer.partitions_for_topic(topic)
    return set(ids or ())


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
        with _translated("create topics"):
            admin = AIOKafkaAdminClient(**self.settings.client_options())
            try:
                await admin.start()
                existing = set(await admin.list_topics())
                missing = [spec for spec in specs if spec.name not in existing]
                if not missing:
                    return
                new_topics = []
                for spec in missing:
                    configs = {"cleanup.policy": "compact" if spec.compact else "delete"}
                    if spec.retention_ms is not None:
                        configs["retention.ms"] = str(spec.retention_ms)
                    if spec.segment_ms is not None:
                        configs["segment.ms"] = str(spec.segment_ms)
                    if spec.max_compaction_lag_ms is not None:
                        configs["max.compaction.lag.ms"] = str(spec.max_compaction_lag_ms)
                    new_topics.append(NewTopic(
                        spec.name, spec.partitions, self.settings.replication_factor,
                        topic_configs=configs))
                try:
                    await admin.create_topics(new_topics)
                except TopicAlreadyExistsError:
                    log.debug("topics created concurrently by another process")
            finally:
                await admin.close()

    async def producer(self) -> Producer:
        """An idempotent, acks=all producer batching with ``linger_ms``."""
        with _translated("start the producer"):
            producer = AIOKafkaProducer(
                **self.settings.client_options(),
                enable_idempotence=True,
                acks="all",
                linger_ms=self.settings.linger_ms,
                max_batch_size=self.settings.max_batch_size,
            )
            async with _closed_on_failure(producer):
                await producer.start()
        return KafkaProducer(producer)

    async def group_consumer(
        self,
        topics: Sequence[str],
        group_id: str,
        on_assigned: AssignmentCallback,
        on_revoked: AssignmentCallback,
        instance_id: str | None = None,
    ) -> Consumer:
        """A group member with manual commits; the callbacks run inside the rebalance.

        With ``instance_id`` the member is static (``group.instance.id``).
        """
        with _translated(f"start a member of group {group_id!r}"):
            consumer = AIOKafkaConsumer(
                **self.settings.client_options(),
                group_id=group_id,
                group_instance_id=instance_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_poll_interval_ms=300_000,
                session_timeout_ms=10_000,
                # aiokafka's default is the session timeout: a member whose revocation (a final
                # checkpoint) took over 10 s was left out of the rebalance and expelled
                rebalance_timeout_ms=60_000,
                heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
            )
            async with _closed_on_failure(consumer):
                consumer.subscribe(list(topics), listener=_Listener(on_assigned, on_revoked))
                await consumer.start()
        return KafkaConsumer(consumer, HEARTBEAT_INTERVAL_MS / 1000)

    async def table_consumer(self, topics: Sequence[str]) -> Consumer:
        """Every partition of ``topics`` from the beginning, no group."""
        with _translated(f"start a table consumer of {', '.join(topics)}"):
            consumer = AIOKafkaConsumer(
                **self.settings.client_options(), group_id=None, enable_auto_commit=False,
                auto_offset_reset="earliest",
            )
            async with _closed_on_failure(consumer):
                await consumer.start()
                partitions: list[KafkaTopicPartition] = []
                for topic in topics:
                    ids = await topic_partitions(consumer, topic, TABLE_METADATA_TIMEOUT_S)
                    if not ids:
                        # the topics exist (they are created first): the broker is away or restarting
                        raise BusUnavailableError(
                            f"start a table consumer of {', '.join(topics)}: no partitions of "
                            f"{topic!r} known after {TABLE_METADATA_TIMEOUT_S:g} s")
                    partitions.extend(KafkaTopicPartition(topic, i) for i in sorted(ids))
                consumer.assign(partitions)
                await consumer.seek_to_beginning(*partitions)
        return KafkaConsumer(consumer)

    async def close(self) -> None:
        """Nothing held between calls."""


def generation_reset(consumer: AIOKafkaConsumer) -> bool:
    """Whether a group member's generation is reset: the group no longer knows it.

    aiokafka resets it on ``UnknownMemberId`` or ``IllegalGeneration`` (an expelled member) and then
    calls ``on_partitions_revoked`` for partitions another member may already own; it has no public
    accessor and no ``on_partitions_lost``, so the coordinator is read here, at the seam.
    """
    coordinator = consumer._coordinator  # noqa: SLF001 -- see the docstring
    generation = getattr(coordinator, "generation", None)
    return isinstance(generation, int) and generation == _NO_GENERATION


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
        with _translated("send"):
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
            if isinstance(result, _AIOKAFKA_ERRORS):
                raise translate_error("deliver a message", result) from result
            if isinstance(result, BaseException):
                raise result

    async def stop(self) -> None:
        """Flush and close."""
        try:
            await self.flush()
        finally:
            with _translated("stop the producer"):
                await self._producer.stop()


class KafkaConsumer:
    """Adapts aiokafka's consumer to the bus interface."""

    def __init__(self, consumer: AIOKafkaConsumer, heartbeat_interval_s: float | None = None) -> None:
        """``heartbeat_interval_s`` of a group member; None for a consumer outside a group."""
        self._consumer = consumer
        self._heartbeat_interval_s = heartbeat_interval_s
        self._committed: dict[TopicPartition, int] = {}
        self._stopped = False

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Record]]:
        """One fetch."""
        with _translated("fetch"):
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
        with _translated(f"seek {partition.topic}[{partition.partition}] to {offset}"):
            self._consumer.seek(_to_kafka(partition), offset)

    def pause(self, partitions: Collection[TopicPartition]) -> None:
        """Stop returning records of ``partitions`` (buffered ones are held back too)."""
        with _translated("pause partitions"):
            self._consumer.pause(*(_to_kafka(p) for p in partitions))

    def resume(self, partitions: Collection[TopicPartition]) -> None:
        """Return records of ``partitions`` again."""
        with _translated("resume partitions"):
            self._consumer.resume(*(_to_kafka(p) for p in partitions))

    def membership_lost(self) -> bool:
        """True while the coordinator's generation is reset: a heartbeat or commit was refused."""
        return generation_reset(self._consumer)

    async def confirm_membership(self) -> bool:
        """Re-commit the offsets this member last committed: the coordinator refuses an expelled one.

        Before any commit, it waits two heartbeat intervals instead: a heartbeat refused in that
        time resets the generation.
        """
        if self._heartbeat_interval_s is None:
            return True
        if self.membership_lost():
            return False
        assigned = self.assignment()
        offsets = {p: o for p, o in self._committed.items() if p in assigned}
        if not offsets:
            await asyncio.sleep(2 * self._heartbeat_interval_s)
            return not self.membership_lost()
        try:
            await self.commit(offsets)
        except BusError as exc:
            log.warning("group membership not confirmed (%s)", exc)
            return False
        return not self.membership_lost()

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Commit the next offsets to read."""
        if offsets:
            with _translated("commit offsets", refused=BusCommitError):
                await self._consumer.commit({_to_kafka(p): o for p, o in offsets.items()})
            self._committed.update(offsets)

    def highwater(self, partition: TopicPartition) -> int | None:
        """The high watermark of the latest fetch response (aiokafka keeps it; no request)."""
        with _translated(f"read the high watermark of {partition.topic}[{partition.partition}]"):
            end = self._consumer.highwater(_to_kafka(partition))
        return None if end is None else int(end)

    async def end_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        """High watermarks."""
        with _translated("read end offsets"):
            ends = await self._consumer.end_offsets([_to_kafka(p) for p in partitions])
        return {_from_kafka(p): int(o) for p, o in ends.items()}

    async def committed(self, partition: TopicPartition) -> int | None:
        """The group's committed offset."""
        with _translated(f"read the committed offset of {partition.topic}[{partition.partition}]"):
            offset = await self._consumer.committed(_to_kafka(partition))
        return None if offset is None else int(offset)

    async def stop(self) -> None:
        """Leave the group and close (idempotent)."""
        if not self._stopped:
            self._stopped = True
            with _translated("stop the consumer"):
                await self._consumer.stop()
