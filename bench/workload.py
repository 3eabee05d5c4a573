"""The benchmark workload: 20 futures instruments, portfolios of a spot balance hedged by 1-3 legs.

Deterministic for a seed. Each portfolio holds one asset (BTC, ETH or SOL) in a cold wallet and shorts
it with 1-3 futures legs on that asset's instruments (half isolated with a margin of notional / 5,
half cross against a USDT balance in the leg's account; inverse legs are always isolated). The
stream is 99 % price ticks (a random walk per instrument) and 1 % position changes (a leg grows or
shrinks by about 5 %, never to zero). ``ts_event_ms`` is ``base + sequence``: a per-run sequence, so
a snapshot's ``ts_event_ms`` names the newest event it reflects (the e2e latency uses that).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from monitor.domain import formulas as f
from monitor.domain.events import BalanceEvent, Event, MarginMode, PositionEvent, PriceEvent
from monitor.domain.instruments import Catalog, Instrument, default_catalog

INSTRUMENTS_BY_ASSET: Mapping[str, tuple[str, ...]] = {
    "BTC": (
        "okx:BTC-USDT-SWAP", "okx:BTC-USD-SWAP", "binance:BTCUSDT", "bybit:BTCUSDT",
        "deribit:BTC-PERPETUAL", "cme:MBT", "coinbase:BIT", "bingx:BTC-USDT", "mexc:BTC_USDT",
        "weex:BTCUSDT",
    ),
    "ETH": (
        "okx:ETH-USDT-SWAP", "binance:ETHUSDT", "bybit:ETHUSDT", "cme:MET", "bingx:ETH-USDT",
        "mexc:ETH_USDT", "weex:ETHUSDT",
    ),
    "SOL": ("binance:SOLUSDT", "okx:SOL-USDT-SWAP", "bybit:SOLUSDT"),
}
ASSET_WEIGHTS: Mapping[str, float] = {"BTC": 0.6, "ETH": 0.3, "SOL": 0.1}
START_PRICES: Mapping[str, float] = {"BTC": 60_000.0, "ETH": 3_000.0, "SOL": 150.0}
SPOT_RANGES: Mapping[str, tuple[float, float]] = {
    "BTC": (0.5, 5.0), "ETH": (5.0, 80.0), "SOL": (100.0, 2_000.0),
}
_SOL_TIERS = [
    {"floor": 0, "cap": 200_000, "mmr": 0.01, "max_leverage": 50},
    {"floor": 200_000, "cap": 1_000_000, "mmr": 0.02, "max_leverage": 25},
    {"floor": 1_000_000, "cap": 5_000_000, "mmr": 0.05, "max_leverage": 10},
]
# Three SOL perpetuals the shipped catalog does not list: bench-only terms, shaped like the venues'.
BENCH_OVERRIDES: Mapping[str, Mapping[str, Any]] = {
    instrument_id: {
        "kind": "linear", "base": "SOL", "quote": "USDT", "settle": "USD",
        "contract_size": size, "lot_step": lot, "min_quantity": lot, "tiers": _SOL_TIERS,
        "note": "bench workload only",
    }
    for instrument_id, size, lot in (
        ("binance:SOLUSDT", 1.0, 1.0), ("okx:SOL-USDT-SWAP", 1.0, 0.01), ("bybit:SOLUSDT", 1.0, 0.1),
    )
}
PRICE_SHARE = 0.99
TICK_VOLATILITY = 2e-4
BASIS = 5e-4
ISOLATED_LEVERAGE = 5.0


def bench_catalog() -> Catalog:
    """The shipped catalog plus the bench's SOL perpetuals."""
    return default_catalog().with_overrides(BENCH_OVERRIDES)


def instrument_ids() -> list[str]:
    """The 20 futures instruments of the workload, asset by asset."""
    return [instrument for instruments in INSTRUMENTS_BY_ASSET.values() for instrument in instruments]


@dataclass(slots=True)
class Leg:
    """One futures position of a portfolio, as the generator last published it."""

    account: str
    instrument: Instrument
    quantity: float
    entry_price: float
    margin_mode: MarginMode
    isolated_margin: float | None


@dataclass(slots=True)
class Portfolio:
    """A generated portfolio: one asset held spot, hedged by its legs."""

    name: str
    asset: str
    spot: float
    legs: list[Leg] = field(default_factory=list)


def _base_per_contract(instrument: Instrument, price: float) -> float:
    if instrument.kind == "inverse":
        return instrument.contract_value / price
    return instrument.contract_size


