"""Venue margin models: maintenance margin and liquidation price as each venue documents them.

One class per venue rule set, chosen by the instrument's venue (``margin_model_for``). Each model
holds its venue's rules: what its tiers are counted in (USD notional, contracts or coin), whether a
tier has a deduction (Binance's maintenance amount ``cum``) or charges the whole position at one
rate (OKX), whether the maintenance margin is taken at the mark or at the entry (Bybit), and which
tier a position carries. Contract math (linear, inverse) belongs to the instrument
(``Instrument.leg_size``, ``Instrument.pnl_coefficients``, ...), so nothing here branches on it.

Every amount is in the contract's settlement currency: USD(T) for a linear contract, the coin for an
inverse one. ``Instrument.settlement_to_usd`` converts at the mark.

The liquidation price solves "margin balance = maintenance margin" for the price of one instrument,
with every leg of that instrument that shares the wallet (an isolated leg alone; in cross margin both
hedge-mode legs together, the other symbols' maintenance margin and unrealised PnL held fixed, as in
Binance's TMM1/UPNL1). With ``u = P`` (linear) or ``u = 1/P`` (inverse), within fixed tiers each leg's
PnL is ``alpha * u + beta`` and its maintenance margin ``gamma * u + delta``, so

    u = (W + sum(beta) - sum(delta)) / (sum(gamma) - sum(alpha))

and the tiers are re-chosen at the solution until they no longer change. For fixed terms the result
does not depend on the mark. Sources are cited on each class; ``docs/risk-model.md`` has the table.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np

from monitor.domain.formulas import FloatArray
from monitor.domain.instruments import Instrument, MarginTier

# Relative tolerance when checking that a solution lies in the tier it was solved with.
_TIER_TOLERANCE = 1e-9
# Tier combinations tried when re-choosing tiers does not settle (legs x tiers is small).
_MAX_TIER_COMBINATIONS = 4096


@dataclass(frozen=True, slots=True)
class MarginLeg:
    """One position leg as a margin model sees it (quantity signed, in contracts)."""

    instrument: Instrument
    quantity: float
    entry_price: float
    isolated_wallet: float | None = None
    risk_limit_value: float | None = None

    @property
    def side(self) -> float:
        """+1 for a long leg, -1 for a short one."""
        return 1.0 if self.quantity > 0 else -1.0


class MarginModel(Protocol):
    """A venue's maintenance-margin and liquidation rules."""

    name: ClassVar[str]

    def tier(self, leg: MarginLeg, price: float) -> MarginTier | None:
        """The tier the leg is charged at when the instrument's mark is ``price``."""
        ...

    def maintenance_margin(self, leg: MarginLeg, price: float) -> float:
        """Maintenance margin in the settlement currency at mark ``price`` (NaN without tiers)."""
        ...

    def maintenance_margins(
        self, instrument: Instrument, quantity: FloatArray, entry_price: FloatArray, price: float,
        risk_limit_value: FloatArray,
    ) -> FloatArray:
        """``maintenance_margin`` of many legs of one instrument at once (NaN risk limit = none)."""
        ...

    def liquidation_requirement(self, leg: MarginLeg, price: float) -> float:
        """The margin balance at which the venue liquidates: MM, or MM plus the closing fee."""
        ...

    def liquidation_price(self, legs: Sequence[MarginLeg], wallet: float) -> float:
        """The instrument price at which ``wallet`` plus the legs' PnL equals their requirement.

        ``wallet`` is in the settlement currency: an isolated leg's wallet, or a cross wallet less
        the other symbols' maintenance margin plus their unrealised PnL. NaN when there is none.
        """
        ...


def _tier_by(instrument: Instrument, value: float) -> MarginTier | None:
    return instrument.tier_for(value)


def _tier_indices(instrument: Instrument, values: FloatArray) -> np.ndarray:
    caps = np.array([tier.cap for tier in instrument.tiers], dtype=np.float64)
    return np.minimum(np.searchsorted(caps, values, side="right"), caps.size - 1)


