"""fanout: the time for one price tick to reprice N held positions, and memory per held position.

Columnar (``monitor.processor.columnar``): N positions in one instrument (every holder repriced by
the tick), one per portfolio, half isolated and half cross; a tick is ``reprice`` plus the
per-portfolio futures delta and hedge value change (``np.bincount``). Memory is the tracemalloc
delta of building the store (numpy columns with their spare capacity, and the Python lookups) per
position. For comparison the per-book path the processor runs today: ``RiskEngine.apply_price``
then ``RiskEngine.snapshot`` of every touched portfolio (the full risk snapshot, with alerts;
serialisation excluded), and its memory per position (books, alert engines, index); "apply+sample"
is what a tick costs a throttled processor when no snapshot is due (``apply_price`` then
``RiskEngine.sample`` of the touched portfolios). The per-book ticks are timed after the first
price and ``WARMUP_TICKS`` more, with their samples and snapshots: the steady state.
"""

from __future__ import annotations

import gc
import random
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from bench.report import median, table
from bench.workload import bench_catalog
from monitor.alerts import AlertEngine, AlertsConfig
from monitor.domain.events import BalanceEvent, PositionEvent, PriceEvent
from monitor.domain.instruments import Catalog
from monitor.domain.plans import PortfolioSettings
from monitor.processor.columnar import ColumnarPositions
from monitor.processor.engine import RiskEngine

LINEAR = "binance:BTCUSDT"  # ten maintenance tiers: the most expensive tier lookup
INVERSE = "okx:BTC-USD-SWAP"
TARGET_POSITIONS = 100_000
TARGET_MS = 5.0
TICKS_PER_RUN = 20
WARMUP_TICKS = 2
START_PRICE = 60_000.0


@dataclass(frozen=True, slots=True)
class FanoutSize:
    """Position counts for the columnar store and for the per-book comparison."""

    columnar: tuple[int, ...]
    inverse: tuple[int, ...]
    per_book: tuple[int, ...]


FULL = FanoutSize((1_000, 10_000, 100_000), (100_000,), (1_000, 10_000))
TINY = FanoutSize((1_000, 10_000), (1_000,), (100, 1_000))


def _positions(count: int, instrument: str) -> Iterator[PositionEvent]:
    rng = random.Random(count)
    inverse = instrument == INVERSE
    for index in range(count):
        isolated = inverse or index % 2 == 0
        contracts = rng.randint(1, 50) * (100.0 if inverse else 0.01)
        entry = round(START_PRICE * (1 + rng.uniform(-0.02, 0.02)), 1)
        margin = (contracts * 100 / entry / 5) if inverse else contracts * entry / 5
        yield PositionEvent(
            f"fan-{index:06d}", "acct", instrument, -contracts, entry, 5.0,
            "isolated" if isolated else "cross", margin if isolated else None, 1, 1)


def _traced(build: Callable[[], object]) -> tuple[object, float]:
    """Build something under tracemalloc; return it and the bytes it still holds."""
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        built = build()
        gc.collect()
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return built, float(after - before)


def _marks(rng: random.Random) -> Iterator[float]:
    mark = START_PRICE
    while True:
        mark *= 1 + rng.gauss(0.0, 5e-4)
        yield mark


def columnar_case(count: int, instrument: str, repeats: int, catalog: Catalog) -> dict[str, Any]:
    """Time ``repeats`` runs of ``TICKS_PER_RUN`` ticks over ``count`` held positions."""

    def build() -> ColumnarPositions:
        store = ColumnarPositions(catalog)
        for event in _positions(count, instrument):
            store.upsert(event)
        return store

    started = time.perf_counter()
    built, traced_bytes = _traced(build)
    build_s = time.perf_counter() - started
    assert isinstance(built, ColumnarPositions)
    store = built
    marks = _marks(random.Random(1))
    store.reprice(instrument, next(marks))
    run_medians: list[float] = []
    reprice_medians: list[float] = []
    changed = 0
    for _ in range(repeats):
        totals: list[float] = []
        reprices: list[float] = []
        for _ in range(TICKS_PER_RUN):
            mark = next(marks)
            begin = time.perf_counter()
            repricing = store.reprice(instrument, mark)
            repriced = time.perf_counter()
            assert repricing is not None
            repricing.totals(repricing.delta, repricing.pnl_change_usd)
            end = time.perf_counter()
            reprices.append(repriced - begin)
            totals.append(end - begin)
            changed = int(repricing.changed.size)
        run_medians.append(median(totals))
        reprice_medians.append(median(reprices))
    tick_ms = median(run_medians) * 1e3
    return {
        "path": "columnar",
        "kind": catalog.require(instrument).kind,
        "instrument": instrument,
        "positions": count,
        "tick_ms": tick_ms,
        "reprice_ms": median(reprice_medians) * 1e3,
        "ns_per_position": tick_ms * 1e6 / count,
        "changed_portfolios": changed,
        "bytes_per_position": traced_bytes / count,
        "column_bytes_per_position": store.nbytes() / count,
        "build_us_per_position_traced": build_s * 1e6 / count,  # under tracemalloc (slower)
        "runs_ms": [value * 1e3 for value in run_medians],
    }


