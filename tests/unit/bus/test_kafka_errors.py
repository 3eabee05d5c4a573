"""aiokafka's errors become BusErrors at the seam, from the original, without a broker.

KafkaBus's wrappers drive fake aiokafka clients that raise aiokafka's real exception classes.
"""

# ruff: noqa: ARG002 -- fakes implement aiokafka methods whose arguments they do not need

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import (
    CommitFailedError,
    ConsumerStoppedError,
    GroupAuthorizationFailedError,
    IllegalStateError,
    KafkaConnectionError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    RecordTooLargeError,
    UnknownTopicOrPartitionError,
)

from monitor.bus import kafka
from monitor.bus.base import (
    BusCommitError,
    BusError,
    BusUnavailableError,
    BusUsageError,
    TopicPartition,
    TopicSpec,
)
from monitor.bus.kafka import KafkaBus, KafkaConsumer, KafkaProducer, KafkaSettings

PARTITION = TopicPartition("hedge.positions", 0)


class FakeProducer:
    """An AIOKafkaProducer whose ``send`` raises ``send_error`` or whose delivery fails."""

    def __init__(self, send_error: BaseException | None = None,
                 delivery_error: BaseException | None = None,
                 start_error: BaseException | None = None) -> None:
        self.send_error = send_error
        self.delivery_error = delivery_error
        self.start_error = start_error
        self.stopped = False

    async def start(self) -> None:
        if self.start_error is not None:
            raise self.start_error

    async def send(self, topic: str, value: bytes, key: bytes | None = None) -> asyncio.Future[Any]:
        if self.send_error is not None:
            raise self.send_error
        delivery: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.delivery_error is None:
            delivery.set_result(None)
        else:
            delivery.set_exception(self.delivery_error)
        return delivery

    async def stop(self) -> None:
        self.stopped = True


class FakeConsumer:
    """An AIOKafkaConsumer whose every call raises ``error``."""

    def __init__(self, error: BaseException) -> None:
        self.error = error
        self.stopped = False

    def subscribe(self, topics: list[str], listener: object) -> None:
        pass

    async def start(self) -> None:
        raise self.error

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[Any, Any]:
        raise self.error

    def seek(self, partition: object, offset: int) -> None:
        raise self.error

    async def commit(self, offsets: object) -> None:
        raise self.error

    async def end_offsets(self, partitions: object) -> dict[Any, int]:
        raise self.error

    async def committed(self, partition: object) -> int | None:
        raise self.error

    async def stop(self) -> None:
        self.stopped = True


def _producer(fake: FakeProducer) -> KafkaProducer:
    return KafkaProducer(cast(AIOKafkaProducer, fake))


def _consumer(fake: FakeConsumer) -> KafkaConsumer:
    return KafkaConsumer(cast(AIOKafkaConsumer, fake))


async def test_a_send_the_producer_cannot_buffer_is_unavailable() -> None:
    """KafkaTimeoutError from send (no buffer room in time) is BusUnavailableError from it."""
    original = KafkaTimeoutError()
    producer = _producer(FakeProducer(send_error=original))
    producer.send("hedge.prices", b"k", b"v")
    with pytest.raises(BusUnavailableError) as caught:
        await producer.flush()
    assert str(caught.value) == "send: KafkaTimeoutError"
    assert caught.value.__cause__ is original


async def test_a_delivery_the_broker_refuses_is_a_bus_error() -> None:
    """A refused message (MessageSizeTooLargeError, errno 10) is a plain BusError from it."""
    original = MessageSizeTooLargeError()
    producer = _producer(FakeProducer(delivery_error=original))
    producer.send("hedge.prices", b"k", b"v")
    with pytest.raises(BusError) as caught:
        await producer.flush()
    assert type(caught.value) is BusError
    assert str(caught.value) == "deliver a message: [Error 10] MessageSizeTooLargeError"
    assert caught.value.__cause__ is original


async def test_a_delivery_that_expires_is_unavailable_and_stop_still_closes() -> None:
    """A batch expiring unacknowledged (KafkaTimeoutError) is BusUnavailableError; stop closes."""
    original = KafkaTimeoutError("Batch for hedge.prices-0 is expired")
    fake = FakeProducer(delivery_error=original)
    producer = _producer(fake)
    producer.send("hedge.prices", b"k", b"v")
    with pytest.raises(BusUnavailableError) as caught:
        await producer.stop()
    assert str(caught.value) == "deliver a message: KafkaTimeoutError: Batch for hedge.prices-0 is expired"
    assert caught.value.__cause__ is original
    assert fake.stopped


