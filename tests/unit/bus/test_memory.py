"""The in-process bus fails the way the seam says: misuse is a BusUsageError."""

from __future__ import annotations

import pytest

from monitor.bus.base import BusError, BusUsageError, TopicPartition, TopicSpec
from monitor.bus.memory import MemoryBus


async def _ignore(_partitions: set[TopicPartition]) -> None:
    pass


async def test_a_second_member_of_a_group_is_refused() -> None:
    """The in-process bus holds one member per group; a second one is BusUsageError."""
    bus = MemoryBus()
    await bus.create_topics([TopicSpec("hedge.positions", 2)])
    first = await bus.group_consumer(["hedge.positions"], "desk", _ignore, _ignore)
    with pytest.raises(BusUsageError, match="group 'desk' already has a member"):
        await bus.group_consumer(["hedge.positions"], "desk", _ignore, _ignore)
    await first.stop()
    second = await bus.group_consumer(["hedge.positions"], "desk", _ignore, _ignore)
    assert second.assignment() == {TopicPartition("hedge.positions", 0),
                                   TopicPartition("hedge.positions", 1)}
    await second.stop()


async def test_a_table_consumer_cannot_commit() -> None:
    """A table consumer has no group: its commit is BusUsageError, a BusError like Kafka's failures."""
    bus = MemoryBus()
    await bus.create_topics([TopicSpec("hedge.prices", 1)])
    table = await bus.table_consumer(["hedge.prices"])
    with pytest.raises(BusError) as caught:
        await table.commit({TopicPartition("hedge.prices", 0): 1})
    assert type(caught.value) is BusUsageError
    assert str(caught.value) == "a table consumer has no group to commit to"
    await table.stop()
