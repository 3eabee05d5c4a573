"""The monitor's margin figures equal the venue's, through the whole pipeline, leg by leg.

The simulator computes each venue's liquidation price and maintenance margin from the venue's
documentation, written independently of ``monitor.domain`` (``monitor/sim/margin.py``). Here each
simulated venue holds a book (isolated and cross, one-way and both hedge-mode legs), the monitor
reads it through its venue module, the ingest and the processor, and every leg's figures in the
published snapshot must equal what the simulated venue computes at the same mark. A model error on
either side fails this test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from monitor.sim.margin import PositionSide
from monitor.sim.server import SimulatorServer
from monitor.venues.base import AccountContext, Venue
from monitor.venues.registry import VENUES as VENUE_CLASSES
from tests.integration.pipeline_harness import PORTFOLIO, running_pipeline
from tests.support import eventually

DEADLINE_S = 20.0
RELATIVE = 1e-9


@dataclass(frozen=True, slots=True)
class VenueCase:
    """A simulated futures venue, its symbol and how many venue units make 1 BTC."""

    venue: str
    symbol: str
    units_per_btc: float
    one_way_on_the_wire: bool = True
    """False where the venue's position frames name a long or short side for every position
    (BingX, MEXC and WEEX as simulated): the monitor then reads a one-way short as a short leg."""
    settle: str = "USDT"
    """The wallet asset; a coin for an inverse (coin-margined) contract."""
    wallet: float = 25_000.0
    """The wallet set in ``settle``."""
    relative: float = RELATIVE
    """Relative agreement required. Coin wallets travel with 8 decimals (Binance COIN-M ``iw``
    "0.19672131"), so an isolated leg's liquidation price seen by the monitor can differ from the
    venue's unrounded one by about 1e-8 of the wallet: 1e-7 there."""

    net_cross_only: bool = False
    """True where the venue holds one net position per instrument in cross margin (Deribit)."""

    @property
    def coin_margined(self) -> bool:
        """Whether the venue's maintenance margin is in the coin (the monitor's in USD at the mark)."""
        return self.settle == "BTC"

    hedge_mode: bool = True
    """False where the venue holds one net position per symbol (Hyperliquid)."""

    def monitor_side(self, side: PositionSide, quantity: float) -> str:
        """The position side the monitor reads for a simulated leg."""
        if side != "one_way" or self.one_way_on_the_wire:
            return side
        return "long" if quantity > 0 else "short"

    @property
    def instrument(self) -> str:
        """The monitor's instrument id."""
        return f"{self.venue}:{self.symbol}"

    def module(self, sim: SimulatorServer) -> Venue:
        """The monitor's venue module pointed at the simulator."""
        account = AccountContext(self.account, PORTFOLIO, sim.credentials(self.venue, self.account),
                                 address=sim.address(self.venue, self.account))
        urls: dict[str, Any] = {"symbols": [self.symbol], "account": account,
                                "ws_base_url": sim.ws_url(self.venue),
                                "rest_base_url": sim.rest_url(self.venue)}
        return VENUE_CLASSES[self.venue](**urls)

    @property
    def account(self) -> str:
        """The simulated account."""
        return f"{self.venue}-main"