class _TieredModel:
    """The shared solver: subclasses say how a tier is chosen and when the margin is taken."""

    name: ClassVar[str] = ""
    uses_deduction: ClassVar[bool] = True
    at_entry: ClassVar[bool] = False
    fee_in_requirement: ClassVar[bool] = False
    """Whether liquidation waits for the margin balance to reach MM plus the closing (taker) fee."""

    # -- rules a venue sets ------------------------------------------------------------------

    def tier_basis(self, leg: MarginLeg, price: float) -> float:
        """The figure a tier's floor and cap are compared with (subclasses)."""
        raise NotImplementedError

    def tier_depends_on_price(self, leg: MarginLeg) -> bool:  # noqa: ARG002 -- the margin-model signature
        """Whether the tier moves with the price (notional tiers) or is fixed (contracts, risk id)."""
        return True

    def tier_basis_columns(
        self, instrument: Instrument, quantity: FloatArray, entry_price: FloatArray, price: float,
    ) -> FloatArray:
        """``tier_basis`` for many legs (subclasses)."""
        raise NotImplementedError

    # -- figures -----------------------------------------------------------------------------

    def tier(self, leg: MarginLeg, price: float) -> MarginTier | None:
        """The tier whose [floor, cap) holds the leg's tier basis (the last one beyond every cap)."""
        if not leg.instrument.tiers:
            return None
        return _tier_by(leg.instrument, self.tier_basis(leg, self._margin_price(leg, price)))

    def _margin_price(self, leg: MarginLeg, price: float) -> float:
        return leg.entry_price if self.at_entry else price

    def _deduction(self, tier: MarginTier) -> float:
        return tier.cum if self.uses_deduction else 0.0

    def maintenance_margin(self, leg: MarginLeg, price: float) -> float:
        """``settlement notional x MMR - deduction`` of the leg's tier, at the mark or at entry."""
        tier = self.tier(leg, price)
        if tier is None:
            return math.nan
        at = self._margin_price(leg, price)
        notional = leg.instrument.settlement_notional(leg.quantity, at)
        return notional * tier.mmr - self._deduction(tier)

    def maintenance_margins(
        self, instrument: Instrument, quantity: FloatArray, entry_price: FloatArray, price: float,
        risk_limit_value: FloatArray,
    ) -> FloatArray:
        """Vectorised ``maintenance_margin`` (same tiers, same order of operations)."""
        if not instrument.tiers:
            return np.full(quantity.shape, np.nan)
        at = entry_price if self.at_entry else np.full(quantity.shape, price)
        index = _tier_indices(instrument, self.tier_basis_columns(instrument, quantity, entry_price, price))
        fixed = self._fixed_tier_indices(instrument, risk_limit_value)
        index = np.where(fixed >= 0, fixed, index)
        mmrs = np.array([tier.mmr for tier in instrument.tiers], dtype=np.float64)
        cums = np.array([self._deduction(tier) for tier in instrument.tiers], dtype=np.float64)
        notional = np.asarray(instrument.settlement_notional(quantity, at), dtype=np.float64)
        return np.asarray(notional * mmrs[index] - cums[index], dtype=np.float64)

    def _fixed_tier_indices(self, instrument: Instrument, risk_limit_value: FloatArray) -> np.ndarray:  # noqa: ARG002 -- the margin-model signature
        return np.full(risk_limit_value.shape, -1, dtype=np.intp)

    # -- liquidation -------------------------------------------------------------------------

    def liquidation_requirement(self, leg: MarginLeg, price: float) -> float:
        """What the margin balance must stay above: MM, plus the closing fee where the venue adds it."""
        maintenance = self.maintenance_margin(leg, price)
        if not self.fee_in_requirement:
            return maintenance
        fee = leg.instrument.settlement_notional(leg.quantity, price) * leg.instrument.taker_fee
        return maintenance + fee

    def _coefficients(self, leg: MarginLeg, tier: MarginTier) -> tuple[float, float, float, float]:
        """(alpha, beta, gamma, delta): PnL = alpha u + beta, requirement = gamma u + delta."""
        instrument = leg.instrument
        alpha, beta = instrument.pnl_coefficients(leg.quantity, leg.entry_price)
        fee = float(instrument.leg_size(leg.quantity)) * instrument.taker_fee \
            if self.fee_in_requirement else 0.0
        if self.at_entry:
            notional = instrument.settlement_notional(leg.quantity, leg.entry_price)
            return alpha, beta, fee, notional * tier.mmr - self._deduction(tier)
        size = float(instrument.leg_size(leg.quantity))
        return alpha, beta, size * tier.mmr + fee, -self._deduction(tier)

    def _solve(self, legs: Sequence[MarginLeg], tiers: Sequence[MarginTier], wallet: float) -> float:
        numerator = wallet
        denominator = 0.0
        for leg, tier in zip(legs, tiers, strict=True):
            alpha, beta, gamma, delta = self._coefficients(leg, tier)
            numerator += beta - delta
            denominator += gamma - alpha
        if denominator == 0.0 or not math.isfinite(numerator):
            return math.nan
        variable = numerator / denominator
        if not (math.isfinite(variable) and variable > 0):
            return math.nan
        price = legs[0].instrument.price_from_variable(variable)
        return price if math.isfinite(price) and price > 0 else math.nan

    def _consistent(self, legs: Sequence[MarginLeg], tiers: Sequence[MarginTier], price: float) -> bool:
        for leg, tier in zip(legs, tiers, strict=True):
            if not self.tier_depends_on_price(leg):
                continue
            basis = self.tier_basis(leg, self._margin_price(leg, price))
            last = tier is leg.instrument.tiers[-1]
            if basis < tier.floor * (1 - _TIER_TOLERANCE):
                return False
            if not last and basis > tier.cap * (1 + _TIER_TOLERANCE):
                return False
        return True

    def liquidation_price(self, legs: Sequence[MarginLeg], wallet: float) -> float:
        """Solve margin balance = maintenance margin over the legs (see the module docstring)."""
        legs = [leg for leg in legs if leg.quantity != 0]
        if not legs or not math.isfinite(wallet) or any(not leg.instrument.tiers for leg in legs):
            return math.nan
        tiers: list[MarginTier] = []
        for leg in legs:
            tier = self.tier(leg, leg.entry_price)
            assert tier is not None  # noqa: S101 -- tiers checked above
            tiers.append(tier)
        rounds = sum(len(leg.instrument.tiers) for leg in legs) + 1
        for _ in range(rounds):
            price = self._solve(legs, tiers, wallet)
            if math.isnan(price):
                break
            moved = [self.tier(leg, price) for leg in legs]
            if all(new is old for new, old in zip(moved, tiers, strict=True)):
                return price
            tiers = [tier for tier in moved if tier is not None]
        return self._search(legs, wallet)

    def _search(self, legs: Sequence[MarginLeg], wallet: float) -> float:
        """Every tier combination, for when re-choosing does not settle at a tier boundary."""
        choices = [
            leg.instrument.tiers if self.tier_depends_on_price(leg)
            else (self.tier(leg, leg.entry_price),)
            for leg in legs
        ]
        for count, combination in enumerate(itertools.product(*choices)):
            if count >= _MAX_TIER_COMBINATIONS:
                break
            tiers = [tier for tier in combination if tier is not None]
            if len(tiers) != len(legs):
                continue
            price = self._solve(legs, tiers, wallet)
            if not math.isnan(price) and self._consistent(legs, tiers, price):
                return price
        return math.nan


