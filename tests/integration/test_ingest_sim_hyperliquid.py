"""Simulator -> real Hyperliquid venue module -> supervisor -> sink, and on through the processor.

Hyperliquid is watched by wallet address: no credentials. Its websocket keeps alive with the
client's ``{"method":"ping"}`` (30 s, scaled down here); its resync is ``POST /info``
(``clearinghouseState``), which the simulator answers on a listener of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from monitor.domain.events import BalanceEvent, Event, PositionEvent, PriceEvent
from monitor.ingest.http import UrllibTransport
from monitor.ingest.runner import VenueRunner
from monitor.ingest.sink import CollectingSink
from monitor.ingest.supervisor import SupervisorSettings
from monitor.metrics import Metrics
from monitor.sim.server import SimulatorServer
from monitor.venues.base import AccountContext
from monitor.venues.hyperliquid import Hyperliquid
from tests.integration.pipeline_harness import PORTFOLIO, running_pipeline
from tests.support import eventually

pytestmark = pytest.mark.integration

TIMEOUT_S = 15.0
VENUE = "hyperliquid"
ACCOUNT = "hl-main"
COIN = "BTC"
INSTRUMENT = f"{VENUE}:{COIN}"
# ping 30 s -> 1.5 s, stale 70 s -> 3.5 s
SETTINGS = SupervisorSettings(backoff_base_s=0.05, backoff_cap_s=0.3, close_timeout_s=0.5, time_scale=0.05)


def _venue(sim: SimulatorServer, portfolio: str = "main") -> Hyperliquid:
    urls = sim.urls(VENUE)
    return Hyperliquid(
        symbols=[COIN], account=AccountContext(ACCOUNT, portfolio, address=sim.address(VENUE, ACCOUNT)),
        catalog=sim.world.catalog, ws_base_url=urls.ws_base_url, rest_base_url=urls.rest_base_url,
    )


async def _hedge(sim: SimulatorServer, margin_mode: str = "cross") -> None:
    """1 BTC short at 60000 (10x) with 15000 USDC, mark 60000 (oracle 59990, funding 0.0000125)."""
    await sim.set_price(VENUE, COIN, 60000.0, index=59990.0, funding_rate=0.0000125)
    await sim.set_balance(VENUE, ACCOUNT, "USDC", 15000.0)
    await sim.set_position(VENUE, ACCOUNT, COIN, -1.0, 60000.0, leverage=10.0, margin_mode=margin_mode,
                           isolated_margin=6000.0 if margin_mode == "isolated" else 0.0)


@asynccontextmanager
async def ingesting(venues: Sequence[Hyperliquid]) -> AsyncIterator[tuple[CollectingSink, VenueRunner]]:
    """Run supervisors for the venues into a CollectingSink; cancel them on exit."""
    sink = CollectingSink()
    runner = VenueRunner(venues, sink, UrllibTransport(), SETTINGS, seed=1)
    task = asyncio.create_task(runner.run())
    try:
        yield sink, runner
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def _positions(events: Sequence[Event]) -> list[PositionEvent]:
    return [e for e in events if isinstance(e, PositionEvent) and e.instrument == INSTRUMENT
            and e.position_side == "one_way"]


def _prices(events: Sequence[Event]) -> list[PriceEvent]:
    return [e for e in events if isinstance(e, PriceEvent) and e.instrument == INSTRUMENT]


def _balances(events: Sequence[Event]) -> list[BalanceEvent]:
    return [e for e in events if isinstance(e, BalanceEvent) and e.asset == "USDC"]


def _pinged(sim: SimulatorServer, times: int = 1) -> bool:
    """Both connections are up and the client has pinged ``times`` on each (each ping is answered)."""
    connections = sim.venues[VENUE].connections
    return len(connections) == 2 and all(c.state.get("pings", 0) >= times for c in connections)


async def test_feed_reconnects_after_a_forced_drop_and_resyncs() -> None:
    """State, heartbeats, a TCP reset, a reconnect with resync and fresh prices after it."""
    async with SimulatorServer(seed=2, heartbeat_s=0.2) as sim:
        await _hedge(sim)
        async with ingesting([_venue(sim)]) as (sink, runner):
            market = runner.supervisor(VENUE, "market")
            private = runner.supervisor(VENUE, "private")
            await eventually(
                lambda: bool(_positions(sink.events)) and bool(_balances(sink.events))
                and any(p.mark == 60000.0 for p in _prices(sink.events)) and private.resyncs >= 1,
                TIMEOUT_S,
            )
            await eventually(lambda: _pinged(sim), TIMEOUT_S)
            assert await sim.drop_connections(VENUE) == 2
            await eventually(lambda: market.connects == 2 and private.connects == 2, TIMEOUT_S)
            await eventually(lambda: private.resyncs >= 2, TIMEOUT_S)
            await sim.set_price(VENUE, COIN, 61234.5)
            await eventually(lambda: any(p.mark == 61234.5 for p in _prices(sink.events)), TIMEOUT_S)
            # two pings on each new connection (1.5 s apart when scaled): the feed outlives the
            # pushes by its heartbeat alone
            await eventually(lambda: _pinged(sim, 2), TIMEOUT_S)
    assert {(p.quantity, p.entry_price, p.margin_mode) for p in _positions(sink.events)} == {
        (-1.0, 60000.0, "cross")}
    # the wallet without unrealised PnL: the account value less the PnL, whatever the mark
    assert {b.quantity for b in _balances(sink.events)} == {15000.0}
    assert (59990.0, 0.0000125) in {(p.index, p.funding_rate) for p in _prices(sink.events)}
    assert market.last_outcome is not None
    assert market.last_outcome.reason == "connection lost (no close frame)"
    assert (market.stale_count, private.stale_count) == (0, 0)
    assert sink.dead_letters == []


async def test_resync_corrects_a_position_changed_while_disconnected() -> None:
    """A position changed while no client is connected is corrected by the REST resync."""
    async with SimulatorServer(seed=4, heartbeat_s=0.2) as sim:
        await _hedge(sim)
        async with ingesting([_venue(sim)]) as (sink, runner):
            private = runner.supervisor(VENUE, "private")
            await eventually(lambda: bool(_positions(sink.events)) and private.connects >= 1
                             and private.status == "resynced", TIMEOUT_S)
            await sim.change_while_disconnected(VENUE, ACCOUNT, COIN, -0.9, 60000.0, offline_s=0.3)
            await eventually(
                lambda: _positions(sink.events)[-1].quantity == -0.9 and private.connects >= 2, TIMEOUT_S)
    quantities = [p.quantity for p in _positions(sink.events)]
    assert quantities[0] == -1.0
    assert quantities[-1] == -0.9
    assert sink.dead_letters == []


async def test_malformed_frame_is_dead_lettered_and_the_feed_continues() -> None:
    """An unparseable private frame reaches the dead letters; later frames still parse."""
    async with SimulatorServer(seed=5, heartbeat_s=0.2) as sim:
        await _hedge(sim)
        async with ingesting([_venue(sim)]) as (sink, runner):
            private = runner.supervisor(VENUE, "private")
            await eventually(lambda: private.resyncs >= 1 and sim.connection_count(VENUE, "private") == 1,
                             TIMEOUT_S)
            assert await sim.send_malformed(VENUE, "private") == 1
            await sink.wait_for(lambda: bool(sink.dead_letters), TIMEOUT_S)
            await sim.set_position(VENUE, ACCOUNT, COIN, -0.5, 60000.0, leverage=10.0)
            await eventually(lambda: _positions(sink.events)[-1].quantity == -0.5, TIMEOUT_S)
    (letter,) = sink.dead_letters
    assert letter.source == VENUE
    assert letter.raw.startswith(b'{"channel":"webData2"')
    assert private.connects == 1


@pytest.mark.parametrize("margin_mode", ["cross", "isolated"])
async def test_the_processor_reads_the_account_and_its_liquidation_through_a_drop(margin_mode: str) -> None:
    """Through ingest and the processor: the short, its liquidation price and maintenance margin equal
    the simulated venue's (its own rule), before and after a drop with a change made while offline."""
    async with SimulatorServer(seed=6, heartbeat_s=0.2) as sim:
        await _hedge(sim, margin_mode)
        async with running_pipeline([_venue(sim, PORTFOLIO)]) as run:

            def agrees(quantity: float) -> bool:
                snapshot = run.latest()
                if snapshot is None:
                    return False
                legs = [p for p in snapshot["positions"] if p["instrument"] == INSTRUMENT
                        and p["quantity"] == quantity and p["mark_price"] is not None]
                figures = sim.venue_figures(VENUE, ACCOUNT, COIN)
                if len(legs) != 1 or figures.liquidation_price is None:
                    return False
                (leg,) = legs
                maintenance = figures.maintenance_margin
                return bool(leg["liquidation_price"] == pytest.approx(figures.liquidation_price, rel=1e-9)
                            and leg["maintenance_margin_usd"] == pytest.approx(maintenance, rel=1e-9))

            def state() -> object:
                figures = sim.venue_figures(VENUE, ACCOUNT, COIN)
                return {"monitor": run.describe(), "venue": (figures.quantity, figures.liquidation_price,
                                                            figures.maintenance_margin)}

            await eventually(lambda: agrees(-1.0), TIMEOUT_S, state=state)
            await sim.change_while_disconnected(VENUE, ACCOUNT, COIN, -0.8, 60000.0, offline_s=0.3)
            await eventually(lambda: agrees(-0.8) and run.resynced(min_connects=2), TIMEOUT_S, state=state)
            assert run.dead_letters() == []
    figures = sim.venue_figures(VENUE, ACCOUNT, COIN)
    assert figures.liquidation_price is not None
    if margin_mode == "cross":
        # cross short 0.8 BTC @60000, wallet 15000, MMR 1/80: liq = 60000 - (-1) x (15000 - 0.8 x 60000
        # / 80) / 0.8 / (1 + 1/80) = 60000 + 14400 / 0.8 / 1.0125 = 60000 + 17777.78 = 77777.78
        assert figures.liquidation_price == pytest.approx(60000 + 14400 / 0.8 / 1.0125)


async def test_the_address_stays_out_of_topics_and_metric_labels() -> None:
    """The wallet address goes only to Hyperliquid: no bus record and no /metrics line carries it;
    the account is labelled by its configured name."""
    registry = CollectorRegistry()
    async with SimulatorServer(seed=7, heartbeat_s=0.2) as sim:
        await _hedge(sim)
        address = sim.address(VENUE, ACCOUNT)
        async with running_pipeline([_venue(sim, PORTFOLIO)], metrics=Metrics(registry)) as run:
            await eventually(lambda: run.quantity(ACCOUNT, INSTRUMENT) == -1.0 and run.resynced(), TIMEOUT_S)
            exposition = generate_latest(registry).decode()
            assert f'account="{ACCOUNT}"' in exposition
            records = [record for spec in run.topics.specs(1) for record in run.bus.records(spec.name)]
    assert records
    assert all(address.encode() not in (record.key or b"") + record.value for record in records)
    assert address not in exposition
    assert address[2:] not in exposition
