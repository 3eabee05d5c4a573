"""A whole account on the simulator, through sim -> ingest -> Kafka -> processor.

The config names the OKX account only: no symbols, no instruments section. The account holds a SOL
perpetual and a BTC quarterly future that the shipped catalog does not know, and a contract that
nobody lists or prices. The monitor learns the first two from the venue's listing
(``GET /api/v5/public/instruments``, ``position-tiers``) on hedge.instruments, follows them on the
market stream, and prices them; the third stays held and unknown (``unpriced_position``).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from monitor.alerts import AlertEngine, AlertsConfig
from monitor.bus.base import Topics
from monitor.bus.kafka import KafkaBus, KafkaSettings, topic_partitions
from monitor.codec import decode_instrument, risk_to_dict
from monitor.domain.instruments import default_catalog
from monitor.domain.plans import PortfolioSettings
from monitor.ingest.bus_sink import BusSink
from monitor.ingest.http import UrllibTransport
from monitor.ingest.runner import VenueRunner
from monitor.ingest.supervisor import SupervisorSettings
from monitor.processor.engine import RiskEngine
from monitor.processor.runner import Processor, ProcessorSettings
from monitor.sim.listings import SOL_SWAP, next_quarterly_expiry_ms, quarterly_symbol
from monitor.sim.server import SimulatorServer
from monitor.venues.base import AccountContext
from monitor.venues.okx import Okx
from tests.support import eventually

pytestmark = pytest.mark.integration

PORTFOLIO = "main"
ACCOUNT = "okx-main"
UNLISTED = "DOGE-USDT-SWAP"
DEADLINE_S = 30.0
FAST = SupervisorSettings(backoff_base_s=0.05, backoff_cap_s=0.3, close_timeout_s=0.5)


async def _read_topic(bootstrap: str, topic: str) -> list[tuple[bytes, bytes]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(await topic_partitions(consumer, topic))]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: list[tuple[bytes, bytes]] = []
        read = dict.fromkeys(partitions, 0)
        while any(read[p] < end for p, end in ends.items()):
            batches = await consumer.getmany(timeout_ms=500)
            for partition, records in batches.items():
                found.extend((r.key or b"", r.value or b"") for r in records)
                if records:
                    read[partition] = records[-1].offset + 1
        return found
    finally:
        await consumer.stop()


async def test_a_whole_account_is_monitored_with_live_terms(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    """SOL perpetual and a quarterly, uncatalogued, get priced figures; an unlisted contract reads
    unknown with the unpriced_position alert, never as safe."""
    quarterly = quarterly_symbol(next_quarterly_expiry_ms(int(time.time() * 1000)))
    catalog = default_catalog()
    assert f"okx:{SOL_SWAP}" not in catalog
    assert f"okx:{quarterly}" not in catalog
    async with SimulatorServer(seed=11, heartbeat_s=0.2) as sim:
        credentials = sim.credentials("okx", ACCOUNT)
        await sim.set_price("okx", SOL_SWAP, 140.0)
        await sim.set_price("okx", quarterly, 61_000.0)
        await sim.set_price("okx", "BTC-USDT", 60_000.0)
        await sim.set_balance("okx", ACCOUNT, "USDT", 20_000.0)
        await sim.set_position("okx", ACCOUNT, SOL_SWAP, -10, 150.0, leverage=10.0,
                               margin_mode="isolated", isolated_margin=1_000.0)
        await sim.set_position("okx", ACCOUNT, quarterly, -100, 60_500.0, leverage=10.0,
                               margin_mode="isolated", isolated_margin=6_050.0)
        await sim.set_position("okx", ACCOUNT, UNLISTED, -1_000, 0.1, leverage=5.0,
                               margin_mode="isolated", isolated_margin=20.0)
        venue = Okx(symbols=(), account=AccountContext(ACCOUNT, PORTFOLIO, credentials),
                    ws_base_url=sim.ws_url("okx"), rest_base_url=sim.rest_url("okx"), catalog=catalog)
        topics = Topics.with_prefix(topic_prefix)
        bus = KafkaBus(KafkaSettings(bootstrap_servers=kafka_bootstrap))
        await bus.create_topics(topics.specs(2))
        producer = await bus.producer()
        sink = BusSink(producer, topics)
        runner = VenueRunner([venue], sink, UrllibTransport(), FAST, seed=3)
        engine = RiskEngine(catalog, lambda _: PortfolioSettings(),
                            lambda _: AlertEngine(AlertsConfig()))
        processor = Processor(bus, engine, ProcessorSettings(
            topics=topics, group_id=f"{topic_prefix}g", fetch_timeout_ms=50, checkpoint_interval_ms=200))
        stop_sink, stop_processor = asyncio.Event(), asyncio.Event()
        tasks = [asyncio.create_task(runner.run(), name="ingest"),
                 asyncio.create_task(sink.run(stop_sink), name="sink"),
                 asyncio.create_task(processor.run(stop_processor), name="processor")]

        def snapshot() -> dict[str, Any] | None:
            for task in tasks:
                if task.done() and not task.cancelled() and task.exception() is not None:
                    raise AssertionError(f"{task.get_name()} failed") from task.exception()
            state = processor.engine.portfolios.get(PORTFOLIO)
            if state is None:
                return None
            return risk_to_dict(processor.engine.snapshot(PORTFOLIO)[0])

        def priced() -> dict[str, Any] | None:
            value = snapshot()
            if value is None:
                return None
            legs = {p["instrument"]: p for p in value["positions"]}
            wanted = (f"okx:{SOL_SWAP}", f"okx:{quarterly}")
            if all(legs.get(i, {}).get("notional_usd") is not None for i in wanted) \
                    and f"okx:{UNLISTED}" in legs:
                return value
            return None

        try:
            risk = await eventually(priced, DEADLINE_S, interval_s=0.1, state=lambda: repr(snapshot()))
            alerts = await eventually(processor.firing_alerts, DEADLINE_S)
            follower = runner.supervisor("okx", "market")
            subscribed = venue.symbols
        finally:
            tasks[0].cancel()
            stop_processor.set()
            stop_sink.set()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            await producer.stop()
        for result in results:
            assert result is None or isinstance(result, asyncio.CancelledError), repr(result)
        instruments = {key.decode(): decode_instrument(value)
                       for key, value in await _read_topic(kafka_bootstrap, topics.instruments)}
        published = [orjson.loads(value) for key, value in await _read_topic(kafka_bootstrap, topics.risk)
                     if key == PORTFOLIO.encode()]
    legs = {p["instrument"]: p for p in risk["positions"]}
    sol = legs[f"okx:{SOL_SWAP}"]
    # ctVal 1 SOL (the simulator's listing): notional 10 * 1 * 140, uPnL -10 * 1 * (140 - 150)
    assert sol["notional_usd"] == pytest.approx(1_400.0)
    assert sol["unrealized_pnl_usd"] == pytest.approx(100.0)
    assert sol["contract_type"] == "perpetual"
    future = legs[f"okx:{quarterly}"]
    # ctVal 0.01 BTC: notional 100 * 0.01 * 61 000; uPnL -100 * 0.01 * (61 000 - 60 500) = -500
    assert future["notional_usd"] == pytest.approx(61_000.0)
    assert future["unrealized_pnl_usd"] == pytest.approx(-500.0)
    assert future["contract_type"] == "future"
    assert future["expiry_ms"] == next_quarterly_expiry_ms(int(time.time() * 1000))
    assert future["time_to_expiry_s"] > 13 * 86_400
    unlisted = legs[f"okx:{UNLISTED}"]
    assert unlisted["quantity"] == -1_000  # held, never dropped
    assert unlisted["notional_usd"] is None
    assert unlisted["margin_ratio"] is None
    assert {"account": ACCOUNT, "instrument": f"okx:{UNLISTED}", "position_side": "one_way",
            "reason": "no contract terms"} in risk["unpriced_positions"]
    assert all(row["net_pnl_usd"] is None for row in risk["stress"])
    assert (PORTFOLIO, "unpriced_position", "warning") in alerts
    assert {SOL_SWAP, quarterly}.issubset(subscribed)  # the market stream follows the positions
    assert follower.connects >= 1
    assert f"okx:{SOL_SWAP}" in instruments
    assert instruments[f"okx:{quarterly}"].expiry_ms == future["expiry_ms"]
    assert instruments[f"okx:{SOL_SWAP}"].tiers  # position-tiers of the SOL-USDT family were read
    # the same figures went out on hedge.risk (Kafka), as the processor published them
    last = {p["instrument"]: p for p in published[-1]["positions"]}
    assert last[f"okx:{SOL_SWAP}"]["notional_usd"] == pytest.approx(1_400.0)
    assert last[f"okx:{UNLISTED}"]["notional_usd"] is None