class BinanceMargin(_TieredModel):
    """Binance USDⓈ-M and COIN-M: brackets by notional, with the maintenance amount, at the mark.

    - Maintenance margin = notional x MMR - cum of the bracket the notional falls in; USDⓈ-M
      brackets are sized in USD notional (``GET /fapi/v1/leverageBracket`` ``notionalFloor``/
      ``notionalCap``), COIN-M brackets in coin (``GET /dapi/v2/leverageBracket`` ``qtyFloor``/
      ``qtyCap``, coin notional ``|q| cv / P``).
    - Liquidation: ``LP = (WB - TMM1 + UPNL1 + cum - side Q EP) / (Q MMR - side Q)`` (USDⓈ-M), with
      hedge mode's LONG and SHORT legs of a symbol in one cross formula; COIN-M
      ``LP = Q (MMR + side) / (WB + cum + side Q / EP)``; the bracket is the one at the
      liquidation notional. Cross WB is the cross wallet balance (``cw``).
    Sources: Binance "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts", "... of
    COIN-M Futures Contracts", "Leverage and Margin of USDⓈ-M Futures".
    """

    name = "binance"

    def tier_basis(self, leg: MarginLeg, price: float) -> float:
        """Settlement notional at the price: USD (USDⓈ-M) or coin (COIN-M)."""
        return leg.instrument.settlement_notional(leg.quantity, price)

    def tier_basis_columns(
        self, instrument: Instrument, quantity: FloatArray, entry_price: FloatArray, price: float,  # noqa: ARG002 -- the margin-model signature
    ) -> FloatArray:
        """Settlement notional of every leg at the mark."""
        return np.asarray(instrument.settlement_notional(quantity, price), dtype=np.float64)


