"""The remediation an alert carries: structured fields and the sentence a trader acts on.

Three kinds, each built from figures of the risk snapshot (``docs/topics.md``):

- ``liquidation``: the position's ``remediation`` (``monitor.domain.remediation``, solved with the
  venue margin model): margin to add, contracts to close, transfer source.
- ``margin``: margin to add so the margin ratio or buffer returns to the rule's clear level at the
  mark (``margin_for_ratio``, ``margin_for_buffer``), with the liquidation remediation's transfer
  source when the position has one.
- ``hedge_ratio``: the contracts to sell (short more) or buy back to return to target
  (``assets.<A>.contracts_to_target``, lot-rounded by the book).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from monitor.domain.remediation import margin_for_buffer, margin_for_ratio


def _number(value: object) -> float | None:
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


def liquidation_remediation(position: Mapping[str, Any]) -> dict[str, Any] | None:
    """The alert's remediation from a position row's ``remediation`` (None when it has none)."""
    remedy = position.get("remediation")
    if not isinstance(remedy, Mapping) or _number(remedy.get("add_margin")) is None:
        return None
    return {"kind": "liquidation", "instrument": position.get("instrument"),
            "account": position.get("account"), **remedy}


def margin_remediation(position: Mapping[str, Any], figure: str, level: float) -> dict[str, Any] | None:
    """Margin (USD) that brings ``margin_ratio`` down to, or ``margin_buffer_fraction`` up to, ``level``."""
    maintenance = _number(position.get("maintenance_margin_usd"))
    balance = _number(position.get("margin_balance_usd"))
    if maintenance is None or balance is None:
        return None
    if figure == "margin_ratio":
        add = margin_for_ratio(maintenance, balance, level)
    else:
        add = margin_for_buffer(maintenance, balance, level)
    out: dict[str, Any] = {
        "kind": "margin", "instrument": position.get("instrument"), "account": position.get("account"),
        "figure": figure, "target": level, "add_margin_usd": math.ceil(add * 100 - 1e-6) / 100,
        "transfer_account": None, "transfer_available": None, "settle": "USD",
    }
    remedy = position.get("remediation")
    if isinstance(remedy, Mapping):
        out.update(settle=remedy.get("settle", "USD"), transfer_account=remedy.get("transfer_account"),
                   transfer_available=remedy.get("transfer_available"))
    return out


def hedge_ratio_remediation(asset: str, row: Mapping[str, Any]) -> dict[str, Any] | None:
    """Contracts to sell (> 0: short more) or buy back (< 0) to return the hedge ratio to target."""
    contracts = _number(row.get("contracts_to_target"))
    instrument = row.get("hedge_instrument")
    if contracts is None or contracts == 0 or not isinstance(instrument, str):
        return None
    return {"kind": "hedge_ratio", "asset": asset, "instrument": instrument,
            "action": "sell" if contracts > 0 else "buy", "contracts": abs(contracts),
            "target_ratio": _number(row.get("target_hedge_ratio"))}


def _transfer_text(remedy: Mapping[str, Any], amount: float, settle: str) -> str:
    source = remedy.get("transfer_account")
    available = _number(remedy.get("transfer_available"))
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
        target = _number(remedy.get("target_ratio"))
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
        reduce = _number(remedy.get("reduce_contracts"))
        if reduce is not None and reduce > 0:
            parts.append(f", or reduce the {remedy.get('reduce_side', 'position')} by {_contracts(reduce)}")
        parts.append(_transfer_text(remedy, add, settle))
        return "".join(parts)
    return ""


def with_remediation(message: str, remedy: Mapping[str, Any] | None) -> str:
    """``message`` followed by ": <remediation>" when there is one."""
    text = remediation_text(remedy)
    return f"{message}: {text}" if text else message


__all__ = [
    "hedge_ratio_remediation", "liquidation_remediation", "margin_remediation", "remediation_text",
    "with_remediation",
]
