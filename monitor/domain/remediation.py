"""Remediations: what restores a leg's liquidation buffer or a margin level, as figures to act on.

A liquidation price solves "margin balance = liquidation requirement" (``monitor.domain.margin``).
To put the liquidation price at a distance ``D`` from the mark ``P``, take the target price
``T = P (1 + D)`` when the legs liquidate on a rise (net short) and ``T = P (1 - D)`` on a fall, and
ask the venue's model what the requirement and the PnL are at ``T``:

- **add margin**: ``X = sum(requirement_i(T)) - sum(PnL_i(T)) - W``. With ``X`` more in the wallet
  the margin balance equals the requirement exactly at ``T``, so ``T`` is the new liquidation price
  (the balance less the requirement is monotone in the price on the liquidating side). The tier,
  the deduction (Binance ``cum``), the closing fee (OKX, BingX) and the maintenance margin at entry
  (Bybit, MEXC) are the model's own: ``liquidation_requirement(leg, T)`` applies them at ``T``.
- **reduce**: closing ``k`` contracts of one leg at ``P`` realises their PnL into the wallet and pays
  the closing fee (``k`` contracts' value at ``P`` x taker rate); the rest of the leg keeps its
  entry. The smallest ``k`` (in lot steps) whose remaining legs have a requirement at ``T`` no
  greater than the balance at ``T`` is the answer. For an isolated leg this assumes the margin
  stays on the smaller position (a venue that releases isolated margin on a reduce leaves the
  liquidation price where it was unless the margin is added back).
- **margin ratio / buffer**: at the mark the maintenance margin ``MM`` does not move with added
  margin, so ratio ``MM / (MB + X) = c`` gives ``X = MM / c - MB`` and buffer fraction
  ``(MB + X - MM) / (MB + X) = c`` gives ``X = MM / (1 - c) - MB`` (risk-definitions "Margin").

Sources: Binance "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts" (LP equation
solved for the wallet), OKX "Tiered maintenance margin ratio rules" (MM plus liquidation fee),
Bybit "Liquidation Price (USDT Contract)" (MM on the value at entry), as cited in
``monitor.domain.margin``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from monitor.domain.margin import MarginLeg, MarginModel

# Rounding of an amount to add, in the settlement currency: up, so the target is always met.
_LINEAR_STEP = 0.01
_INVERSE_STEP = 1e-8
# Bisection rounds on the lots to reduce: enough for 2**80 lots, so never the limit in practice.
_BISECTION_ROUNDS = 80


@dataclass(frozen=True, slots=True)
class LiquidationRemediation:
    """What puts the liquidation price back at ``target_distance`` from the mark.

    ``add_margin`` is in the settlement currency ``settle`` (0 when the buffer is already there);
    ``reduce_contracts`` the contracts of the leg to close (None when no reduction of it suffices).
    ``requirement_at_target`` and ``balance_at_target`` are the model's liquidation requirement and
    the margin balance at ``target_price`` today: ``add_margin`` is their difference, rounded up.
    """

    target_distance: float
    target_price: float
    settle: str
    add_margin: float
    add_margin_usd: float
    reduce_contracts: float | None
    reduce_side: str
    requirement_at_target: float = math.nan
    balance_at_target: float = math.nan
    mark_price: float = math.nan
    transfer_account: str | None = None
    transfer_available: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form carried on a position of the risk snapshot and on its alert."""
        return {
            "target_distance": self.target_distance,
            "target_price": self.target_price,
            "settle": self.settle,
            "add_margin": self.add_margin,
            "add_margin_usd": self.add_margin_usd,
            "reduce_contracts": self.reduce_contracts,
            "reduce_side": self.reduce_side,
            "requirement_at_target": self.requirement_at_target,
            "balance_at_target": self.balance_at_target,
            "mark_price": self.mark_price,
            "transfer_account": self.transfer_account,
            "transfer_available": self.transfer_available,
        }


def target_price(price: float, distance: float, *, rises: bool) -> float:
    """The price at ``distance`` from ``price`` on the liquidating side (above for a short)."""
    return price * (1.0 + distance) if rises else price * (1.0 - distance)


def liquidates_on_rise(
    model: MarginModel, legs: Sequence[MarginLeg], wallet: float, price: float,
) -> bool | None:
    """Whether the legs liquidate on a rise: a net short does (linear and inverse alike), a net
    long does not; legs that offset exactly are asked whether their shortfall grows with the
    price. None when it does not move."""
    net = sum(leg.quantity for leg in legs)
    if net != 0:
        return net < 0
    up = shortfall(model, legs, wallet, price * 1.01)
    down = shortfall(model, legs, wallet, price * 0.99)
    if not (math.isfinite(up) and math.isfinite(down)) or up == down:
        return None
    return up > down


