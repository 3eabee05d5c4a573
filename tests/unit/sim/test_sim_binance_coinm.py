"""Simulated Binance COIN-M: its dapi/dstream wire output read by the real COIN-M venue module."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect

from monitor.domain.events import BalanceEvent, PositionEvent, PriceEvent
from monitor.ingest.http import UrllibTransport
from monitor.sim.server import SimulatorServer
from monitor.sim.venues.base import RestRequest
from monitor.sim.venues.binance_coinm import BinanceCoinmSim
from monitor.venues.base import AccountContext, HttpRequest
from monitor.venues.binance_coinm import BinanceCoinm

TIMEOUT_S = 5.0
ACCOUNT = "coinm-main"


def _venue(sim: SimulatorServer, symbols: tuple[str, ...] = ("BTCUSD_PERP",)) -> BinanceCoinm:
    urls = sim.urls("binance-coinm")
    return BinanceCoinm(
        symbols=symbols, account=AccountContext(ACCOUNT, "main", sim.credentials("binance-coinm", ACCOUNT)),
        ws_base_url=urls.ws_base_url, rest_base_url=urls.rest_base_url,
    )


async def _http(request: HttpRequest) -> bytes:
    response = await UrllibTransport().send(request, TIMEOUT_S)
    assert response.status == 200, response.body
    return response.body


async def test_resync_reads_contracts_and_coin_wallets() -> None:
    """positionRisk and account answers read as -900 contracts @ 60,000 (cross, 10x) and 0.5 BTC."""
    async with SimulatorServer(seed=3) as sim:
        await sim.set_price("binance-coinm", "BTCUSD_PERP", 60_000.0)
        await sim.set_balance("binance-coinm", ACCOUNT, "BTC", 0.5)
        await sim.set_position("binance-coinm", ACCOUNT, "BTCUSD_PERP", -900.0, 60_000.0, leverage=10.0)
        venue = _venue(sim)
        events = [event for request in venue.resync_requests(sim.world.now_ms())
                  for event in venue.parse_resync(request, await _http(request), 1)]
    positions = [e for e in events if isinstance(e, PositionEvent) and e.quantity != 0]
    assert [(p.instrument, p.quantity, p.entry_price, p.margin_mode, p.leverage) for p in positions] == [
        ("binance-coinm:BTCUSD_PERP", -900.0, 60_000.0, "cross", 10.0)]
    balances = [e for e in events if isinstance(e, BalanceEvent)]
    assert [(b.asset, b.quantity, b.cross_wallet) for b in balances] == [("BTC", 0.5, 0.5)]


async def test_market_and_user_streams_reach_the_venue_module() -> None:
    """``/stream?streams=`` pushes the perpetual's mark; ``/ws/<listenKey>`` pushes ACCOUNT_UPDATE."""
    async with SimulatorServer(seed=3, heartbeat_s=0.1) as sim:
        await sim.set_price("binance-coinm", "BTCUSD_PERP", 61_000.0, funding_rate=0.0001)
        venue = _venue(sim)
        market = venue.connect_plan("market", 0, None)
        async with connect(market.url) as websocket:
            frame = await asyncio.wait_for(websocket.recv(), TIMEOUT_S)
        (price,) = venue.parse("market", frame, 1).events
        assert isinstance(price, PriceEvent)
        assert (price.instrument, price.mark, price.funding_rate) == (
            "binance-coinm:BTCUSD_PERP", 61_000.0, 0.0001)
        setup = venue.stream_setup("private", 0)
        assert setup is not None
        plan = venue.connect_plan("private", 0, await _http(setup))
        async with connect(plan.url) as websocket:
            await sim.set_position("binance-coinm", ACCOUNT, "BTCUSD_PERP", -600.0, 61_000.0)
            frame = await asyncio.wait_for(websocket.recv(), TIMEOUT_S)
        positions = [e for e in venue.parse("private", frame, 1).events if isinstance(e, PositionEvent)]
        assert [(p.quantity, p.entry_price) for p in positions] == [(-600.0, 61_000.0)]


async def test_delivery_symbol_marks_carry_no_funding_and_unknown_keys_are_refused() -> None:
    """A quarterly's markPriceUpdate has ``r`` "" and ``T`` 0; ``/ws/<unknown key>`` is HTTP 400."""
    async with SimulatorServer(seed=3) as sim:
        await sim.set_price("binance-coinm", "BTCUSD_261225", 62_000.0, funding_rate=0.0001)
        writer = sim.venues["binance-coinm"]
        assert isinstance(writer, BinanceCoinmSim)
        quote = sim.quote("binance-coinm", "BTCUSD_261225")
        assert quote is not None
        payload = writer.mark_price_payload("BTCUSD_261225", quote, 1)
        assert (payload["r"], payload["T"]) == ("", 0)
        rejected = writer.accept("/ws/notakey", "")
        assert getattr(rejected, "status", None) == 400


@pytest.mark.parametrize("path", ["/dapi/v1/positionRisk", "/dapi/v1/account", "/dapi/v2/leverageBracket"])
async def test_signed_paths_refuse_a_missing_api_key(path: str) -> None:
    """Every signed dapi path answers Binance's -2014 without an API key."""
    async with SimulatorServer(seed=3) as sim:
        writer = sim.venues["binance-coinm"]
        answer = writer.rest(RestRequest("GET", path, "timestamp=1", {}))
    assert answer.status == 401
    assert b"-2014" in answer.body
