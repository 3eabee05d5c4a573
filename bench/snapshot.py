"""snapshot: what one risk snapshot costs, stage by stage, for one two-leg book timed alone.

The book holds 1.5 BTC cold, 20,000 USDT on OKX, a short of 100 ``okx:BTC-USDT-SWAP`` (linear,
isolated, tiered) and of 500 ``okx:BTC-USD-SWAP`` (inverse, cross), all priced at 60,000. Each stage
is called N times in a row on the same input and reported in µs per call (median of runs):
``HedgeBook.snapshot`` (the typed snapshot), ``AlertEngine.evaluate`` (default rules), ``encode_risk``
(its hedge.risk JSON, one ``orjson.dumps`` of the typed value),
and ``Metrics.observe_snapshot`` (the Prometheus export, which the processor does at most once a
second per portfolio). Warm caches and one portfolio: a lower bound of what the processor pays per
snapshot inside a fan-out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry

from bench.report import median, table
from monitor.alerts import AlertEngine, AlertsConfig
from monitor.codec import encode_risk
from monitor.domain.book import HedgeBook, PriceTable
from monitor.domain.events import BalanceEvent, PositionEvent, PriceEvent
from monitor.domain.instruments import default_catalog
from monitor.metrics import Metrics

LINEAR = "okx:BTC-USDT-SWAP"
INVERSE = "okx:BTC-USD-SWAP"
SPOT = "okx:BTC-USDT"
FULL_CALLS = 5_000
TINY_CALLS = 100


def two_leg_book() -> HedgeBook:
    """The scenario's book, priced."""
    catalog = default_catalog()
    prices = PriceTable(catalog)
    book = HedgeBook("bench", catalog, prices, None)
    book.apply_balance(BalanceEvent("bench", "cold", "BTC", 1.5, 1_000, 1_000))
    book.apply_balance(BalanceEvent("bench", "okx", "USDT", 20_000, 1_000, 1_000))
    book.apply_position(PositionEvent("bench", "okx", LINEAR, -100, 60_000, 10, "isolated", 6_000,
                                      1_000, 1_000))
    book.apply_position(PositionEvent("bench", "okx", INVERSE, -500, 60_000, 10, "cross", None,
                                      1_000, 1_000))
    for instrument in (LINEAR, INVERSE, SPOT):
        event = PriceEvent(instrument, 60_000.0, 60_000.0, 0.0001, None, 2_000, 2_000)
        prices.apply(event)
        if instrument != SPOT:
            book.apply_instrument_price(event)
    book.apply_asset_price("BTC", 60_000.0, 2_000)
    return book


def _per_call_us(call: Callable[[], object], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - started) / calls * 1e6


def run(size: str, repeats: int) -> dict[str, Any]:
    """The snapshot scenario: µs per call of each stage."""
    calls = FULL_CALLS if size == "full" else TINY_CALLS
    book = two_leg_book()
    alerts = AlertEngine(AlertsConfig())
    metrics = Metrics(CollectorRegistry())
    snapshot = book.snapshot()
    stages: list[tuple[str, Callable[[], object]]] = [
        ("HedgeBook.snapshot", book.snapshot),
        ("AlertEngine.evaluate", lambda: alerts.evaluate(snapshot)),
        ("encode_risk", lambda: encode_risk(snapshot)),
        ("Metrics.observe_snapshot", lambda: metrics.observe_snapshot(snapshot)),
    ]
    rows = []
    for stage, call in stages:
        call()  # warm-up
        runs = [_per_call_us(call, calls) for _ in range(repeats)]
        rows.append({"stage": stage, "calls": calls, "runs_us": runs, "us_per_call": median(runs)})
    return {
        "description": "one two-leg book (linear isolated + inverse cross), each stage timed alone",
        "rows": rows,
        "table": table("snapshot: µs per call of each stage (median of runs)",
                       (("stage", "stage"), ("calls", "calls/run"), ("us_per_call", "µs/call")), rows),
    }
