"""Builders of risk snapshots for the alert tests: rows in the ``hedge.risk`` JSON shape of
docs/topics.md, read into the typed snapshot by the codec (as a consumer of the topic reads them)."""

from __future__ import annotations

from typing import Any

from monitor.codec import decode_risk
from monitor.domain.snapshot import RiskSnapshot

T0 = 1_700_000_000_000
"""A snapshot event time (epoch ms) the scenarios start from."""

ASSET_FIGURES = (
    "price", "spot_delta", "futures_delta", "net_delta", "net_delta_usd", "hedge_ratio",
    "target_hedge_ratio", "hedge_band", "contracts_to_target", "hedge_instrument",
    "residual_delta", "basis_bps", "min_variance_ratio",
)  # fmt: skip
POSITION_FIGURES = (
    "account", "instrument", "asset", "kind", "quantity", "entry_price", "mark_price",
    "notional_usd", "delta", "unrealized_pnl_usd", "maintenance_margin_usd",
    "margin_balance_usd", "margin_ratio", "margin_buffer_usd", "margin_buffer_fraction",
    "liquidation_price", "liquidation_distance", "basis_bps", "funding_rate",
    "funding_accrued_usd", "fees_usd",
)  # fmt: skip


def asset(
    hedge_ratio: float | None, *, target: float | None = 1.0, band: float | None = 0.1, **rest: Any
) -> dict[str, Any]:
    """One ``assets.<A>`` row; figures not given are null (the spot delta, never null, 0)."""
    row: dict[str, Any] = dict.fromkeys(ASSET_FIGURES)
    row.update(spot_delta=0.0, hedge_ratio=hedge_ratio, target_hedge_ratio=target, hedge_band=band)
    row.update(rest)
    return row


def position(
    instrument: str = "okx:BTC-USDT-SWAP", account: str = "okx-main", **figures: Any
) -> dict[str, Any]:
    """One ``positions[]`` row of a short linear hedge leg; figures not given are null."""
    row: dict[str, Any] = dict.fromkeys(POSITION_FIGURES)
    row.update(account=account, instrument=instrument, asset="BTC", kind="linear",
               margin_model="okx", quantity=-150.0)
    row.update(figures)
    return row


def snapshot(ts_ms: int, **sections: Any) -> RiskSnapshot:
    """A risk snapshot whose sections default to present but empty (nothing held, nothing stale):
    ``snapshot_value`` read by the codec."""
    return decode_risk(snapshot_value(ts_ms, **sections))


def snapshot_value(
    ts_ms: int,
    *,
    portfolio: str = "alice",
    assets: dict[str, Any] | None = None,
    positions: list[dict[str, Any]] | None = None,
    effectiveness: dict[str, Any] | None = None,
    costs: dict[str, Any] | None = None,
    lifecycle: dict[str, Any] | None = None,
    stale: list[str] | None = None,
) -> dict[str, Any]:
    """The JSON object of ``snapshot``."""
    return {
        "v": 1,
        "type": "risk",
        "portfolio": portfolio,
        "seq": 1,
        "ts_ms": ts_ms + 5,
        "ts_event_ms": ts_ms,
        "assets": assets if assets is not None else {},
        "positions": positions if positions is not None else [],
        "effectiveness": effectiveness if effectiveness is not None else {},
        "stress": [],
        "costs": costs if costs is not None else {},
        "lifecycle": lifecycle if lifecycle is not None else {},
        "feeds": {"stale": stale if stale is not None else []},
        "latency_ms": {"event_to_publish": 1.0},
    }


def hedge_ratio_snapshot(ts_ms: int, contracts_short: float) -> RiskSnapshot:
    """The seed portfolio: 1.5 BTC spot hedged with ``contracts_short`` OKX 0.01 BTC contracts.

    hedge ratio = -(futures delta) / spot delta = contracts * 0.01 / 1.5 (risk-definitions).
    """
    ratio = contracts_short * 0.01 / 1.5
    return snapshot(ts_ms, assets={"BTC": asset(ratio, spot_delta=1.5, price=60000.0)})
