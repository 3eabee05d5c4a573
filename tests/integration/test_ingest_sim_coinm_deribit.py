"""Coin-margined venues end to end: simulator -> real venue module -> ingest -> MemoryBus -> Processor.

Binance COIN-M (and Deribit) hedges are inverse contracts margined in the coin. Each venue here
holds a short of 1 BTC of contracts against a coin wallet of half that; the monitor must read
the position, the mark and the wallet, publish the venue's own margin figures, and, after a drop
during which the position and the wallet changed unseen, resync to the simulator's state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from monitor.sim.server import SimulatorServer
from monitor.venues.base import AccountContext, Venue
from monitor.venues.registry import build_venue
from tests.integration.pipeline_harness import PORTFOLIO, running_pipeline
from tests.support import eventually

pytestmark = pytest.mark.integration

RELATIVE = 1e-9


@dataclass(frozen=True, slots=True)
class CoinVenue:
    """A simulated coin-margined venue, its BTC contract and how many contracts make 1 BTC at 60,000."""

    name: str
    symbol: str
    contracts_per_btc: float

    @property
    def account(self) -> str:
        """The simulated account."""
        return f"{self.name}-main"

    @property
    def instrument(self) -> str:
        """The monitor's instrument id."""
        return f"{self.name}:{self.symbol}"

    def module(self, sim: SimulatorServer) -> Venue:
        """The monitor's venue module pointed at the simulator."""
        urls = sim.urls(self.name)
        return build_venue(
            self.name, symbols=[self.symbol],
            account=AccountContext(self.account, PORTFOLIO, sim.credentials(self.name, self.account)),
            catalog=sim.world.catalog, ws_base_url=urls.ws_base_url, rest_base_url=urls.rest_base_url,
        )


# BTCUSD_PERP: 100 USD a contract, 600 contracts = 60,000 USD = 1 BTC at 60,000
COINM = CoinVenue("binance-coinm", "BTCUSD_PERP", 600.0)
# BTC-PERPETUAL: 10 USD contracts, 6,000 make 1 BTC at 60,000
DERIBIT = CoinVenue("deribit", "BTC-PERPETUAL", 6_000.0)
VENUES = [pytest.param(COINM, id="binance-coinm"), pytest.param(DERIBIT, id="deribit")]


def _leg(snapshot: dict[str, Any] | None, instrument: str) -> dict[str, Any] | None:
    if snapshot is None:
        return None
    return next((leg for leg in snapshot["positions"] if leg["instrument"] == instrument), None)


def _close(mine: float | None, venue: float | None) -> bool:
    if mine is None or venue is None:
        return mine is venue
    return abs(mine - venue) <= RELATIVE * max(abs(venue), 1.0)


@pytest.mark.parametrize("case", VENUES)
async def test_coin_margined_hedge_is_read_priced_and_resynced_after_a_drop(case: CoinVenue) -> None:
    """A 1 BTC inverse short against 0.5 BTC (so it has a liquidation price): read with the venue's
    liquidation price and maintenance margin, then a drop hides a buy-back of a sixth of it and a
    0.1 BTC withdrawal, which the resync brings in."""
    async with SimulatorServer(seed=19, heartbeat_s=0.2) as sim:
        await sim.set_price(case.name, case.symbol, 60_000.0, index=59_990.0, funding_rate=0.0001)
        await sim.set_balance(case.name, case.account, "BTC", 0.5)
        await sim.set_position(case.name, case.account, case.symbol, -case.contracts_per_btc, 60_000.0,
                               leverage=10.0, margin_mode="cross")
        async with running_pipeline([case.module(sim)]) as run:

            def read() -> bool:
                leg = _leg(run.latest(), case.instrument)
                if leg is None or not run.resynced() or leg["mark_price"] != 60_000.0:
                    return False
                venue = sim.venue_figures(case.name, case.account, case.symbol)
                return (leg["quantity"] == -case.contracts_per_btc
                        and run.spot_delta("BTC") == 0.5
                        and venue.liquidation_price is not None
                        and _close(leg["liquidation_price"], venue.liquidation_price)
                        and _close(leg["maintenance_margin_usd"], venue.maintenance_margin * 60_000.0))

            await eventually(read, 20.0, state=run.describe)
            await sim.change_while_disconnected(
                case.name, case.account, case.symbol, -case.contracts_per_btc * 5 / 6, 60_000.0,
                offline_s=0.3,
            )
            await sim.set_balance(case.name, case.account, "BTC", 0.4)
            await eventually(lambda: run.resynced(min_connects=2), 20.0, state=run.describe)

            def resynced() -> bool:
                position = sim.position(case.name, case.account, case.symbol)
                assert position is not None
                return (run.quantity(case.account, case.instrument) == position.quantity
                        and run.spot_delta("BTC") == sim.balance(case.name, case.account, "BTC"))

            await eventually(resynced, 20.0, state=run.describe)
    # 600 contracts short, 100 bought back unseen: -500; 0.5 - 0.1 = 0.4 BTC
    assert run.quantity(case.account, case.instrument) == -case.contracts_per_btc * 5 / 6
    assert run.spot_delta("BTC") == pytest.approx(0.4)
    assert run.dead_letters() == []
