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

from monitor.domain.remediation import (
    margin_for_buffer,
    margin_for_ratio,
    remediation_text,
)
from monitor.domain.snapshot import AssetFigures, LegFigures, position_remediation


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def margin_remediation(position: LegFigures, figure: str, level: float) -> dict[str, Any] | None:
    """Margin (USD) that brings ``margin_ratio`` down to, or ``margin_buffer_fraction`` up to, ``level``."""
    maintenance = _number(position.maintenance_margin_usd)
    balance = _number(position.margin_balance_usd)
    if maintenance is None or balance is None:
        return None
    if figure == "margin_ratio":
        add = margin_for_ratio(maintenance, balance, level)
    else:
        add = margin_for_buffer(maintenance, balance, level)
    out: dict[str, Any] = {
        "kind": "margin", "instrument": position.instrument, "account": position.account,
        "figure": figure, "target": level, "add_margin_usd": math.ceil(add * 100 - 1e-6) / 100,
        "transfer_account": None, "transfer_available": None, "settle": "USD",
    }
    remedy = position.remediation
    if remedy is not None:
        out.update(settle=remedy.settle, transfer_account=remedy.transfer_account,
                   transfer_available=remedy.transfer_available)
    return out


def hedge_ratio_remediation(asset: str, row: AssetFigures) -> dict[str, Any] | None:
    """Contracts to sell (> 0: short more) or buy back (< 0) to return the hedge ratio to target."""
    contracts = _number(row.contracts_to_target)
    instrument = row.hedge_instrument
    if contracts is None or contracts == 0 or instrument is None:
        return None
    return {"kind": "hedge_ratio", "asset": asset, "instrument": instrument,
            "action": "sell" if contracts > 0 else "buy", "contracts": abs(contracts),
            "target_ratio": _number(row.target_hedge_ratio)}


def with_remediation(message: str, remedy: Mapping[str, Any] | None) -> str:
    """``message`` followed by ": <remediation>" when there is one."""
    text = remediation_text(remedy)
    return f"{message}: {text}" if text else message


liquidation_remediation = position_remediation
"""The alert's remediation from a position row's ``remediation`` (``position_remediation``)."""

__all__ = [
    "hedge_ratio_remediation", "liquidation_remediation", "margin_remediation", "remediation_text",
    "with_remediation",
]
