"""Simulated Hyperliquid: its margin rule on the docs' example, and its wire read by the real venue module."""

from __future__ import annotations

import asyncio
import json
import math

import pytest
from websockets.asyncio.client import ClientConnection, connect

from monitor.domain.events import BalanceEvent, Event, FillEvent, PositionEvent, PriceEvent
from monitor.ingest.http import UrllibTransport
from monitor.sim.margin import ContractTerms, HyperliquidRule, LegState, RiskUnit
from monitor.sim.server import SimulatorServer
from monitor.sim.terms import hyperliquid_margin_tiers
from monitor.venues.base import AccountContext, FrameKind
from monitor.venues.hyperliquid import Hyperliquid

TIMEOUT_S = 5.0
ACCOUNT = "hl-main"
USDC = ContractTerms("linear", 1.0, "USDC", 0.00045)


def test_the_rule_gives_the_docs_liquidation_price() -> None:
    """Docs info example: isolated long 0.0335 ETH @2986.3 at max leverage 50, isolated margin 4.981226.

    liq = price - side x margin_available / size / (1 - l x side) at price = entry 2986.3:
    l = 1 / (2 x 50) = 0.01; MM = 0.0335 x 2986.3 x 0.01 = 1.0004105; margin_available = 4.981226 -
    1.0004105 = 3.9808155; liq = 2986.3 - 3.9808155 / 0.0335 / 0.99 = 2986.3 - 120.0306... = 2866.26938
    (docs liquidationPx 2866.26936529; its inputs are rounded to 6 decimals, +/- 0.000015).
    """
    rule = HyperliquidRule(lambda _symbol: hyperliquid_margin_tiers([(0, math.inf, 50)]))
    leg = LegState("ETH", "one_way", 0.0335, 2986.3, 20.0, "isolated", 4.981226, USDC)
    liquidation = rule.liquidation_price(RiskUnit("ETH", (leg,), 4.981226))
    assert liquidation == pytest.approx(2866.26936529, abs=1.6e-5)
    assert rule.maintenance_margin(leg, (leg,), 2985.9) == pytest.approx(1.0002765)  # 100.02765 x 1 %


def test_margin_tiers_rates_and_deductions_follow_the_docs() -> None:
    """BTC 0-150M at 40x, above at 20x: rates 1.25 % and 2.5 %, deduction 150M x 1.25 % = 1,875,000."""
    low, high = hyperliquid_margin_tiers([(0, 150_000_000, 40), (150_000_000, math.inf, 20)])
    assert (low.mmr, low.cum) == (0.0125, 0.0)
    assert high.mmr == 0.025
    assert high.cum == pytest.approx(1_875_000.0)


def test_the_rule_takes_the_tier_of_the_liquidation_notional() -> None:
    """A short whose liquidation notional crosses 150M uses the 20x tier's rate and deduction.

    Short 3,000 BTC @50,000 (150M at entry, tier 1), isolated 7,500,000 USDC. Tier 2 (l = 2.5 %,
    d = 1,875,000): W - q(P - EP) = q P l - d -> P = (W + d + q EP) / (q (1 + l))
    = (7,500,000 + 1,875,000 + 150,000,000) / (3,000 x 1.025) = 159,375,000 / 3,075 = 51,829.27,
    notional 155.5M: in tier 2.
    """
    rule = HyperliquidRule(lambda _symbol: hyperliquid_margin_tiers(
        [(0, 150_000_000, 40), (150_000_000, math.inf, 20)]))
    leg = LegState("BTC", "one_way", -3_000.0, 50_000.0, 20.0, "isolated", 7_500_000.0, USDC)
    assert rule.liquidation_price(RiskUnit("BTC", (leg,), 7_500_000.0)) == pytest.approx(159_375_000 / 3_075)


async def _recv(websocket: ClientConnection) -> str | bytes:
    return await asyncio.wait_for(websocket.recv(), TIMEOUT_S)


