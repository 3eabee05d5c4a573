"""The hedge calculator: how many contracts protect a spot holding, and what that hedge does.

Seed steps 1 to 3 and practical step 2 (risk-definitions.md): exposure ``Q * S``; contracts
``N = h * exposure / (cs * P)`` (linear) or ``h * exposure / cv`` (inverse), rounded to the lot;
the residual delta; initial margin ``notional / leverage``; the isolated short's liquidation price;
the stress grid, with the leg capped at liquidation; per shock, the isolated margin and the
leverage that keep the leg alive through it; and the same hedge in the asset's standard contract
to show the micro contract's precision.

The leg's margin model is the Binance one-way isolated rule (risk-definitions.md, Margin) in three
functions that the venue margin models (``monitor/domain/margin.py``) replace: the tier
(``maintenance_for``), the liquidation price (``leg_liquidation_price``) and the wallet that puts
it at a given price (``leg_margin_to_survive``: maintenance margin less PnL at that price).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from monitor.domain import formulas as f
from monitor.domain.instruments import Instrument, MarginTier

SHOCKS: tuple[float, ...] = (-0.2, -0.1, -0.05, 0.05, 0.1, 0.2)

DEFAULT_MAINTENANCE_MARGIN_RATE = 0.004
"""MMR when neither the caller nor the instrument gives one: Binance USDⓈ-M BTCUSDT bracket 1.

