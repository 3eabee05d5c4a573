"""Margin and liquidation as each venue documents them: the simulator's own implementation.

Written apart from ``monitor.domain`` on purpose (nothing here imports its formulas or book): the
monitor's figures are compared with these, so a wrong formula on either side shows up as a mismatch
instead of passing every test. Term tables live in ``monitor.sim.terms``.

One class per venue rule set. Each works on a ``RiskUnit``: what one liquidation covers, either an
isolated leg on its own wallet or every cross leg of one symbol on the cross wallet (hedge-mode LONG
and SHORT legs of a symbol in one formula), with the other symbols of the same margin pool entering
as their maintenance margin and unrealised PnL at their current marks (Binance's TMM1 and UPNL1).
All money is in the contract's settlement currency (USDT for linear, the coin for inverse).

Two kinds of maintenance margin appear:

- valued at the mark price (Binance, BingX, OKX, WEEX): MM(P) = |Q| * P * MMR - deduction, the tier
  taken at the position's size or notional at P. Where the tier depends on the notional, the
  liquidation price is solved on each price segment over which the tiers stay the same, and kept
  only if it falls inside its segment: the documents' "if the notional at the liquidation price is
  in another bracket, recalculate with that bracket".
- valued at the entry price (Bybit, MEXC): MM = |Q| * EP * MMR - deduction, constant in the mark.

Either way the liquidation price depends only on the position's terms (size, entry, wallet, tiers)
and, in cross mode, on the other symbols' figures: never on the symbol's own current mark.
"""

from __future__ import annotations

import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from monitor.sim.terms import (
    Bracket,
    RiskLimit,
    SimTerms,
    SizeTier,
    bracket_for,
    risk_limit_for,
    size_tier_for,
)

PositionSide = Literal["one_way", "long", "short"]
POSITION_SIDES: tuple[PositionSide, ...] = ("one_way", "long", "short")
ContractKind = Literal["linear", "inverse"]

STABLECOINS = frozenset({"USDT", "USDC", "USD", "BUSD", "FDUSD"})
# Binance "What Is Multi-Assets Mode" (FAQ 29b45c485d664028b9ca1cdf90b24f6f): "BTC, ETH, and BNB
# used as margin in multi-asset mode will receive a 5% value haircut. XRP, DOT, and ADA ... a 10%
# value haircut" (SOL 90 % in its table). Stablecoins count at 1 here; the 2021 table lists USDT
# and USDC at 99.99 % and BUSD at 100 %. An asset without a documented ratio counts at 0.
MULTI_ASSETS_COLLATERAL_RATIO: Mapping[str, float] = {
    "BTC": 0.95, "ETH": 0.95, "BNB": 0.95, "XRP": 0.90, "ADA": 0.90, "DOT": 0.90, "SOL": 0.90,
}  # fmt: skip
_RELATIVE_TOLERANCE = 1e-9
# Below this fraction of the gross size, the net exposure of a hedge (and the slope of the balance
# against the requirement) counts as zero: no finite price liquidates it.
_FLAT = 1e-9


# -- inputs ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContractTerms:
    """How a contract turns a quantity into value: linear ``multiplier`` base units per quantity
    unit, inverse ``multiplier`` USD per contract; money in ``settle``."""

    kind: ContractKind
    multiplier: float
    settle: str
    taker_fee: float = 0.0005

    def size(self, quantity: float) -> float:
        """|quantity| in base units (linear) or USD (inverse)."""
        return abs(quantity) * self.multiplier

    def value(self, quantity: float, price: float) -> float:
        """The position value at ``price`` in the settlement currency."""
        if self.kind == "inverse":
            return self.size(quantity) / price
        return self.size(quantity) * price

    def pnl(self, quantity: float, entry_price: float, price: float) -> float:
        """Unrealised PnL at ``price``: linear q * m * (P - EP), inverse q * m * (1/EP - 1/P)."""
        if quantity == 0:
            return 0.0
        if self.kind == "inverse":
            return quantity * self.multiplier * (1.0 / entry_price - 1.0 / price)
        return quantity * self.multiplier * (price - entry_price)


@dataclass(frozen=True, slots=True)
class LegState:
    """One position leg as the venue holds it (``quantity`` signed venue units, negative = short)."""

    symbol: str
    side: PositionSide
    quantity: float
    entry_price: float
    leverage: float
    margin_mode: str
    isolated_wallet: float
    terms: ContractTerms

    @property
    def direction(self) -> int:
        """+1 long, -1 short, 0 flat."""
        return (self.quantity > 0) - (self.quantity < 0)


@dataclass(frozen=True, slots=True)
class RiskUnit:
    """What one liquidation covers: an isolated leg on its wallet, or a symbol's cross legs on the
    cross wallet with the other symbols' maintenance margin (TMM1) and unrealised PnL (UPNL1)."""

    symbol: str
    legs: tuple[LegState, ...]
    wallet: float
    other_maintenance: float = 0.0
    other_upnl: float = 0.0