async def _events(venue: Hyperliquid, stream: str, websocket: ClientConnection, count: int) -> list[Event]:
    """The events of the next frames until ``count`` data frames were read."""
    events: list[Event] = []
    seen = 0
    while seen < count:
        parsed = venue.parse(stream, await _recv(websocket), 1)
        if parsed.kind is FrameKind.DATA:
            seen += 1
            events.extend(parsed.events)
    return events


async def test_the_venue_module_reads_the_simulated_wire(sim: SimulatorServer) -> None:
    """Subscriptions, asset contexts, the user state, a fill and the REST resync, end to end."""
    address = sim.address("hyperliquid", ACCOUNT)
    await sim.set_price("hyperliquid", "BTC", 60_000.0, index=60_010.0, funding_rate=0.0000125)
    await sim.set_balance("hyperliquid", ACCOUNT, "USDC", 20_000.0)
    await sim.set_position("hyperliquid", ACCOUNT, "BTC", -0.5, 61_000.0, leverage=10.0)
    urls = sim.urls("hyperliquid")
    venue = Hyperliquid(symbols=["BTC"], account=AccountContext(ACCOUNT, "main", address=address),
                        ws_base_url=urls.ws_base_url, rest_base_url=urls.rest_base_url)
    market_plan = venue.connect_plan("market", 0, None)
    async with connect(market_plan.url) as market:
        await market.send(market_plan.on_open[0])
        (price,) = await _events(venue, "market", market, 1)
        assert price == PriceEvent("hyperliquid:BTC", 60_000.0, 60_010.0, 0.0000125, 3_600_000, 1, 1)
        assert market_plan.ping_frame is not None
        await market.send(market_plan.ping_frame)
        assert venue.parse("market", await _recv(market), 1).kind is FrameKind.PONG
    private_plan = venue.connect_plan("private", 0, None)
    async with connect(private_plan.url) as private:
        for frame in private_plan.on_open:
            await private.send(frame)
        events = await _events(venue, "private", private, 1)
        short = next(e for e in events if isinstance(e, PositionEvent) and e.position_side == "one_way")
        assert (short.instrument, short.quantity, short.entry_price, short.margin_mode) == (
            "hyperliquid:BTC", -0.5, 61_000.0, "cross")
        (balance,) = [e for e in events if isinstance(e, BalanceEvent)]
        assert (balance.asset, balance.quantity, balance.cross_wallet) == ("USDC", 20_000.0, 20_000.0)
        while venue.parse("private", await _recv(private), 1).kind is not FrameKind.IGNORED:
            pass  # up to the fill history (isSnapshot), which carries no event
        await sim.fill("hyperliquid", ACCOUNT, "BTC", 0.1, 60_000.0)
        fills: list[FillEvent] = []
        while not fills:
            parsed = venue.parse("private", await _recv(private), 1)
            fills = [e for e in parsed.events if isinstance(e, FillEvent)]
        assert (fills[0].instrument, fills[0].quantity, fills[0].price) == ("hyperliquid:BTC", 0.1, 60_000.0)
    (request,) = venue.resync_requests(0)
    response = await UrllibTransport().send(request, TIMEOUT_S)
    assert response.status == 200, response.body
    state = json.loads(response.body)
    assert state["assetPositions"][0]["position"]["szi"] == "-0.4"
    resynced = venue.parse_resync(request, response.body, 1)
    assert any(isinstance(e, PositionEvent) and e.quantity == -0.4 for e in resynced)


async def test_an_unknown_address_is_an_empty_account(sim: SimulatorServer) -> None:
    """Hyperliquid answers any address; one the simulator does not know holds nothing."""
    venue = Hyperliquid(symbols=[], account=AccountContext("x", "main", address="0x" + "ab" * 20),
                        rest_base_url=sim.rest_url("hyperliquid"))
    (request,) = venue.resync_requests(0)
    response = await UrllibTransport().send(request, TIMEOUT_S)
    state = json.loads(response.body)
    assert state["assetPositions"] == []
    assert state["marginSummary"]["accountValue"] == "0"
