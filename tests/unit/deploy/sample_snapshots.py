"""Hand-made risk snapshots (docs/topics.md shape) for the metrics, dashboard and rule tests.

The seed position: 1.5 BTC spot at 60000, hedged with 150 short okx:BTC-USDT-SWAP contracts
(0.01 BTC each) at 60000, isolated margin 9000 USD, MMR 0.004.
"""

from __future__ import annotations

from typing import Any

from monitor.codec import decode_risk

SEED_TS_MS = 1_700_000_000_000
SHOCKS = (-0.2, -0.1, -0.05, 0.05, 0.1, 0.2)


def remediation_value(add_margin_usd: float, reduce_contracts: float | None,
                      target_distance: float) -> dict[str, Any]:
    """A leg's ``remediation`` (the JSON of ``LiquidationRemediation``) for the seed short at 60000:
    the target price is ``60000 * (1 + target_distance)``, the margin is in USDT and the
    requirement at target exceeds the balance there (9000) by ``add_margin_usd``."""
    return {
        "target_distance": target_distance, "target_price": 60000.0 * (1 + target_distance),
        "settle": "USDT", "add_margin": add_margin_usd, "add_margin_usd": add_margin_usd,
        "reduce_contracts": reduce_contracts, "reduce_side": "short",
        "requirement_at_target": 9000.0 + add_margin_usd, "balance_at_target": 9000.0,
        "mark_price": 60000.0, "transfer_account": None, "transfer_available": None,
    }


def seed_position() -> dict[str, Any]:
    """The short micro-futures leg of the seed hedge."""
    return {
        "account": "okx-main", "instrument": "okx:BTC-USDT-SWAP", "asset": "BTC", "kind": "linear",
        "margin_model": "okx",
        "quantity": -150.0, "entry_price": 60000.0, "mark_price": 60000.0,
        # 150 * 0.01 * 60000 = 90000
        "notional_usd": 90000.0,
        # -150 * 0.01 = -1.5
        "delta": -1.5,
        "unrealized_pnl_usd": 0.0,
        # 90000 * 0.004 = 360
        "maintenance_margin_usd": 360.0,
        # isolated margin 9000 + unrealised PnL 0 = 9000
        "margin_balance_usd": 9000.0,
        # 360 / 9000 = 0.04
        "margin_ratio": 0.04,
        # 9000 - 360 = 8640
        "margin_buffer_usd": 8640.0,
        # 8640 / 9000 = 0.96
        "margin_buffer_fraction": 0.96,
        # (9000 + 0 + 1.5 * 60000) / (1.5 * 0.004 + 1.5) = 99000 / 1.506 = 65737.05
        "liquidation_price": 65737.05,
        # (65737.05 - 60000) / 60000 = 0.0956175
        "liquidation_distance": 0.0956175,
        "basis_bps": 5.0,
        "funding_rate": 0.0001,
        "funding_accrued_usd": 9.0,
        "fees_usd": 4.5,
    }


def seed_spot() -> dict[str, Any]:
    """The spot holding of the seed (no margin figures: they are null)."""
    return {
        "account": "cold", "instrument": "okx:BTC-USDT", "asset": "BTC", "kind": "spot",
        "margin_model": "okx",
        "quantity": 1.5, "entry_price": None, "mark_price": 60000.0, "notional_usd": 90000.0,
        "delta": 1.5, "unrealized_pnl_usd": None, "maintenance_margin_usd": None,
        "margin_balance_usd": None, "margin_ratio": None, "margin_buffer_usd": None,
        "margin_buffer_fraction": None, "liquidation_price": None, "liquidation_distance": None,
        "basis_bps": None, "funding_rate": None, "funding_accrued_usd": None, "fees_usd": None,
    }