async def test_a_refused_commit_is_a_commit_error_on_one_line() -> None:
    """CommitFailedError (the group rebalanced) is BusCommitError; its long text is one line."""
    original = CommitFailedError()
    consumer = _consumer(FakeConsumer(original))
    with pytest.raises(BusCommitError) as caught:
        await consumer.commit({PARTITION: 5})
    message = str(caught.value)
    assert message.startswith("commit offsets: CommitFailedError: Commit cannot be completed since the "
                              "group has already rebalanced and assigned the partitions to another member.")
    assert "\n" not in message
    assert "  " not in message
    assert caught.value.__cause__ is original


async def test_a_commit_without_a_broker_is_unavailable_not_refused() -> None:
    """A lost connection during a commit is BusUnavailableError: the kind wins over the call."""
    original = KafkaConnectionError("Connection at localhost:9092 closed")
    consumer = _consumer(FakeConsumer(original))
    with pytest.raises(BusUnavailableError) as caught:
        await consumer.commit({PARTITION: 5})
    assert str(caught.value) == "commit offsets: KafkaConnectionError: Connection at localhost:9092 closed"
    assert caught.value.__cause__ is original


async def test_a_commit_refused_for_authorisation_is_a_commit_error() -> None:
    """A non-transient broker refusal of a commit (GroupAuthorizationFailedError) is BusCommitError."""
    original = GroupAuthorizationFailedError()
    consumer = _consumer(FakeConsumer(original))
    with pytest.raises(BusCommitError) as caught:
        await consumer.commit({PARTITION: 5})
    assert str(caught.value) == "commit offsets: [Error 30] GroupAuthorizationFailedError"
    assert caught.value.__cause__ is original


async def test_a_timeout_reading_end_offsets_is_unavailable() -> None:
    """asyncio's TimeoutError (no text) is BusUnavailableError named after the class."""
    original = TimeoutError()
    consumer = _consumer(FakeConsumer(original))
    with pytest.raises(BusUnavailableError) as caught:
        await consumer.end_offsets([PARTITION])
    assert str(caught.value) == "read end offsets: TimeoutError"
    assert caught.value.__cause__ is original


async def test_a_retriable_error_reading_the_committed_offset_is_unavailable() -> None:
    """aiokafka's ``retriable`` errors (NotLeaderForPartitionError, errno 6) are BusUnavailableError."""
    original = NotLeaderForPartitionError()
    consumer = _consumer(FakeConsumer(original))
    with pytest.raises(BusUnavailableError) as caught:
        await consumer.committed(PARTITION)
    assert str(caught.value) == ("read the committed offset of hedge.positions[0]: "
                                 "[Error 6] NotLeaderForPartitionError")
    assert caught.value.__cause__ is original


async def test_fetching_from_a_stopped_consumer_is_misuse() -> None:
    """ConsumerStoppedError (outside aiokafka's KafkaError tree) is BusUsageError."""
    original = ConsumerStoppedError()
    consumer = _consumer(FakeConsumer(original))
    with pytest.raises(BusUsageError) as caught:
        await consumer.getmany(10, 10)
    assert str(caught.value) == "fetch: ConsumerStoppedError"
    assert caught.value.__cause__ is original


async def test_seeking_an_unassigned_partition_is_misuse() -> None:
    """IllegalStateError from seek is BusUsageError, naming the partition and offset."""
    original = IllegalStateError("No current assignment for partition hedge.positions-0")
    consumer = _consumer(FakeConsumer(original))
    with pytest.raises(BusUsageError) as caught:
        await consumer.seek(PARTITION, 7)
    assert str(caught.value) == ("seek hedge.positions[0] to 7: IllegalStateError: "
                                 "No current assignment for partition hedge.positions-0")
    assert caught.value.__cause__ is original


async def test_cancellation_and_other_errors_pass_through_untranslated() -> None:
    """CancelledError and an error that is not aiokafka's leave the seam as they are."""
    with pytest.raises(asyncio.CancelledError):
        await _consumer(FakeConsumer(asyncio.CancelledError())).getmany(10, 10)
    bug = KeyError("not aiokafka's")
    with pytest.raises(KeyError) as caught:
        await _consumer(FakeConsumer(bug)).getmany(10, 10)
    assert caught.value is bug


