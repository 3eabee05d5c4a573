"""The venue's own figures beside the model's, through the whole pipeline, against the simulator.

The simulator reports each venue's liquidation price from its own rules (``monitor/sim/margin.py``,
independent of ``monitor.domain``). Reported as computed, the model agrees with it; with the
simulator's ``liquidation_report_bias`` knob the venue reports a different figure, and the
``model_divergence`` alert fires with the relative difference.
"""

from __future__ import annotations

from typing import Any

import pytest

from monitor.sim.server import SimulatorServer
from monitor.venues.base import AccountContext, Venue
from monitor.venues.registry import VENUES as VENUE_CLASSES
from tests.integration.pipeline_harness import PORTFOLIO, running_pipeline
from tests.support import eventually

DEADLINE_S = 20.0
CASES = [
    pytest.param("binance", "BTCUSDT", 1.0, id="binance"),
    pytest.param("bybit", "BTCUSDT", 1.0, id="bybit"),
    pytest.param("okx", "BTC-USDT-SWAP", 100.0, id="okx"),
]


def module(sim: SimulatorServer, venue: str, symbol: str) -> Venue:
    """The monitor's venue module pointed at the simulator, with the venue's main account."""
    account = AccountContext(f"{venue}-main", PORTFOLIO, sim.credentials(venue, f"{venue}-main"))
    arguments: dict[str, Any] = {"symbols": [symbol], "account": account,
                                 "ws_base_url": sim.ws_url(venue), "rest_base_url": sim.rest_url(venue)}
    return VENUE_CLASSES[venue](**arguments)


def leg(snapshot: dict[str, Any] | None, instrument: str) -> dict[str, Any] | None:
    """The priced leg of ``instrument`` that carries the venue's figures, if any."""
    positions: list[dict[str, Any]] = (snapshot or {}).get("positions", [])
    for position in positions:
        if (position["instrument"] == instrument and position["mark_price"] is not None
                and position.get("venue_figures")):
            return position
    return None


async def _hedged(sim: SimulatorServer, venue: str, symbol: str, units_per_btc: float) -> None:
    await sim.set_price(venue, symbol, 60_000.0)
    await sim.set_balance(venue, f"{venue}-main", "USDT", 25_000.0)
    await sim.set_position(venue, f"{venue}-main", symbol, -1.5 * units_per_btc, 60_000.0,
                           leverage=10.0, margin_mode="isolated")


@pytest.mark.parametrize(("venue", "symbol", "units_per_btc"), CASES)
async def test_the_venue_figure_stands_beside_the_model_and_agrees(
    venue: str, symbol: str, units_per_btc: float
) -> None:
    """Reported as the venue's rules compute it, the liquidation price agrees with the model's
    (divergence ~0, no alert); the snapshot carries both with their sources."""
    async with SimulatorServer(seed=43, heartbeat_s=0.2) as sim:
        await _hedged(sim, venue, symbol, units_per_btc)
        expected = sim.venue_figures(venue, f"{venue}-main", symbol).liquidation_price
        assert expected is not None
        async with running_pipeline([module(sim, venue, symbol)]) as run:
            position = await eventually(lambda: leg(run.latest(), f"{venue}:{symbol}"), DEADLINE_S,
                                        state=run.describe)
            assert position["venue_figures"]["source"] == "venue"
            assert position["model_figures"]["source"] == "model"
            assert position["venue_figures"]["liquidation_price"] == pytest.approx(expected, rel=1e-8)
            assert position["model_figures"]["liquidation_price"] == pytest.approx(expected, rel=1e-8)
            assert position["model_divergence"]["liquidation_price"] < 1e-8
            assert not [a for a in run.alerts() if a["rule"] == "model_divergence"]


@pytest.mark.parametrize(("venue", "symbol", "units_per_btc"), CASES)
async def test_a_venue_figure_that_differs_fires_model_divergence(
    venue: str, symbol: str, units_per_btc: float
) -> None:
    """The venue reports its liquidation price 2 % above its rule's figure: the model's differs by
    |L - 1.02 L| / 1.02 L = 0.02 / 1.02 = 1.96 % > 0.5 %, and model_divergence fires."""
    async with SimulatorServer(seed=44, heartbeat_s=0.2) as sim:
        await _hedged(sim, venue, symbol, units_per_btc)
        sim.set_liquidation_report_bias(venue, 0.02)
        async with running_pipeline([module(sim, venue, symbol)]) as run:
            fired = await eventually(
                lambda: [a for a in run.alerts() if a["rule"] == "model_divergence"], DEADLINE_S,
                state=run.describe)
            assert fired[0]["state"] == "firing"
            assert fired[0]["subject"] == f"{venue}:{symbol}"
            assert fired[0]["value"] == pytest.approx(0.02 / 1.02, rel=1e-6)
            position = leg(run.latest(), f"{venue}:{symbol}")
            assert position is not None
            model = position["model_figures"]["liquidation_price"]
            assert position["venue_figures"]["liquidation_price"] == pytest.approx(model * 1.02, rel=1e-8)