def seed_snapshot(portfolio: str = "alice", *, seq: int = 1, ts_ms: int = SEED_TS_MS,
                  price: float = 60000.0) -> dict[str, Any]:
    """A complete risk snapshot of the seed hedge at ``price`` (every section filled)."""
    # the seed's stress grid at 60000: spot 1.5 * 60000 * s, hedge -1.5 * 60000 * s, net 0
    stress = [
        {"shock": shock, "spot_pnl_usd": 90000.0 * shock, "hedge_pnl_usd": -90000.0 * shock,
         "net_pnl_usd": 0.0, "liquidated": []}
        for shock in SHOCKS
    ]
    # +20 %: 72000 is past the 65737.05 liquidation price, so the leg's loss is capped at its
    # margin balance 9000: net = 18000 - 9000 = 9000
    stress[-1] = {"shock": 0.2, "spot_pnl_usd": 18000.0, "hedge_pnl_usd": -9000.0,
                  "net_pnl_usd": 9000.0, "liquidated": ["okx:BTC-USDT-SWAP"]}
    return {
        "v": 1, "type": "risk", "portfolio": portfolio, "seq": seq, "ts_ms": ts_ms,
        "ts_event_ms": ts_ms - 5,
        "assets": {"BTC": {
            "price": price, "spot_delta": 1.5, "futures_delta": -1.5, "net_delta": 0.0,
            "net_delta_usd": 0.0, "hedge_ratio": 1.0, "target_hedge_ratio": 1.0,
            "hedge_band": 0.1, "contracts_to_target": 0.0,
            "hedge_instrument": "okx:BTC-USDT-SWAP", "residual_delta": 0.0,
            # (60030 - 60000) / 60000 = 0.0005 = 5 bps
            "basis_bps": 5.0, "min_variance_ratio": None,
        }},
        "positions": [seed_position(), seed_spot()],
        "effectiveness": {"BTC": {
            "dollar_offset": 1.0, "slope": -1.0, "r2": 0.98, "variance_reduction": 0.97,
            "samples": 120, "effective": True,
        }},
        "stress": stress,
        "costs": {
            "funding_paid_usd": 0.0, "funding_received_usd": 9.0, "fees_usd": 4.5,
            # 4.5 + 0 - 9 = -4.5
            "hedge_cost_usd": -4.5, "protection_usd": 9000.0, "cost_budget_usd": 500.0,
        },
        "lifecycle": {"BTC": {
            "time_left_s": 604800.0, "expired": False, "exit_level_crossed": False,
            "stop_loss_hit": False, "cost_budget_exceeded": False, "opportunity_cost_usd": 0.0,
        }},
        "feeds": {"stale": []},
        "latency_ms": {"event_to_publish": 5.0},
    }


def add_venue_figures(snapshot: dict[str, Any], venue_liquidation_price: float = 66000.0) -> None:
    """The venue's own figures beside the seed leg's model figures, and a unified account."""
    position = snapshot["positions"][0]
    position["model_figures"] = {
        "source": "model", "as_of_ms": snapshot["ts_ms"], "liquidation_price": 65737.05,
        "maintenance_margin_usd": 360.0, "margin_ratio": 0.04}
    position["venue_figures"] = {
        "source": "venue", "as_of_ms": snapshot["ts_ms"] - 1000,
        "liquidation_price": venue_liquidation_price, "maintenance_margin_usd": 360.0,
        "margin_ratio": 0.04, "adl_rank": 2, "adl_rank_top": 5}
    position["model_divergence"] = {
        # |65737.05 - 66000| / 66000 = 0.0039841
        "liquidation_price": abs(65737.05 - venue_liquidation_price) / venue_liquidation_price,
        "maintenance_margin_usd": 0.0}
    snapshot["accounts"] = {"bybit-uta": {
        "mode": "unified", "liquidation_ratio": 1.0,
        "venue": {"source": "venue", "as_of_ms": snapshot["ts_ms"] - 1000, "venue_figure": "accountMMRate",
                  "venue_value": 0.1, "maintenance_margin_ratio": 0.1, "equity_usd": 10000.0,
                  "maintenance_margin_usd": 1000.0, "status": None},
        "model": {"source": "model", "as_of_ms": snapshot["ts_ms"], "maintenance_margin_ratio": 0.1},
        "model_divergence": 0.0, "buffer_used": 0.1,
    }}


def exercise_every_metric(metrics: Any, *, portfolio: str = "alice", ts_ms: int = SEED_TS_MS,
                          latency_seconds: float = 0.004) -> None:
    """Feed ``metrics`` (a ``monitor.metrics.Metrics``) so that every metric it has gets a series.

    Used to list the exported names and to feed a real Prometheus; calling it again moves the
    counters and the feed clock on, so ``rate()`` has something to measure.
    """
    snapshot = seed_snapshot(portfolio, ts_ms=ts_ms)
    snapshot["assets"]["BTC"]["min_variance_ratio"] = 0.98  # null for a same-asset hedge
    # null while the leg has its buffer
    snapshot["positions"][0]["remediation"] = remediation_value(23.61, 1.0, 0.06)
    add_venue_figures(snapshot)
    metrics.observe_snapshot(decode_risk(snapshot))
    metrics.set_firing_alerts([(portfolio, "margin_buffer_low", "warning")])
    metrics.events_processed("price", 10)
    metrics.events_processed("position")
    metrics.dead_letter("okx")
    metrics.reconnect("okx", "public")
    for instrument in ("okx:BTC-USDT-SWAP", "okx:BTC-USDT", "binance:BTCUSDT"):
        metrics.feed_event(instrument, ts_ms)
        metrics.feed_stale(instrument, stale=False)
    metrics.consumer_lag("hedge.prices", 0, 3)
    metrics.observe_latency(latency_seconds)
    metrics.ingest_buffered(0)
    metrics.state_restored(3)
    metrics.event_loop_lag(0.002)
