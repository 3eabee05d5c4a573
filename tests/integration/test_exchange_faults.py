"""Exchange faults end to end: simulator -> ingest -> MemoryBus -> Processor -> hedge.risk/alerts/dlq.

tests/integration/test_ingest_sim.py proves that each fault is survived at the ingest sink (events,
dead letters, reconnect counters). These tests go one step further: the same faults, through the
bus and the processor, and the *final* ``hedge.risk`` snapshot must hold the simulator's
authoritative state (``sim.position(...).quantity`` as ``positions[].quantity``, the BTC balances
as ``assets.BTC.spot_delta``). Account changes are made while the client cannot see them (refused,
silenced, key expired), so only the recovery path (the REST resync, or the snapshot a fresh
subscription pushes) can bring them in.

Time is compressed where a fault needs it (``SupervisorSettings.time_scale``, the simulator's
``heartbeat_s``, a small ``stale_after_ms``); every wait polls with a deadline.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pytest

from monitor.sim.server import SimulatorServer
from monitor.venues.base import Venue
from tests.integration.pipeline_harness import (
    FAST,
    binance_venue,
    okx_venue,
    running_pipeline,
)
from tests.support import eventually

pytestmark = pytest.mark.integration

OKX_ACCOUNT = "okx-main"
OKX_SWAP = "okx:BTC-USDT-SWAP"
BINANCE_ACCOUNT = "binance-main"
BINANCE_PERP = "binance:BTCUSDT"


def _okx_quantity(sim: SimulatorServer) -> float:
    position = sim.position("okx", OKX_ACCOUNT, "BTC-USDT-SWAP")
    assert position is not None
    return position.quantity


def _binance_quantity(sim: SimulatorServer) -> float:
    position = sim.position("binance", BINANCE_ACCOUNT, "BTCUSDT")
    assert position is not None
    return position.quantity


async def _okx_hedge(sim: SimulatorServer) -> None:
    """1.5 BTC held at OKX, hedged with 150 BTC-USDT-SWAP contracts short (0.01 BTC each)."""
    await sim.set_price("okx", "BTC-USDT-SWAP", 60000.0, funding_rate=0.0001)
    await sim.set_position("okx", OKX_ACCOUNT, "BTC-USDT-SWAP", -150.0, 60000.0)
    await sim.set_balance("okx", OKX_ACCOUNT, "BTC", 1.5)
    await sim.set_balance("okx", OKX_ACCOUNT, "USDT", 20000.0)


async def test_abrupt_drop_reconnects_resyncs_and_final_positions_match() -> None:
    """A TCP reset, then a fill and a withdrawal nobody saw: the resync puts both in hedge.risk."""
    async with SimulatorServer(seed=11, heartbeat_s=0.2) as sim:
        await _okx_hedge(sim)
        async with running_pipeline([okx_venue(sim)]) as run:
            private = run.supervisor("okx", "private")
            await eventually(
                lambda: (
                    run.resynced()
                    and run.quantity(OKX_ACCOUNT, OKX_SWAP) == -150.0
                    and run.spot_delta("BTC") == 1.5
                ),
                state=run.describe,
            )
            await sim.refuse_connections("okx", 0.5)
            assert await sim.drop_connections("okx") == 2
            await eventually(lambda: sim.connection_count("okx") == 0)
            # unseen: buy back 10 contracts, withdraw 0.1 BTC
            await sim.fill("okx", OKX_ACCOUNT, "BTC-USDT-SWAP", 10.0, 59000.0, fee=1.0)
            await sim.set_balance("okx", OKX_ACCOUNT, "BTC", 1.4)
            await eventually(lambda: run.resynced(min_connects=2), state=run.describe)
            await eventually(
                lambda: (
                    run.quantity(OKX_ACCOUNT, OKX_SWAP) == _okx_quantity(sim)
                    and run.spot_delta("BTC") == sim.balance("okx", OKX_ACCOUNT, "BTC")
                ),
                state=run.describe,
            )
            expected_quantity = _okx_quantity(sim)
            expected_btc = sim.balance("okx", OKX_ACCOUNT, "BTC")
    # -150 + 10 = -140 contracts; 1.5 - 0.1 = 1.4 BTC
    assert (expected_quantity, expected_btc) == (-140.0, 1.4)
    assert run.quantity(OKX_ACCOUNT, OKX_SWAP) == expected_quantity
    assert run.spot_delta("BTC") == pytest.approx(expected_btc)
    assert private.connects >= 2
    assert run.supervisor("okx", "market").connects >= 2
    assert run.dead_letters() == []


async def test_silent_stall_goes_stale_alerts_reconnects_and_resolves() -> None:
    """Sockets open but silent: the feed goes stale, stale_feed fires, reconnect and resync clear it."""
    # OKX plan: ping 15 s, stale after 40 s; x 0.02 -> ping 0.3 s, stale 0.8 s. Prices are pushed
    # every 0.1 s, so the processor's 400 ms limit is only crossed during the silence.
    settings = dataclasses.replace(FAST, time_scale=0.02)
    async with SimulatorServer(seed=12, heartbeat_s=0.1) as sim:
        await _okx_hedge(sim)
        async with running_pipeline(
            [okx_venue(sim)], supervisor_settings=settings, stale_after_ms=400
        ) as run:
            market = run.supervisor("okx", "market")
            await eventually(
                lambda: (
                    run.resynced()
                    and run.quantity(OKX_ACCOUNT, OKX_SWAP) == -150.0
                    and run.spot_delta("BTC") == 1.5
                ),
                state=run.describe,
            )
            await sim.silence("okx", 2.0)
            # swallowed by the silence: only a resync can bring it in
            await sim.set_position("okx", OKX_ACCOUNT, "BTC-USDT-SWAP", -130.0, 60000.0)
            await eventually(lambda: market.stale_count >= 1, state=run.describe)
            await eventually(lambda: _stale_feed(run.alerts(), "firing") is not None, state=run.describe)
            stale_snapshot = next(s for s in run.snapshots() if OKX_SWAP in s["feeds"]["stale"])
            await eventually(lambda: _stale_feed(run.alerts(), "resolved") is not None, state=run.describe)
            await eventually(
                lambda: run.quantity(OKX_ACCOUNT, OKX_SWAP) == _okx_quantity(sim), state=run.describe
            )
            expected_quantity = _okx_quantity(sim)
    assert expected_quantity == -130.0
    assert run.quantity(OKX_ACCOUNT, OKX_SWAP) == expected_quantity
    assert run.spot_delta("BTC") == sim.balance("okx", OKX_ACCOUNT, "BTC") == 1.5
    latest = run.latest()
    assert latest is not None
    assert latest["feeds"]["stale"] == []
    # the stale snapshot still showed the pre-silence position: nothing was pushed meanwhile
    assert [p["quantity"] for p in stale_snapshot["positions"]] == [-150.0]
    firing = _stale_feed(run.alerts(), "firing")
    resolved = _stale_feed(run.alerts(), "resolved")
    assert firing is not None
    assert resolved is not None
    assert firing["severity"] == "warning"
    assert resolved["id"] == f"{firing['id']}:resolved"
    assert market.reconnects >= 1


def _stale_feed(alerts: list[dict[str, object]], state: str) -> dict[str, object] | None:
    """The first stale_feed alert on the OKX swap in ``state`` (firing or resolved), or None."""
    return next(
        (a for a in alerts if a["rule"] == "stale_feed" and a["subject"] == OKX_SWAP and a["state"] == state),
        None,
    )


async def test_private_stream_opened_during_a_stall_delivers_afterwards() -> None:
    """A private reconnect made while the venue is silent still delivers account pushes after it."""
    # OKX plan x 0.02: ping 0.3 s, stale 0.8 s (see the silent-stall test)
    settings = dataclasses.replace(FAST, time_scale=0.02)
    async with SimulatorServer(seed=13, heartbeat_s=0.1) as sim:
        await _okx_hedge(sim)
        async with running_pipeline(
            [okx_venue(sim)], supervisor_settings=settings, stale_after_ms=400
        ) as run:
            private = run.supervisor("okx", "private")
            await eventually(
                lambda: run.resynced() and run.quantity(OKX_ACCOUNT, OKX_SWAP) == -150.0, state=run.describe
            )
            await sim.silence("okx", 30.0)
            # Both streams go stale after 0.8 s and reconnect; REST is not silenced, so each new
            # connection resyncs (the market supervisor resyncs the account too). Once both have,
            # no further resync is due: only the private stream can bring in the next fill.
            await eventually(lambda: run.resynced(min_connects=2), state=run.describe)
            await sim.silence("okx", 0.0)  # the stall ends right after those reconnects
            await sim.fill("okx", OKX_ACCOUNT, "BTC-USDT-SWAP", -5.0, 60000.0)
            # with a fix the deaf connection is replaced within one ping (0.3 s) plus a resync
            await eventually(
                lambda: run.quantity(OKX_ACCOUNT, OKX_SWAP) == _okx_quantity(sim),
                timeout_s=3.0,
                state=run.describe,
            )
    # -150 - 5 = -155 contracts
    assert run.quantity(OKX_ACCOUNT, OKX_SWAP) == _okx_quantity(sim) == -155.0
    assert private.connects >= 3  # the connection opened during the stall was replaced


async def _binance_hedge(sim: SimulatorServer) -> None:
    """1 BTCUSDT short (Binance USDⓈ-M quantities are in BTC) with 10 000 USDT margin."""
    await sim.set_price("binance", "BTCUSDT", 60000.0, funding_rate=0.0001)
    await sim.set_position("binance", BINANCE_ACCOUNT, "BTCUSDT", -1.0, 60000.0)
    await sim.set_balance("binance", BINANCE_ACCOUNT, "USDT", 10000.0)


async def test_server_close_at_the_connection_limit_loses_nothing() -> None:
    """A clean 1001 close (the 24 h limit): reconnect and resync; fills around it all reach hedge.risk."""
    async with SimulatorServer(seed=14, heartbeat_s=0.2) as sim:
        await _binance_hedge(sim)
        async with running_pipeline([binance_venue(sim)]) as run:
            private = run.supervisor("binance", "private")
            await eventually(
                lambda: run.resynced() and run.quantity(BINANCE_ACCOUNT, BINANCE_PERP) == -1.0,
                state=run.describe,
            )
            await sim.fill("binance", BINANCE_ACCOUNT, "BTCUSDT", -0.2, 60100.0, fee=1.0)
            assert await sim.server_close("binance") == 2
            await sim.fill("binance", BINANCE_ACCOUNT, "BTCUSDT", -0.3, 60200.0, fee=1.0)
            await eventually(lambda: run.resynced(min_connects=2), state=run.describe)
            await sim.fill("binance", BINANCE_ACCOUNT, "BTCUSDT", 0.1, 60000.0)
            await eventually(
                lambda: run.quantity(BINANCE_ACCOUNT, BINANCE_PERP) == _binance_quantity(sim),
                state=run.describe,
            )
            expected = _binance_quantity(sim)
    # -1.0 - 0.2 - 0.3 + 0.1 = -1.4 BTC
    assert expected == pytest.approx(-1.4)
    assert run.quantity(BINANCE_ACCOUNT, BINANCE_PERP) == expected
    outcome = private.last_outcome
    assert outcome is not None
    assert outcome.reason == "closed by server: code 1001"
    assert run.supervisor("binance", "market").connects >= 2
    assert run.dead_letters() == []


async def test_connection_age_limit_reconnects_planned_before_the_server_does() -> None:
    """Ahead of the 24 h limit the supervisor reconnects on its own, without backoff, losing nothing."""
    # Binance plan: maximum age 23.5 h = 84 600 s; share 1.5 / 84 600 -> planned reconnect at 1.5 s.
    # healthy_after_s 1.0: a 1.5 s connection counts as healthy, so each planned reconnect is immediate.
    settings = dataclasses.replace(FAST, connection_age_share=1.5 / 84_600, healthy_after_s=1.0)
    async with SimulatorServer(seed=15, heartbeat_s=0.2) as sim:
        await _binance_hedge(sim)
        async with running_pipeline([binance_venue(sim)], supervisor_settings=settings) as run:
            private = run.supervisor("binance", "private")
            await eventually(
                lambda: run.resynced() and run.quantity(BINANCE_ACCOUNT, BINANCE_PERP) == -1.0,
                state=run.describe,
            )
            await sim.fill("binance", BINANCE_ACCOUNT, "BTCUSDT", -0.2, 60100.0, fee=1.0)
            await eventually(
                lambda: private.connects >= 2 and private.status == "resynced", state=run.describe
            )
            first_outcome = private.last_outcome
            first_backoff = private.last_backoff_s
            await sim.fill("binance", BINANCE_ACCOUNT, "BTCUSDT", -0.3, 60200.0, fee=1.0)
            await eventually(
                lambda: run.quantity(BINANCE_ACCOUNT, BINANCE_PERP) == _binance_quantity(sim),
                state=run.describe,
            )
            expected = _binance_quantity(sim)
    # -1.0 - 0.2 - 0.3 = -1.5 BTC
    assert expected == pytest.approx(-1.5)
    assert run.quantity(BINANCE_ACCOUNT, BINANCE_PERP) == expected
    assert first_outcome is not None
    assert (first_outcome.reason, first_outcome.planned) == ("maximum connection age", True)
    assert first_backoff == 0.0
    assert run.dead_letters() == []


async def test_listen_key_expiry_new_key_and_later_fills_reach_hedge_risk() -> None:
    """listenKeyExpired: a new key, the fill made while no key was valid and the fills after it all land."""
    async with SimulatorServer(seed=16, heartbeat_s=0.2) as sim:
        await _binance_hedge(sim)
        binance = sim.venues["binance"]
        async with running_pipeline([binance_venue(sim)]) as run:
            private = run.supervisor("binance", "private")
            await eventually(
                lambda: run.resynced() and run.quantity(BINANCE_ACCOUNT, BINANCE_PERP) == -1.0,
                state=run.describe,
            )
            keys_before = set(getattr(binance, "listen_keys", {}))
            assert await sim.expire_listen_key(BINANCE_ACCOUNT) == 1
            # the key is invalid and the client has not reconnected yet: this fill is pushed to
            # nobody, so only the resync of the new connection can see it
            await sim.fill("binance", BINANCE_ACCOUNT, "BTCUSDT", -0.5, 59000.0, fee=2.0)
            await eventually(
                lambda: private.connects >= 2 and private.status == "resynced", state=run.describe
            )
            # after the resync, a fill can only arrive on the new key's stream
            await sim.fill("binance", BINANCE_ACCOUNT, "BTCUSDT", -0.1, 59500.0, fee=0.5)
            await eventually(
                lambda: run.quantity(BINANCE_ACCOUNT, BINANCE_PERP) == _binance_quantity(sim),
                state=run.describe,
            )
            expected = _binance_quantity(sim)
            new_keys = set(getattr(binance, "listen_keys", {})) - keys_before
            await eventually(
                lambda: any(a["rule"] == "position_mismatch" for a in run.alerts()), state=run.describe
            )
    # the resync found the fill the stream never pushed: resync -1.5 minus stream -1.0 = -0.5 BTC
    mismatch = next(a for a in run.alerts() if a["rule"] == "position_mismatch")
    assert (mismatch["subject"], mismatch["state"]) == (BINANCE_PERP, "firing")
    assert mismatch["value"] == pytest.approx(-0.5)
    # -1.0 - 0.5 - 0.1 = -1.6 BTC
    assert expected == pytest.approx(-1.6)
    assert run.quantity(BINANCE_ACCOUNT, BINANCE_PERP) == expected
    assert len(new_keys) == 1
    outcome = private.last_outcome
    assert outcome is not None
    assert (outcome.reason, outcome.planned) == ("listenKeyExpired", True)
    assert run.supervisor("binance", "market").connects == 1  # only the user stream reconnected
    assert run.dead_letters() == []


async def test_malformed_frames_reach_hedge_dlq_and_the_feed_continues() -> None:
    """A truncated market frame and a truncated private frame land on hedge.dlq with reasons."""
    async with SimulatorServer(seed=17, heartbeat_s=0.2) as sim:
        await _okx_hedge(sim)
        async with running_pipeline([okx_venue(sim)]) as run:
            market = run.supervisor("okx", "market")
            private = run.supervisor("okx", "private")
            await eventually(
                lambda: run.resynced() and run.quantity(OKX_ACCOUNT, OKX_SWAP) == -150.0, state=run.describe
            )
            assert await sim.send_malformed("okx", "any") == 2
            await eventually(lambda: len(run.dead_letters()) == 2, state=run.describe)
            await sim.fill("okx", OKX_ACCOUNT, "BTC-USDT-SWAP", 10.0, 60500.0, fee=1.0)
            await sim.set_price("okx", "BTC-USDT-SWAP", 60500.0)
            await eventually(
                lambda: (
                    run.quantity(OKX_ACCOUNT, OKX_SWAP) == _okx_quantity(sim)
                    and _mark(run.latest(), OKX_SWAP) == 60500.0
                ),
                state=run.describe,
            )
            expected = _okx_quantity(sim)
    # -150 + 10 = -140 contracts
    assert expected == -140.0
    assert run.quantity(OKX_ACCOUNT, OKX_SWAP) == expected
    letters = run.dead_letters()
    assert len(letters) == 2
    assert {letter["source"] for letter in letters} == {"okx"}
    assert all(str(letter["reason"]).startswith("okx: invalid JSON") for letter in letters)
    raws = sorted(str(letter["raw"]) for letter in letters)
    assert raws[0].startswith('{"arg":{"channel":"mark-price"')
    assert raws[1].startswith('{"arg":{"channel":"positions"')
    assert (market.connects, private.connects) == (1, 1)  # read on, no reconnect


def _mark(snapshot: dict[str, Any] | None, instrument: str) -> float | None:
    """``positions[].mark_price`` of an instrument in a snapshot, or None."""
    if snapshot is None:
        return None
    for position in snapshot["positions"]:
        if position["instrument"] == instrument:
            mark = position["mark_price"]
            return None if mark is None else float(mark)
    return None


async def test_gapped_market_updates_leave_the_final_state_right() -> None:
    """Swallowed mark updates (a gap) are superseded by the next one; the position is unaffected."""
    # no heartbeat pushes (60 s) so nothing but the next update can fill the gap
    async with SimulatorServer(seed=18, heartbeat_s=60.0) as sim:
        await _okx_hedge(sim)
        async with running_pipeline([okx_venue(sim)]) as run:
            await eventually(
                lambda: (
                    run.resynced()
                    and run.quantity(OKX_ACCOUNT, OKX_SWAP) == -150.0
                    and _mark(run.latest(), OKX_SWAP) == 60000.0
                ),
                state=run.describe,
            )
            await sim.gap("okx", 3)
            for price in (60100.0, 60200.0, 60300.0):
                await sim.set_price("okx", "BTC-USDT-SWAP", price)
            await sim.fill("okx", OKX_ACCOUNT, "BTC-USDT-SWAP", -10.0, 60300.0, fee=1.0)
            await sim.set_price("okx", "BTC-USDT-SWAP", 60400.0)
            await eventually(
                lambda: (
                    run.quantity(OKX_ACCOUNT, OKX_SWAP) == _okx_quantity(sim)
                    and _mark(run.latest(), OKX_SWAP) == 60400.0
                ),
                state=run.describe,
            )
            quote = sim.quote("okx", "BTC-USDT-SWAP")
            expected = _okx_quantity(sim)
    assert quote is not None
    # -150 - 10 = -160 contracts; the mark is the simulator's latest
    assert expected == -160.0
    assert run.quantity(OKX_ACCOUNT, OKX_SWAP) == expected
    assert _mark(run.latest(), OKX_SWAP) == quote.mark == 60400.0
    seen_marks = {_mark(snapshot, OKX_SWAP) for snapshot in run.snapshots()}
    assert seen_marks.isdisjoint({60100.0, 60200.0, 60300.0})  # the gap really swallowed them




@dataclass(frozen=True, slots=True)
class _Replay:
    """One venue's case: its account and symbol and three successive quantities (venue units)."""

    venue: str
    account: str
    symbol: str
    quantities: tuple[float, float, float]

    @property
    def instrument(self) -> str:
        """The canonical instrument id."""
        return f"{self.venue}:{self.symbol}"

    def build(self, sim: SimulatorServer) -> Venue:
        """The venue module pointed at the simulator."""
        return okx_venue(sim) if self.venue == "okx" else binance_venue(sim)


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(_Replay("okx", OKX_ACCOUNT, "BTC-USDT-SWAP", (-150.0, -145.0, -140.0)), id="okx"),
        pytest.param(_Replay("binance", BINANCE_ACCOUNT, "BTCUSDT", (-1.0, -1.1, -1.2)), id="binance"),
    ],
)
async def test_out_of_order_replay_does_not_roll_back_a_position(case: _Replay) -> None:
    """A stale position push replayed after a newer one leaves hedge.risk at the newer position."""
    first, second, third = case.quantities
    # heartbeat 60 s: no mark pushes, so each connection's latest data frames are ours
    async with SimulatorServer(seed=19, heartbeat_s=60.0) as sim:
        await sim.set_price(case.venue, case.symbol, 60000.0, funding_rate=0.0001)
        await sim.set_position(case.venue, case.account, case.symbol, first, 60000.0)
        await sim.set_balance(case.venue, case.account, "USDT", 20000.0)
        async with running_pipeline([case.build(sim)]) as run:
            await eventually(
                lambda: run.resynced() and run.quantity(case.account, case.instrument) == first,
                state=run.describe,
            )
            await sim.set_position(case.venue, case.account, case.symbol, second, 60000.0)
            await eventually(
                lambda: run.quantity(case.account, case.instrument) == second, state=run.describe
            )
            await sim.set_position(case.venue, case.account, case.symbol, third, 60000.0)
            await eventually(lambda: run.quantity(case.account, case.instrument) == third, state=run.describe)
            # each connection re-sends its previous data frame: on the private one, the 2nd push
            assert await sim.send_out_of_order(case.venue) >= 1
            # a marker on the same stream: once hedge.risk shows it, the replay was applied before it
            await sim.set_balance(case.venue, case.account, "BTC", 0.5)
            await eventually(lambda: run.spot_delta("BTC") == 0.5, state=run.describe)
            final = run.quantity(case.account, case.instrument)
            position = sim.position(case.venue, case.account, case.symbol)
    assert position is not None
    assert position.quantity == third
    assert final == position.quantity
