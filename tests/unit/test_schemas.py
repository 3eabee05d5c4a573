"""Every value the processor publishes validates against the schema shipped in the package."""

from __future__ import annotations

import asyncio
import time

import jsonschema
import orjson
import pytest

from monitor import schemas
from monitor.alerts import AlertEngine, AlertsConfig
from monitor.bus.base import Topics
from monitor.bus.memory import MemoryBus
from monitor.codec import encode_event, event_key
from monitor.domain.events import BalanceEvent, Event, FillEvent, PositionEvent, PriceEvent
from monitor.domain.instruments import default_catalog
from monitor.domain.plans import HedgePlan, PortfolioSettings
from monitor.processor.engine import RiskEngine
from monitor.processor.runner import Processor, ProcessorSettings
from tests.support import eventually

TOPICS = Topics()


@pytest.mark.parametrize("name", schemas.NAMES)
def test_schema_is_valid(name: str) -> None:
    """Each shipped schema is itself a valid draft 2020-12 schema."""
    jsonschema.Draft202012Validator.check_schema(schemas.load(name))


def test_unknown_schema_is_named() -> None:
    """Asking for a schema that does not exist names the known ones."""
    with pytest.raises(KeyError, match="known: price, positions"):
        schemas.path("nope")


async def test_published_values_validate(bus: MemoryBus) -> None:
    """Inputs, snapshots, alerts and dead letters of a run all match their schemas."""
    now = int(time.time() * 1000)
    swap = "okx:BTC-USDT-SWAP"
    inputs: list[Event] = [
        BalanceEvent("s", "cold", "BTC", 1.5, 1, 1),
        PositionEvent("s", "okx", swap, -75, 60_000, 10, "isolated", 4_500, 1, 1),
        FillEvent("s", "okx", swap, -75, 60_000, 2.25, 1, 1),
        PriceEvent(swap, 60_000, 59_990, 0.0001, 8, 2, now),
        PriceEvent("okx:BTC-USDT", 60_000, None, None, None, 2, now),
    ]
    validators = {name: jsonschema.Draft202012Validator(schemas.load(name)) for name in schemas.NAMES}
    for event in inputs:
        name = "price" if isinstance(event, PriceEvent) else "positions"
        validators[name].validate(orjson.loads(encode_event(event)))
    plans = {"BTC": HedgePlan("BTC", swap, expiry_ms=10, cost_budget_usd=100)}
    engine = RiskEngine(default_catalog(), lambda _: PortfolioSettings(plans=plans),
                        lambda _: AlertEngine(AlertsConfig()))
    processor = Processor(bus, engine, ProcessorSettings(fetch_timeout_ms=10))
    stop = asyncio.Event()
    task = asyncio.create_task(processor.run(stop))
    for event in inputs:
        topic = TOPICS.prices if isinstance(event, PriceEvent) else TOPICS.positions
        bus.append(topic, event_key(event), encode_event(event))
    bus.append(TOPICS.positions, b"s", b"garbage")
    try:
        await eventually(lambda: bus.records(TOPICS.alerts) and bus.records(TOPICS.dlq), 5.0)
    finally:
        stop.set()
        await task
    risk = [orjson.loads(r.value) for r in bus.records(TOPICS.risk)]
    alerts = [orjson.loads(r.value) for r in bus.records(TOPICS.alerts)]
    letters = [orjson.loads(r.value) for r in bus.records(TOPICS.dlq)]
    assert risk
    assert alerts
    assert letters
    for value in risk:
        validators["risk"].validate(value)
    for value in alerts:
        validators["alert"].validate(value)
    for value in letters:
        validators["dead_letter"].validate(value)
