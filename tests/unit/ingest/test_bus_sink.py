"""The ingest's bus sink: nothing lost while the broker is away, prices conflated."""

from __future__ import annotations

import asyncio
import logging

import orjson
import pytest

from monitor.bus.base import BusUnavailableError, Topics
from monitor.domain.events import BalanceEvent, PositionEvent, PriceEvent
from monitor.ingest.bus_sink import BusSink
from tests.support import eventually

TOPICS = Topics()


class FlakyProducer:
    """Fails ``failures`` flushes with ``error`` (a broker outage), then stores what it was sent."""

    def __init__(self, failures: int, error: Exception | None = None) -> None:
        self.failures = failures
        self.error = error or BusUnavailableError("send: KafkaConnectionError: broker away")
        self.flushes = 0
        self.pending: list[tuple[str, bytes | None, bytes]] = []
        self.delivered: list[tuple[str, bytes | None, bytes]] = []

    def send(self, topic: str, key: bytes | None, value: bytes) -> None:
        self.pending.append((topic, key, value))

    async def hand_off(self) -> None:
        return None

    async def flush(self) -> None:
        pending, self.pending = self.pending, []
        self.flushes += 1
        if self.failures > 0:
            self.failures -= 1
            raise self.error
        self.delivered.extend(pending)

    async def stop(self) -> None:
        await self.flush()


def _balance(quantity: float, ts: int) -> BalanceEvent:
    return BalanceEvent("p", "a", "BTC", quantity, ts, ts)


def _price(mark: float, ts: int) -> PriceEvent:
    return PriceEvent("okx:BTC-USDT-SWAP", mark, None, None, None, ts, ts)


async def test_outage_keeps_every_account_event_and_conflates_prices() -> None:
    """Three failed flushes: all 50 balances arrive in order, only the latest price is sent."""
    producer = FlakyProducer(failures=3)
    sink = BusSink(producer, TOPICS, retry_backoff_s=0.001)
    stop = asyncio.Event()
    runner = asyncio.create_task(sink.run(stop))
    for index in range(50):
        await sink.publish([_balance(float(index), index), _price(60_000 + index, index)])
    stop.set()
    await asyncio.wait_for(runner, 5)
    balances = [orjson.loads(v)["quantity"] for t, _, v in producer.delivered if t == TOPICS.positions]
    assert balances == [float(i) for i in range(50)]
    marks = [orjson.loads(v)["mark"] for t, _, v in producer.delivered if t == TOPICS.prices]
    assert marks[-1] == 60_049
    assert len(marks) < 50
    assert sink.buffered == 0


async def test_an_error_that_is_not_the_bus_is_raised_not_retried(caplog: pytest.LogCaptureFixture) -> None:
    """A bug under flush (not a BusError) ends the sink at once instead of passing for an outage."""
    producer = FlakyProducer(failures=1, error=KeyError("a bug in a codec"))
    sink = BusSink(producer, TOPICS, retry_backoff_s=0.001)
    await sink.publish([_balance(1.0, 1)])
    with pytest.raises(KeyError, match="a bug in a codec"):
        await asyncio.wait_for(sink.run(asyncio.Event()), 5)
    assert producer.flushes == 1
    assert sink.buffered == 1
    assert "broker unavailable" not in caplog.text


async def test_an_outage_is_logged_with_the_bus_error(caplog: pytest.LogCaptureFixture) -> None:
    """The outage warning names the failed call and aiokafka's error; the retry drains the buffer."""
    caplog.set_level(logging.WARNING, logger="monitor.ingest.bus_sink")
    producer = FlakyProducer(failures=1)
    sink = BusSink(producer, TOPICS, retry_backoff_s=0.001)
    await sink.publish([_balance(1.0, 1)])
    stop = asyncio.Event()
    stop.set()
    await asyncio.wait_for(sink.run(stop), 5)
    assert "broker unavailable (send: KafkaConnectionError: broker away); buffering 1 events" in caplog.text
    assert producer.flushes == 2
    assert sink.buffered == 0


async def test_full_buffer_applies_backpressure_instead_of_dropping() -> None:
    """With room for 2 account events, a third publish waits until the broker takes them."""
    producer = FlakyProducer(failures=0)
    sink = BusSink(producer, TOPICS, max_buffered_account_events=2)
    await sink.publish([_balance(1, 1), _balance(2, 2)])
    blocked = asyncio.create_task(sink.publish([_balance(3, 3)]))
    await eventually(lambda: sink.waiting_publishers == 1)
    assert not blocked.done()
    stop = asyncio.Event()
    runner = asyncio.create_task(sink.run(stop))
    await asyncio.wait_for(blocked, 5)
    stop.set()
    await asyncio.wait_for(runner, 5)
    assert [orjson.loads(v)["quantity"] for _, _, v in producer.delivered] == [1, 2, 3]


async def test_dead_letters_reach_the_dlq_topic() -> None:
    """A dead letter carries the venue, the reason and the raw frame."""
    producer = FlakyProducer(failures=0)
    sink = BusSink(producer, TOPICS)
    await sink.dead_letter("okx", "not JSON", b"{oops")
    stop = asyncio.Event()
    stop.set()
    await sink.run(stop)
    topic, key, value = producer.delivered[0]
    letter = orjson.loads(value)
    assert (topic, key) == (TOPICS.dlq, b"okx")
    assert (letter["source"], letter["reason"], letter["raw"]) == ("okx", "not JSON", "{oops")


def _position(quantity: float, ts: int) -> PositionEvent:
    return PositionEvent("p", "a", "binance:BTCUSDT", quantity, 60_000.0, None, "cross", None, ts, ts)


async def test_resync_that_differs_from_the_stream_reports_a_mismatch() -> None:
    """Stream said -1.0, the resync finds -1.5: an active mismatch; a later agreeing resync clears it."""
    producer = FlakyProducer(failures=0)
    sink = BusSink(producer, TOPICS)
    await sink.publish([_position(-1.0, 1)])
    await sink.publish([_position(-1.5, 2)], resync=True)
    await sink.publish([_position(-1.5, 3)], resync=True)
    await sink.publish([_position(-1.5, 4)], resync=True)
    stop = asyncio.Event()
    stop.set()
    await sink.run(stop)
    values = [orjson.loads(v) for _, _, v in producer.delivered]
    mismatches = [v for v in values if v["type"] == "mismatch"]
    # one firing (-1.0 -> -1.5), one clearing (agrees again), then nothing more
    assert [(m["active"], m["stream_quantity"], m["resync_quantity"]) for m in mismatches] == [
        (True, -1.0, -1.5), (False, -1.5, -1.5)]
    assert sink.mismatches == 1
    assert [v["quantity"] for v in values if v["type"] == "position"] == [-1.0, -1.5, -1.5, -1.5]