@dataclass(frozen=True, slots=True)
class AccountBook:
    """One account at one venue: legs, marks, wallets (including isolated wallets) and USD prices."""

    venue: str
    account: str
    legs: tuple[LegState, ...]
    marks: Mapping[str, float]
    wallets: Mapping[str, float]
    asset_prices: Mapping[str, float]
    multi_asset: bool = False

    def leg(self, symbol: str, side: PositionSide) -> LegState | None:
        """The leg of ``symbol`` on ``side``, or None."""
        return next((leg for leg in self.legs if leg.symbol == symbol and leg.side == side), None)

    def mark(self, symbol: str) -> float:
        """The symbol's mark (its first leg's entry when the simulator has no quote)."""
        mark = self.marks.get(symbol)
        if mark is not None:
            return mark
        return next((leg.entry_price for leg in self.legs if leg.symbol == symbol and leg.entry_price), 0.0)

    def with_mark(self, symbol: str, price: float) -> AccountBook:
        """The same account with ``symbol`` marked at ``price``."""
        return replace(self, marks={**self.marks, symbol: price})


@dataclass(frozen=True, slots=True)
class Tier:
    """The tier a leg is in: its number, maintenance rate, deduction and cap (None: open-ended)."""

    number: int
    mmr: float
    deduction: float
    limit: float | None


@dataclass(frozen=True, slots=True)
class SimLegFigures:
    """A leg's figures as the venue computes them, at one mark."""

    venue: str
    account: str
    symbol: str
    position_side: str
    margin_mode: str
    quantity: float
    entry_price: float
    mark_price: float
    liquidation_price: float | None
    maintenance_margin: float
    maintenance_margin_rate: float
    initial_margin: float
    closing_fee: float
    unrealised_pnl: float
    isolated_wallet: float
    margin_balance: float
    maintenance_requirement: float
    margin_ratio: float | None
    tier: int
    tier_limit: float | None


# -- the rules -------------------------------------------------------------------------------------


class VenueRule(ABC):
    """One venue's margin rule: maintenance margin per leg, and the liquidation price of a unit."""

    venue: str = ""

    @abstractmethod
    def tier(self, leg: LegState, peers: Sequence[LegState], price: float) -> Tier:
        """The leg's tier at mark ``price`` (``peers``: the legs of its symbol in its risk unit)."""

    @abstractmethod
    def maintenance_margin(self, leg: LegState, peers: Sequence[LegState], price: float) -> float:
        """The leg's maintenance margin at mark ``price``."""

    @abstractmethod
    def liquidation_price(self, unit: RiskUnit) -> float | None:
        """The mark at which the unit's margin balance equals its maintenance requirement."""

    def closing_fee(self, leg: LegState, price: float) -> float:
        """A fee the venue adds to the maintenance requirement (none unless the venue says so)."""
        del leg, price
        return 0.0

    def initial_margin(self, leg: LegState, price: float) -> float:
        """Position value at the mark divided by the leverage."""
        return leg.terms.value(leg.quantity, price) / leg.leverage if leg.leverage > 0 else 0.0

    # -- a unit's margin balance and requirement -----------------------------------------------

    def margin_balance(self, unit: RiskUnit, price: float) -> float:
        """Wallet + the other symbols' unrealised PnL + the unit's legs' unrealised PnL at ``price``."""
        upnl = sum(leg.terms.pnl(leg.quantity, leg.entry_price, price) for leg in unit.legs)
        return unit.wallet + unit.other_upnl + upnl

    def requirement(self, unit: RiskUnit, price: float) -> float:
        """The other symbols' maintenance margin + each leg's maintenance margin (and fee) at ``price``."""
        own = sum(
            self.maintenance_margin(leg, unit.legs, price) + self.closing_fee(leg, price) for leg in unit.legs
        )
        return unit.other_maintenance + own

    # -- pools: which legs share a cross wallet ---------------------------------------------------

    def pooled(self, book: AccountBook, leg: LegState, other: LegState) -> bool:
        """True if ``other`` is margined from the same cross wallet as ``leg``."""
        del book
        return other.margin_mode == "cross" and other.terms.settle == leg.terms.settle

    def cross_wallet(self, book: AccountBook, asset: str) -> float:
        """The wallet backing cross positions: the asset's wallet minus its isolated wallets."""
        isolated = sum(
            leg.isolated_wallet
            for leg in book.legs
            if leg.margin_mode == "isolated" and leg.terms.settle == asset and leg.quantity != 0
        )
        return book.wallets.get(asset, 0.0) - isolated

    def unit(self, book: AccountBook, leg: LegState) -> RiskUnit:
        """The risk unit ``leg`` belongs to."""
        if leg.margin_mode == "isolated":
            return RiskUnit(leg.symbol, (leg,), leg.isolated_wallet)
        legs = tuple(
            other
            for other in book.legs
            if other.symbol == leg.symbol and other.quantity != 0 and self.pooled(book, leg, other)
        )
        if leg not in legs:
            legs = (*legs, leg)
        others = [
            other
            for other in book.legs
            if other.symbol != leg.symbol and other.quantity != 0 and self.pooled(book, leg, other)
        ]
        other_maintenance = 0.0
        other_upnl = 0.0
        for other in others:
            mark = book.mark(other.symbol)
            peers = [p for p in others if p.symbol == other.symbol]
            other_maintenance += self.maintenance_margin(other, peers, mark) + self.closing_fee(other, mark)
            other_upnl += other.terms.pnl(other.quantity, other.entry_price, mark)
        wallet = self.cross_wallet(book, leg.terms.settle)
        return RiskUnit(leg.symbol, legs, wallet, other_maintenance, other_upnl)

    # -- everything about one leg ------------------------------------------------------------------

    def figures(self, book: AccountBook, symbol: str, side: PositionSide) -> SimLegFigures:
        """The leg's figures at the book's mark (a flat or unknown leg: zeros, no liquidation price)."""
        leg = book.leg(symbol, side)
        mark = book.mark(symbol)
        if leg is None or leg.quantity == 0:
            flat = leg.margin_mode if leg is not None else "cross"
            return SimLegFigures(
                venue=book.venue,
                account=book.account,
                symbol=symbol,
                position_side=side,
                margin_mode=flat,
                quantity=0.0,
                entry_price=0.0,
                mark_price=mark,
                liquidation_price=None,
                maintenance_margin=0.0,
                maintenance_margin_rate=0.0,
                initial_margin=0.0,
                closing_fee=0.0,
                unrealised_pnl=0.0,
                isolated_wallet=0.0,
                margin_balance=0.0,
                maintenance_requirement=0.0,
                margin_ratio=None,
                tier=1,
                tier_limit=None,
            )
        unit = self.unit(book, leg)
        tier = self.tier(leg, unit.legs, mark)
        balance = self.margin_balance(unit, mark)
        requirement = self.requirement(unit, mark)
        return SimLegFigures(
            venue=book.venue,
            account=book.account,
            symbol=symbol,
            position_side=side,
            margin_mode=leg.margin_mode,
            quantity=leg.quantity,
            entry_price=leg.entry_price,
            mark_price=mark,
            liquidation_price=self.liquidation_price(unit),
            maintenance_margin=self.maintenance_margin(leg, unit.legs, mark),
            maintenance_margin_rate=tier.mmr,
            initial_margin=self.initial_margin(leg, mark),
            closing_fee=self.closing_fee(leg, mark),
            unrealised_pnl=leg.terms.pnl(leg.quantity, leg.entry_price, mark),
            isolated_wallet=leg.isolated_wallet if leg.margin_mode == "isolated" else 0.0,
            margin_balance=balance,
            maintenance_requirement=requirement,
            margin_ratio=requirement / balance if balance > 0 else None,
            tier=tier.number,
            tier_limit=tier.limit,
        )


