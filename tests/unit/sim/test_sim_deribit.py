"""Simulated Deribit: its JSON-RPC and REST output read by the real Deribit venue module, and its checks."""

from __future__ import annotations

import asyncio
import json
import math

import pytest
from websockets.asyncio.client import ClientConnection, connect

from monitor.domain.events import BalanceEvent, Event, PositionEvent, PriceEvent
from monitor.ingest.http import UrllibTransport
from monitor.secrets import Secret
from monitor.sim.margin import ContractTerms, DeribitRule, LegState, RiskUnit
from monitor.sim.server import SimulatorServer
from monitor.sim.terms import DERIBIT_MAINTENANCE
from monitor.sim.venues.deribit import DeribitSim
from monitor.venues.base import AccountContext, Credentials, HttpRequest
from monitor.venues.deribit import Deribit

TIMEOUT_S = 5.0
ACCOUNT = "deribit-main"


def _venue(sim: SimulatorServer, credentials: Credentials | None = None) -> Deribit:
    urls = sim.urls("deribit")
    context = AccountContext(ACCOUNT, "main", credentials or sim.credentials("deribit", ACCOUNT))
    return Deribit(symbols=["BTC-PERPETUAL"], account=context, ws_base_url=urls.ws_base_url,
                   rest_base_url=urls.rest_base_url)


def _writer(sim: SimulatorServer) -> DeribitSim:
    writer = sim.venues["deribit"]
    assert isinstance(writer, DeribitSim)
    return writer


async def _recv(websocket: ClientConnection) -> str:
    frame = await asyncio.wait_for(websocket.recv(), TIMEOUT_S)
    assert isinstance(frame, str)
    return frame


async def _hedge(sim: SimulatorServer) -> None:
    await sim.set_price("deribit", "BTC-PERPETUAL", 60_000.0, index=59_990.0, funding_rate=0.0001)
    await sim.set_balance("deribit", ACCOUNT, "BTC", 0.5)
    await sim.set_position("deribit", ACCOUNT, "BTC-PERPETUAL", -6_000.0, 60_000.0, leverage=10.0)


async def test_resync_over_signed_http_reads_the_net_short_and_the_wallet() -> None:
    """get_positions and get_account_summary answer the signed GETs: -6,000 contracts, 0.5 BTC."""
    async with SimulatorServer(seed=5) as sim:
        await _hedge(sim)
        venue = _venue(sim)
        events: list[Event] = []
        for request in venue.resync_requests(sim.world.now_ms()):
            response = await UrllibTransport().send(request, TIMEOUT_S)
            assert response.status == 200, response.body
            events.extend(venue.parse_resync(request, response.body, 1))
    positions = [e for e in events if isinstance(e, PositionEvent) and e.quantity != 0]
    assert [(p.instrument, p.quantity, p.margin_mode, p.leverage) for p in positions] == [
        ("deribit:BTC-PERPETUAL", -6_000.0, "cross", 10.0)]
    assert positions[0].entry_price == pytest.approx(60_000.0, rel=1e-12)
    assert [(b.asset, b.quantity) for b in events if isinstance(b, BalanceEvent)] == [("BTC", 0.5)]


async def test_a_wrong_secret_is_refused_on_http_and_on_auth() -> None:
    """A signature made with another secret: HTTP 401 code 13009, and auth error 13004."""
    async with SimulatorServer(seed=5) as sim:
        good = sim.credentials("deribit", ACCOUNT)
        venue = _venue(sim, Credentials(good.api_key, Secret("wrong")))
        request: HttpRequest = venue.resync_requests(sim.world.now_ms())[0]
        response = await UrllibTransport().send(request, TIMEOUT_S)
        assert response.status == 401
        assert json.loads(response.body)["error"]["code"] == 13009
        plan = venue.connect_plan("private", sim.world.now_ms(), None)
        async with connect(plan.url) as websocket:
            await websocket.send(plan.on_open[0])
            parsed = venue.parse("private", await _recv(websocket), 1)
        assert parsed.reconnect_reason == "deribit: auth failed with code 13004"
        assert _writer(sim).auth_failures == 1


async def test_streams_push_tickers_portfolio_changes_and_test_requests() -> None:
    """Market: the ticker; private: auth, then the portfolio on subscribe and user.changes on a
    position change; a set heartbeat brings test_request, whose public/test answer is counted."""
    async with SimulatorServer(seed=5, heartbeat_s=0.1) as sim:
        await _hedge(sim)
        venue = _venue(sim)
        market = venue.connect_plan("market", sim.world.now_ms(), None)
        async with connect(market.url) as websocket:
            for frame in market.on_open:
                await websocket.send(frame)
            prices: list[PriceEvent] = []
            while not prices:
                parsed = venue.parse("market", await _recv(websocket), 1)
                for reply in parsed.replies:
                    await websocket.send(reply)
                prices.extend(e for e in parsed.events if isinstance(e, PriceEvent))
        assert (prices[0].mark, prices[0].index, prices[0].funding_rate) == (60_000.0, 59_990.0, 0.0001)
        private = venue.connect_plan("private", sim.world.now_ms(), None)
        async with connect(private.url) as websocket:
            for frame in private.on_open:
                await websocket.send(frame)
            seen: list[object] = []
            changed = False
            while not any(isinstance(e, PositionEvent) for e in seen) or _writer(sim).tests_answered < 1:
                parsed = venue.parse("private", await _recv(websocket), 1)
                for reply in parsed.replies:
                    await websocket.send(reply)
                seen.extend(parsed.events)
                if not changed and any(isinstance(e, BalanceEvent) for e in seen):
                    changed = True
                    await sim.set_position("deribit", ACCOUNT, "BTC-PERPETUAL", -5_000.0, 60_000.0)
        balances = [e for e in seen if isinstance(e, BalanceEvent)]
        assert balances[0].quantity == pytest.approx(0.5, abs=1e-12)
        positions = [e for e in seen if isinstance(e, PositionEvent)]
        assert positions[-1].quantity == -5_000.0


def test_the_simulator_rule_reproduces_deribits_examples() -> None:
    """``DeribitRule``: 25 BTC at 100,000 -> 1.125 % -> 0.28125 BTC; a 1 BTC short on 0.5 BTC
    liquidates at 1 / u with 180,000 u^2 - 59,400 u + 0.5 = 0 (118,796.97); on 1 BTC, never above."""
    rule = DeribitRule(lambda symbol: DERIBIT_MAINTENANCE.get(symbol.split("-", 1)[0]))
    terms = ContractTerms("inverse", 10.0, "BTC")
    big = LegState("BTC-PERPETUAL", "one_way", -250_000.0, 100_000.0, 10.0, "cross", 0.0, terms)
    assert rule.maintenance_margin(big, [big], 100_000.0) == pytest.approx(0.28125, rel=1e-12)
    short = LegState("BTC-PERPETUAL", "one_way", -6_000.0, 60_000.0, 10.0, "cross", 0.0, terms)
    u = (59_400 - math.sqrt(59_400**2 - 4 * 180_000 * 0.5)) / 360_000
    assert rule.liquidation_price(RiskUnit("BTC-PERPETUAL", (short,), 0.5)) == pytest.approx(1 / u, rel=1e-9)
    assert rule.liquidation_price(RiskUnit("BTC-PERPETUAL", (short,), 1.0)) is None
