"""Margin term tables the simulator's venue rules use (``monitor.sim.margin``), kept apart from the
monitor's domain code so that the simulator is an independent implementation.

Where the catalog already holds what a rule needs (Binance USDⓈ-M brackets: floor, cap, rate; Bybit
risk-limit tiers: cap, rate) the rows come from the catalog as data and everything derived from them
(Binance's ``cum``, Bybit's ``riskId``) is computed here. Where a rule needs terms the catalog does
not have (OKX tiers counted in contracts, MEXC risk levels counted in contracts, BingX's maintenance
amounts, Binance COIN-M brackets sized in coin) the tables below are the simulator's own; each says
where its numbers come from and which ones are only illustrative defaults.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from monitor.domain.instruments import Catalog
from monitor.errors import HedgeMonitorError

INFINITE = math.inf


class TermsError(HedgeMonitorError, ValueError):
    """A tier table is malformed (caps not increasing, a rate outside [0, 1))."""


@dataclass(frozen=True, slots=True)
class Bracket:
    """One notional bracket: notional in (floor, cap] uses ``mmr`` and deducts ``cum``.

    Binance ``GET /fapi/v1/leverageBracket`` (``notionalFloor``, ``notionalCap``,
    ``maintMarginRatio``, ``cum``, ``initialLeverage``); BingX maintMarginRatio rows
    (``minPositionVal``, ``maxPositionVal``, ``maintMarginRatio``, ``maintAmount``) have the same shape.
    """

    number: int
    floor: float
    cap: float
    mmr: float
    max_leverage: float
    cum: float


@dataclass(frozen=True, slots=True)
class SizeTier:
    """One tier counted in contracts (OKX ``minSz``/``maxSz``, MEXC risk levels): size in
    (min_size, max_size] uses ``mmr``."""

    number: int
    min_size: float
    max_size: float
    mmr: float
    imr: float
    max_leverage: float


@dataclass(frozen=True, slots=True)
class RiskLimit:
    """One Bybit risk-limit tier: position value up to ``limit_value`` (``riskLimitValue``) uses
    ``mmr`` and deducts ``deduction`` (``mmDeduction``), tier id ``risk_id`` (``riskId``)."""

    risk_id: int
    limit_value: float
    mmr: float
    imr: float
    deduction: float


def brackets_with_cum(rows: Iterable[tuple[float, float, float, float]]) -> tuple[Bracket, ...]:
    """Brackets from (floor, cap, mmr, max_leverage) rows with Binance's maintenance amount.

    Binance "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts", section Maintenance
    Amount: cum_n = floor_n * (mmr_n - mmr_{n-1}) + cum_{n-1}, cum_1 = 0 (its example: level 3 =
    250,000 * (1% - 0.5%) + 50 = 1,300 USDT).
    """
    brackets: list[Bracket] = []
    for floor, cap, mmr, max_leverage in rows:
        if not (0 <= mmr < 1) or not cap > floor:
            raise TermsError(f"bracket ({floor}, {cap}, {mmr}) is not a valid bracket")
        if brackets and floor < brackets[-1].cap - 1e-9:
            raise TermsError(f"bracket floors must not overlap: floor {floor} < cap {brackets[-1].cap}")
        cum = 0.0
        if brackets:
            previous = brackets[-1]
            cum = floor * (mmr - previous.mmr) + previous.cum
        brackets.append(Bracket(len(brackets) + 1, floor, cap, mmr, max_leverage, cum))
    if not brackets:
        raise TermsError("a bracket table needs at least one bracket")
    return tuple(brackets)


def bracket_for(brackets: Sequence[Bracket], notional: float) -> Bracket:
    """The bracket with floor < notional <= cap (the first for 0, the last beyond every cap)."""
    for bracket in brackets:
        if notional <= bracket.cap:
            return bracket
    return brackets[-1]


def size_tier_for(tiers: Sequence[SizeTier], size: float) -> SizeTier:
    """The tier with min_size < size <= max_size (the first for 0, the last beyond every cap)."""
    for tier in tiers:
        if size <= tier.max_size:
            return tier
    return tiers[-1]


def risk_limit_for(limits: Sequence[RiskLimit], value: float) -> RiskLimit:
    """The lowest risk-limit tier whose ``riskLimitValue`` covers ``value`` (the last beyond all)."""
    for limit in limits:
        if value <= limit.limit_value:
            return limit
    return limits[-1]


def size_tiers(rows: Iterable[tuple[float, float, float, float]]) -> tuple[SizeTier, ...]:
    """Size tiers from (min_size, max_size, mmr, max_leverage) rows; imr = 1 / max_leverage."""
    tiers: list[SizeTier] = []
    for min_size, max_size, mmr, max_leverage in rows:
        if not (0 <= mmr < 1) or not max_size > min_size:
            raise TermsError(f"tier ({min_size}, {max_size}, {mmr}) is not a valid tier")
        tiers.append(SizeTier(len(tiers) + 1, min_size, max_size, mmr, 1.0 / max_leverage, max_leverage))
    if not tiers:
        raise TermsError("a tier table needs at least one tier")
    return tuple(tiers)


def mexc_risk_levels(
    base_volume: float,
    volume_step: float,
    mmr: float,
    mmr_step: float,
    imr: float,
    imr_step: float,
    levels: int,
) -> tuple[SizeTier, ...]:
    """MEXC risk levels from ``GET /api/v1/contract/detail``: level n holds up to
    ``riskBaseVol + (n - 1) * riskIncrVol`` contracts at ``maintenanceMarginRate + (n - 1) *
    riskIncrMmr`` (and the initial rate likewise); the last level is open-ended."""
    tiers = []
    for level in range(levels):
        low = 0.0 if level == 0 else base_volume + (level - 1) * volume_step
        high = INFINITE if level == levels - 1 else base_volume + level * volume_step
        level_imr = imr + level * imr_step
        tiers.append(SizeTier(level + 1, low, high, mmr + level * mmr_step, level_imr, 1.0 / level_imr))
    return tuple(tiers)


# -- Binance USDⓈ-M --------------------------------------------------------------------------------

# Binance announcement "Updates to Leverage and Margin Tiers of Binance Futures Contracts
# (2021-03-18)", BTCUSDT 125x perpetual; the same table the liquidation FAQ's examples use (264,000 USDT
# is in the 1 % bracket; level 3's maintenance amount is 1,300). The fallback for a Binance symbol the
# catalog has no brackets for.
BINANCE_BTCUSDT_2021: tuple[Bracket, ...] = brackets_with_cum(
    [
        (0, 50_000, 0.004, 125),
        (50_000, 250_000, 0.005, 100),
        (250_000, 1_000_000, 0.01, 50),
        (1_000_000, 10_000_000, 0.025, 20),
        (10_000_000, 20_000_000, 0.05, 10),
        (20_000_000, 50_000_000, 0.10, 5),
        (50_000_000, 100_000_000, 0.125, 4),
        (100_000_000, 200_000_000, 0.15, 3),
        (200_000_000, 300_000_000, 0.25, 2),
        (300_000_000, 500_000_000, 0.50, 1),
    ]
)

# -- Binance COIN-M (brackets sized in coin) ------------------------------------------------------

# BTCUSD perpetual, contract size 100 USD. Floors are the "Max Position" steps of Binance's "Leverage
# and Margin in Coin-Margined Futures Contracts" (5, 10, 20, 50, 100, 200, 400, 1000 BTC); the rates are
# the simulator's. With them the liquidation formula reproduces the 33,599.40 Binance's calculator
# showed for a long of 100,000 contracts at 45,000 with a 101 BTC wallet (dev.binance.vision thread
# "Coin-margined futures liquidation price calculation help - CM variable").
BINANCE_COINM_BTCUSD: tuple[Bracket, ...] = brackets_with_cum(
    [
        (0, 5, 0.004, 125),
        (5, 10, 0.005, 100),
        (10, 20, 0.01, 50),
        (20, 50, 0.025, 20),
        (50, 100, 0.05, 10),
        (100, 200, 0.10, 5),
        (200, 400, 0.125, 4),
        (400, 1000, 0.15, 3),
        (1000, INFINITE, 0.25, 2),
    ]
)
COINM_CONTRACT_VALUE_USD = 100.0

# -- OKX (tiers counted in contracts) -----------------------------------------------------------------

# Tier 1 of BTC-USDT-SWAP (0-1000 contracts, mmr 0.4 %, imr 1 %, 100x) is a recorded position-tiers
# answer seen in public test data; the higher tiers are simulator defaults (OKX publishes them at
# GET /api/v5/public/position-tiers and changes them often). 10,000 contracts of 0.01 BTC at 60,000
# (6M USDT) sit in the 1 % tier.
OKX_TIERS: Mapping[str, tuple[SizeTier, ...]] = {
    "BTC-USDT-SWAP": size_tiers(
        [
            (0, 1_000, 0.004, 100),
            (1_000, 3_000, 0.005, 75),
            (3_000, 8_000, 0.008, 50),
            (8_000, 15_000, 0.01, 40),
            (15_000, 30_000, 0.015, 25),
            (30_000, INFINITE, 0.02, 20),
        ]
    ),
    "ETH-USDT-SWAP": size_tiers(
        [
            (0, 5_000, 0.004, 100),
            (5_000, 20_000, 0.006, 75),
            (20_000, 60_000, 0.01, 50),
            (60_000, INFINITE, 0.02, 20),
        ]
    ),
    "BTC-USD-SWAP": size_tiers(
        [
            (0, 10_000, 0.004, 100),
            (10_000, 50_000, 0.006, 75),
            (50_000, INFINITE, 0.01, 50),
        ]
    ),
}
OKX_DEFAULT_TIERS: tuple[SizeTier, ...] = size_tiers([(0, INFINITE, 0.005, 50)])

# -- BingX -----------------------------------------------------------------------------------------

# BTC-USDT: the maintMarginRatio answer in the reference fixtures (0-150,000 USDT at 0.38 %, maintenance
# amount 0; 150,000-900,000 at 0.40 %, amount 30 = 150,000 * (0.40 % - 0.38 %)); beyond 900,000 a
# simulator default. Other symbols: simulator defaults (BingX publishes no table in its API docs).
BINGX_BRACKETS: Mapping[str, tuple[Bracket, ...]] = {
    "BTC-USDT": brackets_with_cum(
        [(0, 150_000, 0.0038, 125), (150_000, 900_000, 0.004, 100), (900_000, INFINITE, 0.01, 50)]
    ),
}
BINGX_DEFAULT_BRACKETS: tuple[Bracket, ...] = brackets_with_cum(
    [(0, 100_000, 0.005, 100), (100_000, 500_000, 0.01, 50), (500_000, INFINITE, 0.02, 20)]
)

# -- MEXC (risk levels counted in contracts) --------------------------------------------------------

# BTC_USDT: the official GET /api/v1/contract/detail example (riskBaseVol 150,000, riskIncrVol
# 150,000, maintenanceMarginRate 0.4 % + riskIncrMmr 0.4 %, initialMarginRate 0.8 % + riskIncrImr
# 0.4 %, riskLevelLimit 5). Other symbols reuse it as a simulator default.
MEXC_LEVELS: Mapping[str, tuple[SizeTier, ...]] = {
    "BTC_USDT": mexc_risk_levels(150_000, 150_000, 0.004, 0.004, 0.008, 0.004, 5),
}
MEXC_DEFAULT_LEVELS = MEXC_LEVELS["BTC_USDT"]

# -- WEEX ----------------------------------------------------------------------------------------------

# WEEX documents the rule (margin rate = (position margin + unrealised PnL) / position value against a
# tiered minimum maintenance margin rate) but publishes no tier values: a single simulator default.
WEEX_DEFAULT_TIERS: tuple[SizeTier, ...] = size_tiers([(0, INFINITE, 0.005, 100)])

# -- Bybit -----------------------------------------------------------------------------------------

# Bybit's first linear tier as the position stream fixture shows it (riskId 1, riskLimitValue
# 2,000,000) at the 0.5 % of the liquidation help page's examples: the fallback without catalog tiers.
def hyperliquid_margin_tiers(rows: Iterable[tuple[float, float, float]]) -> tuple[Bracket, ...]:
    """Hyperliquid margin tiers from (notional lower bound, cap, max leverage) rows.

    Hyperliquid docs "Margin tiers": ``maintenance_margin_rate(n) = initial margin rate at the
    tier's maximum leverage / 2`` ("at 20x max leverage, maintenance_margin_rate = 2.5%"), and
    ``maintenance_deduction(n) = maintenance_deduction(n - 1) + notional_position_lower_bound(n) *
    (maintenance_margin_rate(n) - maintenance_margin_rate(n - 1))``, 0 for the first tier. Only the
    bounds and the leverage are taken from the table: the rates and deductions are derived here.
    """
    tiers: list[Bracket] = []
    for lower_bound, cap, max_leverage in rows:
        if not max_leverage >= 1 or not cap > lower_bound:
            raise TermsError(f"margin tier ({lower_bound}, {cap}, {max_leverage}x) is not a valid tier")
        rate = (1.0 / max_leverage) / 2.0
        deduction = 0.0
        if tiers:
            previous = tiers[-1]
            deduction = previous.cum + lower_bound * (rate - previous.mmr)
        tiers.append(Bracket(len(tiers) + 1, lower_bound, cap, rate, max_leverage, deduction))
    if not tiers:
        raise TermsError("a margin table needs at least one tier")
    return tuple(tiers)


# Hyperliquid docs "Margin tiers", mainnet BTC (0-150M USDC at 40x, above at 20x): used when the
# catalog has no tiers for a coin.
HYPERLIQUID_DEFAULT_TIERS: tuple[Bracket, ...] = hyperliquid_margin_tiers(
    [(0, 150_000_000, 40), (150_000_000, INFINITE, 20)])
BYBIT_DEFAULT_LIMITS: tuple[RiskLimit, ...] = (RiskLimit(1, 2_000_000, 0.005, 0.01, 0.0),)


# -- Deribit (standard margin, rate rising with the position size in coin) ---------------------------

# Deribit help "11 January 2022" (margin change) and "Inverse Perpetual" margin examples: maintenance
# margin rate = 1 % + (position size in BTC) * 0.005 %, ETH: 1 % + (size in ETH) * 0.0004 %.
DERIBIT_MAINTENANCE: Mapping[str, tuple[float, float]] = {"BTC": (0.01, 0.00005), "ETH": (0.01, 0.000004)}


class SimTerms:
    """The tier tables of every simulated venue, by symbol."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def binance_brackets(self, symbol: str) -> tuple[Bracket, ...]:
        """Binance USDⓈ-M brackets: the catalog's rows with ``cum`` derived here, else the 2021 table."""
        instrument = self.catalog.get(f"binance:{symbol}")
        if instrument is None or not instrument.tiers:
            return BINANCE_BTCUSDT_2021
        return brackets_with_cum((t.floor, t.cap, t.mmr, t.max_leverage) for t in instrument.tiers)

    def bybit_limits(self, symbol: str) -> tuple[RiskLimit, ...]:
        """Bybit risk-limit tiers from the catalog's rows (riskId 1, 2, ...; no deduction)."""
        instrument = self.catalog.get(f"bybit:{symbol}")
        if instrument is None or not instrument.tiers:
            return BYBIT_DEFAULT_LIMITS
        return tuple(
            RiskLimit(number, tier.cap, tier.mmr, 1.0 / tier.max_leverage, 0.0)
            for number, tier in enumerate(instrument.tiers, start=1)
        )

    def okx_tiers(self, symbol: str) -> tuple[SizeTier, ...]:
        """OKX position tiers in contracts."""
        return OKX_TIERS.get(symbol, OKX_DEFAULT_TIERS)

    def bingx_brackets(self, symbol: str) -> tuple[Bracket, ...]:
        """BingX maintenance-margin brackets (notional, with maintenance amounts)."""
        return BINGX_BRACKETS.get(symbol, BINGX_DEFAULT_BRACKETS)

    def mexc_levels(self, symbol: str) -> tuple[SizeTier, ...]:
        """MEXC risk levels in contracts."""
        return MEXC_LEVELS.get(symbol, MEXC_DEFAULT_LEVELS)

    def weex_tiers(self, symbol: str) -> tuple[SizeTier, ...]:
        """WEEX tiers (one simulator default)."""
        del symbol
        return WEEX_DEFAULT_TIERS

    def deribit_maintenance(self, symbol: str) -> tuple[float, float] | None:
        """Deribit's (base rate, increase per coin of size) of the symbol's coin, or None."""
        return DERIBIT_MAINTENANCE.get(symbol.split("-", 1)[0])

    def binance_coinm_brackets(self, symbol: str) -> tuple[Bracket, ...]:
        """Binance COIN-M brackets in coin: the catalog's rows with ``cum`` derived here, else the
        BTCUSD table."""
        instrument = self.catalog.get(f"binance-coinm:{symbol}")
        if instrument is None or not instrument.tiers:
            return BINANCE_COINM_BTCUSD
        return brackets_with_cum((t.floor, t.cap, t.mmr, t.max_leverage) for t in instrument.tiers)

    def hyperliquid_tiers(self, symbol: str) -> tuple[Bracket, ...]:
        """Hyperliquid margin tiers: the catalog's bounds and max leverage, rates derived here."""
        instrument = self.catalog.get(f"hyperliquid:{symbol}")
        if instrument is None or not instrument.tiers:
            return HYPERLIQUID_DEFAULT_TIERS
        return hyperliquid_margin_tiers((t.floor, t.cap, t.max_leverage) for t in instrument.tiers)