class _ContractTiers(_TieredModel):
    """Tiers counted in contracts held: fixed for a position, whatever the price."""

    def tier_basis(self, leg: MarginLeg, price: float) -> float:  # noqa: ARG002 -- the margin-model signature
        """The position size in contracts."""
        return abs(leg.quantity)

    def tier_depends_on_price(self, leg: MarginLeg) -> bool:  # noqa: ARG002 -- the margin-model signature
        """A contract count does not move with the price."""
        return False

    def tier_basis_columns(
        self, instrument: Instrument, quantity: FloatArray, entry_price: FloatArray, price: float,  # noqa: ARG002 -- the margin-model signature
    ) -> FloatArray:
        """Contracts held."""
        return np.abs(quantity)


class OkxMargin(_ContractTiers):
    """OKX: the whole position value at the MMR of its tier, tiers counted in contracts, no deduction.

    Maintenance margin = position value at the mark x MMR of the tier whose ``minSz``..``maxSz``
    (contracts, ``GET /api/v5/public/position-tiers``) holds ``|pos|``. Liquidation when "account
    equity is equal to or less than the required maintenance margin plus any applicable liquidation
    fees": the fee is taken as the taker rate on the position value (OKX's isolated margin ratio
    ``(margin + upl) / (value x (MMR + fee rate))``). Source: OKX help "Tiered maintenance margin
    ratio rules" (e.g. BTC-USDT-SWAP 6M USDT in the 1 % tier: 60,000); OKX v5
    ``GET /api/v5/public/position-tiers``.
    """

    name = "okx"
    uses_deduction = False
    fee_in_requirement = True


class BybitMargin(_TieredModel):
    """Bybit: the risk-limit tier the position carries, maintenance margin on the value at entry.

    Isolated linear ``LP = EP -/+ (IM - MM) / Q -/+ extra / Q`` with ``MM = value at entry x MMR -
    deduction``: the liquidation price solves wallet + PnL = that fixed MM (long 1 BTC @20,000, 50x,
    MMR 0.5 %: 20,000 - (400 - 100) / 1 = 19,700); inverse alike in coin. The tier is the one
    whose cap is the position's ``riskLimitValue``; without it, the tier of the value at entry.
    Sources: Bybit help "Liquidation Price (USDT Contract)", "Liquidation Price (Inverse
    Contract)"; Bybit v5 ``GET /v5/market/risk-limit`` (``riskLimitValue``, ``maintenanceMargin``,
    ``mmDeduction``) and ``GET /v5/position/list`` (``riskLimitValue``).
    """

    name = "bybit"
    at_entry = True

    def tier(self, leg: MarginLeg, price: float) -> MarginTier | None:  # noqa: ARG002 -- the margin-model signature
        """The tier capped at the leg's risk limit, else the tier of its value at entry."""
        if not leg.instrument.tiers:
            return None
        if leg.risk_limit_value is not None:
            for tier in leg.instrument.tiers:
                if math.isclose(tier.cap, leg.risk_limit_value, rel_tol=1e-9):
                    return tier
        return _tier_by(leg.instrument, self.tier_basis(leg, leg.entry_price))

    def tier_basis(self, leg: MarginLeg, price: float) -> float:  # noqa: ARG002 -- the margin-model signature
        """Settlement notional at entry."""
        return leg.instrument.settlement_notional(leg.quantity, leg.entry_price)

    def tier_depends_on_price(self, leg: MarginLeg) -> bool:  # noqa: ARG002 -- the margin-model signature
        """The value at entry and the risk limit do not move with the mark."""
        return False

    def tier_basis_columns(
        self, instrument: Instrument, quantity: FloatArray, entry_price: FloatArray, price: float,  # noqa: ARG002 -- the margin-model signature
    ) -> FloatArray:
        """Settlement notional of every leg at its entry."""
        return np.asarray(instrument.settlement_notional(quantity, entry_price), dtype=np.float64)

    def _fixed_tier_indices(self, instrument: Instrument, risk_limit_value: FloatArray) -> np.ndarray:
        caps = np.array([tier.cap for tier in instrument.tiers], dtype=np.float64)
        found = np.full(risk_limit_value.shape, -1, dtype=np.intp)
        for index, cap in enumerate(caps.tolist()):
            found[np.isclose(risk_limit_value, cap, rtol=1e-9, atol=0.0)] = index
        return found


