"""A seeded workload for the crash test: price ticks and account changes of many portfolios.

The same seed gives the same events (only ``ts_receive_ms``, the wall clock, differs). Prices follow
a geometric random walk per asset; futures carry a fixed basis and a funding rate. Account events
are full state (positions, balances) plus fills, spread over every portfolio; hedges are sized
around the portfolio's spot holdings with a random ratio, so hedge-ratio and margin alerts fire and
resolve during a run.

The *settle* ticks end a run: every spot instrument of an asset gets the same price and every
future the same index, stamped after every other event, so the final price table (and therefore
every order-independent figure) does not depend on how the two input topics interleaved.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from monitor.domain.events import BalanceEvent, Event, FillEvent, PositionEvent, PriceEvent
from monitor.domain.instruments import Catalog, Instrument

FUNDING_INTERVAL_MS = 8 * 3_600_000
INITIAL_PRICES = {"BTC": 60_000.0, "ETH": 3_000.0}
DEFAULT_INITIAL_PRICE = 100.0
SPOT_ACCOUNTS = ("cold", "hot")
MARGIN_ASSET = "USDT"
MARGIN_STABLECOINS = frozenset({"USDT", "USDC"})


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class WorkloadSettings:
    """Size and mix of a workload."""

    events: int = 100_000
    portfolios: int = 100
    seed: int = 1
    price_share: float = 0.5
    fill_share: float = 0.05
    start_ms: int = 1_700_000_000_000
    step_ms: int = 1_000

    def __post_init__(self) -> None:
        if self.events < 1 or self.portfolios < 1:
            raise ValueError("events and portfolios must be at least 1")
        if not (0 <= self.price_share < 1 and 0 <= self.fill_share < 1):
            raise ValueError("price_share and fill_share must be in [0, 1)")
        if self.step_ms < 1:
            raise ValueError("step_ms must be at least 1")


@dataclass(frozen=True, slots=True)
class PortfolioProfile:
    """What one generated portfolio trades: its hedge instruments per asset."""

    name: str
    hedges: dict[str, tuple[Instrument, ...]]


def _round_to_lot(value: float, lot: float) -> float:
    return round(round(value / lot) * lot, 10)


class Workload:
    """Yields the events of one seeded run, then the settle ticks."""

    def __init__(
        self,
        settings: WorkloadSettings,
        catalog: Catalog,
        receive_clock_ms: Callable[[], int] = _wall_clock_ms,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self._receive_clock_ms = receive_clock_ms
        self._rng = random.Random(settings.seed)
        self.instruments: tuple[Instrument, ...] = tuple(catalog.require(i) for i in sorted(catalog.ids()))
        self.assets: tuple[str, ...] = tuple(sorted({i.base for i in self.instruments}))
        self._futures = {
            asset: tuple(i for i in self.instruments if i.base == asset and i.is_future)
            for asset in self.assets
        }
        self._price = {asset: INITIAL_PRICES.get(asset, DEFAULT_INITIAL_PRICE) for asset in self.assets}
        self._basis = {
            i.id: self._rng.uniform(-0.002, 0.002) if i.is_future else 0.0 for i in self.instruments
        }
        self.profiles: tuple[PortfolioProfile, ...] = tuple(
            self._profile(f"p{index:04d}") for index in range(settings.portfolios)
        )
        self._spot: dict[tuple[str, str, str], float] = {}
        self.generated = 0

    def _profile(self, name: str) -> PortfolioProfile:
        hedges: dict[str, tuple[Instrument, ...]] = {}
        for asset, futures in self._futures.items():
            if futures:
                count = min(len(futures), self._rng.choice((1, 1, 2)))
                hedges[asset] = tuple(self._rng.sample(futures, count))
        return PortfolioProfile(name, hedges)

    @staticmethod
    def initial_price(instrument: Instrument) -> float:
        """The price an instrument's asset starts the run at."""
        return INITIAL_PRICES.get(instrument.base, DEFAULT_INITIAL_PRICE)

    def _time(self, index: int) -> int:
        return self.settings.start_ms + index * self.settings.step_ms

    def events(self) -> Iterator[Event]:
        """Every event of the run, in the order the driver writes them."""
        for index in range(self.settings.events):
            self.generated = index + 1
            ts_ms = self._time(index)
            if self._rng.random() < self.settings.price_share:
                yield self._price_event(ts_ms)
            else:
                yield self._account_event(ts_ms)

    # -- prices ---------------------------------------------------------------------------------

    def _price_event(self, ts_ms: int) -> PriceEvent:
        instrument = self._rng.choice(self.instruments)
        asset = instrument.base
        self._price[asset] *= math.exp(0.002 * self._rng.gauss(0.0, 1.0))
        spot = self._price[asset]
        if not instrument.is_future:
            mark = spot * (1.0 + self._rng.uniform(-0.0003, 0.0003))
            return PriceEvent(instrument.id, round(mark, 6), None, None, None, ts_ms,
                              self._receive_clock_ms())
        next_funding = (ts_ms // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS
        return PriceEvent(
            instrument.id, round(spot * (1.0 + self._basis[instrument.id]), 6), round(spot, 6),
            round(self._rng.uniform(-0.0002, 0.0004), 8), next_funding, ts_ms,
            self._receive_clock_ms())

    def settle_asset_prices(self) -> dict[str, float]:
        """The reference price of every asset after the settle ticks."""
        return {asset: round(price, 6) for asset, price in self._price.items()}

    def settle_marks(self) -> dict[str, float]:
        """The mark of every instrument after the settle ticks."""
        assets = self.settle_asset_prices()
        return {
            i.id: round(assets[i.base] * (1.0 + self._basis[i.id]), 6) if i.is_future else assets[i.base]
            for i in self.instruments
        }

    def settle(self) -> list[PriceEvent]:
        """One tick per instrument, stamped after every event: the final price table."""
        ts_ms = self._time(self.settings.events)
        assets = self.settle_asset_prices()
        marks = self.settle_marks()
        now = self._receive_clock_ms()
        return [
            PriceEvent(i.id, marks[i.id], assets[i.base] if i.is_future else None, None, None,
                       ts_ms, now)
            for i in self.instruments
        ]

    # -- accounts -------------------------------------------------------------------------------

    def _account_event(self, ts_ms: int) -> Event:
        profile = self._rng.choice(self.profiles)
        draw = self._rng.random()
        fill_share = self.settings.fill_share
        if draw < fill_share:
            return self._fill(profile, ts_ms)
        if draw < fill_share + 0.45 * (1.0 - fill_share):
            return self._balance(profile, ts_ms)
        return self._position(profile, ts_ms)

    def _balance(self, profile: PortfolioProfile, ts_ms: int) -> BalanceEvent:
        now = self._receive_clock_ms()
        if self._rng.random() < 0.3 and profile.hedges:
            futures = self._rng.choice(sorted(profile.hedges.items()))[1]
            future = self._rng.choice(futures)
            quantity = 0.0 if self._rng.random() < 0.1 else round(self._rng.uniform(0, 50_000), 2)
            # the venue's stablecoin margin (USDC at Hyperliquid), USDT elsewhere
            asset = future.settle if future.settle in MARGIN_STABLECOINS else MARGIN_ASSET
            return BalanceEvent(profile.name, future.venue, asset, quantity, ts_ms, now)
        asset = self._rng.choice(self.assets)
        account = self._rng.choice(SPOT_ACCOUNTS)
        quantity = 0.0
        if self._rng.random() >= 0.1:
            quantity = round(self._rng.uniform(0, 250_000) / self._price[asset], 6)
        self._spot[(profile.name, account, asset)] = quantity
        return BalanceEvent(profile.name, account, asset, quantity, ts_ms, now)

    def _spot_held(self, portfolio: str, asset: str) -> float:
        return sum(self._spot.get((portfolio, account, asset), 0.0) for account in SPOT_ACCOUNTS)

    def _contracts(self, instrument: Instrument, base_quantity: float, price: float) -> float:
        if instrument.kind == "inverse":
            raw = base_quantity * price / instrument.contract_value
        else:
            raw = base_quantity / instrument.contract_size
        return _round_to_lot(raw, instrument.lot_step)

    def _position(self, profile: PortfolioProfile, ts_ms: int) -> PositionEvent:
        asset, futures = self._rng.choice(sorted(profile.hedges.items()))
        instrument = self._rng.choice(futures)
        price = self._price[asset]
        held = self._spot_held(profile.name, asset)
        if held <= 0:
            held = self._rng.uniform(1_000, 50_000) / price
        ratio = self._rng.uniform(0.4, 1.4)
        contracts = -self._contracts(instrument, ratio * held / len(futures), price)
        if self._rng.random() < 0.08:
            contracts = 0.0
        entry = round(price * (1.0 + self._rng.uniform(-0.01, 0.01)), 2)
        leverage = float(self._rng.choice((2, 3, 5, 10, 20)))
        isolated_margin: float | None = None
        mode: str = "cross"
        if self._rng.random() < 0.6:
            mode = "isolated"
            if instrument.kind == "inverse":
                notional = abs(contracts) * instrument.contract_value / entry  # in coin
            else:
                notional = abs(contracts) * instrument.contract_size * entry
            isolated_margin = round(notional / leverage * self._rng.uniform(1.0, 1.5), 8)
        return PositionEvent(
            profile.name, instrument.venue, instrument.id, contracts, entry, leverage,
            "isolated" if mode == "isolated" else "cross", isolated_margin, ts_ms,
            self._receive_clock_ms())

    def _fill(self, profile: PortfolioProfile, ts_ms: int) -> FillEvent:
        _, futures = self._rng.choice(sorted(profile.hedges.items()))
        instrument = self._rng.choice(futures)
        price = round(self._price[instrument.base] * (1.0 + self._basis[instrument.id]), 2)
        contracts = self._contracts(
            instrument, self._rng.uniform(100, 20_000) / price, price) or instrument.lot_step
        notional = (contracts * instrument.contract_value if instrument.kind == "inverse"
                    else contracts * instrument.contract_size * price)
        fee = round(abs(notional) * 0.0005, 6)
        side = self._rng.choice((-1.0, 1.0))
        return FillEvent(profile.name, instrument.venue, instrument.id, side * contracts, price, fee,
                         ts_ms, self._receive_clock_ms())