VENUES = [
    pytest.param(VenueCase("binance", "BTCUSDT", 1.0), id="binance"),
    pytest.param(VenueCase("okx", "BTC-USDT-SWAP", 100.0), id="okx"),
    pytest.param(VenueCase("bybit", "BTCUSDT", 1.0), id="bybit"),
    pytest.param(VenueCase("bingx", "BTC-USDT", 1.0, one_way_on_the_wire=False), id="bingx"),
    pytest.param(VenueCase("mexc", "BTC_USDT", 10_000.0, one_way_on_the_wire=False), id="mexc"),
    pytest.param(VenueCase("weex", "BTCUSDT", 1.0, one_way_on_the_wire=False), id="weex"),
    # BTCUSD_PERP: 100 USD contracts, 600 make 1 BTC at 60,000; a 0.5 BTC wallet
    pytest.param(VenueCase("binance-coinm", "BTCUSD_PERP", 600.0, settle="BTC", wallet=0.5,
                           relative=1e-7),
                 id="binance-coinm"),
    # BTC-PERPETUAL: 10 USD contracts, 6,000 make 1 BTC at 60,000; one net cross position
    pytest.param(VenueCase("deribit", "BTC-PERPETUAL", 6_000.0, settle="BTC", wallet=0.5,
                           net_cross_only=True), id="deribit"),
    pytest.param(VenueCase("hyperliquid", "BTC", 1.0, settle="USDC", hedge_mode=False), id="hyperliquid"),
]
# (position side, BTC, entry, leverage): a one-way short, and a hedge-mode pair
BOOKS: dict[str, list[tuple[PositionSide, float, float, float]]] = {
    "one_way": [("one_way", -1.5, 60_000.0, 10.0)],
    "hedge": [("long", 2.0, 58_000.0, 10.0), ("short", -1.0, 61_000.0, 5.0)],
}


def _legs(snapshot: dict[str, Any] | None, instrument: str) -> dict[str, dict[str, Any]]:
    if snapshot is None:
        return {}
    return {leg["position_side"]: leg for leg in snapshot["positions"]
            if leg["instrument"] == instrument and leg["mark_price"] is not None}


def _agree(mine: float | None, venue: float | None, relative: float = RELATIVE) -> bool:
    if mine is None or venue is None:
        return mine is venue
    return abs(mine - venue) <= relative * max(abs(venue), 1.0)


@pytest.mark.parametrize("case", VENUES)
@pytest.mark.parametrize("margin_mode", ["isolated", "cross"])
@pytest.mark.parametrize("book", sorted(BOOKS))
async def test_every_leg_matches_the_venue(case: VenueCase, margin_mode: str, book: str) -> None:
    """Liquidation price and maintenance margin of every leg equal the simulated venue's, at two marks."""
    if case.net_cross_only and (book != "one_way" or margin_mode != "cross"):
        pytest.skip(f"{case.venue} holds one net cross position per instrument")
    if book == "hedge" and not case.hedge_mode:
        pytest.skip(f"{case.venue} holds one net position per symbol: no hedge-mode legs")
    async with SimulatorServer(seed=41, heartbeat_s=0.2) as sim:
        await sim.set_price(case.venue, case.symbol, 60_000.0)
        await sim.set_balance(case.venue, case.account, case.settle, case.wallet)
        legs = BOOKS[book]
        for side, btc, entry, leverage in legs:
            await sim.set_position(case.venue, case.account, case.symbol, btc * case.units_per_btc,
                                   entry, leverage=leverage, margin_mode=margin_mode,
                                   position_side=side)
        sides = {case.monitor_side(side, btc): side for side, btc, *_ in legs}
        async with running_pipeline([case.module(sim)]) as run:
            for mark in (60_000.0, 63_500.0):
                await sim.set_price(case.venue, case.symbol, mark)

                def matches(mark: float = mark) -> bool:
                    seen = _legs(run.latest(), case.instrument)
                    if set(seen) != set(sides):
                        return False
                    for side, leg in seen.items():
                        venue = sim.venue_figures(case.venue, case.account, case.symbol, sides[side])
                        if leg["mark_price"] != mark or venue.mark_price != mark:
                            return False
                        venue_mm_usd = venue.maintenance_margin * (mark if case.coin_margined else 1.0)
                        if not (_agree(leg["liquidation_price"], venue.liquidation_price, case.relative)
                                and _agree(leg["maintenance_margin_usd"], venue_mm_usd, case.relative)):
                            return False
                    return True

                def state(mark: float = mark) -> object:
                    mine = {side: (leg["liquidation_price"], leg["maintenance_margin_usd"])
                            for side, leg in _legs(run.latest(), case.instrument).items()}
                    venue = {side: (figures.liquidation_price, figures.maintenance_margin)
                             for side, *_ in legs
                             for figures in [sim.venue_figures(case.venue, case.account,
                                                               case.symbol, side)]}
                    return {"mark": mark, "monitor": mine, "venue": venue}

                await eventually(matches, DEADLINE_S, state=state)
