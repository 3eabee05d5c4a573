"""The ingest's resync compare sees hedge legs apart: two legs of one symbol are no mismatch."""

from __future__ import annotations

import asyncio
import json

import orjson

from monitor.bus.base import Topics
from monitor.domain.events import Event
from monitor.ingest.bus_sink import BusSink
from monitor.venues.binance_usdm import BinanceUsdm
from tests.unit.venues._support import RECEIVE_MS, account, fixture_text


class StoringProducer:
    """Keeps what it was sent; every flush succeeds."""

    def __init__(self) -> None:
        self.delivered: list[tuple[str, bytes | None, bytes]] = []

    def send(self, topic: str, key: bytes | None, value: bytes) -> None:
        self.delivered.append((topic, key, value))

    async def hand_off(self) -> None:
        return None

    async def flush(self) -> None:
        return None

    async def stop(self) -> None:
        return None


def _row(side: str, amount: str, entry: str, wallet: str) -> dict[str, object]:
    """A positionRisk row (documented field names) of an isolated BTCUSDT leg."""
    return {
        "symbol": "BTCUSDT", "positionSide": side, "positionAmt": amount, "entryPrice": entry,
        "marginType": "isolated", "isolatedWallet": wallet, "leverage": "10", "updateTime": 1,
    }


async def _mismatches(resync_rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """The mismatch values after the documented hedge ACCOUNT_UPDATE and a resync of ``rows``."""
    venue = BinanceUsdm(symbols=("BTCUSDT",), account=account())
    producer = StoringProducer()
    sink = BusSink(producer, Topics())
    stream: list[Event] = list(
        venue.parse("private", fixture_text("binance_usdm_ACCOUNT_UPDATE.json"), RECEIVE_MS).events)
    await sink.publish(stream)
    request = venue.resync_requests(RECEIVE_MS)[0]
    await sink.publish(
        list(venue.parse_resync(request, json.dumps(resync_rows).encode(), RECEIVE_MS)), resync=True)
    stop = asyncio.Event()
    stop.set()
    await sink.run(stop)
    values = [orjson.loads(value) for _, _, value in producer.delivered]
    return [value for value in values if value["type"] == "mismatch"]


async def test_agreeing_hedge_legs_raise_no_mismatch() -> None:
    """The stream's LONG 20 and SHORT -10 (documented example) and a resync with the same legs:
    no mismatch (compared per leg; by instrument alone the last stream leg, -10, would be
    compared with the LONG leg's 20)."""
    rows = [
        _row("BOTH", "0", "0", "0"),
        _row("LONG", "20", "6563.665", "13200.70726908"),
        _row("SHORT", "-10", "6563.86", "6570.42511771"),
    ]
    assert await _mismatches(rows) == []


async def test_a_differing_leg_is_the_one_mismatch() -> None:
    """A resync whose SHORT leg is -12 (the stream said -10) reports that leg alone."""
    rows = [
        _row("BOTH", "0", "0", "0"),
        _row("LONG", "20", "6563.665", "13200.70726908"),
        _row("SHORT", "-12", "6563.86", "6570.42511771"),
    ]
    (mismatch,) = await _mismatches(rows)
    assert (mismatch["subject"], mismatch["stream_quantity"], mismatch["resync_quantity"],
            mismatch["active"]) == ("binance:BTCUSDT", -10.0, -12.0, True)