@pytest.mark.parametrize(("venue", "symbol", "units_per_btc"), CASES)
async def test_a_simulated_adl_fill_raises_hedge_broken(
    venue: str, symbol: str, units_per_btc: float
) -> None:
    """The venue deleverages 0.5 BTC of the 1.5 BTC short (Binance ``adl_autoclose``, Bybit
    ``AdlTrade``, OKX ``category`` adl): +0.5 BTC of delta is left unhedged (Binance and Bybit 1
    contract = 1 BTC: 0.5 contracts; OKX 0.01 BTC: 50 contracts) and the critical hedge_broken
    alert says so."""
    async with SimulatorServer(seed=45, heartbeat_s=0.2) as sim:
        await _hedged(sim, venue, symbol, units_per_btc)
        async with running_pipeline([module(sim, venue, symbol)]) as run:
            await eventually(lambda: leg(run.latest(), f"{venue}:{symbol}"), DEADLINE_S,
                             state=run.describe)
            # the private stream is live and its resync done: a fill pushed before that reaches no
            # subscriber, and the resync alone restores the position but not the fill
            await eventually(run.resynced, DEADLINE_S, state=run.describe)
            await sim.fill(venue, f"{venue}-main", symbol, 0.5 * units_per_btc, 61_000.0, forced="adl")
            fired = await eventually(
                lambda: [a for a in run.alerts() if a["rule"] == "hedge_broken"], DEADLINE_S,
                state=run.describe)
            assert (fired[0]["state"], fired[0]["severity"]) == ("firing", "critical")
            assert fired[0]["value"] == pytest.approx(0.5)
            contracts = f"{0.5 * units_per_btc:g}"
            assert (f"an auto-deleveraging (ADL) fill bought {contracts} contracts at 61000"
                    in fired[0]["message"])
            assert "+0.5 BTC (" in fired[0]["message"]


async def test_a_profitable_leg_in_the_top_adl_bucket_fires() -> None:
    """Binance reports adlQuantile 4 (of 0-4) for the short leg; with the mark down to 58000 the
    short is profitable ((60000 - 58000) * 1.5 = +3000 USD) and adl_top_bucket fires."""
    async with SimulatorServer(seed=46, heartbeat_s=0.2) as sim:
        await _hedged(sim, "binance", "BTCUSDT", 1.0)
        await sim.set_price("binance", "BTCUSDT", 58_000.0)
        sim.set_adl_rank("binance", "binance-main", "BTCUSDT", 4)
        async with running_pipeline([module(sim, "binance", "BTCUSDT")]) as run:
            fired = await eventually(
                lambda: [a for a in run.alerts() if a["rule"] == "adl_top_bucket"], DEADLINE_S,
                state=run.describe)
            assert fired[0]["subject"] == "binance:BTCUSDT"
            assert "top auto-deleveraging bucket (4 of 4)" in fired[0]["message"]
            position = leg(run.latest(), "binance:BTCUSDT")
            assert position is not None
            venue = position["venue_figures"]
            assert (venue["adl_rank"], venue["adl_rank_top"]) == (4, 4)


async def test_a_unified_account_ratio_is_the_buffer_figure_and_fires_its_alert() -> None:
    """A Bybit unified account with 500 USDT and a 1.5 BTC cross short at 60000: the venue's
    accountMMRate = totalMaintenanceMargin / totalMarginBalance = MM / 500 (MM by the simulated
    venue's own tier rule, 90000 * 0.5 % = 450: 0.9), above 80 % of the way to liquidation at
    100 %: account_margin_ratio_high fires."""
    async with SimulatorServer(seed=47, heartbeat_s=0.2) as sim:
        await sim.set_price("bybit", "BTCUSDT", 60_000.0)
        await sim.set_balance("bybit", "bybit-main", "USDT", 500.0)
        await sim.set_position("bybit", "bybit-main", "BTCUSDT", -1.5, 60_000.0, leverage=10.0,
                               margin_mode="cross")
        maintenance = sim.venue_figures("bybit", "bybit-main", "BTCUSDT").maintenance_margin
        assert maintenance == pytest.approx(450.0)
        async with running_pipeline([module(sim, "bybit", "BTCUSDT")]) as run:
            def account() -> dict[str, Any] | None:
                accounts: dict[str, Any] = (run.latest() or {}).get("accounts", {})
                return accounts.get("bybit-main")

            figures = await eventually(account, DEADLINE_S, state=run.describe)
            assert figures["mode"] == "unified"
            assert figures["venue"]["venue_figure"] == "accountMMRate"
            assert figures["venue"]["maintenance_margin_ratio"] == pytest.approx(0.9, abs=5e-5)
            assert figures["venue"]["maintenance_margin_usd"] == pytest.approx(450.0)
            fired = await eventually(
                lambda: [a for a in run.alerts() if a["rule"] == "account_margin_ratio_high"],
                DEADLINE_S, state=run.describe)
            assert (fired[0]["subject"], fired[0]["severity"]) == ("bybit-main", "critical")
            assert fired[0]["value"] == pytest.approx(0.9, abs=1e-3)
