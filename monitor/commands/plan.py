"""``hedge-monitor plan``: the hedge calculator."""

from __future__ import annotations

import argparse
import sys

import orjson

from monitor.domain.instruments import CatalogError, Instrument, default_catalog, instrument_from_mapping
from monitor.domain.planner import HedgeRequest, plan_hedge
from monitor.errors import HedgeMonitorError

EXAMPLE = "hedge-monitor plan --asset BTC --quantity 1.5 --price 60000 --contract-size 0.01 --json"


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
    parser.add_argument("--leverage", help="leverage for the initial margin, e.g. 10")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _positive(flag: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{flag}: expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise UsageError(f"{flag}: expected a positive number, got {text!r}")
    return value


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
        request = HedgeRequest(
            asset=asset,
            quantity=_positive("--quantity", args.quantity),
            price=_positive("--price", args.price),
            instrument=_instrument(args, asset),
            target_ratio=_positive("--target", args.target),
            leverage=None if args.leverage is None else _positive("--leverage", args.leverage),
            standard_contract_size=default_catalog().standard_contract_size(asset),
        )
    except UsageError as exc:
        print(f"hedge-monitor plan: {exc}", file=sys.stderr)
        return 2
    plan = plan_hedge(request)
    if args.json:
        sys.stdout.write(orjson.dumps(plan).decode() + "\n")
    else:
        sys.stdout.write(format_plan(plan))
    return 0


def format_plan(plan: dict[str, object]) -> str:
    """A readable table of the plan."""
    def money(value: object) -> str:
        return "-" if value is None else f"{float(str(value)):,.2f}"

    lines = [
        f"Hedge plan for {plan['quantity']} {plan['asset']} at {money(plan['price'])} USD",
        f"  instrument            {plan['instrument']} ({plan['instrument_kind']})",
        f"  exposure              {money(plan['exposure_usd'])} USD",
        f"  contract notional     {money(plan['contract_notional_usd'])} USD",
        f"  contracts (short)     {plan['contracts']:g}   (exact {plan['contracts_exact']:.4f})",
        f"  achieved hedge ratio  {plan['hedge_ratio']:.4f}   target {plan['target_ratio']}",
        f"  residual delta        {plan['residual_delta']:+.6f} {plan['asset']}",
    ]
    if plan.get("initial_margin_usd") is not None:
        lines.append(f"  initial margin        {money(plan['initial_margin_usd'])} USD "
                     f"at {plan['leverage']}x")
    standard = plan["standard"]
    assert isinstance(standard, dict)  # noqa: S101 -- built by plan_hedge
    lines.append(f"  standard contract     {standard['contracts']:g} x {standard['contract_size']:g} "
                 f"{plan['asset']} -> residual {standard['residual_delta']:+.6f} {plan['asset']}")
    lines.append("")
    lines.append(f"  {'shock':>7} {'spot PnL':>14} {'hedge PnL':>14} {'net PnL':>12}")
    stress = plan["stress"]
    assert isinstance(stress, list)  # noqa: S101 -- built by plan_hedge
    lines.extend(
        f"  {row['shock']:>+7.0%} {row['spot_pnl_usd']:>14,.2f} "
        f"{row['hedge_pnl_usd']:>14,.2f} {row['net_pnl_usd']:>12,.2f}"
        for row in stress
    )
    return "\n".join(lines) + "\n"