class BingxMargin(BinanceMargin):
    """BingX USDT-M: Binance's brackets (notional, maintenance amount), plus the closing fee.

    ``MM = notional x MMR - maintenance amount`` (BingX maintenance-margin update, 2024-07-22);
    liquidation at risk 100 %: isolated ``(MM + closing fee) / (position margin + uPnL)``, cross
    ``(sum MM + sum closing fees) / (balance - isolated margins - frozen + cross uPnL)``; the
    closing fee is the notional at the mark times the taker rate. Sources: BingX "Perpetual Futures
    Forced Liquidation Rules" and its "Risk" page.
    """

    name = "bingx"
    fee_in_requirement = True


class MexcMargin(_ContractTiers):
    """MEXC: maintenance margin on the value at entry, at the rate of the risk level of its contracts.

    Isolated ``LP = (MM - PM + EP x size) / size`` (long) and ``(EP x size - MM + PM) / size``
    (short), commission excluded: 0.1 BTC @50,000 at 25x, MMR 0.4 % -> MM 20, PM 200, LP 48,200.
    Risk levels are counted in contracts (``GET /api/v1/contract/detail``: ``riskBaseVol``,
    ``riskIncrVol``, ``maintenanceMarginRate`` + ``riskIncrMmr`` per level); no deduction.
    Source: MEXC "Liquidation in Futures" (MEXC blog); MEXC contract detail API.
    """

    name = "mexc"
    at_entry = True
    uses_deduction = False


class WeexMargin(OkxMargin):
    """WEEX: margin rate = (position margin + uPnL) / value at the mark against the tier's rate.

    Liquidation where the margin balance reaches ``value at mark x MMR`` of the tier of the size,
    no deduction, no fee. Sources: WEEX help "Maintenance Margin Rate", "What is margin rate"
    (1,050 / (0.001 x 100 x 60,000) = 17.5 %), "Estimated liquidation price". In cross mode WEEX
    counts a symbol's long and short together for the tier; here each leg's own size picks it.
    """

    name = "weex"
    fee_in_requirement = False


DERIBIT_MAINTENANCE_INCREASE: dict[str, float] = {"BTC": 0.00005, "ETH": 0.000004}
"""Deribit's maintenance-margin "Increase Factor" per coin of position size (BTC 0.005 %, ETH
0.0004 %); the base rate is the catalog tier's ``mmr`` (1 %)."""