class Workload:
    """Portfolios, their setup events and a stream of price ticks and position changes."""

    def __init__(self, portfolios: int, catalog: Catalog, *, seed: int = 1, base_ms: int = 0) -> None:
        self.catalog = catalog
        self.random = random.Random(seed)
        self.base_ms = base_ms
        self.sequence = 0
        self.instruments = [catalog.require(i) for i in instrument_ids()]
        self.marks = {
            i.id: START_PRICES[i.base] * (1 + self.random.uniform(-1e-3, 1e-3)) for i in self.instruments
        }
        self.portfolios = [self._portfolio(f"bench-{index:05d}") for index in range(portfolios)]
        self.holders: dict[str, list[int]] = {i.id: [] for i in self.instruments}
        for index, portfolio in enumerate(self.portfolios):
            for leg in portfolio.legs:
                self.holders[leg.instrument.id].append(index)
        self.last_price_ts: dict[str, int] = {}
        self.last_account_ts: dict[str, int] = {}

    # -- portfolios ---------------------------------------------------------------------------

    def _portfolio(self, name: str) -> Portfolio:
        rng = self.random
        asset = rng.choices(list(ASSET_WEIGHTS), weights=list(ASSET_WEIGHTS.values()))[0]
        low, high = SPOT_RANGES[asset]
        portfolio = Portfolio(name, asset, round(rng.uniform(low, high), 4))
        choices = INSTRUMENTS_BY_ASSET[asset]
        count = rng.randint(1, min(3, len(choices)))
        for instrument_id in rng.sample(choices, count):
            instrument = self.catalog.require(instrument_id)
            price = self.marks[instrument_id]
            contracts = float(f.round_to_lot(
                portfolio.spot / count / _base_per_contract(instrument, price), instrument.lot_step))
            contracts = max(contracts, instrument.lot_step)
            isolated = instrument.kind == "inverse" or rng.random() < 0.5
            margin: float | None = None
            if isolated:
                notional = contracts * _base_per_contract(instrument, price) * price
                margin = notional / ISOLATED_LEVERAGE
                if instrument.kind == "inverse":
                    margin /= price  # coin
            portfolio.legs.append(Leg(
                instrument.venue, instrument, -contracts, round(price, 2),
                "isolated" if isolated else "cross", margin))
        return portfolio

    def _next_ts(self) -> int:
        self.sequence += 1
        return self.base_ms + self.sequence

    def _position_event(self, portfolio: Portfolio, leg: Leg, ts: int, receive_ms: int) -> PositionEvent:
        return PositionEvent(
            portfolio.name, leg.account, leg.instrument.id, leg.quantity, leg.entry_price,
            ISOLATED_LEVERAGE if leg.margin_mode == "isolated" else None, leg.margin_mode,
            leg.isolated_margin, ts, receive_ms)

    def _price_event(self, instrument: Instrument, ts: int, receive_ms: int) -> PriceEvent:
        mark = self.marks[instrument.id] * (1 + self.random.gauss(0.0, TICK_VOLATILITY))
        self.marks[instrument.id] = mark
        self.last_price_ts[instrument.id] = ts
        return PriceEvent(instrument.id, mark, mark * (1 - BASIS), 1e-4, None, ts, receive_ms)

    def setup_events(self, receive_ms: int) -> list[Event]:
        """One price per instrument, then every portfolio's balances and positions."""
        events: list[Event] = [
            self._price_event(instrument, self._next_ts(), receive_ms) for instrument in self.instruments
        ]
        for portfolio in self.portfolios:
            ts = self._next_ts()
            events.append(BalanceEvent(
                portfolio.name, "cold", portfolio.asset, portfolio.spot, ts, receive_ms))
            for leg in portfolio.legs:
                if leg.margin_mode == "cross":
                    wallet = abs(leg.quantity) * _base_per_contract(leg.instrument, 1.0) \
                        * START_PRICES[portfolio.asset] / 3
                    events.append(BalanceEvent(
                        portfolio.name, leg.account, "USDT", round(wallet, 2), ts, receive_ms))
                events.append(self._position_event(portfolio, leg, ts, receive_ms))
            self.last_account_ts[portfolio.name] = ts
        return events

    # -- stream -------------------------------------------------------------------------------

    def next_event(self, receive_ms: int) -> Event:
        """One stream event: a price tick (99 %) or a position change (1 %)."""
        ts = self._next_ts()
        rng = self.random
        if rng.random() < PRICE_SHARE or not self.portfolios:
            return self._price_event(rng.choice(self.instruments), ts, receive_ms)
        portfolio = rng.choice(self.portfolios)
        leg = rng.choice(portfolio.legs)
        step = max(leg.instrument.lot_step, float(f.round_to_lot(abs(leg.quantity) * 0.05,
                                                                 leg.instrument.lot_step)))
        grown = abs(leg.quantity) + step * rng.choice((-1.0, 1.0))
        leg.quantity = -max(leg.instrument.lot_step, float(f.round_to_lot(grown, leg.instrument.lot_step)))
        self.last_account_ts[portfolio.name] = ts
        return self._position_event(portfolio, leg, ts, receive_ms)

    def price_tick(self, receive_ms: int) -> PriceEvent:
        """One price tick of a random instrument (the live measurement feeds these one by one)."""
        return self._price_event(self.random.choice(self.instruments), self._next_ts(), receive_ms)

    def stream(self, count: int, receive_ms: int) -> list[Event]:
        """``count`` stream events."""
        return [self.next_event(receive_ms) for _ in range(count)]

    def expected_final_ts(self) -> dict[str, int]:
        """The ``ts_event_ms`` each portfolio's last snapshot must carry once everything is applied."""
        expected: dict[str, int] = {}
        for portfolio in self.portfolios:
            newest = self.last_account_ts.get(portfolio.name, 0)
            for leg in portfolio.legs:
                newest = max(newest, self.last_price_ts.get(leg.instrument.id, 0))
            expected[portfolio.name] = newest
        return expected

    def held_positions(self) -> int:
        """Legs across every portfolio."""
        return sum(len(p.legs) for p in self.portfolios)