def _sign(leg: LegState) -> float:
    """+1 for a long leg, -1 for a short one (hedge legs by side, one-way by the quantity's sign)."""
    if leg.side == "long":
        return 1.0
    if leg.side == "short":
        return -1.0
    return float(leg.direction)


def _combined(leg: LegState, peers: Sequence[LegState]) -> float:
    """The long plus short size of the leg's symbol among its cross peers."""
    return sum(abs(peer.quantity) for peer in peers if peer.symbol == leg.symbol) or abs(leg.quantity)


def _limit(cap: float) -> float | None:
    return None if math.isinf(cap) else cap


def _choose(rule: VenueRule, unit: RiskUnit, roots: Iterable[float]) -> float | None:
    """One liquidation price out of the segment roots.

    The balance minus the requirement is concave in the mark when rates grow with size, so it can
    cross zero twice; the liquidation the position is exposed to is the upward crossing for a net
    long unit (liquidated on a fall) and the downward one otherwise. The choice depends only on the
    unit's terms, not on the current mark.
    """
    found = sorted({round(root, 10) for root in roots if math.isfinite(root) and root > 0})
    if not found:
        return None
    net = sum(_sign(leg) * leg.terms.size(leg.quantity) for leg in unit.legs)

    def gap(price: float) -> float:
        return rule.margin_balance(unit, price) - rule.requirement(unit, price)

    rising = [r for r in found if gap(r * (1 + 1e-7)) >= gap(r * (1 - 1e-7))]
    falling = [r for r in found if r not in rising]
    if net > 0 and rising:
        return max(rising)
    if net <= 0 and falling:
        return min(falling)
    return found[0]


def _segments(breakpoints: Iterable[float]) -> list[tuple[float, float]]:
    """Price segments (0, b1], [b1, b2], ..., [bn, inf) from positive finite breakpoints."""
    points = sorted({p for p in breakpoints if math.isfinite(p) and p > 0})
    return list(itertools.pairwise([0.0, *points, math.inf]))


def _probe(low: float, high: float) -> float:
    """A price strictly inside a segment."""
    if math.isinf(high):
        return low * 2.0 + 1.0
    return (low + high) / 2.0


def _inside(price: float, low: float, high: float) -> bool:
    slack = _RELATIVE_TOLERANCE * max(1.0, price)
    return low - slack <= price <= high + slack


def _scan(
    rule: VenueRule,
    unit: RiskUnit,
    breakpoints: Iterable[float],
    solve: Callable[[float], float | None],
) -> float | None:
    """Solve with the tiers of each segment (taken inside it) and keep the roots inside their own."""
    roots = []
    for low, high in _segments(breakpoints):
        probe = _probe(low, high)
        if not low < probe < high:
            continue  # a segment narrower than a float step (say 0 to 5e-324) holds no price
        price = solve(probe)
        if price is not None and _inside(price, low, high):
            roots.append(price)
    return _choose(rule, unit, roots)