class DeribitMargin:
    """Deribit standard margin: a maintenance rate rising with the position's size in coin.

    ``MM rate = 1 % + (Position Size in BTC) x 0.005 %`` (ETH: ``+ size in ETH x 0.0004 %``), so
    ``MM = size x rate`` in the coin, size = ``|q| cv / P`` at the mark (inverse) or ``|q| cs``
    (linear, MM in USD at the mark): position 25 BTC -> 1.125 % -> 0.28125 BTC. Cross over the
    currency's portfolio; liquidation when equity falls to the maintenance margin. With
    ``u = 1 / P`` an inverse leg's MM is ``base Q u + f Q^2 u^2`` (``Q = |q| cv`` USD) and its PnL
    ``alpha u + beta``, so the liquidation price solves a quadratic; a net short has a second root
    at a far lower price (its coin size, and with it the rate, grows as the price falls): the
    root above, the adverse one, is taken, and a short collateralised by at least its coin value
    at entry (no root above) has none (NaN), as a COIN-M one. Sources: Deribit help "Inverse
    Perpetual" and "Linear Perpetual" (Standard Margin IM & MM examples), "11 January 2022"
    margin change (BTC MM ``1 % + size x 0.005 %``, ETH ``1 % + size x 0.0004 %``), "Futures
    leverage and margin" (equity below MM -> incremental liquidation).
    """

    name: ClassVar[str] = "deribit"

    @staticmethod
    def _rate(instrument: Instrument, quantity: float, price: float) -> float:
        """The maintenance rate of ``|quantity|`` contracts at ``price`` (NaN: undocumented coin)."""
        factor = DERIBIT_MAINTENANCE_INCREASE.get(instrument.base, math.nan)
        size_coin = abs(quantity) * instrument.base_per_contract(price)
        return instrument.tiers[0].mmr + size_coin * factor

    def tier(self, leg: MarginLeg, price: float) -> MarginTier | None:
        """The leg's own rate as a one-off tier (no deduction, the catalog tier's leverage)."""
        if not leg.instrument.tiers:
            return None
        rate = self._rate(leg.instrument, leg.quantity, price)
        if math.isnan(rate):
            return None
        first = leg.instrument.tiers[0]
        return MarginTier(floor=0.0, cap=math.inf, mmr=rate, max_leverage=first.max_leverage, cum=0.0)

    def maintenance_margin(self, leg: MarginLeg, price: float) -> float:
        """``settlement notional x (base + factor x size in coin)`` at the mark."""
        if not leg.instrument.tiers:
            return math.nan
        return leg.instrument.settlement_notional(leg.quantity, price) * self._rate(
            leg.instrument, leg.quantity, price)

    def maintenance_margins(
        self, instrument: Instrument, quantity: FloatArray, entry_price: FloatArray, price: float,  # noqa: ARG002 -- the margin-model signature
        risk_limit_value: FloatArray,  # noqa: ARG002 -- the margin-model signature
    ) -> FloatArray:
        """Vectorised ``maintenance_margin``."""
        if not instrument.tiers:
            return np.full(quantity.shape, np.nan)
        size = np.abs(quantity) * instrument.base_per_contract(price)
        factor = DERIBIT_MAINTENANCE_INCREASE.get(instrument.base, math.nan)
        rate = instrument.tiers[0].mmr + size * factor
        notional = np.asarray(instrument.settlement_notional(quantity, price), dtype=np.float64)
        return np.asarray(notional * rate, dtype=np.float64)

    def liquidation_requirement(self, leg: MarginLeg, price: float) -> float:
        """The maintenance margin (Deribit liquidates when equity falls to it)."""
        return self.maintenance_margin(leg, price)

    def liquidation_price(self, legs: Sequence[MarginLeg], wallet: float) -> float:
        """Solve wallet + PnL = MM for the price (see the class docstring); NaN when none."""
        legs = [leg for leg in legs if leg.quantity != 0]
        if not legs or not math.isfinite(wallet) or any(not leg.instrument.tiers for leg in legs):
            return math.nan
        instrument = legs[0].instrument
        factor = DERIBIT_MAINTENANCE_INCREASE.get(instrument.base, math.nan)
        if math.isnan(factor):
            return math.nan
        base = instrument.tiers[0].mmr
        quadratic = linear = constant = 0.0
        for leg in legs:
            alpha, beta = instrument.pnl_coefficients(leg.quantity, leg.entry_price)
            size = float(instrument.leg_size(leg.quantity))
            if instrument.settles_in_coin:
                # MM = base Q u + f Q^2 u^2, u = 1/P
                quadratic += factor * size * size
                linear += base * size - alpha
            else:
                # MM = (base + f Qb) Qb P, linear in u = P
                linear += (base + factor * size) * size - alpha
            constant -= beta
        constant -= wallet
        net = sum(leg.quantity for leg in legs)
        roots = _positive_roots(quadratic, linear, constant)
        if not roots:
            return math.nan
        if instrument.settles_in_coin and net < 0:
            # Two roots only when equity can reach MM on the way up (wallet below the short's coin
            # value at entry); a fully collateralised short has just the far, favourable-side root.
            if constant <= 0 or len(roots) < 2:
                return math.nan
            variable = roots[0]
        else:
            variable = roots[-1]
        price = instrument.price_from_variable(variable)
        return price if math.isfinite(price) and price > 0 else math.nan


