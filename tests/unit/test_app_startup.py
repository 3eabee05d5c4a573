"""`run_processor` waits for Kafka at start: a processor restarted during a broker outage resumes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import pytest

from monitor.app import DEFAULT_CONFIG_SOURCE, run_processor
from monitor.bus.base import BusUnavailableError, Consumer, Producer, Topics, TopicSpec
from monitor.bus.memory import MemoryBus, MemoryProducer
from monitor.config import MonitorConfig
from monitor.processor.runner import Processor
from tests.support import eventually


class _AwayAtFirst(MemoryBus):
    """A bus whose broker is unreachable for the first ``failures`` topic creations."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.attempts = 0

    async def create_topics(self, specs: Sequence[TopicSpec]) -> None:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise BusUnavailableError("create topics: KafkaConnectionError: Unable to bootstrap")
        await super().create_topics(specs)


async def test_a_start_while_kafka_is_away_is_retried_until_it_answers(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """Two refused starts are logged and retried; the third runs the processor until stopped."""
    monkeypatch.setattr("monitor.app.STARTUP_RETRY_S", 0.01)
    caplog.set_level(logging.WARNING, logger="monitor.app")
    bus = _AwayAtFirst(failures=2)
    stop = asyncio.Event()
    started: list[Processor] = []
    config = MonitorConfig(source=DEFAULT_CONFIG_SOURCE, topics=Topics())
    run = asyncio.create_task(run_processor(config, bus, stop, on_started=started.append))
    await eventually(lambda: started and started[0].ready.is_set(), 5.0)
    stop.set()
    await asyncio.wait_for(run, 5.0)
    assert bus.attempts == 3
    assert caplog.text.count("Kafka unavailable at start") == 2


class _StoppedProducer(MemoryProducer):
    """A memory producer that records its stop."""

    stopped = False

    async def stop(self) -> None:
        self.stopped = True


class _NoPartitionsAtFirst(MemoryBus):
    """A bus whose broker lists no partitions to the first ``failures`` table consumers."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.table_attempts = 0
        self.producers: list[_StoppedProducer] = []

    async def producer(self) -> Producer:
        self.producers.append(_StoppedProducer(self))
        return self.producers[-1]

    async def table_consumer(self, topics: Sequence[str]) -> Consumer:
        self.table_attempts += 1
        if self.table_attempts <= self.failures:
            raise BusUnavailableError("start a table consumer of hedge.prices: no partitions known")
        return await super().table_consumer(topics)


async def test_a_broker_listing_no_partitions_at_start_is_retried_and_nothing_leaks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The crash test's broker restart under a starting processor: the start is retried, and the
    producer of the refused start is stopped (it was left unclosed)."""
    monkeypatch.setattr("monitor.app.STARTUP_RETRY_S", 0.01)
    bus = _NoPartitionsAtFirst(failures=1)
    stop = asyncio.Event()
    started: list[Processor] = []
    config = MonitorConfig(source=DEFAULT_CONFIG_SOURCE, topics=Topics())
    run = asyncio.create_task(run_processor(config, bus, stop, on_started=started.append))
    await eventually(lambda: len(started) == 2 and started[1].ready.is_set(), 5.0)
    assert bus.producers[0].stopped
    stop.set()
    await asyncio.wait_for(run, 5.0)
    assert [producer.stopped for producer in bus.producers] == [True, True]


async def test_stop_during_the_wait_ends_the_start_without_a_processor() -> None:
    """A stop while Kafka is away returns at once; nothing was started."""
    bus = _AwayAtFirst(failures=1_000)
    stop = asyncio.Event()
    started: list[Processor] = []
    config = MonitorConfig(source=DEFAULT_CONFIG_SOURCE, topics=Topics())
    run = asyncio.create_task(run_processor(config, bus, stop, on_started=started.append))
    await eventually(lambda: bus.attempts >= 1, 5.0)
    stop.set()
    await asyncio.wait_for(run, 5.0)
    assert started == []