def _linear_mark_valued(unit: RiskUnit, rates: Sequence[float], deductions: Sequence[float]) -> float | None:
    """LP = (WB - TMM1 + UPNL1 + sum(cum) - sum(side * Q * EP)) / (sum(Q * rate) - sum(side * Q)).

    Margin balance WB + UPNL1 + sum(side * Q * (P - EP)) equals requirement TMM1 + sum(Q * P * rate -
    cum) (Q = |q| * multiplier in base units; rate = MMR, plus the closing-fee rate where counted).
    """
    numerator = unit.wallet - unit.other_maintenance + unit.other_upnl + sum(deductions)
    denominator = 0.0
    for leg, rate in zip(unit.legs, rates, strict=True):
        size = leg.terms.size(leg.quantity)
        numerator -= _sign(leg) * size * leg.entry_price
        denominator += size * rate - _sign(leg) * size
    if abs(denominator) <= _FLAT * sum(leg.terms.size(leg.quantity) for leg in unit.legs):
        return None
    price = numerator / denominator
    return price if price > 0 else None


def _inverse_mark_valued(unit: RiskUnit, rates: Sequence[float], deductions: Sequence[float]) -> float | None:
    """LP = sum(Q * (rate + side)) / (WB - TMM1 + UPNL1 + sum(cum) + sum(side * Q / EP)), Q in USD.

    Margin balance WB + UPNL1 + sum(side * Q * (1/EP - 1/P)) equals requirement TMM1 + sum(Q / P *
    rate - cum) (coin-margined: value Q / P in coin).
    """
    numerator = 0.0
    denominator = unit.wallet - unit.other_maintenance + unit.other_upnl + sum(deductions)
    for leg, rate in zip(unit.legs, rates, strict=True):
        size = leg.terms.size(leg.quantity)
        numerator += size * (rate + _sign(leg))
        denominator += _sign(leg) * size / leg.entry_price
    if abs(numerator) <= _FLAT * sum(leg.terms.size(leg.quantity) for leg in unit.legs) or denominator == 0:
        return None
    price = numerator / denominator
    return price if price > 0 else None


def _entry_valued(unit: RiskUnit, maintenance: float) -> float | None:
    """The mark where WB + UPNL1 + sum(upnl) = TMM1 + ``maintenance`` (maintenance constant in P).

    Linear: P = (TMM1 + MM - WB - UPNL1 + sum(side * Q * EP)) / sum(side * Q).
    Inverse: 1/P = (WB + UPNL1 - TMM1 - MM + sum(side * Q / EP)) / sum(side * Q).
    """
    signed = [(_sign(leg) * leg.terms.size(leg.quantity), leg.entry_price) for leg in unit.legs]
    exposure = sum(size for size, _ in signed)
    if abs(exposure) <= _FLAT * sum(abs(size) for size, _ in signed):
        return None  # a flat hedge: no price moves the balance
    surplus = unit.wallet + unit.other_upnl - unit.other_maintenance - maintenance
    if unit.legs[0].terms.kind == "inverse":
        reciprocal = (surplus + sum(size / entry for size, entry in signed)) / exposure
        return 1.0 / reciprocal if reciprocal > 0 else None
    price = (sum(size * entry for size, entry in signed) - surplus) / exposure
    return price if price > 0 else None


class BracketRule(VenueRule):
    """Brackets by the leg's notional (USD, or coin for an inverse contract) with a maintenance
    amount: ``MM = notional at the mark * MMR - amount`` of the bracket the notional falls in, each
    hedge leg on its own notional (Binance USDⓈ-M and COIN-M, BingX)."""

    def __init__(self, brackets: Callable[[str], Sequence[Bracket]]) -> None:
        self.brackets = brackets

    def bracket(self, leg: LegState, price: float) -> Bracket:
        """The bracket of the leg's notional at ``price`` (floor < notional <= cap)."""
        return bracket_for(self.brackets(leg.symbol), leg.terms.value(leg.quantity, price))

    def tier(self, leg: LegState, peers: Sequence[LegState], price: float) -> Tier:
        """The bracket of the leg's own notional."""
        del peers
        bracket = self.bracket(leg, price)
        return Tier(bracket.number, bracket.mmr, bracket.cum, _limit(bracket.cap))

    def maintenance_margin(self, leg: LegState, peers: Sequence[LegState], price: float) -> float:
        """Notional * MMR of its bracket - maintenance amount."""
        del peers
        bracket = self.bracket(leg, price)
        return leg.terms.value(leg.quantity, price) * bracket.mmr - bracket.cum