def requirement_and_balance(
    model: MarginModel, legs: Sequence[MarginLeg], wallet: float, price: float,
) -> tuple[float, float]:
    """The legs' liquidation requirement and their margin balance ``W + PnL`` at ``price``."""
    requirement = sum(model.liquidation_requirement(leg, price) for leg in legs if leg.quantity != 0)
    pnl = sum(leg.instrument.pnl_settlement(leg.quantity, leg.entry_price, price)
              for leg in legs if leg.quantity != 0)
    return requirement, wallet + pnl


def shortfall(model: MarginModel, legs: Sequence[MarginLeg], wallet: float, price: float) -> float:
    """Requirement less margin balance at ``price``: > 0 means the legs are liquidated there."""
    requirement, balance = requirement_and_balance(model, legs, wallet, price)
    return requirement - balance


def _round_up(amount: float, step: float) -> float:
    steps = math.ceil(amount / step - 1e-9)
    return max(0.0, round(steps * step, 10))


def margin_to_add(model: MarginModel, legs: Sequence[MarginLeg], wallet: float, target: float) -> float:
    """Settlement-currency margin ``X`` that moves the legs' liquidation price to ``target``.

    ``X = requirement(T) - (W + PnL(T))``, rounded up to a cent (linear) or 1e-8 coin (inverse);
    0 when the liquidation price is already at or beyond ``T``; NaN when a figure is unknown.
    """
    missing = shortfall(model, legs, wallet, target)
    if not math.isfinite(missing):
        return math.nan
    step = _INVERSE_STEP if legs[0].instrument.settles_in_coin else _LINEAR_STEP
    return _round_up(missing, step) if missing > 0 else 0.0


def _reduced(model: MarginModel, legs: Sequence[MarginLeg], index: int, wallet: float, price: float,
             contracts: float, target: float) -> float:
    """The shortfall at ``target`` after closing ``contracts`` of leg ``index`` at ``price``."""
    leg = legs[index]
    closed = math.copysign(contracts, leg.quantity)
    instrument = leg.instrument
    realised = instrument.pnl_settlement(closed, leg.entry_price, price)
    fee = instrument.settlement_notional(closed, price) * instrument.taker_fee
    remaining = [*legs]
    remaining[index] = replace(leg, quantity=leg.quantity - closed)
    return shortfall(model, remaining, wallet + realised - fee, target)


def contracts_to_reduce(
    model: MarginModel, legs: Sequence[MarginLeg], index: int, wallet: float, price: float,
    target: float, lot_step: float,
) -> float | None:
    """Fewest contracts of leg ``index`` (a multiple of ``lot_step``) to close at ``price`` so the
    liquidation price is at or beyond ``target``; 0 if it already is, None if closing it all fails.

    The shortfall at ``target`` falls as more is closed (each closed contract takes its
    requirement away and moves ``T - P`` of PnL into the wallet), so a bisection over whole lots
    finds the least number of lots in ``log2(lots)`` model evaluations.
    """
    size = abs(legs[index].quantity)
    none_closed = _reduced(model, legs, index, wallet, price, 0.0, target)
    if none_closed <= 0:
        return 0.0
    all_closed = _reduced(model, legs, index, wallet, price, size, target)
    if not all_closed <= 0:
        return None
    lots = math.ceil(size / lot_step - 1e-9)
    low, high = 0, lots  # low fails, high (the whole leg) succeeds
    # Within one tier the shortfall is linear in the contracts closed: start from where the line
    # crosses zero and confirm with its two neighbouring lots (a tier step falls back to bisection).
    guess = min(lots, max(1, math.ceil(none_closed / (none_closed - all_closed) * size / lot_step - 1e-9)))
    if _reduced(model, legs, index, wallet, price, min(size, guess * lot_step), target) <= 0:
        high = guess
        if guess - 1 <= 0 or _reduced(model, legs, index, wallet, price, (guess - 1) * lot_step,
                                      target) > 0:
            return min(size, round(guess * lot_step, 10))
    else:
        low = guess
    for _ in range(_BISECTION_ROUNDS):
        if high - low <= 1:
            break
        middle = (low + high) // 2
        if _reduced(model, legs, index, wallet, price, min(size, middle * lot_step), target) <= 0:
            high = middle
        else:
            low = middle
    return min(size, round(high * lot_step, 10))


