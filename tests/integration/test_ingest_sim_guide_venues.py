"""Simulator -> real BingX, MEXC and WEEX venue modules -> connection supervisor -> sink.

No Kafka: the sink is the in-memory CollectingSink. The venues' heartbeat rules are scaled down
(SupervisorSettings.time_scale) and the simulator heartbeats every 0.2 s, so the heartbeats
(BingX server ``Ping``/``Pong``, MEXC client ``ping``/``pong``, WEEX server ping/``PONG``) are what
keeps every feed from going stale; each test checks that none did unless it meant to.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest

from monitor.domain.events import BalanceEvent, Event, PositionEvent, PriceEvent
from monitor.ingest.http import UrllibTransport
from monitor.ingest.runner import VenueRunner
from monitor.ingest.sink import CollectingSink
from monitor.ingest.supervisor import SupervisorSettings
from monitor.sim.scenario import load_scenario
from monitor.sim.server import SimulatorServer, scenario_venues
from monitor.venues.base import AccountContext, Venue
from monitor.venues.registry import build_venue
from tests.support import eventually

pytestmark = pytest.mark.integration

TIMEOUT_S = 15.0
HEARTBEAT_S = 0.2
# BingX stale 30 s -> 1.5 s; MEXC ping 15 s -> 0.75 s, stale 45 s -> 2.25 s; WEEX stale 90 s -> 4.5 s
SETTINGS = SupervisorSettings(backoff_base_s=0.05, backoff_cap_s=0.3, close_timeout_s=0.5, time_scale=0.05)


@dataclass(frozen=True)
class GuideVenue:
    """One venue under test: its symbol and how many venue units make 1 BTC."""

    name: str
    symbol: str
    units_per_btc: float

    @property
    def account(self) -> str:
        """The simulated account name."""
        return f"{self.name}-main"

    @property
    def instrument(self) -> str:
        """The canonical instrument id."""
        return f"{self.name}:{self.symbol}"


BINGX = GuideVenue("bingx", "BTC-USDT", 1.0)
MEXC = GuideVenue("mexc", "BTC_USDT", 10_000.0)  # contracts of 0.0001 BTC
WEEX = GuideVenue("weex", "BTCUSDT", 1.0)
GUIDE_VENUES = [pytest.param(v, id=v.name) for v in (BINGX, MEXC, WEEX)]


def _venue(sim: SimulatorServer, spec: GuideVenue) -> Venue:
    urls = sim.urls(spec.name)
    return build_venue(
        spec.name,
        symbols=[spec.symbol],
        account=AccountContext(spec.account, "main", sim.credentials(spec.name, spec.account)),
        catalog=sim.world.catalog,
        ws_base_url=urls.ws_base_url,
        rest_base_url=urls.rest_base_url,
    )


async def _hedge(sim: SimulatorServer, spec: GuideVenue) -> None:
    """1 BTC short at 60000 with 15000 USDT, mark 60000 (index 59990, funding 0.0001)."""
    await sim.set_price(spec.name, spec.symbol, 60000.0, index=59990.0, funding_rate=0.0001)
    await sim.set_position(spec.name, spec.account, spec.symbol, -spec.units_per_btc, 60000.0)
    await sim.set_balance(spec.name, spec.account, "USDT", 15000.0)


@asynccontextmanager
async def ingesting(
    venues: Sequence[Venue], settings: SupervisorSettings = SETTINGS
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


def _balances(events: Sequence[Event], account: str, asset: str) -> list[BalanceEvent]:
    return [e for e in events if isinstance(e, BalanceEvent) and e.account == account and e.asset == asset]


def _heartbeats_answered(sim: SimulatorServer, spec: GuideVenue) -> bool:
    """True once every connection of the venue has exchanged a heartbeat with the simulator."""
    key = "pings" if spec.name == "mexc" else "pongs"  # MEXC: the client pings; else it answers
    connections = sim.venues[spec.name].connections
    return len(connections) == 2 and all(c.state.get(key, 0) >= 1 for c in connections)


async def test_guide_venues_scenario_reaches_the_sink() -> None:
    """Spot plus BingX/MEXC/WEEX shorts arrive as canonical events through expiry, drop and resync."""
    scenario = load_scenario("guide-venues")
    async with SimulatorServer(seed=5, heartbeat_s=HEARTBEAT_S) as sim:
        await sim.load_accounts(scenario)
        venues = scenario_venues(sim, scenario)
        assert sorted(v.name for v in venues) == ["binance-spot", "bingx", "mexc", "weex"]
        async with ingesting(venues) as (sink, runner):
            await eventually(lambda: all(s.resyncs >= 1 for s in runner.supervisors), TIMEOUT_S)
            await sim.run_scenario(scenario, speed=150.0, load_accounts=False)
            finals = {spec: sim.quote(spec.name, spec.symbol) for spec in (BINGX, MEXC, WEEX)}

            def settled() -> bool:
                latest = {spec: _positions(sink.events, spec.instrument) for spec in finals}
                marks = {spec: [p.mark for p in _prices(sink.events, spec.instrument)] for spec in finals}
                return (
                    [p[-1].quantity if p else None for p in latest.values()] == [-1.0, -12000.0, -1.1]
                    # prices go out with 8 decimals
                    and all(
                        q is not None and any(abs(m - q.mark) < 1e-6 for m in marks[s])
                        for s, q in finals.items()
                    )
                )

            await eventually(settled, TIMEOUT_S)
    # 2000 contracts added to 10000 at 58000: (10000 * 60000 + 2000 * 58000) / 12000 = 59666.67
    mexc = _positions(sink.events, MEXC.instrument)[-1]
    assert mexc.entry_price == pytest.approx(59666.67, abs=0.01)
    weex = _positions(sink.events, WEEX.instrument)[-1]
    # WEEX sends openValue 65835 = 1.1 * 59850; the module divides: 65835 / 1.1 = 59850 (float)
    assert weex.quantity == -1.1
    assert weex.entry_price == pytest.approx(59850.0, abs=1e-9)
    bingx = _positions(sink.events, BINGX.instrument)[-1]
    assert (bingx.quantity, bingx.entry_price, bingx.leverage) == (-1.0, 60000.0, 5.0)
    # 15000 USDT - 5.8 fee = 14994.2
    assert _balances(sink.events, "mexc-main", "USDT")[-1].quantity == pytest.approx(14994.2, abs=1e-6)
    assert _balances(sink.events, "bingx-main", "USDT")[-1].quantity == 15000.0
    assert _balances(sink.events, "weex-main", "USDT")[-1].quantity == 15000.0
    assert _balances(sink.events, "spot-main", "BTC")[-1].quantity == 3.0
    for spec, quote in finals.items():
        assert quote is not None
        funded = [p for p in _prices(sink.events, spec.instrument) if p.funding_rate is not None]
        assert funded, spec.name
        assert funded[-1].funding_rate == 0.0001
        assert funded[-1].index is not None
    # the path: -6 % over 240 s from 60000 plus noise and basis; the last mark is near 56400
    final_bingx = finals[BINGX]
    assert final_bingx is not None
    assert final_bingx.mark == pytest.approx(60000 * 0.94, rel=0.02)
    assert runner.supervisor("bingx", "private").connects >= 2  # the listenKey expired
    assert runner.supervisor("mexc", "market").connects >= 2  # the drop
    assert runner.supervisor("weex", "private").connects >= 2  # cut off for the offline change
    # (binance-spot pushes only on change and may go stale before the scenario starts)
    assert all(s.stale_count == 0 for s in runner.supervisors if s.venue.name != "binance-spot")
    assert sink.dead_letters == []


@pytest.mark.parametrize("spec", GUIDE_VENUES)
async def test_feed_reconnects_after_a_forced_drop(spec: GuideVenue) -> None:
    """State, heartbeats, a TCP reset, a reconnect with resync and fresh prices after it."""
    async with SimulatorServer(seed=2, heartbeat_s=HEARTBEAT_S) as sim:
        await _hedge(sim, spec)
        async with ingesting([_venue(sim, spec)]) as (sink, runner):
            market = runner.supervisor(spec.name, "market")
            private = runner.supervisor(spec.name, "private")
            await eventually(
                lambda: bool(_positions(sink.events, spec.instrument))
                and bool(_balances(sink.events, spec.account, "USDT"))
                and any(p.mark == 60000.0 for p in _prices(sink.events, spec.instrument)),
                TIMEOUT_S,
            )
            await eventually(lambda: _heartbeats_answered(sim, spec), TIMEOUT_S)
            assert await sim.drop_connections(spec.name) == 2
            await eventually(lambda: market.connects == 2 and private.connects == 2, TIMEOUT_S)
            await eventually(lambda: private.resyncs >= 2, TIMEOUT_S)
            await sim.set_price(spec.name, spec.symbol, 61234.5)
            await eventually(
                lambda: any(p.mark == 61234.5 for p in _prices(sink.events, spec.instrument)), TIMEOUT_S
            )
    (position,) = {(p.quantity, p.entry_price) for p in _positions(sink.events, spec.instrument)}
    assert position == (-spec.units_per_btc, 60000.0)
    assert {b.quantity for b in _balances(sink.events, spec.account, "USDT")} == {15000.0}
    # index and funding reach the price events (BingX/WEEX: from the premiumIndex poll)
    assert (59990.0, 0.0001) in {(p.index, p.funding_rate) for p in _prices(sink.events, spec.instrument)}
    assert market.last_outcome is not None
    assert market.last_outcome.reason == "connection lost (no close frame)"
    assert (market.stale_count, private.stale_count) == (0, 0)
    assert sink.dead_letters == []


@pytest.mark.parametrize("spec", GUIDE_VENUES)
async def test_resync_corrects_a_position_changed_while_disconnected(spec: GuideVenue) -> None:
    """A position changed while no client is connected is corrected by the REST resync."""
    async with SimulatorServer(seed=4, heartbeat_s=HEARTBEAT_S) as sim:
        await _hedge(sim, spec)
        async with ingesting([_venue(sim, spec)]) as (sink, runner):
            private = runner.supervisor(spec.name, "private")
            # the private stream itself is up before the cut (the market stream's resync alone
            # can already have published the position)
            await eventually(lambda: bool(_positions(sink.events, spec.instrument))
                             and private.connects >= 1 and private.status == "resynced", TIMEOUT_S)
            # 0.9 BTC: 0.9 coin at BingX and WEEX, 9000 contracts of 0.0001 BTC at MEXC
            smaller = -0.9 * spec.units_per_btc
            await sim.change_while_disconnected(
                spec.name, spec.account, spec.symbol, smaller, 60000.0, offline_s=0.3
            )
            # The market stream's reconnect may resync the account first: the private stream's
            # own reconnect is then still to come, so wait for both rather than assume the order.
            await eventually(
                lambda: _positions(sink.events, spec.instrument)[-1].quantity == smaller
                and private.connects >= 2,
                TIMEOUT_S,
            )
    quantities = [p.quantity for p in _positions(sink.events, spec.instrument)]
    assert quantities[0] == -spec.units_per_btc
    assert quantities[-1] == smaller
    assert sink.dead_letters == []


@pytest.mark.parametrize("stream", ["market", "private"])
@pytest.mark.parametrize("spec", GUIDE_VENUES)
async def test_malformed_frame_is_dead_lettered_and_the_feed_continues(spec: GuideVenue, stream: str) -> None:
    """An unparseable frame reaches dead_letter with the venue as source; later frames still parse."""
    async with SimulatorServer(seed=5, heartbeat_s=HEARTBEAT_S) as sim:
        await _hedge(sim, spec)
        async with ingesting([_venue(sim, spec)]) as (sink, runner):
            supervisor = runner.supervisor(spec.name, stream)
            await eventually(lambda: supervisor.resyncs >= 1 and supervisor.frames >= 1, TIMEOUT_S)
            await eventually(lambda: sim.connection_count(spec.name, "private") == 1, TIMEOUT_S)
            assert await sim.send_malformed(spec.name, "market" if stream == "market" else "private") == 1
            await sink.wait_for(lambda: bool(sink.dead_letters), TIMEOUT_S)
            await sim.set_price(spec.name, spec.symbol, 60321.0)
            await sim.set_position(spec.name, spec.account, spec.symbol, -0.5 * spec.units_per_btc, 60000.0)
            await eventually(
                lambda: any(p.mark == 60321.0 for p in _prices(sink.events, spec.instrument))
                and _positions(sink.events, spec.instrument)[-1].quantity == -0.5 * spec.units_per_btc,
                TIMEOUT_S,
            )
    (letter,) = sink.dead_letters
    assert letter.source == spec.name
    raw = gzip.decompress(letter.raw) if spec.name == "bingx" else letter.raw
    family = {
        ("bingx", "market"): b'{"code":0,"dataType":"BTC-USDT@markPrice"',
        ("bingx", "private"): b'{"e":"ACCOUNT_UPDATE"',
        ("mexc", "market"): b'{"channel":"push.fair.price"',
        ("mexc", "private"): b'{"channel":"push.personal.position"',
        ("weex", "market"): b'{"e":"ticker"',
        ("weex", "private"): b'{"e":"positions"',
    }[(spec.name, stream)]
    assert raw.startswith(family)
    assert supervisor.connects == 1
    assert supervisor.dead_letters == 1


@pytest.mark.parametrize("spec", GUIDE_VENUES)
async def test_silent_feed_is_detected_as_stale_and_recovers(spec: GuideVenue) -> None:
    """A venue that keeps its sockets open but sends nothing (no pings, no pongs) goes stale."""
    # time_scale 0.02: stale after 0.6 s (BingX), 0.9 s (MEXC), 1.8 s (WEEX)
    settings = dataclasses.replace(SETTINGS, time_scale=0.02)
    silence_s = {"bingx": 1.0, "mexc": 1.4, "weex": 2.4}[spec.name]
    async with SimulatorServer(seed=3, heartbeat_s=0.1) as sim:
        await _hedge(sim, spec)
        async with ingesting([_venue(sim, spec)], settings) as (sink, runner):
            market = runner.supervisor(spec.name, "market")
            await eventually(lambda: market.frames > 3, TIMEOUT_S)
            await sim.silence(spec.name, silence_s)
            await eventually(lambda: market.stale_count >= 1, TIMEOUT_S)
            await eventually(lambda: not sim.venues[spec.name].silenced(), TIMEOUT_S)
            await sim.set_price(spec.name, spec.symbol, 60777.0)
            await eventually(
                lambda: any(p.mark == 60777.0 for p in _prices(sink.events, spec.instrument)), TIMEOUT_S
            )
    statuses = sink.statuses_of(spec.name, "market")
    stale_at = statuses.index("stale")
    assert statuses[stale_at + 1] == "reconnecting"
    assert "connected" in statuses[stale_at + 1 :]


async def test_bingx_listen_key_expiry_gets_a_new_key_and_the_feed_continues() -> None:
    """listenKeyExpired -> reconnect with a freshly created key; account updates keep flowing."""
    async with SimulatorServer(seed=6, heartbeat_s=HEARTBEAT_S) as sim:
        await _hedge(sim, BINGX)
        async with ingesting([_venue(sim, BINGX)]) as (sink, runner):
            private = runner.supervisor("bingx", "private")
            await eventually(lambda: private.connects == 1 and private.resyncs >= 1, TIMEOUT_S)
            writer = sim.venues["bingx"]
            first_keys = set(getattr(writer, "listen_keys", {}))
            assert await sim.expire_listen_key("bingx-main", venue="bingx") == 1
            await eventually(lambda: private.connects == 2 and private.resyncs >= 2, TIMEOUT_S)
            await sim.fill("bingx", "bingx-main", "BTC-USDT", -0.5, 59000.0, fee=2.0)
            await eventually(
                lambda: _positions(sink.events, BINGX.instrument)[-1].quantity == -1.5, TIMEOUT_S
            )
            new_keys = set(getattr(writer, "listen_keys", {})) - first_keys
    assert len(new_keys) == 1
    assert private.last_outcome is not None
    assert (private.last_outcome.reason, private.last_outcome.planned) == ("listenKeyExpired", True)
    # (1 * 60000 + 0.5 * 59000) / 1.5 = 59666.67; 15000 - 2 fee = 14998
    latest = _positions(sink.events, BINGX.instrument)[-1]
    assert latest.entry_price == pytest.approx(59666.67, abs=0.01)
    assert _balances(sink.events, "bingx-main", "USDT")[-1].quantity == 14998.0
    assert sink.dead_letters == []