class BinanceUsdmRule(BracketRule):
    """Binance USDⓈ-M Futures (linear; one-way BOTH and hedge-mode LONG/SHORT legs).

    Maintenance margin: Binance ``GET /fapi/v1/leverageBracket`` and the FAQ "How to Calculate
    Liquidation Price of USDⓈ-M Futures Contracts" (b3c689c1f50a44cabb3a84e663b81d93): MM = notional
    at mark * MMR - cum of the bracket the notional falls in. Cross wallet: single-asset mode the
    settlement asset's ``cw`` (wallet minus isolated wallets); Multi-Assets mode every asset's USD
    value times its collateral ratio (``MULTI_ASSETS_COLLATERAL_RATIO``).
    """

    venue = "binance"


    def pooled(self, book: AccountBook, leg: LegState, other: LegState) -> bool:
        """Single-asset mode: cross legs of the same margin asset; Multi-Assets mode: every cross leg."""
        if book.multi_asset:
            return other.margin_mode == "cross"
        return super().pooled(book, leg, other)

    def cross_wallet(self, book: AccountBook, asset: str) -> float:
        """``cw`` of the asset; in Multi-Assets mode the haircut USD value of the whole wallet."""
        if not book.multi_asset:
            return super().cross_wallet(book, asset)
        total = 0.0
        for name in book.wallets:
            ratio = 1.0 if name in STABLECOINS else MULTI_ASSETS_COLLATERAL_RATIO.get(name, 0.0)
            price = 1.0 if name in STABLECOINS else book.asset_prices.get(name, 0.0)
            total += super().cross_wallet(book, name) * price * ratio
        return total

    def liquidation_price(self, unit: RiskUnit) -> float | None:
        """The FAQ's formula, brackets taken at the liquidation notional.

        LP = (WB - TMM1 + UPNL1 + cumB + cumL + cumS - Side1BOTH * Position1BOTH * EP1BOTH
              - Position1LONG * EP1LONG + Position1SHORT * EP1SHORT)
             / (Position1BOTH * MMRB + Position1LONG * MMRL + Position1SHORT * MMRS
                - Side1BOTH * Position1BOTH - Position1LONG + Position1SHORT)

        WB is ``crossWalletBalance`` in cross mode (TMM1, UPNL1 of the other cross symbols), the
        isolated wallet in isolated mode (TMM1 = UPNL1 = 0, one leg). The page shows the formula as
        an image; this is its algebra, which the page's variable list and notes define. Its newer
        version also lists MP ("the latest mark price of Contract 1"), whose place in the image
        could not be read: it is not used here.
        """

        def solve(probe: float) -> float | None:
            chosen = [self.bracket(leg, probe) for leg in unit.legs]
            return _linear_mark_valued(unit, [b.mmr for b in chosen], [b.cum for b in chosen])

        breakpoints = [
            bracket.floor / leg.terms.size(leg.quantity)
            for leg in unit.legs
            for bracket in self.brackets(leg.symbol)
        ]
        return _scan(self, unit, breakpoints, solve)


class BinanceCoinmRule(BracketRule):
    """Binance COIN-M Futures (inverse, contract size CM in USD, brackets sized in coin).

    Binance FAQ "How to Calculate Liquidation Price of Coin-M Futures Contracts"
    (ceccfcfb4e3a45e3b48b0b1bb1a8ae46) and "Leverage and Margin in Coin-Margined Futures Contracts":
    MM = notional in coin (|N| * CM / mark) * MMR - cum (coin), brackets by the coin notional.
    """

    venue = "binance-coinm"


    def liquidation_price(self, unit: RiskUnit) -> float | None:
        """The FAQ's formula, brackets at the liquidation notional (its algebra; the page's image):

        LP = (MMRB * B + MMRL * L + MMRS * S + SideBOTH * B + L - S) * CM
             / (WB - TMM1 + UPNL1 + cumB + cumL + cumS + (SideBOTH * B / EPB + L / EPL - S / EPS) * CM)

        with B, L, S the contract counts of the BOTH, LONG and SHORT positions.
        """

        def solve(probe: float) -> float | None:
            chosen = [self.bracket(leg, probe) for leg in unit.legs]
            return _inverse_mark_valued(unit, [b.mmr for b in chosen], [b.cum for b in chosen])

        breakpoints = [
            leg.terms.size(leg.quantity) / bracket.floor
            for leg in unit.legs
            for bracket in self.brackets(leg.symbol)
            if bracket.floor > 0
        ]
        return _scan(self, unit, breakpoints, solve)


class SizeTierRule(VenueRule):
    """Tiers counted in contracts (lots), no deduction: ``MM = value at the mark * MMR`` of the tier
    of the leg's size in isolated mode, of the symbol's long plus short in cross mode (OKX, WEEX)."""

    def __init__(self, tiers: Callable[[str], Sequence[SizeTier]]) -> None:
        self.tiers = tiers

    def size_tier(self, leg: LegState, peers: Sequence[LegState]) -> SizeTier:
        """The tier of the leg's contracts (isolated), or of all the symbol's cross contracts."""
        contracts = abs(leg.quantity) if leg.margin_mode == "isolated" else _combined(leg, peers)
        return size_tier_for(self.tiers(leg.symbol), contracts)

    def tier(self, leg: LegState, peers: Sequence[LegState], price: float) -> Tier:
        """The tier by size."""
        del price
        tier = self.size_tier(leg, peers)
        return Tier(tier.number, tier.mmr, 0.0, _limit(tier.max_size))

    def maintenance_margin(self, leg: LegState, peers: Sequence[LegState], price: float) -> float:
        """Position value at the mark * MMR of the tier (no deduction)."""
        return leg.terms.value(leg.quantity, price) * self.size_tier(leg, peers).mmr


