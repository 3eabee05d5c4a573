"""The hedge calculator: how many contracts protect a spot holding, and what that hedge does.

Seed steps 1 to 3 and practical step 2 (risk-definitions.md): exposure ``Q * S``; contracts
``N = h * exposure / (cs * P)`` (linear) or ``h * exposure / cv`` (inverse), rounded to the lot;
the residual delta; initial margin ``notional / leverage``; the isolated short's liquidation price;
the stress grid, with the leg capped at liquidation; per shock, the isolated margin and the
leverage that keep the leg alive through it; and the same hedge in the asset's standard contract
to show the micro contract's precision.

The leg's figures come from its venue's margin model (``monitor/domain/margin.py``): the tier, the
liquidation price, and the wallet that puts the liquidation price at a given price (maintenance
margin less PnL there). A rate given by the caller, or the default rate for an instrument without
tiers, becomes a single tier of that rate under the same model.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from monitor.domain import formulas as f
from monitor.domain.instruments import Instrument, MarginTier, tiers_with_cum
from monitor.domain.margin import MarginLeg, margin_model_for

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

    ``amount`` is the tier's deduction in the settlement currency (0 where the venue has none);
    ``max_leverage`` is the tier's, None when the instrument lists no tiers.
    """

    rate: float
    amount: float
    max_leverage: float | None
    source: str


def _tier_source(instrument: Instrument, tier: MarginTier, model: str) -> str:
    number = instrument.tiers.index(tier) + 1
    return (f"{instrument.id} tier {number} ({model} rule, {tier.floor:,.0f} to {tier.cap:,.0f}, "
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

    __slots__ = ("contracts", "leg", "liquidation", "maintenance", "model", "notional", "opening",
                 "request", "source", "wallet", "wallet_usd")

    def __init__(self, request: HedgeRequest, contracts: float, notional: float) -> None:
        self.request = request
        self.contracts = contracts
        self.notional = notional
        instrument = request.instrument
        self.model = margin_model_for(instrument)
        rate = request.maintenance_margin_rate
        if rate is None and not instrument.tiers:
            rate = DEFAULT_MAINTENANCE_MARGIN_RATE
            self.source = f"{DEFAULT_MAINTENANCE_MARGIN_SOURCE}; {instrument.id} lists no margin tiers"
        elif rate is not None:
            self.source = f"given rate {rate:g}"
        else:
            self.source = ""
        if rate is not None:
            instrument = dataclasses.replace(
                instrument, tiers=tiers_with_cum([(0.0, math.inf, rate, math.inf)]))
        self.leg = MarginLeg(instrument, contracts, request.price)
        self.opening = self._maintenance_at(request.price)
        self.maintenance = self.opening
        self.wallet_usd = (
            None if request.leverage is None else float(f.initial_margin(notional, request.leverage)))
        self.wallet = None if self.wallet_usd is None else self._settlement(self.wallet_usd)
        self.liquidation = math.nan
        if self.wallet is not None and contracts != 0:
            self.liquidation = self.model.liquidation_price([self.leg], self.wallet)
            if not math.isnan(self.liquidation):
                self.maintenance = self._maintenance_at(self.liquidation)

    def _settlement(self, usd: float) -> float:
        """A USD amount in the settlement currency at the plan's price."""
        return usd / self.request.price if self.request.instrument.settles_in_coin else usd

    def _maintenance_at(self, price: float) -> Maintenance:
        """The tier the venue's model charges the leg at ``price``."""
        tier = self.model.tier(self.leg, price)
        assert tier is not None  # noqa: S101 -- the leg's instrument always has a tier here
        maintenance = self.model.maintenance_margin(self.leg, price)
        at = self.request.price if getattr(self.model, "at_entry", False) else price
        amount = self.leg.instrument.settlement_notional(self.contracts, at) * tier.mmr - maintenance
        given = self.source != ""
        return Maintenance(
            tier.mmr, amount, None if given or math.isinf(tier.max_leverage) else tier.max_leverage,
            self.source if given else _tier_source(self.request.instrument, tier, self.model.name))

    def summary(self) -> dict[str, Any]:
        """The leg's margin figures for the plan's top level."""
        price = self.request.price
        known = not math.isnan(self.liquidation)
        return {
            "margin_mode": "isolated",
            "settlement_currency": self.request.instrument.settle,
            "initial_margin": self.wallet,
            "maintenance_margin_rate": self.maintenance.rate,
            "maintenance_amount": self.maintenance.amount,
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
        instrument = self.request.instrument
        needed = max(0.0, self.model.liquidation_requirement(self.leg, shocked)
                     - instrument.pnl_settlement(self.contracts, self.request.price, shocked))
        needed_usd = needed * self.request.price if instrument.settles_in_coin else needed
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
