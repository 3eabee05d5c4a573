"""Schema v3 in the processor: unknown versions are dead-lettered with a reason, v2 still applies."""

from __future__ import annotations

import asyncio

import orjson

from monitor.bus.base import Topics
from monitor.bus.memory import MemoryBus
from monitor.domain.instruments import default_catalog
from monitor.domain.plans import PortfolioSettings
from monitor.processor.engine import RiskEngine
from monitor.processor.runner import Processor, ProcessorSettings
from tests.support import eventually

TOPICS = Topics()
SWAP = "okx:BTC-USDT-SWAP"


async def test_unknown_versions_reach_the_dead_letter_topic_and_v2_still_applies() -> None:
    """A v4 value (a newer writer) goes to hedge.dlq with its reason; a v2 position next to it is
    applied with every venue figure unknown."""
    bus = MemoryBus()
    await bus.create_topics(TOPICS.specs(1))
    engine = RiskEngine(default_catalog(), lambda _: PortfolioSettings())
    processor = Processor(bus, engine, ProcessorSettings(fetch_timeout_ms=10))
    stop = asyncio.Event()
    task = asyncio.create_task(processor.run(stop))
    bus.append(TOPICS.positions, b"seed", orjson.dumps({
        "v": 4, "type": "position", "portfolio": "seed", "account": "okx", "instrument": SWAP,
        "quantity": -1.0, "entry_price": 60000.0, "margin_mode": "cross", "ts_event_ms": 1}))
    bus.append(TOPICS.positions, b"seed", orjson.dumps({
        "v": 2, "type": "position", "portfolio": "seed", "account": "okx", "instrument": SWAP,
        "quantity": -150.0, "entry_price": 60000.0, "leverage": 10.0, "margin_mode": "isolated",
        "isolated_margin": 9000.0, "ts_event_ms": 2}))
    bus.append(TOPICS.prices, SWAP.encode(), orjson.dumps({
        "v": 2, "type": "price", "instrument": SWAP, "mark": 60000.0, "ts_event_ms": 3}))
    try:
        await eventually(lambda: bus.records(TOPICS.dlq) and [
            r for r in bus.records(TOPICS.risk) if orjson.loads(r.value)["positions"]], 5.0)
    finally:
        stop.set()
        await task
    (letter,) = [orjson.loads(record.value) for record in bus.records(TOPICS.dlq)]
    assert letter["reason"] == "unsupported version 4 (this release reads versions 1, 2 and 3)"
    assert letter["source"] == TOPICS.positions
    risk = orjson.loads(bus.records(TOPICS.risk)[-1].value)
    (position,) = risk["positions"]
    assert position["quantity"] == -150.0
    assert position["venue_figures"] is None
    assert position["model_figures"]["source"] == "model"