async def test_a_producer_that_cannot_bootstrap_is_closed_and_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A failed start is BusUnavailableError, and the half-started client is stopped again."""
    original = KafkaConnectionError("Unable to bootstrap from [('localhost', 1, <AddressFamily.AF_INET: 2>)]")
    made: list[FakeProducer] = []

    def make_producer(**_options: object) -> FakeProducer:
        made.append(FakeProducer(start_error=original))
        return made[-1]

    monkeypatch.setattr(kafka, "AIOKafkaProducer", make_producer)
    with pytest.raises(BusUnavailableError) as caught:
        await KafkaBus(KafkaSettings("localhost:1")).producer()
    assert str(caught.value).startswith("start the producer: KafkaConnectionError: Unable to bootstrap")
    assert caught.value.__cause__ is original
    assert [fake.stopped for fake in made] == [True]


async def test_a_group_member_that_cannot_start_is_closed_and_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A group consumer whose start fails is stopped and the failure names the group."""
    original = KafkaConnectionError("Unable to bootstrap")
    made: list[FakeConsumer] = []

    def make_consumer(**_options: object) -> FakeConsumer:
        made.append(FakeConsumer(original))
        return made[-1]

    async def on_change(_partitions: set[TopicPartition]) -> None:
        pass

    monkeypatch.setattr(kafka, "AIOKafkaConsumer", make_consumer)
    with pytest.raises(BusUnavailableError) as caught:
        await KafkaBus(KafkaSettings("localhost:1")).group_consumer(
            ["hedge.positions"], "desk", on_change, on_change)
    assert str(caught.value) == "start a member of group 'desk': KafkaConnectionError: Unable to bootstrap"
    assert caught.value.__cause__ is original
    assert [fake.stopped for fake in made] == [True]


class FakeAdmin:
    """An AIOKafkaAdminClient whose topic listing raises ``error``."""

    def __init__(self, error: BaseException) -> None:
        self.error = error
        self.closed = False

    async def start(self) -> None:
        pass

    async def list_topics(self) -> list[str]:
        raise self.error

    async def close(self) -> None:
        self.closed = True


async def test_creating_topics_on_an_unknown_partition_is_unavailable_and_closes_the_admin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An admin call failing (UnknownTopicOrPartitionError, errno 3) is translated; admin closed."""
    original = UnknownTopicOrPartitionError()
    admin = FakeAdmin(original)
    monkeypatch.setattr(kafka, "AIOKafkaAdminClient", lambda **_options: admin)
    with pytest.raises(BusUnavailableError) as caught:
        await KafkaBus(KafkaSettings("localhost:1")).create_topics([TopicSpec("hedge.prices")])
    assert str(caught.value) == "create topics: [Error 3] UnknownTopicOrPartitionError"
    assert caught.value.__cause__ is original
    assert admin.closed


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (KafkaConnectionError(), BusUnavailableError),
        (KafkaTimeoutError(), BusUnavailableError),
        (NotLeaderForPartitionError(), BusUnavailableError),
        (TimeoutError(), BusUnavailableError),
        (IllegalStateError(), BusUsageError),
        (ConsumerStoppedError(), BusUsageError),
        (RecordTooLargeError(), BusCommitError),
        (CommitFailedError(), BusCommitError),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else value.__name__,
)
def test_the_kind_of_error_decides_before_the_call(error: Exception, expected: type[BusError]) -> None:
    """Misuse and transient kinds keep their class whatever the call; the rest take the call's."""
    translated = kafka.translate_error("commit offsets", error, refused=BusCommitError)
    assert type(translated) is expected


class MetadataLessConsumer:
    """An AIOKafkaConsumer that starts but whose broker never lists a partition (it is restarting)."""

    def __init__(self) -> None:
        self.stopped = False
        self.refreshes = 0
        self._client = self

    async def start(self) -> None:
        pass

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return None

    async def force_metadata_update(self) -> bool:
        self.refreshes += 1
        await asyncio.sleep(0.001)
        return False

    def assign(self, partitions: object) -> None:
        raise AssertionError("assigned although no partition is known")

    async def stop(self) -> None:
        self.stopped = True


async def test_a_table_consumer_that_learns_no_partitions_is_unavailable_and_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A broker restarting under a starting processor lists no partitions: unavailable, so the start
    is retried (aiokafka asserted "No partitions are currently assigned" and the processor died)."""
    made: list[MetadataLessConsumer] = []

    def make_consumer(**_options: object) -> MetadataLessConsumer:
        made.append(MetadataLessConsumer())
        return made[-1]

    monkeypatch.setattr(kafka, "AIOKafkaConsumer", make_consumer)
    monkeypatch.setattr(kafka, "TABLE_METADATA_TIMEOUT_S", 0.02)
    with pytest.raises(BusUnavailableError) as caught:
        await KafkaBus(KafkaSettings("localhost:1")).table_consumer(["hedge.prices", "hedge.instruments"])
    assert str(caught.value) == ("start a table consumer of hedge.prices, hedge.instruments: "
                                 "no partitions of 'hedge.prices' known after 0.02 s")
    assert made[0].refreshes > 0
    assert [fake.stopped for fake in made] == [True]