Binance "Leverage and Margin of USDⓈ-M Futures" / the BTCUSDT table of the announcement "Updates to
Leverage and Margin Tiers of Binance Futures Contracts (2021-03-18)": 0 < position <= 50,000 USDT,
125x, maintenance margin rate 0.40 %, maintenance amount 0.
"""
DEFAULT_MAINTENANCE_MARGIN_SOURCE = (
    "default 0.004: Binance USDⓈ-M BTCUSDT bracket 1 (notional up to 50,000 USDT, 125x)"
)

# A whole leverage must leave the liquidation price strictly beyond the shocked price: an exact
# figure within this of a whole number counts as that number (5.0000000001 allows 4x, not 5x).
_LEVERAGE_TOLERANCE = 1e-9


@dataclass(frozen=True, slots=True)
class HedgeRequest:
    """What the trader holds and how they want to hedge it.

    ``maintenance_margin_rate`` is a rate given by the caller; None takes the instrument's tier,
    else ``DEFAULT_MAINTENANCE_MARGIN_RATE``.
    """

    asset: str
    quantity: float
    price: float
    instrument: Instrument
    target_ratio: float = 1.0
    leverage: float | None = None
    standard_contract_size: float = 1.0
    maintenance_margin_rate: float | None = None


@dataclass(frozen=True, slots=True)
class Maintenance:
    """The maintenance-margin rate and amount applied to the leg, and where they come from.

    ``amount`` is in USD (the catalog's tiers are sized in USD notional); ``max_leverage`` is the
    tier's, None when the instrument lists no tiers.
    """

    rate: float
    amount: float
    max_leverage: float | None
    source: str


def leg_liquidation_price(
    instrument: Instrument,
    contracts: float,
    entry_price: float,
    wallet: float,
    mmr: float,
    maintenance_amount: float = 0.0,
) -> float:
    """Isolated liquidation price of a leg of signed ``contracts`` (negative = short); NaN: none.

    ``wallet`` and ``maintenance_amount`` are in the settlement currency (USD linear, the coin
    inverse). Linear ``LP = (WB + cum - side*Q*EP) / (Q*MMR - side*Q)`` with ``Q = |q| * cs``;
    inverse ``LP = Q*(MMR + side) / (WB + cum + side*Q/EP)`` with ``Q = |q| * cv`` in USD.
    Source: Binance "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts" and "... of
    COIN-M Futures Contracts" (isolated: WB = isolated wallet, TMM = UPNL = 0).
    """
    side = 1.0 if contracts > 0 else -1.0
    if instrument.kind == "inverse":
        return float(f.liquidation_price_inverse(
            side, abs(contracts) * instrument.contract_value, entry_price, wallet, mmr,
            maintenance_amount))
    return float(f.liquidation_price_linear(
        side, abs(contracts) * instrument.contract_size, entry_price, wallet, mmr,
        maintenance_amount))


def leg_margin_to_survive(
    instrument: Instrument,
    contracts: float,
    entry_price: float,
    price: float,
    mmr: float,
    maintenance_amount: float = 0.0,
) -> float:
    """The isolated wallet whose liquidation price is ``price``: maintenance margin less PnL there.

    Liquidation is margin balance = maintenance margin, ``WB + PnL(P') = MM(P')``, so
    ``WB = MM(P') - PnL(P')`` in the settlement currency; negative when no wallet is needed (the
    price moves the leg into profit). Linear ``MM = Q*P'*MMR - cum``, ``PnL = q*cs*(P' - EP)``: a
    short's ``WB = P'*Q*(1 + MMR) - Q*EP - cum``. Inverse ``MM = Q*MMR/P' - cum`` (Q in USD),
    ``PnL = q*cv*(1/EP - 1/P')``: a short's ``WB = Q/EP - Q*(1 - MMR)/P' - cum``. It is
    ``leg_liquidation_price`` solved for WB.
    Source: Binance "How to Calculate Liquidation Price of USDⓈ-M / COIN-M Futures Contracts"
    (isolated) and "Leverage and Margin" (maintenance margin = notional * MMR - maintenance amount).
    """
    if instrument.kind == "inverse":
        position_coin = abs(contracts) * instrument.contract_value / price
        maintenance = float(f.tiered_maintenance_margin(position_coin, mmr, maintenance_amount))
        pnl = float(f.inverse_pnl_coin(contracts, instrument.contract_value, entry_price, price))
    else:
        notional = abs(contracts) * instrument.contract_size * price
        maintenance = float(f.tiered_maintenance_margin(notional, mmr, maintenance_amount))
        pnl = float(f.linear_pnl(contracts, instrument.contract_size, entry_price, price))
    return maintenance - pnl


def maintenance_for(
    instrument: Instrument, given_rate: float | None, notional_usd: float
) -> Maintenance:
    """The rate and amount for a position of ``notional_usd``: the given rate, the tier, or the default.

    Source: Binance USDⓈ-M leverage brackets (the bracket whose [floor, cap) holds the notional
    sets MMR, maintenance amount and maximum leverage); the default as
    ``DEFAULT_MAINTENANCE_MARGIN_RATE``.
    """
    if given_rate is not None:
        return Maintenance(given_rate, 0.0, None, f"given rate {given_rate:g}")
    tier = instrument.tier_for(notional_usd)
    if tier is None:
        return Maintenance(
            DEFAULT_MAINTENANCE_MARGIN_RATE, 0.0, None,
            f"{DEFAULT_MAINTENANCE_MARGIN_SOURCE}; {instrument.id} lists no margin tiers",
        )
    return Maintenance(tier.mmr, tier.cum, tier.max_leverage, _tier_source(instrument, tier))


def _tier_source(instrument: Instrument, tier: MarginTier) -> str:
    number = instrument.tiers.index(tier) + 1
    return (f"{instrument.id} tier {number} (notional {tier.floor:,.0f} to {tier.cap:,.0f} USD, "
            f"up to {tier.max_leverage:g}x; catalog)")


def whole_leverage_below(exact: float, allowed: float | None) -> float | None:
    """The highest whole leverage strictly below ``exact``, at most ``allowed``; None below 1x.

    A leverage of ``exact`` puts the liquidation price on the shocked price itself, which
    liquidates (the mark reaching LP); whole leverages are what every venue here accepts.
    Source: Binance USDⓈ-M ``POST /fapi/v1/leverage`` (integer leverage 1 to the bracket's
    ``initialLeverage``).
    """
    whole = float(math.ceil(exact - _LEVERAGE_TOLERANCE) - 1)
    if allowed is not None:
        whole = min(whole, float(math.floor(allowed)))
    return whole if whole >= 1.0 else None


def plan_hedge(request: HedgeRequest) -> dict[str, Any]:
    """The hedge plan as a JSON-ready dict (keys documented in the README)."""
    instrument = request.instrument
    exposure = request.quantity * request.price
    if instrument.kind == "inverse":
        contract_notional = instrument.contract_value
        raw = f.contracts_for_target_inverse(request.target_ratio, exposure, instrument.contract_value)
        base_per_contract = instrument.contract_value / request.price
    else:
        contract_notional = instrument.contract_size * request.price
        raw = f.contracts_for_target_linear(
            request.target_ratio, exposure, instrument.contract_size, request.price)
        base_per_contract = instrument.contract_size
    contracts = float(f.round_to_lot(raw, instrument.lot_step))
    hedge_base = contracts * base_per_contract
    notional = contracts * contract_notional
    leg = _LegPlan(request, -contracts, notional)
    result: dict[str, Any] = {
        "asset": request.asset,
        "quantity": request.quantity,
        "price": request.price,
        "instrument": instrument.id,
        "instrument_kind": instrument.kind,
        "contract_size": instrument.contract_size if instrument.kind != "inverse" else None,
        "contract_value_usd": instrument.contract_value if instrument.kind == "inverse" else None,
        "target_ratio": request.target_ratio,
        "exposure_usd": exposure,
        "contract_notional_usd": contract_notional,
        "contracts_exact": float(raw),
        "contracts": contracts,
        "side": "short",
        "hedge_notional_usd": notional,
        "hedge_ratio": hedge_base / request.quantity,
        "residual_delta": request.quantity - hedge_base,
        "residual_delta_usd": (request.quantity - hedge_base) * request.price,
        "initial_margin_usd": leg.wallet_usd,
        "leverage": request.leverage,
        **leg.summary(),
        "stress": [],
        "standard": {},
    }
    for shock in SHOCKS:
        shocked = request.price * (1.0 + shock)
        spot_pnl = request.quantity * (shocked - request.price)
        hedge_pnl, liquidated = leg.pnl_at(shocked)
        result["stress"].append({
            "shock": shock,
            "shocked_price": shocked,
            "spot_pnl_usd": spot_pnl,
            "hedge_pnl_usd": hedge_pnl,
            "net_pnl_usd": spot_pnl + hedge_pnl,
            "liquidated": liquidated,
            **leg.survival_at(shocked),
        })
    standard_size = request.standard_contract_size
    standard_contracts = float(f.round_to_lot(
        f.contracts_for_target_linear(request.target_ratio, exposure, standard_size, request.price), 1.0))
    result["standard"] = {
        "contract_size": standard_size,
        "contracts": standard_contracts,
        "residual_delta": request.quantity - standard_contracts * standard_size,
    }
    return result


class _LegPlan:
    """The isolated hedge leg of a plan: its wallet, liquidation price, stress PnL and survival margin.

    The leg opens at the plan's price, so entry price = mark = ``request.price``; USD amounts of an
    inverse leg are its coin amounts at that price. The tier of a linear leg is the one of its
    notional at the liquidation price (Binance: re-solve with the bracket at the liquidation
    price); an inverse leg's notional is fixed in USD, so is its tier.
    """

    __slots__ = ("contracts", "liquidation", "maintenance", "notional", "opening", "request",
                 "wallet", "wallet_usd")

    def __init__(self, request: HedgeRequest, contracts: float, notional: float) -> None:
        self.request = request
        self.contracts = contracts
        self.notional = notional
        # The tier of the opening notional caps the leverage; the liquidation price has its own.
        self.opening = maintenance_for(request.instrument, request.maintenance_margin_rate, notional)
        self.maintenance = self.opening
        self.wallet_usd = (
            None if request.leverage is None else float(f.initial_margin(notional, request.leverage)))
        self.wallet = None if self.wallet_usd is None else self._settlement(self.wallet_usd)
        self.liquidation = math.nan
        if self.wallet is not None and contracts != 0:
            self.liquidation, self.maintenance = self._liquidation(self.wallet)

    def _settlement(self, usd: float) -> float:
        """A USD amount in the settlement currency at the plan's price."""
        return usd / self.request.price if self.request.instrument.kind == "inverse" else usd

    def _maintenance_at(self, price: float) -> Maintenance:
        """The maintenance rate for the leg's notional at ``price`` (fixed for an inverse leg)."""
        instrument = self.request.instrument
        if instrument.kind == "inverse":
            return self.opening
        base = abs(self.contracts) * instrument.contract_size
        return maintenance_for(instrument, self.request.maintenance_margin_rate, base * price)

    def _liquidation(self, wallet: float) -> tuple[float, Maintenance]:
        """The liquidation price with the tier of its own notional (at most one pass per tier)."""
        maintenance = self.opening
        price = self._price_for(wallet, maintenance)
        for _ in self.request.instrument.tiers:
            if math.isnan(price):
                break
            next_maintenance = self._maintenance_at(price)
            if next_maintenance == maintenance:
                break
            maintenance = next_maintenance
            price = self._price_for(wallet, maintenance)
        return price, maintenance

    def _price_for(self, wallet: float, maintenance: Maintenance) -> float:
        return leg_liquidation_price(
            self.request.instrument, self.contracts, self.request.price, wallet,
            maintenance.rate, self._settlement(maintenance.amount))

    def summary(self) -> dict[str, Any]:
        """The leg's margin figures for the plan's top level."""
        price = self.request.price
        known = not math.isnan(self.liquidation)
        return {
            "margin_mode": "isolated",
            "settlement_currency": self.request.instrument.settle,
            "initial_margin": self.wallet,
            "maintenance_margin_rate": self.maintenance.rate,
            "maintenance_amount": self._settlement(self.maintenance.amount),
            "maintenance_margin_source": self.maintenance.source,
            "max_leverage_allowed": self.opening.max_leverage,
            "liquidation_price": self.liquidation if known else None,
            "liquidation_distance": (
                float(f.liquidation_distance(self.liquidation, price)) if known else None),
            "liquidated_at_open": None if self.wallet is None else self.liquidated_at_open(),
        }

    def pnl_at(self, shocked: float) -> tuple[float, bool | None]:
        """The leg's USD PnL at a shocked price, capped at its wallet (risk-definitions.md, Stress grid).

        A liquidated leg loses its wallet in USD at the plan's price (an inverse leg's coin wallet
        too, as the hedge book's stress grid values it at the mark). Without a leverage the wallet,
        hence the liquidation, is unknown: the PnL is uncapped and ``liquidated`` is None.
        """
        instrument = self.request.instrument
        price = self.request.price
        # Entry = the plan's price: the leg's USD value change is its PnL from P to P'.
        if instrument.kind == "inverse":
            pnl = float(f.inverse_pnl_usd(self.contracts, instrument.contract_value, price, shocked))
        else:
            pnl = float(f.linear_pnl(self.contracts, instrument.contract_size, price, shocked))
        if self.wallet_usd is None:
            return pnl, None
        side = 1.0 if self.contracts > 0 else -1.0
        if self.liquidated_at_open() or f.is_liquidated_at(side, shocked, self.liquidation):
            return -self.wallet_usd, True
        return pnl, False

    def liquidated_at_open(self) -> bool:
        """True when the wallet is at or below the maintenance margin: the plan's price is past LP."""
        side = 1.0 if self.contracts > 0 else -1.0
        return bool(f.is_liquidated_at(side, self.request.price, self.liquidation))

    def survival_at(self, shocked: float) -> dict[str, Any]:
        """The wallet and the highest leverage that keep the leg's liquidation beyond ``shocked``."""
        maintenance = self._maintenance_at(shocked)
        needed = max(0.0, leg_margin_to_survive(
            self.request.instrument, self.contracts, self.request.price, shocked,
            maintenance.rate, self._settlement(maintenance.amount)))
        needed_usd = needed * self.request.price if self.request.instrument.kind == "inverse" else needed
        allowed = self.opening.max_leverage
        if needed_usd > 0:
            exact: float | None = self.notional / needed_usd
            highest = whole_leverage_below(self.notional / needed_usd, allowed)
        else:
            exact, highest = None, allowed
        return {
            "maintenance_margin_rate": maintenance.rate,
            "margin_to_survive": needed,
            "margin_to_survive_usd": needed_usd,
            "max_leverage_to_survive_exact": exact,
            "max_leverage_to_survive": highest,
        }
