"""The whole pipeline rides out a Kafka restart: simulator -> venue -> supervisor -> BusSink -> Kafka
<- processor, with the broker stopped (or killed) mid-stream while the simulator keeps changing the
account. Nothing is restarted but the broker; every change must reach the final risk snapshot.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from monitor.app import build_engine
from monitor.bus.base import Topics
from monitor.bus.kafka import KafkaBus, KafkaSettings
from monitor.domain.events import BalanceEvent
from monitor.ingest.bus_sink import BusSink
from monitor.ingest.http import UrllibTransport
from monitor.ingest.runner import VenueRunner
from monitor.ingest.supervisor import SupervisorSettings
from monitor.processor.runner import Processor, ProcessorSettings
from monitor.sim.server import SimulatorServer
from monitor.venues.base import AccountContext
from monitor.venues.okx import Okx
from tests.integration.conftest import KafkaBroker, RestartBroker
from tests.integration.kafka_helpers import BROKER_POLL_S, latest_by_key, read_all
from tests.support import eventually

PORTFOLIO = "restart"
ACCOUNT = "okx-main"
SWAP = "BTC-USDT-SWAP"
SPOT = "BTC-USDT"
FAST = SupervisorSettings(backoff_base_s=0.05, backoff_cap_s=0.3, close_timeout_s=0.5)
# (contracts, BTC held, USDT margin) set one after another while the broker is away
CHANGES_WHILE_DOWN = [(-160.0, 1.6, 21_000.0), (-140.0, 1.7, 19_500.0), (-175.0, 1.75, 18_250.5),
                      (-120.0, 1.25, 25_000.0), (-180.0, 1.8, 17_777.0)]


@dataclass(slots=True)
class Pipeline:
    """The running pieces a test looks at."""

    sim: SimulatorServer
    sink: BusSink
    processor: Processor
    tasks: list[asyncio.Task[None]]
    topics: Topics
    bootstrap: str

    def check_running(self) -> None:
        """Fail if any piece stopped on its own (nothing may need a restart)."""
        for task in self.tasks:
            if task.done():
                raise AssertionError(f"{task.get_name()} stopped: {task.exception()!r}")

    async def risk(self) -> dict[str, Any] | None:
        """The latest hedge.risk snapshot of the portfolio."""
        return latest_by_key(await read_all(self.bootstrap, self.topics.risk)).get(PORTFOLIO)

    async def shows(self, contracts: float, btc: float, usdt: float) -> dict[str, Any] | None:
        """The latest snapshot if it shows this position, BTC holding and cross margin wallet."""
        self.check_running()
        snapshot = await self.risk()
        if snapshot is None or not snapshot["positions"]:
            return None
        position = snapshot["positions"][0]
        if position["quantity"] != contracts or snapshot["assets"]["BTC"]["spot_delta"] != btc:
            return None
        # cross margin: margin balance = USDT wallet + unrealised PnL of the account's positions
        if position["margin_balance_usd"] != pytest.approx(usdt + position["unrealized_pnl_usd"]):
            return None
        return snapshot


async def _set_account(sim: SimulatorServer, contracts: float, btc: float, usdt: float) -> None:
    await sim.set_position("okx", ACCOUNT, SWAP, contracts, 60_000.0, leverage=10.0)
    await sim.set_balance("okx", ACCOUNT, "BTC", btc)
    await sim.set_balance("okx", ACCOUNT, "USDT", usdt)


@asynccontextmanager
async def pipeline(bootstrap: str, topic_prefix: str) -> AsyncIterator[Pipeline]:
    """Simulator, OKX ingest into a BusSink on Kafka, and an in-process processor."""
    topics = Topics.with_prefix(topic_prefix)
    bus = KafkaBus(KafkaSettings(bootstrap_servers=bootstrap))
    await bus.create_topics(topics.specs(2))
    async with SimulatorServer(seed=11, heartbeat_s=0.2) as sim:
        await sim.set_price("okx", SWAP, 60_000.0, funding_rate=0.0001)
        await sim.set_price("okx", SPOT, 60_000.0)
        await _set_account(sim, -150.0, 1.5, 20_000.0)
        account = AccountContext(ACCOUNT, PORTFOLIO, sim.credentials("okx", ACCOUNT))
        venue = Okx(symbols=[SWAP, SPOT], account=account, ws_base_url=sim.ws_url("okx"),
                    rest_base_url=sim.rest_url("okx"))
        producer = await bus.producer()
        sink = BusSink(producer, topics, retry_backoff_s=0.2)
        runner = VenueRunner([venue], sink, UrllibTransport(), FAST, seed=1)
        processor = Processor(bus, build_engine(), ProcessorSettings(
            topics=topics, group_id=f"{topic_prefix}g", checkpoint_interval_ms=200))
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(processor.run(stop), name="processor"),
            asyncio.create_task(sink.run(stop), name="bus-sink"),
            asyncio.create_task(runner.run(), name="ingest"),
        ]
        try:
            yield Pipeline(sim, sink, processor, tasks, topics, bootstrap)
        finally:
            stop.set()
            tasks[2].cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            await producer.stop()
    failures = [r for r in results
                if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError)]
    assert not failures, failures


@pytest.mark.parametrize("crash", [False, True], ids=["graceful-stop", "kill-9"])
async def test_no_account_change_is_lost_across_a_broker_restart(
    kafka_broker: KafkaBroker | None, kafka_restart: RestartBroker, kafka_bootstrap: str,
    topic_prefix: str, crash: bool,
) -> None:
    """Changes made while Kafka is down are buffered by the sink and all reach the final snapshot."""
    assert kafka_broker is not None  # kafka_restart skips for an external broker
    async with pipeline(kafka_bootstrap, topic_prefix) as running:
        await eventually(lambda: running.shows(-150.0, 1.5, 20_000.0), 90, interval_s=BROKER_POLL_S)
        await asyncio.to_thread(kafka_broker.run, "kill" if crash else "stop")
        most_buffered = 0
        for contracts, btc, usdt in CHANGES_WHILE_DOWN:
            await _set_account(running.sim, contracts, btc, usdt)

        def buffered_all() -> bool:
            nonlocal most_buffered
            most_buffered = max(most_buffered, running.sink.buffered)
            # 3 account events per change wait in the sink (prices may be conflated beside them)
            return running.sink.buffered >= 3 * len(CHANGES_WHILE_DOWN)

        await eventually(buffered_all, 30, interval_s=0.05)
        running.check_running()
        await asyncio.to_thread(kafka_broker.run, "start")
        contracts, btc, usdt = CHANGES_WHILE_DOWN[-1]
        snapshot = await eventually(lambda: running.shows(contracts, btc, usdt), 120,
                                    interval_s=BROKER_POLL_S)
        # the pipeline is live after the restart, not only drained
        await _set_account(running.sim, -155.0, 1.55, 22_222.0)
        snapshot = await eventually(lambda: running.shows(-155.0, 1.55, 22_222.0), 60,
                                    interval_s=BROKER_POLL_S)
        # a price tick may sit in the sink for the moment it takes to send it
        await eventually(lambda: running.sink.buffered == 0, 10, interval_s=0.05)
    assert most_buffered >= 3 * len(CHANGES_WHILE_DOWN)
    position = snapshot["positions"][0]
    assert position["instrument"] == f"okx:{SWAP}"
    assert position["entry_price"] == 60_000.0
    # -155 contracts * 0.01 BTC = -1.55 BTC against 1.55 BTC held: fully hedged
    assert snapshot["assets"]["BTC"]["hedge_ratio"] == pytest.approx(1.0)


async def test_bus_sink_reports_a_broker_outage(
    kafka_broker: KafkaBroker | None, kafka_restart: RestartBroker, kafka_bootstrap: str,
    topic_prefix: str, caplog: pytest.LogCaptureFixture,
) -> None:
    """Within 15 s of the broker going away the sink logs 'broker unavailable'."""
    assert kafka_broker is not None
    topics = Topics.with_prefix(topic_prefix)
    bus = KafkaBus(KafkaSettings(bootstrap_servers=kafka_bootstrap))
    await bus.create_topics(topics.specs(1))
    producer = await bus.producer()
    sink = BusSink(producer, topics, retry_backoff_s=0.2)
    stop = asyncio.Event()
    task = asyncio.create_task(sink.run(stop))
    caplog.set_level(logging.WARNING, logger="monitor.ingest.bus_sink")
    try:
        await sink.publish([BalanceEvent(PORTFOLIO, ACCOUNT, "BTC", 1.0, 1_000, 1_000)])
        await eventually(lambda: sink.published_events == 1, 30, interval_s=BROKER_POLL_S)
        await asyncio.to_thread(kafka_broker.run, "kill")
        await sink.publish([BalanceEvent(PORTFOLIO, ACCOUNT, "BTC", 2.0, 2_000, 2_000)])
        try:
            await eventually(lambda: "broker unavailable" in caplog.text, 15, interval_s=BROKER_POLL_S)
        finally:
            await asyncio.to_thread(kafka_broker.run, "start")
        await eventually(lambda: sink.published_events == 2, 60, interval_s=BROKER_POLL_S)
    finally:
        stop.set()
        await task
        await producer.stop()