def liquidation_remediation(
    model: MarginModel, legs: Sequence[MarginLeg], index: int, wallet: float, price: float,
    distance: float, *, transfer: tuple[str, float] | None = None,
) -> LiquidationRemediation | None:
    """The margin to add and the contracts of leg ``index`` to close for a ``distance`` buffer.

    ``legs`` share ``wallet`` (an isolated leg alone; a cross symbol's legs with the wallet less the
    other symbols' MM plus their uPnL, as in ``monitor.domain.margin``); ``price`` is the mark.
    The liquidating side is where the shortfall grows (above the mark for a net short). None when
    a figure is unknown or the legs do not move with the price. ``transfer`` is the account the
    margin could come from and its balance of the settlement asset, when there is one.
    """
    if not legs or not (math.isfinite(wallet) and math.isfinite(price) and price > 0):
        return None
    rises = liquidates_on_rise(model, legs, wallet, price)
    if rises is None:
        return None
    target = target_price(price, distance, rises=rises)
    add = margin_to_add(model, legs, wallet, target)
    if math.isnan(add):
        return None
    leg = legs[index]
    requirement, balance = requirement_and_balance(model, legs, wallet, target)
    reduce = contracts_to_reduce(model, legs, index, wallet, price, target, leg.instrument.lot_step)
    return LiquidationRemediation(
        target_distance=distance,
        target_price=target,
        settle=leg.instrument.settle,
        add_margin=add,
        add_margin_usd=float(leg.instrument.settlement_to_usd(add, price)),
        reduce_contracts=reduce,
        reduce_side="short" if leg.quantity < 0 else "long",
        requirement_at_target=requirement,
        balance_at_target=balance,
        mark_price=price,
        transfer_account=None if transfer is None else transfer[0],
        transfer_available=None if transfer is None else transfer[1],
    )


def margin_for_ratio(maintenance: float, balance: float, ratio: float) -> float:
    """Margin to add so ``MM / (MB + X)`` falls to ``ratio``: ``X = MM / ratio - MB`` (>= 0)."""
    return max(0.0, maintenance / ratio - balance)


def margin_for_buffer(maintenance: float, balance: float, fraction: float) -> float:
    """Margin to add so ``(MB + X - MM) / (MB + X)`` rises to ``fraction``: ``MM / (1 - f) - MB``."""
    return max(0.0, maintenance / (1.0 - fraction) - balance)


# -- wording: the remediation as the sentence a trader acts on (alerts, live view, demo) ------------


def _finite(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _amount(value: float, asset: str) -> str:
    digits = 2 if asset.upper().startswith("USD") or asset.upper() in {"DAI", "FDUSD", "TUSD"} else 8
    return f"{value:,.{digits}f} {asset}"


def _contracts(value: float) -> str:
    text = f"{value:,.6f}".rstrip("0").rstrip(".")
    return f"{text} contract" if value == 1 else f"{text} contracts"


def _transfer_text(remedy: Mapping[str, Any], amount: float, settle: str) -> str:
    source = remedy.get("transfer_account")
    available = _finite(remedy.get("transfer_available"))
    if not isinstance(source, str) or available is None:
        return ""
    if available >= amount:
        balance = _amount(available, settle)
        return f", or transfer {_amount(amount, settle)} from {source} (free balance {balance})"
    return f" ({source} holds only {_amount(available, settle)} to transfer)"


def remediation_text(remedy: Mapping[str, Any] | None) -> str:
    """The sentence of a remediation ("" for None)."""
    if not remedy:
        return ""
    kind = remedy.get("kind")
    if kind == "hedge_ratio":
        target = _finite(remedy.get("target_ratio"))
        target_text = f" {target:.2f}" if target is not None else ""
        return (f"{remedy['action']} {_contracts(float(remedy['contracts']))} of {remedy['instrument']} "
                f"to return to target{target_text}")
    if kind == "margin":
        add = float(remedy["add_margin_usd"])
        settle = str(remedy.get("settle") or "USD")
        name = "margin ratio" if remedy.get("figure") == "margin_ratio" else "margin buffer"
        return (f"add {_amount(add, settle)} margin to bring the {name} back to "
                f"{float(remedy['target']) * 100:.1f} %{_transfer_text(remedy, add, settle)}")
    if kind == "liquidation":
        settle = str(remedy.get("settle", ""))
        add = float(remedy["add_margin"])
        distance = float(remedy["target_distance"]) * 100
        target = float(remedy["target_price"])
        first = (f"add {_amount(add, settle)} margin to bring liquidation back to {distance:.1f} % away "
                 f"({target:,.2f})")
        parts = [first]
        reduce = _finite(remedy.get("reduce_contracts"))
        if reduce is not None and reduce > 0:
            parts.append(f", or reduce the {remedy.get('reduce_side', 'position')} by {_contracts(reduce)}")
        parts.append(_transfer_text(remedy, add, settle))
        return "".join(parts)
    return ""


__all__ = [
    "LiquidationRemediation",
    "contracts_to_reduce",
    "liquidates_on_rise",
    "liquidation_remediation",
    "margin_for_buffer",
    "margin_for_ratio",
    "margin_to_add",
    "remediation_text",
    "requirement_and_balance",
    "shortfall",
    "target_price",
]
