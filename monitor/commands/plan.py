"""``hedge-monitor plan``: the hedge calculator."""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

import orjson

from monitor.domain.instruments import CatalogError, Instrument, default_catalog, instrument_from_mapping
from monitor.domain.planner import DEFAULT_MAINTENANCE_MARGIN_RATE, HedgeRequest, plan_hedge
from monitor.errors import HedgeMonitorError

EXAMPLE = ("hedge-monitor plan --asset BTC --quantity 1.5 --price 60000 --contract-size 0.01 "
           "--leverage 10 --json")


class UsageError(HedgeMonitorError, ValueError):
    """A flag has a value the command cannot use; the message names the flag."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The plan command's flags."""
    parser.add_argument("--asset", required=True, help="asset held, e.g. BTC")
    parser.add_argument("--quantity", required=True, help="units of the asset held, e.g. 1.5")
    parser.add_argument("--price", required=True, help="current price in USD, e.g. 60000")
    parser.add_argument("--contract-size", help="linear contract size in units of the asset, e.g. 0.01")
    parser.add_argument("--instrument", help="catalog instrument instead of --contract-size, "
                        "e.g. okx:BTC-USDT-SWAP or okx:BTC-USD-SWAP (inverse)")
    parser.add_argument("--target", default="1.0", help="target hedge ratio (default 1.0)")
    parser.add_argument("--leverage", help="leverage of the isolated short, e.g. 10: its initial "
                        "margin and liquidation price")
    parser.add_argument("--mmr", help="maintenance margin rate of a contract without catalog tiers "
                        f"(default {DEFAULT_MAINTENANCE_MARGIN_RATE:g}, Binance USDⓈ-M BTCUSDT "
                        "bracket 1); a catalog instrument with tiers uses its tier")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _positive(flag: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{flag}: expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise UsageError(f"{flag}: expected a positive number, got {text!r}")
    return value


def _rate(flag: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < 1:
        raise UsageError(f"{flag}: expected a rate between 0 and 1 such as 0.004, got {text!r}")
    return value


def _maintenance_rate(args: argparse.Namespace, instrument: Instrument) -> float | None:
    if args.mmr is None:
        return None
    if instrument.tiers:
        raise UsageError(f"--mmr: {instrument.id} has catalog margin tiers; its tier sets the rate")
    return _rate("--mmr", args.mmr)


def _asset(text: str) -> str:
    asset = str(text).upper()
    if not asset.isalnum():
        raise UsageError(f"--asset: expected an asset code such as BTC, got {text!r}")
    return asset


def _instrument(args: argparse.Namespace, asset: str) -> Instrument:
    if (args.contract_size is None) == (args.instrument is None):
        raise UsageError("--contract-size / --instrument: give exactly one of them")
    if args.instrument is not None:
        try:
            instrument = default_catalog().require(args.instrument)
        except CatalogError as exc:
            raise UsageError(f"--instrument: {exc}") from None
        if not instrument.is_future:
            raise UsageError(f"--instrument: {args.instrument} is a spot instrument, expected a future")
        if instrument.base != asset:
            raise UsageError(
                f"--instrument: {args.instrument} is a {instrument.base} contract, not {asset}")
        return instrument
    size = _positive("--contract-size", args.contract_size)
    return instrument_from_mapping(
        f"custom:{asset}-{args.contract_size}",
        {"kind": "linear", "base": asset, "contract_size": size, "lot_step": 1},
    )


def run(args: argparse.Namespace) -> int:
    """Compute and print the plan; exit 2 with one line on bad input."""
    try:
        asset = _asset(args.asset)
        quantity = _positive("--quantity", args.quantity)
        price = _positive("--price", args.price)
        instrument = _instrument(args, asset)
        request = HedgeRequest(
            asset=asset,
            quantity=quantity,
            price=price,
            instrument=instrument,
            target_ratio=_positive("--target", args.target),
            leverage=None if args.leverage is None else _positive("--leverage", args.leverage),
            standard_contract_size=default_catalog().standard_contract_size(asset),
            maintenance_margin_rate=_maintenance_rate(args, instrument),
        )
    except UsageError as exc:
        print(f"hedge-monitor plan: {exc}", file=sys.stderr)
        return 2
    plan = plan_hedge(request)
    if plan["liquidated_at_open"]:
        print(f"hedge-monitor plan: --leverage: at {args.leverage}x the short's margin of "
              f"{_money(plan['initial_margin_usd'])} USD is not above its maintenance margin "
              f"(rate {plan['maintenance_margin_rate']:g}): it is liquidated at once", file=sys.stderr)
        return 2
    if args.json:
        sys.stdout.write(orjson.dumps(plan).decode() + "\n")
    else:
        sys.stdout.write(format_plan(plan))
    return 0


def format_plan(plan: dict[str, Any]) -> str:
    """A readable table of the plan, the leg's liquidation and what keeps the leg alive per shock."""
    asset = plan["asset"]
    settle = plan["settlement_currency"]
    lines = [
        f"Hedge plan for {plan['quantity']} {asset} at {_money(plan['price'])} USD",
        f"  instrument            {plan['instrument']} ({plan['instrument_kind']})",
        f"  exposure              {_money(plan['exposure_usd'])} USD",
        f"  contract notional     {_money(plan['contract_notional_usd'])} USD",
        f"  contracts (short)     {plan['contracts']:g}   (exact {plan['contracts_exact']:.4f})",
        f"  achieved hedge ratio  {plan['hedge_ratio']:.4f}   target {plan['target_ratio']}",
        f"  residual delta        {plan['residual_delta']:+.6f} {asset}",
    ]
    if plan["initial_margin_usd"] is not None:
        coin = "" if settle in CENT_CURRENCIES else f" ({_amount(plan['initial_margin'], settle)})"
        lines.append(f"  initial margin        {_money(plan['initial_margin_usd'])} USD{coin} "
                     f"at {plan['leverage']:g}x, isolated")
    lines.append(f"  maintenance margin    rate {plan['maintenance_margin_rate']:.2%}, amount "
                 f"{_amount(plan['maintenance_amount'], settle)}")
    lines.append(f"                        {plan['maintenance_margin_source']}")
    if plan["liquidation_price"] is not None:
        move = plan["liquidation_price"] / plan["price"] - 1.0
        lines.append(f"  liquidation price     {_money(plan['liquidation_price'])} USD   "
                     f"({move:+.2%} from {_money(plan['price'])})")
    elif plan["initial_margin_usd"] is not None:
        lines.append("  liquidation price     none (the wallet covers any rise)")
    standard = plan["standard"]
    lines.append(f"  standard contract     {standard['contracts']:g} x {standard['contract_size']:g} "
                 f"{asset} -> residual {standard['residual_delta']:+.6f} {asset}")
    lines.append("")
    lines.append(f"  {'shock':>7} {'spot PnL':>14} {'hedge PnL':>14} {'net PnL':>12}  {'short':<10}"
                 f" {'margin to survive':>22}  max leverage")
    lines.extend(
        f"  {row['shock']:>+7.0%} {_money(row['spot_pnl_usd']):>14} "
        f"{_money(row['hedge_pnl_usd']):>14} {_money(row['net_pnl_usd']):>12}  "
        f"{_state(row['liquidated']):<10}"
        f" {_amount(row['margin_to_survive'], settle):>22}  {_leverage(row)}"
        for row in plan["stress"]
    )
    lines.append("")
    lines.extend(_notes(plan))
    return "\n".join(lines) + "\n"


def _money(value: float) -> str:
    """To the cent, without a minus sign on a rounded zero (float noise such as -3.6e-12)."""
    return f"{round(value, 2) + 0.0:,.2f}"


CENT_CURRENCIES = frozenset({"USD", "USDT", "USDC"})
"""Settlement currencies counted to the cent; any other (an inverse contract's coin) to the satoshi."""


def _amount(value: float, currency: str) -> str:
    """USD and stablecoins to the cent, a coin to the satoshi."""
    return f"{value:,.2f} {currency}" if currency in CENT_CURRENCIES else f"{value:,.8f} {currency}"


def _state(liquidated: bool | None) -> str:
    return "?" if liquidated is None else ("liquidated" if liquidated else "alive")


def _leverage(row: dict[str, Any]) -> str:
    highest = row["max_leverage_to_survive"]
    exact = row["max_leverage_to_survive_exact"]
    if exact is None:
        return "any" if highest is None else f"{highest:g}x (the tier's maximum)"
    if highest is None:
        return f"none: add margin beyond 1x ({exact:.2f}x)"
    return f"{highest:g}x ({exact:.2f}x)"


def _notes(plan: dict[str, Any]) -> list[str]:
    """What the grid means for the hedge, in words."""
    notes: list[str] = []
    if plan["initial_margin_usd"] is None:
        notes.append("  short ?: give --leverage to see where the isolated short is liquidated; "
                     "without it the hedge PnL is not capped at a margin.")
    elif plan["liquidation_price"] is not None:
        notes.append(
            f"  At {_money(plan['liquidation_price'])} the short is liquidated: it loses its "
            f"{_money(plan['initial_margin_usd'])} USD margin and no more, and from there on the "
            "spot is unhedged.")
    allowed = plan["max_leverage_allowed"]
    if plan["leverage"] is not None and allowed is not None and plan["leverage"] > allowed:
        notes.append(f"  {plan['instrument']} allows at most {allowed:g}x for this notional, "
                     f"not {plan['leverage']:g}x.")
    notes.append("  To stay hedged through a shock, keep the short's isolated margin above 'margin to "
                 "survive', i.e. its leverage at most 'max leverage' (exact figure in brackets).")
    return notes
