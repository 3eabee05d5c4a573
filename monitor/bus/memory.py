"""The in-process bus: the same interface as Kafka, for the one-process demo and unit tests.

Topics are lists of partitions held in memory; a key goes to ``crc32(key) % partitions``. Group
consumers share a group's committed offsets; one member per group at a time (the embedded mode
runs one processor). Compaction is not simulated: a table consumer sees every record, which only
makes it do more work than on Kafka, never less. Misuse (a second member of a group, a commit
from a table consumer) raises ``BusUsageError``; nothing else can fail.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Collection, Mapping, Sequence

from monitor.bus.base import (
    AssignmentCallback,
    BusUsageError,
    Consumer,
    Producer,
    Record,
    TopicPartition,
    TopicSpec,
)


class MemoryBus:
    """Topics in memory, shared by every producer and consumer made from this bus."""

    def __init__(self, default_partitions: int = 1) -> None:
        self._topics: dict[str, list[list[Record]]] = {}
        self._committed: dict[tuple[str, TopicPartition], int] = {}
        self._members: set[str] = set()
        self._changed = asyncio.Event()
        self._default_partitions = default_partitions

    async def create_topics(self, specs: Sequence[TopicSpec]) -> None:
        """Create topics that do not exist yet."""
        for spec in specs:
            self._topics.setdefault(spec.name, [[] for _ in range(spec.partitions)])

    def partitions(self, topic: str) -> list[list[Record]]:
        """The partitions of a topic (created on first use with the default count)."""
        partitions = self._topics.get(topic)
        if partitions is None:
            partitions = [[] for _ in range(self._default_partitions)]
            self._topics[topic] = partitions
        return partitions

    def append(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Append one record and wake the consumers."""
        partitions = self.partitions(topic)
        index = 0 if key is None else zlib.crc32(key) % len(partitions)
        records = partitions[index]
        records.append(Record(topic, index, len(records), key, value, int(time.time() * 1000)))
        self._changed.set()

    def records(self, topic: str) -> list[Record]:
        """Every record of a topic, partition by partition (for tests and the demo view)."""
        return [record for partition in self.partitions(topic) for record in partition]

    async def wait_changed(self, timeout_s: float) -> None:
        """Wait until something is appended, or the timeout passes."""
        self._changed.clear()
        try:
            await asyncio.wait_for(self._changed.wait(), timeout_s)
        except TimeoutError:
            return

    async def producer(self) -> Producer:
        """A producer appending straight into the topics."""
        return MemoryProducer(self)

    async def group_consumer(
        self,
        topics: Sequence[str],
        group_id: str,
        on_assigned: AssignmentCallback,
        on_revoked: AssignmentCallback,
        instance_id: str | None = None,  # noqa: ARG002 -- one process: no sessions to outlive
    ) -> Consumer:
        """The group's only member, assigned every partition of ``topics``."""
        if group_id in self._members:
            raise BusUsageError(f"group {group_id!r} already has a member on the in-process bus")
        self._members.add(group_id)
        assignment = {
            TopicPartition(topic, index)
            for topic in topics
            for index in range(len(self.partitions(topic)))
        }
        consumer = MemoryConsumer(self, assignment, group_id, on_revoked, on_assigned)
        for partition in assignment:
            committed = self._committed.get((group_id, partition))
            if committed is not None:
                consumer.positions[partition] = committed
        return consumer

    async def table_consumer(self, topics: Sequence[str]) -> Consumer:
        """A consumer of every partition from the beginning."""
        assignment = {
            TopicPartition(topic, index)
            for topic in topics
            for index in range(len(self.partitions(topic)))
        }
        return MemoryConsumer(self, assignment, None, None)

    def commit(self, group_id: str, offsets: Mapping[TopicPartition, int]) -> None:
        """Store a group's committed offsets."""
        for partition, offset in offsets.items():
            self._committed[(group_id, partition)] = offset

    def committed(self, group_id: str, partition: TopicPartition) -> int | None:
        """A group's committed offset."""
        return self._committed.get((group_id, partition))

    def leave(self, group_id: str) -> None:
        """A member left its group."""
        self._members.discard(group_id)

    async def close(self) -> None:
        """Nothing to release."""