def _positive_roots(a: float, b: float, c: float) -> list[float]:
    """The positive real roots of ``a x^2 + b x + c`` (``a`` may be 0)."""
    if a == 0.0:
        return [] if b == 0.0 or not -c / b > 0 else [-c / b]
    discriminant = b * b - 4.0 * a * c
    if discriminant < 0:
        return []
    root = math.sqrt(discriminant)
    # the numerically stable pair
    q = -0.5 * (b + math.copysign(root, b))
    candidates = [q / a, c / q] if q != 0.0 else [-b / (2.0 * a)]
    return sorted(x for x in candidates if math.isfinite(x) and x > 0)


class HyperliquidMargin(BinanceMargin):
    """Hyperliquid perpetuals: notional margin tiers with a deduction, at the mark, no closing fee.

    - Maintenance margin is "half of the initial margin at max leverage" (docs "Liquidations"):
      ``MMR = 1 / (2 x max leverage)``, 1.25 % at 40x. With margin tiers (docs "Margin tiers"):
      ``maintenance_margin = notional_position_value x maintenance_margin_rate -
      maintenance_deduction``, ``MMR(tier n) = initial margin rate at the tier's max leverage / 2``,
      ``deduction(n) = deduction(n-1) + lower_bound(n) x (MMR(n) - MMR(n-1))``, tiers by USDC
      notional at the mark: the same shape as Binance's brackets and ``cum``.
    - Liquidation when account equity (isolated: the isolated margin with its PnL) falls below the
      maintenance margin; docs "Liquidations", "Computing Liquidation Price":
      ``liq_price = price - side x margin_available / position_size / (1 - l x side)`` with
      ``l = 1 / MAINTENANCE_LEVERAGE`` (= MMR), ``side`` +1 long / -1 short, ``margin_available =
      account_value - maintenance_margin_required`` (cross) or ``isolated_margin -
      maintenance_margin_required`` (isolated), the tier being the one at the position value at the
      liquidation price. That is the solution of wallet + PnL(P) = MM(P) that ``_TieredModel``
      solves: docs info example, isolated long 0.0335 ETH @2986.3, max leverage 50 (l = 1 %),
      ``rawUsd`` -95.059824: 95.059824 / (0.0335 x 0.99) = 2866.26936529, its ``liquidationPx``.
    - No fee in the requirement; USDC counts as 1 USD. Cross margin shares one USDC account value
      across every cross position; isolated positions hold their own margin.
    Sources: hyperliquid.gitbook.io/hyperliquid-docs/trading/liquidations, .../trading/margin-tiers,
    .../for-developers/api/info-endpoint/perpetuals (clearinghouseState example).
    """

    name = "hyperliquid"


MARGIN_MODELS: dict[str, MarginModel] = {
    "binance": BinanceMargin(),
    "okx": OkxMargin(),
    "bybit": BybitMargin(),
    "mexc": MexcMargin(),
    "bingx": BingxMargin(),
    "weex": WeexMargin(),
    "binance-coinm": BinanceMargin(),
    "deribit": DeribitMargin(),
    "hyperliquid": HyperliquidMargin(),
}
"""Venue -> model. A venue not listed (CME, Coinbase, ...) uses Binance's rule: see
``docs/risk-model.md`` for what their documents do and do not confirm."""


_MODELS_BY_ID: dict[str, MarginModel] = {}
"""``margin_model_for`` by instrument id (the venue is part of the id): a snapshot asks per leg."""


def margin_model_for(instrument: Instrument) -> MarginModel:
    """The margin model of the instrument's venue (Binance's rule where the venue has none)."""
    model = _MODELS_BY_ID.get(instrument.id)
    if model is None:
        model = _MODELS_BY_ID[instrument.id] = MARGIN_MODELS.get(instrument.venue, MARGIN_MODELS["binance"])
    return model


__all__ = [
    "DERIBIT_MAINTENANCE_INCREASE", "MARGIN_MODELS", "BinanceMargin", "BingxMargin", "BybitMargin",
    "DeribitMargin", "HyperliquidMargin", "MarginLeg", "MarginModel", "MexcMargin", "OkxMargin",
    "WeexMargin", "margin_model_for",
]
