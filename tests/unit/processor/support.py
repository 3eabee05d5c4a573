"""Test tooling for the processor on the in-process bus: a running processor, a consumer wrapper."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager

from monitor.alerts import AlertEngine, AlertsConfig
from monitor.bus.base import Consumer, Record, TopicPartition
from monitor.bus.memory import MemoryBus
from monitor.domain.instruments import default_catalog
from monitor.domain.plans import PortfolioSettings
from monitor.processor.engine import RiskEngine
from monitor.processor.runner import Processor, ProcessorSettings
from tests.support import running_processor

DEADLINE_S = 5.0


def memory_processor(bus: MemoryBus) -> Processor:
    """A processor with default settings, alerts and catalog, checkpointing every round."""
    engine = RiskEngine(default_catalog(), lambda _: PortfolioSettings(),
                        lambda _: AlertEngine(AlertsConfig()))
    return Processor(bus, engine, ProcessorSettings(checkpoint_interval_ms=0, fetch_timeout_ms=20))


def running(processor: Processor) -> AbstractAsyncContextManager[Processor]:
    """Run ``processor`` until the block ends; it is ready (joined, caught up) inside the block."""
    return running_processor(processor, DEADLINE_S)


class DelegatingConsumer:
    """A consumer that hands every call to ``inner``; tests override the calls they observe."""

    def __init__(self, inner: Consumer) -> None:
        self._inner = inner

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Record]]:
        return await self._inner.getmany(timeout_ms, max_records)

    def assignment(self) -> set[TopicPartition]:
        return self._inner.assignment()

    async def seek(self, partition: TopicPartition, offset: int) -> None:
        await self._inner.seek(partition, offset)

    def pause(self, partitions: Collection[TopicPartition]) -> None:
        self._inner.pause(partitions)

    def resume(self, partitions: Collection[TopicPartition]) -> None:
        self._inner.resume(partitions)

    def membership_lost(self) -> bool:
        return self._inner.membership_lost()

    async def confirm_membership(self) -> bool:
        return await self._inner.confirm_membership()

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        await self._inner.commit(offsets)

    def highwater(self, partition: TopicPartition) -> int | None:
        return self._inner.highwater(partition)

    async def end_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        return await self._inner.end_offsets(partitions)

    async def committed(self, partition: TopicPartition) -> int | None:
        return await self._inner.committed(partition)

    async def stop(self) -> None:
        await self._inner.stop()