class OkxRule(SizeTierRule):
    """OKX v5 (linear and inverse swaps, net and long/short position modes).

    OKX help "Tiered maintenance margin ratio rules": maintenance margin = position value * MMR of
    the tier, tiers counted in contracts (``minSz``/``maxSz`` of ``GET
    /api/v5/public/position-tiers``), no deduction; isolated: each direction of each contract is
    tiered on its own; cross: the contract's positions are added up. Liquidation when "your account
    equity is equal to or less than the required maintenance margin plus any applicable
    liquidation fees": the requirement adds a liquidation fee, taken here as position value *
    taker fee rate (the page names the fee, not its rate). ``mmr`` on the wire is the maintenance
    margin alone; ``mgnRatio`` = margin balance / (maintenance margin + fee).
    """

    venue = "okx"


    def closing_fee(self, leg: LegState, price: float) -> float:
        """The liquidation fee in the requirement: position value * taker fee rate (assumed rate)."""
        return leg.terms.value(leg.quantity, price) * leg.terms.taker_fee

    def liquidation_price(self, unit: RiskUnit) -> float | None:
        """Margin balance = maintenance margin + liquidation fee; tiers are fixed by the size."""
        rates = [self.size_tier(leg, unit.legs).mmr + leg.terms.taker_fee for leg in unit.legs]
        deductions = [0.0] * len(unit.legs)
        if unit.legs[0].terms.kind == "inverse":
            return _inverse_mark_valued(unit, rates, deductions)
        return _linear_mark_valued(unit, rates, deductions)


class BybitRule(VenueRule):
    """Bybit v5 (linear and inverse; one-way ``positionIdx`` 0 and hedge 1/2).

    Bybit help "Liquidation Price (USDT Contract)": isolated LP = EP -/+ (IM - MM)/Q -/+ extra/Q with
    position value = size * entry price, IM = value / leverage, MM = value * MMR - deduction, the
    MMR of the risk-limit tier (``riskId``, ``riskLimitValue``) the position carries, here the
    lowest tier whose limit covers the value at entry. Inverse: "Liquidation Price Calculation under
    Isolated Mode (Unified Trading Account)", LP(long) = Q / [PV + (IM - MM)], LP(short) = Q / [PV -
    (IM - MM)], PV = Q / EP. Cross (the same page's cross section and the UTA): wallet + every cross
    unrealised PnL = every maintenance margin, each on its entry value.
    """

    venue = "bybit"

    def __init__(self, limits: Callable[[str], Sequence[RiskLimit]]) -> None:
        self.limits = limits

    def risk_limit(self, leg: LegState) -> RiskLimit:
        """The risk-limit tier of the position value at entry."""
        return risk_limit_for(self.limits(leg.symbol), leg.terms.value(leg.quantity, leg.entry_price))

    def tier(self, leg: LegState, peers: Sequence[LegState], price: float) -> Tier:
        """The risk-limit tier (``riskId``, ``riskLimitValue``)."""
        del peers, price
        limit = self.risk_limit(leg)
        return Tier(limit.risk_id, limit.mmr, limit.deduction, _limit(limit.limit_value))

    def maintenance_margin(self, leg: LegState, peers: Sequence[LegState], price: float) -> float:
        """MM = position value at entry * MMR - maintenance margin deduction."""
        del peers, price
        limit = self.risk_limit(leg)
        return leg.terms.value(leg.quantity, leg.entry_price) * limit.mmr - limit.deduction

    def initial_margin(self, leg: LegState, price: float) -> float:
        """IM = position value at entry / leverage."""
        del price
        return leg.terms.value(leg.quantity, leg.entry_price) / leg.leverage if leg.leverage > 0 else 0.0

    def liquidation_price(self, unit: RiskUnit) -> float | None:
        """Isolated linear long: EP - (IM + extra - MM) / Q, short: EP + (IM + extra - MM) / Q, the
        isolated wallet being IM + extra; inverse and cross solve the same balance = MM."""
        maintenance = sum(self.maintenance_margin(leg, unit.legs, leg.entry_price) for leg in unit.legs)
        return _entry_valued(unit, maintenance)


class BingxRule(BracketRule):
    """BingX perpetual swap (USDT-M).

    BingX help "Perpetual Futures Forced Liquidation Rules" and the forced-liquidation "Risk" page:
    isolated risk = (maintenance margin + position closing fee) / (position margin + unrealised PnL),
    cross risk = (all cross maintenance margins + closing fees) / (balance - isolated margins -
    frozen + cross unrealised PnL); liquidation at 100 %. BingX maintenance-margin update
    (2024-07-22): "USDT-M Perpetual Futures Maintenance Margin = Position (Notional Value) *
    Maintenance Margin Rate - Maintenance Amount", tiered by notional. The closing fee is the notional
    at the mark times the taker fee rate.
    """

    venue = "bingx"


    def closing_fee(self, leg: LegState, price: float) -> float:
        """The position closing fee: notional * taker fee rate."""
        return leg.terms.value(leg.quantity, price) * leg.terms.taker_fee

    def liquidation_price(self, unit: RiskUnit) -> float | None:
        """Risk = 100 %: margin + unrealised PnL = MM + closing fee, brackets at the liquidation notional."""

        def solve(probe: float) -> float | None:
            chosen = [self.bracket(leg, probe) for leg in unit.legs]
            rates = [b.mmr + leg.terms.taker_fee for b, leg in zip(chosen, unit.legs, strict=True)]
            return _linear_mark_valued(unit, rates, [b.cum for b in chosen])

        breakpoints = [
            bracket.floor / leg.terms.size(leg.quantity)
            for leg in unit.legs
            for bracket in self.brackets(leg.symbol)
        ]
        return _scan(self, unit, breakpoints, solve)