def per_book_case(count: int, repeats: int, catalog: Catalog) -> dict[str, Any]:
    """Time ``RiskEngine.apply_price`` plus a snapshot of every touched portfolio."""
    alerts = AlertsConfig()

    def build() -> RiskEngine:
        engine = RiskEngine(catalog, lambda _: PortfolioSettings(), lambda _: AlertEngine(alerts))
        offset = 0
        for event in _positions(count, LINEAR):
            engine.apply_account(
                BalanceEvent(event.portfolio, "acct", "USDT", 50_000.0, 1, 1), 0, offset)
            engine.apply_account(
                BalanceEvent(event.portfolio, "cold", "BTC", -event.quantity, 1, 1), 0, offset + 1)
            engine.apply_account(event, 0, offset + 2)
            offset += 3
        return engine

    built, traced_bytes = _traced(build)
    assert isinstance(built, RiskEngine)
    engine = built
    marks = _marks(random.Random(1))
    ts = 10
    engine.apply_price(PriceEvent(LINEAR, next(marks), None, None, None, ts, ts))
    for _ in range(WARMUP_TICKS):  # a book's effectiveness states start at its second followed tick
        ts += 1
        touched = engine.apply_price(PriceEvent(LINEAR, next(marks), None, None, None, ts, ts))
        engine.sample(touched)
        for portfolio in touched:
            engine.snapshot(portfolio)
    totals: list[float] = []
    applies: list[float] = []
    throttled: list[float] = []
    for _ in range(repeats):
        ts += 1
        begin = time.perf_counter()
        touched = engine.apply_price(PriceEvent(LINEAR, next(marks), None, None, None, ts, ts))
        applied = time.perf_counter()
        engine.sample(touched)
        sampled = time.perf_counter()
        for portfolio in touched:
            engine.snapshot(portfolio)
        end = time.perf_counter()
        assert len(touched) == count
        totals.append(end - begin)
        applies.append(applied - begin)
        throttled.append(sampled - begin)
    tick_ms = median(totals) * 1e3
    return {
        "path": "per-book",
        "kind": "linear",
        "instrument": LINEAR,
        "positions": count,
        "tick_ms": tick_ms,
        "reprice_ms": median(applies) * 1e3,
        "throttled_tick_ms": median(throttled) * 1e3,
        "ns_per_position": tick_ms * 1e6 / count,
        "changed_portfolios": count,
        "bytes_per_position": traced_bytes / count,
        "column_bytes_per_position": None,
        "build_us_per_position_traced": None,
        "runs_ms": [value * 1e3 for value in totals],
    }


COLUMNS = (
    ("path", "path"), ("kind", "kind"), ("positions", "positions"), ("tick_ms", "tick ms"),
    ("reprice_ms", "reprice/apply ms"), ("throttled_tick_ms", "apply+sample ms"),
    ("ns_per_position", "ns/position"),
    ("bytes_per_position", "bytes/position"), ("column_bytes_per_position", "column bytes/pos"),
)


def run(size: str, repeats: int) -> dict[str, Any]:
    """The fanout scenario: columnar rows, then the per-book comparison rows."""
    plan = FULL if size == "full" else TINY
    catalog = bench_catalog()
    rows = [columnar_case(count, LINEAR, repeats, catalog) for count in plan.columnar]
    rows += [columnar_case(count, INVERSE, repeats, catalog) for count in plan.inverse]
    rows += [per_book_case(count, repeats, catalog) for count in plan.per_book]
    target_rows = [r for r in rows if r["path"] == "columnar" and r["positions"] == TARGET_POSITIONS]
    return {
        "description": "one price tick repricing N positions held in the ticking instrument; "
                       "tick = reprice + per-portfolio futures delta and hedge value change by bincount "
                       "(columnar) or "
                       "apply_price + snapshot of each touched portfolio (per-book)",
        "target": {"positions": TARGET_POSITIONS, "tick_ms": TARGET_MS,
                   "met": all(r["tick_ms"] <= TARGET_MS for r in target_rows) if target_rows else None},
        "rows": rows,
        "table": table("fanout: one tick over N held positions (median of runs)", COLUMNS, rows),
    }
