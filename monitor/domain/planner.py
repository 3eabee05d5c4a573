"""The hedge calculator: how many contracts protect a spot holding, and what that hedge does.

Seed steps 1 to 3 and practical step 2 (risk-definitions.md): exposure ``Q * S``; contracts
``N = h * exposure / (cs * P)`` (linear) or ``h * exposure / cv`` (inverse), rounded to the lot;
the residual delta; initial margin ``notional / leverage``; the stress grid; and the same hedge in
the asset's standard contract to show the micro contract's precision.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from monitor.domain import formulas as f
from monitor.domain.instruments import Instrument

SHOCKS: tuple[float, ...] = (-0.2, -0.1, -0.05, 0.05, 0.1, 0.2)


@dataclass(frozen=True, slots=True)
class HedgeRequest:
    """What the trader holds and how they want to hedge it."""

    asset: str
    quantity: float
    price: float
    instrument: Instrument
    target_ratio: float = 1.0
    leverage: float | None = None
    standard_contract_size: float = 1.0


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
        "initial_margin_usd": (
            None if request.leverage is None else float(f.initial_margin(notional, request.leverage))
        ),
        "leverage": request.leverage,
        "stress": [],
        "standard": {},
    }
    for shock in SHOCKS:
        shocked = request.price * (1.0 + shock)
        spot_pnl = request.quantity * (shocked - request.price)
        if instrument.kind == "inverse":
            hedge_pnl = float(f.inverse_pnl_usd(
                -contracts, instrument.contract_value, request.price, shocked))
        else:
            hedge_pnl = float(f.linear_pnl(-contracts, instrument.contract_size, request.price, shocked))
        result["stress"].append({
            "shock": shock,
            "spot_pnl_usd": spot_pnl,
            "hedge_pnl_usd": hedge_pnl,
            "net_pnl_usd": spot_pnl + hedge_pnl,
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