class MexcRule(VenueRule):
    """MEXC futures (USDT-M; ``holdVol`` in contracts of ``contractSize``).

    MEXC "Liquidation in Futures" (blog.mexc.fm): liquidation when position margin + unrealised PnL
    < maintenance margin; LP(long) = (MM - PM + EP * size) / size, LP(short) = (EP * size - MM + PM) /
    size, MM = entry value * MMR ("commission excluded"; its example: long 0.1 BTC at 50,000, 25x,
    0.4 % -> 48,200). The MMR is the risk level's, levels counted in contracts (``GET
    /api/v1/contract/detail`` riskBaseVol/riskIncrVol/riskIncrMmr). MEXC's newer liquidation notice
    adds "+ Liquidation Fees" to the requirement without a rate: not modelled.
    """

    venue = "mexc"

    def __init__(self, levels: Callable[[str], Sequence[SizeTier]]) -> None:
        self.levels = levels

    def level(self, leg: LegState) -> SizeTier:
        """The risk level of the leg's contracts."""
        return size_tier_for(self.levels(leg.symbol), abs(leg.quantity))

    def tier(self, leg: LegState, peers: Sequence[LegState], price: float) -> Tier:
        """The risk level (``level`` of the risk-limit push)."""
        del peers, price
        level = self.level(leg)
        return Tier(level.number, level.mmr, 0.0, _limit(level.max_size))

    def maintenance_margin(self, leg: LegState, peers: Sequence[LegState], price: float) -> float:
        """MM = |holdVol| * contractSize * entry price * MMR of the level."""
        del peers, price
        return leg.terms.value(leg.quantity, leg.entry_price) * self.level(leg).mmr

    def initial_margin(self, leg: LegState, price: float) -> float:
        """Position margin = entry value / leverage (the blog's "Position Margin")."""
        del price
        return leg.terms.value(leg.quantity, leg.entry_price) / leg.leverage if leg.leverage > 0 else 0.0

    def liquidation_price(self, unit: RiskUnit) -> float | None:
        """LP(long) = (MM - PM + EP * size) / size; short mirrored; cross on the cross equity."""
        maintenance = sum(self.maintenance_margin(leg, unit.legs, leg.entry_price) for leg in unit.legs)
        return _entry_valued(unit, maintenance)


class WeexRule(SizeTierRule):
    """WEEX futures (USDT-M; ``size`` in coin).

    WEEX help "WEEX Futures: Estimated liquidation price" and "Maintenance Margin Rate": margin rate =
    (position margin + unrealised PnL) / position value at the mark; liquidation where it equals the
    tier's minimum maintenance margin rate, i.e. margin balance = value at mark * MMR, no deduction.
    Tiers counted in lots, each direction apart in isolated mode, long and short added up in cross
    mode ("WEEX contract" tier notice). WEEX publishes no tier values (``terms.WEEX_DEFAULT_TIERS``).
    """

    venue = "weex"


    def liquidation_price(self, unit: RiskUnit) -> float | None:
        """Margin rate = MMR: (margin + upnl) = value * MMR at the liquidation price."""
        rates = [self.size_tier(leg, unit.legs).mmr for leg in unit.legs]
        return _linear_mark_valued(unit, rates, [0.0] * len(unit.legs))


class DeribitRule(VenueRule):
    """Deribit standard margin (inverse BTC and ETH futures and perpetuals, net positions, cross).

    Deribit help "Inverse Perpetual" (Standard Margin IM & MM examples) and "11 January 2022": the
    maintenance margin rate is ``1 % + (position size in BTC) * 0.005 %`` (ETH ``* 0.0004 %``), the
    margin ``size * rate`` in the coin, the size in coin taken at the mark (USD value / mark).
    "If your Equity falls below your maintenance margin your position will be incrementally
    liquidated" ("Futures leverage and margin"): the liquidation price is where equity (wallet +
    unrealised PnL) equals the maintenance margin, found here by bisection on the adverse side.
    """

    venue = "deribit"

    def __init__(self, params: Callable[[str], tuple[float, float] | None]) -> None:
        self.params = params

    def rate(self, leg: LegState, price: float) -> float:
        """``base + increase * size in coin`` at ``price`` (NaN for a coin Deribit documents none for)."""
        found = self.params(leg.symbol)
        if found is None:
            return math.nan
        base, increase = found
        inverse = leg.terms.kind == "inverse"
        coin = leg.terms.value(leg.quantity, price) if inverse else leg.terms.size(leg.quantity)
        return base + increase * coin

    def tier(self, leg: LegState, peers: Sequence[LegState], price: float) -> Tier:
        """One open-ended tier at the leg's own rate."""
        del peers
        return Tier(1, self.rate(leg, price), 0.0, None)

    def maintenance_margin(self, leg: LegState, peers: Sequence[LegState], price: float) -> float:
        """Position value at the mark (coin) * the size-dependent rate."""
        del peers
        return leg.terms.value(leg.quantity, price) * self.rate(leg, price)

    def liquidation_price(self, unit: RiskUnit) -> float | None:
        """Bisection of equity - requirement from the entry towards the adverse side (up for a net
        short, down for a net long), within a factor of 1,000 of the entry."""
        exposure = sum(_sign(leg) * leg.terms.size(leg.quantity) for leg in unit.legs)
        if exposure == 0:
            return None
        entry = unit.legs[0].entry_price

        def surplus(price: float) -> float:
            return self.margin_balance(unit, price) - self.requirement(unit, price)

        if not surplus(entry) > 0:
            return None
        step = 1.01 if exposure < 0 else 1 / 1.01
        safe, price = entry, entry
        while 1e-3 * entry < price < 1e3 * entry:
            price *= step
            if surplus(price) <= 0:
                low, high = sorted((safe, price))
                for _ in range(200):
                    middle = (low + high) / 2
                    inside = surplus(middle) > 0
                    if (exposure < 0) == inside:
                        low = middle
                    else:
                        high = middle
                return (low + high) / 2
            safe = price
        return None


