"""Simulator -> real venue modules -> connection supervisor -> sink, with faults on cue.

No Kafka: the sink is the in-memory CollectingSink. Simulator time is compressed (scenario speed)
and the venues' heartbeat rules are scaled down (SupervisorSettings.time_scale) so every test runs
in seconds.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import pytest

from monitor.domain.events import BalanceEvent, Event, PositionEvent, PriceEvent
from monitor.ingest.http import UrllibTransport
from monitor.ingest.runner import VenueRunner
from monitor.ingest.sink import CollectingSink
from monitor.ingest.supervisor import SupervisorSettings
from monitor.sim.scenario import load_scenario
from monitor.sim.server import SimulatorServer, scenario_venues
from monitor.venues.base import AccountContext, Venue
from monitor.venues.binance_spot import BinanceSpot
from monitor.venues.binance_usdm import BinanceUsdm
from monitor.venues.okx import Okx
from tests.support import eventually

pytestmark = pytest.mark.integration

TIMEOUT_S = 10.0
FAST = SupervisorSettings(backoff_base_s=0.05, backoff_cap_s=0.3, close_timeout_s=0.5)


def _okx(sim: SimulatorServer, account: str = "okx-main") -> Okx:
    return Okx(
        symbols=["BTC-USDT-SWAP"],
        account=AccountContext(account, "main", sim.credentials("okx", account)),
        ws_base_url=sim.ws_url("okx"),
        rest_base_url=sim.rest_url("okx"),
    )


def _binance(sim: SimulatorServer, account: str = "binance-main") -> BinanceUsdm:
    return BinanceUsdm(
        symbols=["BTCUSDT"],
        account=AccountContext(account, "main", sim.credentials("binance", account)),
        ws_base_url=sim.ws_url("binance"),
        rest_base_url=sim.rest_url("binance"),
    )


def _binance_spot(sim: SimulatorServer, account: str = "spot-main") -> BinanceSpot:
    return BinanceSpot(
        symbols=["BTCUSDT"],
        account=AccountContext(account, "main", sim.credentials("binance-spot", account)),
        ws_base_url=sim.ws_url("binance-spot"),
        ws_api_url=f"{sim.ws_url('binance-spot')}/ws-api/v3",
        rest_base_url=sim.rest_url("binance-spot"),
    )


@asynccontextmanager
async def ingesting(
    venues: Sequence[Venue], settings: SupervisorSettings = FAST
) -> AsyncIterator[tuple[CollectingSink, VenueRunner]]:
    """Run supervisors for the venues into a CollectingSink; cancel them on exit."""
    sink = CollectingSink()
    runner = VenueRunner(venues, sink, UrllibTransport(), settings, seed=1)
    task = asyncio.create_task(runner.run())
    try:
        yield sink, runner
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def _positions(events: Sequence[Event], instrument: str) -> list[PositionEvent]:
    return [e for e in events if isinstance(e, PositionEvent) and e.instrument == instrument]


def _prices(events: Sequence[Event], instrument: str) -> list[PriceEvent]:
    return [e for e in events if isinstance(e, PriceEvent) and e.instrument == instrument]


async def test_seed_drop_scenario_reaches_the_sink_as_canonical_events() -> None:
    """The seed-drop hedge arrives as balance, position and price events that follow the path."""
    scenario = dataclasses.replace(load_scenario("seed-drop"), duration_s=150.0)
    async with SimulatorServer(seed=7, heartbeat_s=0.2) as sim:
        await sim.load_accounts(scenario)
        async with ingesting([_binance_spot(sim), _okx(sim)]) as (sink, runner):
            await eventually(lambda: all(s.resyncs >= 1 for s in runner.supervisors))
            await sim.run_scenario(scenario, speed=150.0, load_accounts=False)
            final = sim.quote("okx", "BTC-USDT-SWAP")
            assert final is not None
            # markPx is sent with 2 decimals
            await sink.wait_for(
                lambda: any(
                    abs(p.mark - final.mark) <= 0.005 for p in _prices(sink.events, "okx:BTC-USDT-SWAP")
                ),
                TIMEOUT_S,
            )
        spot = sim.quote("binance-spot", "BTCUSDT")
    assert spot is not None
    balances = [e for e in sink.events if isinstance(e, BalanceEvent) and e.account == "spot-main"]
    assert ("BTC", 1.5) in {(b.asset, b.quantity) for b in balances}
    shorts = _positions(sink.events, "okx:BTC-USDT-SWAP")
    assert shorts
    assert {(p.quantity, p.entry_price) for p in shorts} == {(-150.0, 60000.0)}
    okx_marks = [p.mark for p in _prices(sink.events, "okx:BTC-USDT-SWAP")]
    # 150 s of the path: +1 % over 120 s, then the fall begins (-10 % over 180 s from ~60600)
    assert max(okx_marks) == pytest.approx(60600 * 1.0003, rel=0.01)
    assert len(set(okx_marks)) > 50
    spot_marks = [p.mark for p in _prices(sink.events, "binance-spot:BTCUSDT")]
    # the spot mid (bid + ask) / 2 is the simulator's price
    assert spot_marks[-1] == pytest.approx(spot.mark, abs=0.01)
    assert sink.dead_letters == []


async def test_feed_reconnects_after_a_forced_drop() -> None:
    """A TCP reset is followed by a reconnect, a resync and fresh prices."""
    async with SimulatorServer(seed=2, heartbeat_s=0.2) as sim:
        await sim.set_price("okx", "BTC-USDT-SWAP", 60000.0, funding_rate=0.0001)
        await sim.set_position("okx", "okx-main", "BTC-USDT-SWAP", -150.0, 60000.0)
        async with ingesting([_okx(sim)]) as (sink, runner):
            market = runner.supervisor("okx", "market")
            private = runner.supervisor("okx", "private")
            await eventually(lambda: market.connects == 1 and private.resyncs >= 1)
            assert await sim.drop_connections("okx") == 2
            await eventually(lambda: market.connects == 2 and private.connects == 2)
            await eventually(lambda: private.resyncs >= 2)
            await sim.set_price("okx", "BTC-USDT-SWAP", 61234.5)
            await sink.wait_for(
                lambda: any(p.mark == 61234.5 for p in _prices(sink.events, "okx:BTC-USDT-SWAP")),
                TIMEOUT_S,
            )
    assert market.reconnects == 1
    assert "reconnecting" in sink.statuses_of("okx", "market")
    assert market.last_outcome is not None
    assert market.last_outcome.reason == "connection lost (no close frame)"


async def test_silent_feed_is_detected_as_stale_and_recovers() -> None:
    """A venue that keeps its socket open but sends nothing is marked stale and reconnected."""
    # OKX plan: ping every 15 s, stale after 40 s; scaled by 0.02 -> ping 0.3 s, stale 0.8 s
    settings = dataclasses.replace(FAST, time_scale=0.02)
    async with SimulatorServer(seed=3, heartbeat_s=0.1) as sim:
        await sim.set_price("okx", "BTC-USDT-SWAP", 60000.0, funding_rate=0.0001)
        okx = Okx(symbols=["BTC-USDT-SWAP"], ws_base_url=sim.ws_url("okx"))
        async with ingesting([okx], settings) as (sink, runner):
            market = runner.supervisor("okx", "market")
            await eventually(lambda: market.frames > 3)
            await sim.silence("okx", 1.5)
            await eventually(lambda: market.stale_count >= 1)
            await eventually(lambda: not sim.venues["okx"].silenced())
            await sim.set_price("okx", "BTC-USDT-SWAP", 60777.0)
            await sink.wait_for(
                lambda: any(p.mark == 60777.0 for p in _prices(sink.events, "okx:BTC-USDT-SWAP")),
                TIMEOUT_S,
            )
    statuses = sink.statuses_of("okx", "market")
    stale_at = statuses.index("stale")
    assert statuses[stale_at + 1] == "reconnecting"
    assert "connected" in statuses[stale_at + 1 :]


async def test_resync_corrects_a_position_changed_while_disconnected() -> None:
    """A position changed while no client is connected is corrected by the REST resync."""
    async with SimulatorServer(seed=4, heartbeat_s=0.2) as sim:
        await sim.set_price("okx", "BTC-USDT-SWAP", 60000.0, funding_rate=0.0001)
        await sim.set_position("okx", "okx-main", "BTC-USDT-SWAP", -150.0, 60000.0)
        async with ingesting([_okx(sim)]) as (sink, runner):
            private = runner.supervisor("okx", "private")
            await sink.wait_for(lambda: bool(_positions(sink.events, "okx:BTC-USDT-SWAP")), TIMEOUT_S)
            await sim.change_while_disconnected(
                "okx", "okx-main", "BTC-USDT-SWAP", -140.0, 60000.0, offline_s=0.3
            )
            await sink.wait_for(
                lambda: _positions(sink.events, "okx:BTC-USDT-SWAP")[-1].quantity == -140.0,
                TIMEOUT_S,
            )
            # the market stream's resync may deliver the correction first: wait for the private one
            await eventually(lambda: private.connects >= 2)
    assert private.connects >= 2
    quantities = [p.quantity for p in _positions(sink.events, "okx:BTC-USDT-SWAP")]
    assert quantities[0] == -150.0
    assert quantities[-1] == -140.0


async def test_malformed_frame_is_dead_lettered_and_the_feed_continues() -> None:
    """An unparseable frame reaches dead_letter with the venue as source; later frames still parse."""
    async with SimulatorServer(seed=5, heartbeat_s=0.2) as sim:
        await sim.set_price("okx", "BTC-USDT-SWAP", 60000.0, funding_rate=0.0001)
        okx = Okx(symbols=["BTC-USDT-SWAP"], ws_base_url=sim.ws_url("okx"))
        async with ingesting([okx]) as (sink, runner):
            market = runner.supervisor("okx", "market")
            await eventually(lambda: market.frames > 1)
            assert await sim.send_malformed("okx", "market") == 1
            await sink.wait_for(lambda: bool(sink.dead_letters), TIMEOUT_S)
            await sim.set_price("okx", "BTC-USDT-SWAP", 60321.0)
            await sink.wait_for(
                lambda: any(p.mark == 60321.0 for p in _prices(sink.events, "okx:BTC-USDT-SWAP")),
                TIMEOUT_S,
            )
    (letter,) = sink.dead_letters
    assert letter.source == "okx"
    assert letter.raw.startswith(b'{"arg":{"channel":"mark-price"')
    assert market.connects == 1
    assert market.dead_letters == 1


async def test_listen_key_expiry_gets_a_new_key_and_the_feed_continues() -> None:
    """listenKeyExpired -> reconnect with a freshly created key; account updates keep flowing."""
    async with SimulatorServer(seed=6, heartbeat_s=0.2) as sim:
        await sim.set_price("binance", "BTCUSDT", 60000.0, funding_rate=0.0001)
        await sim.set_position("binance", "binance-main", "BTCUSDT", -1.0, 60000.0)
        await sim.set_balance("binance", "binance-main", "USDT", 10000.0)
        async with ingesting([_binance(sim)]) as (sink, runner):
            private = runner.supervisor("binance", "private")
            await eventually(lambda: private.connects == 1 and private.resyncs >= 1)
            binance = sim.venues["binance"]
            first_keys = set(getattr(binance, "listen_keys", {}))
            assert await sim.expire_listen_key("binance-main") == 1
            await eventually(lambda: private.connects == 2)
            await sim.fill("binance", "binance-main", "BTCUSDT", -0.5, 59000.0, fee=2.0)
            await sink.wait_for(
                lambda: any(p.quantity == -1.5 for p in _positions(sink.events, "binance:BTCUSDT")),
                TIMEOUT_S,
            )
            new_keys = set(getattr(binance, "listen_keys", {})) - first_keys
    assert len(new_keys) == 1
    assert private.last_outcome is not None
    assert private.last_outcome.reason == "listenKeyExpired"
    assert private.last_outcome.planned is True
    # (1 * 60000 + 0.5 * 59000) / 1.5 = 59666.67
    latest = _positions(sink.events, "binance:BTCUSDT")[-1]
    assert latest.entry_price == pytest.approx(59666.67, abs=0.01)
    assert sink.dead_letters == []


async def test_multi_venue_scenario_survives_key_expiry_and_a_drop() -> None:
    """All seven venues from scenario_venues; listenKey expiry, a Bybit and a Hyperliquid drop lose
    nothing."""
    scenario = load_scenario("multi-venue")
    async with SimulatorServer(seed=3, heartbeat_s=0.2) as sim:
        await sim.load_accounts(scenario)
        venues = scenario_venues(sim, scenario)
        assert sorted(v.name for v in venues) == [
            "binance", "binance-coinm", "binance-spot", "bybit", "deribit", "hyperliquid", "okx"]
        async with ingesting(venues) as (sink, runner):
            await eventually(lambda: all(s.resyncs >= 1 for s in runner.supervisors))
            await sim.run_scenario(scenario, speed=150.0, load_accounts=False)
            await sink.wait_for(
                lambda: any(p.quantity == -1.2 for p in _positions(sink.events, "binance:BTCUSDT")),
                TIMEOUT_S,
            )
            await eventually(lambda: runner.supervisor("bybit", "private").resyncs >= 2)
            await eventually(lambda: runner.supervisor("hyperliquid", "private").resyncs >= 2)
    # (the one-way legs: a first snapshot also reports a configured symbol's long and short legs flat)
    instruments = ("okx:BTC-USDT-SWAP", "binance:BTCUSDT", "bybit:BTCUSDT", "hyperliquid:BTC",
                   "binance-coinm:BTCUSD_PERP", "deribit:BTC-PERPETUAL")
    latest = {
        instrument: [p for p in _positions(sink.events, instrument) if p.position_side == "one_way"][-1]
        .quantity for instrument in instruments
    }
    # -1 BTC - 0.2 BTC filled at 200 s = -1.2; COIN-M 600 contracts of 100 USD short; Deribit
    # 6,000 contracts of 10 USD short
    assert latest == {"okx:BTC-USDT-SWAP": -100.0, "binance:BTCUSDT": -1.2, "bybit:BTCUSDT": -1.0,
                      "hyperliquid:BTC": -0.5, "binance-coinm:BTCUSD_PERP": -600.0,
                      "deribit:BTC-PERPETUAL": -6000.0}
    spot = [e for e in sink.events if isinstance(e, BalanceEvent) and e.asset == "BTC"
            and e.account == "spot-main"]
    assert spot[-1].quantity == 3.5
    coin_wallet = [e for e in sink.events if isinstance(e, BalanceEvent) and e.asset == "BTC"
                   and e.account == "coinm-main"]
    assert coin_wallet[-1].quantity == 1.0
    deribit_wallet = [e for e in sink.events if isinstance(e, BalanceEvent) and e.asset == "BTC"
                      and e.account == "deribit-main"]
    assert deribit_wallet[-1].quantity == pytest.approx(1.0, abs=1e-12)
    usdc = [e for e in sink.events if isinstance(e, BalanceEvent) and e.asset == "USDC"]
    assert usdc[-1].quantity == 7500.0  # the Hyperliquid wallet without its unrealised PnL
    binance_private = runner.supervisor("binance", "private")
    assert binance_private.connects >= 2  # the expired listenKey forced a reconnect
    assert runner.supervisor("bybit", "market").connects >= 2  # the drop
    assert runner.supervisor("hyperliquid", "market").connects >= 2  # the drop at 250 s
    assert sink.dead_letters == []