class MemoryProducer:
    """Appends on send; flush has nothing to wait for."""

    def __init__(self, bus: MemoryBus) -> None:
        self._bus = bus

    def send(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Append one record."""
        self._bus.append(topic, key, value)

    async def hand_off(self) -> None:
        """Every send is already stored."""

    async def flush(self) -> None:
        """Every send is already stored."""

    async def stop(self) -> None:
        """Nothing to close."""


class MemoryConsumer:
    """Reads assigned partitions from its positions."""

    def __init__(
        self,
        bus: MemoryBus,
        assignment: set[TopicPartition],
        group_id: str | None,
        on_revoked: AssignmentCallback | None,
        on_assigned: AssignmentCallback | None = None,
    ) -> None:
        self._bus = bus
        self._on_assigned = on_assigned
        self._assignment = assignment
        self._group_id = group_id
        self._on_revoked = on_revoked
        self.positions: dict[TopicPartition, int] = dict.fromkeys(assignment, 0)
        self._highwater: dict[TopicPartition, int] = {}
        self._paused: set[TopicPartition] = set()
        self._closed = False

    def _fetch(self, max_records: int) -> dict[TopicPartition, list[Record]]:
        result: dict[TopicPartition, list[Record]] = {}
        budget = max_records
        for partition in sorted(self._assignment, key=lambda p: (p.topic, p.partition)):
            records = self._bus.partitions(partition.topic)[partition.partition]
            self._highwater[partition] = len(records)
            if budget <= 0 or partition in self._paused:
                continue
            start = self.positions[partition]
            if start >= len(records):
                continue
            batch = records[start:start + budget]
            self.positions[partition] = start + len(batch)
            budget -= len(batch)
            result[partition] = batch
        return result

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Record]]:
        """Records past each position, waiting up to ``timeout_ms`` when there are none."""
        if self._on_assigned is not None:
            # Like Kafka, the assignment is announced inside the first fetch.
            on_assigned, self._on_assigned = self._on_assigned, None
            await on_assigned(set(self._assignment))
        result = self._fetch(max_records)
        if result or self._closed:
            return result
        await self._bus.wait_changed(timeout_ms / 1000)
        return self._fetch(max_records)

    def assignment(self) -> set[TopicPartition]:
        """Every partition of the subscribed topics."""
        return set(self._assignment)

    async def seek(self, partition: TopicPartition, offset: int) -> None:
        """Continue from ``offset``."""
        self.positions[partition] = offset

    def pause(self, partitions: Collection[TopicPartition]) -> None:
        """Return no records of ``partitions`` until resumed."""
        self._paused.update(partitions)

    def resume(self, partitions: Collection[TopicPartition]) -> None:
        """Return records of ``partitions`` again."""
        self._paused.difference_update(partitions)

    def membership_lost(self) -> bool:
        """Never: the in-process group has one member and no sessions."""
        return False

    async def confirm_membership(self) -> bool:
        """Always: the in-process group has one member and no sessions."""
        return True

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Store the group's offsets."""
        if self._group_id is None:
            raise BusUsageError("a table consumer has no group to commit to")
        self._bus.commit(self._group_id, offsets)

    def highwater(self, partition: TopicPartition) -> int | None:
        """The partition's length when it was last fetched from; None before that."""
        return self._highwater.get(partition)

    async def end_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        """The number of records in each partition."""
        return {p: len(self._bus.partitions(p.topic)[p.partition]) for p in partitions}

    async def committed(self, partition: TopicPartition) -> int | None:
        """The group's committed offset."""
        if self._group_id is None:
            return None
        return self._bus.committed(self._group_id, partition)

    async def stop(self) -> None:
        """Leave the group."""
        if self._closed:
            return
        self._closed = True
        if self._group_id is not None:
            if self._on_revoked is not None:
                await self._on_revoked(set(self._assignment))
            self._bus.leave(self._group_id)