class HyperliquidRule(VenueRule):
    """Hyperliquid perpetuals (USDC-margined, one net position per coin, cross or isolated).

    Hyperliquid docs "Liquidations": liquidation when account equity falls below the maintenance
    margin, "half of the initial margin at max leverage"; "Margin tiers": ``maintenance_margin =
    notional_position_value * maintenance_margin_rate - maintenance_deduction``, the tier by the
    position's notional (``terms.hyperliquid_margin_tiers``). The liquidation price is the docs'
    "Computing Liquidation Price" formula as written::

        liq_price = price - side * margin_available / position_size / (1 - l * side)

    ``l = 1 / MAINTENANCE_LEVERAGE`` (the tier's rate), ``side`` 1 long / -1 short, and
    ``margin_available`` the account value (cross) or isolated margin with its PnL, less the
    maintenance margin required, both at ``price``. The formula holds at any reference price; it is
    taken at the position's entry (the unit carries no mark), where its own PnL is 0. "For assets
    with margin tiers, maintenance leverage depends on the unique margin tier corresponding to the
    position value at the liquidation price": each tier's answer is kept only if its notional
    falls in that tier.
    """

    venue = "hyperliquid"

    def __init__(self, tiers: Callable[[str], Sequence[Bracket]]) -> None:
        self.tiers = tiers

    def _tier_at(self, leg: LegState, price: float) -> Bracket:
        return bracket_for(self.tiers(leg.symbol), leg.terms.value(leg.quantity, price))

    def tier(self, leg: LegState, peers: Sequence[LegState], price: float) -> Tier:
        """The margin tier of the position's notional at ``price``."""
        del peers
        tier = self._tier_at(leg, price)
        return Tier(tier.number, tier.mmr, tier.cum, _limit(tier.cap))

    def maintenance_margin(self, leg: LegState, peers: Sequence[LegState], price: float) -> float:
        """notional_position_value * maintenance_margin_rate - maintenance_deduction."""
        del peers
        tier = self._tier_at(leg, price)
        return leg.terms.value(leg.quantity, price) * tier.mmr - tier.cum

    def liquidation_price(self, unit: RiskUnit) -> float | None:
        """The docs' formula, tier by tier, keeping the answer whose notional lies in its tier."""
        if len(unit.legs) != 1:
            return None  # one net position per coin: no hedge legs to pool
        (leg,) = unit.legs
        if leg.quantity == 0:
            return None
        price = leg.entry_price
        side = float(leg.direction)
        position_size = leg.terms.size(leg.quantity)
        equity = self.margin_balance(unit, price)
        tiers = self.tiers(leg.symbol)
        for tier in tiers:
            required = unit.other_maintenance + position_size * price * tier.mmr - tier.cum
            margin_available = equity - required
            liq_price = price - side * margin_available / position_size / (1 - tier.mmr * side)
            if liq_price <= 0:
                continue
            if bracket_for(tiers, leg.terms.value(leg.quantity, liq_price)).number == tier.number:
                return liq_price
        return None


def venue_rule(venue: str, terms: SimTerms) -> VenueRule | None:
    """The rule set of a simulated derivatives venue, or None (spot venues)."""
    factories: Mapping[str, Callable[[], VenueRule]] = {
        "binance": lambda: BinanceUsdmRule(terms.binance_brackets),
        "bybit": lambda: BybitRule(terms.bybit_limits),
        "okx": lambda: OkxRule(terms.okx_tiers),
        "bingx": lambda: BingxRule(terms.bingx_brackets),
        "mexc": lambda: MexcRule(terms.mexc_levels),
        "weex": lambda: WeexRule(terms.weex_tiers),
        "binance-coinm": lambda: BinanceCoinmRule(terms.binance_coinm_brackets),
        "deribit": lambda: DeribitRule(terms.deribit_maintenance),
        "hyperliquid": lambda: HyperliquidRule(terms.hyperliquid_tiers),
    }
    factory = factories.get(venue)
    return factory() if factory is not None else None
