"""Columnar fan-out: vectorised figures equal HedgeBook's scalar figures; O(1) add/update/remove."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import pytest

from monitor.domain import formulas as f
from monitor.domain.book import HedgeBook, PriceTable
from monitor.domain.events import BalanceEvent, MarginMode, PositionEvent, PriceEvent
from monitor.domain.instruments import default_catalog
from monitor.processor.columnar import ColumnarPositions, Repricing, tier_index
from tests.support import published

CATALOG = default_catalog()
OKX_SWAP = "okx:BTC-USDT-SWAP"  # linear, cs 0.01 BTC, tiers 0.4 % / 0.5 % / 1 %
BINANCE = "binance:BTCUSDT"  # linear, cs 1 BTC, ten tiers
OKX_INVERSE = "okx:BTC-USD-SWAP"  # inverse, cv 100 USD, tiers 0.4 % / 0.5 %
DERIBIT = "deribit:BTC-PERPETUAL"  # inverse, cv 10 USD, one tier 0.5 %
BYBIT_ETH = "bybit:ETHUSDT"  # linear, cs 1 ETH
CME = "cme:MBT"  # linear without tiers


def _position(
    portfolio: str, account: str, instrument: str, quantity: float, entry: float,
    mode: MarginMode = "isolated", margin: float | None = None, leverage: float | None = 10.0,
) -> PositionEvent:
    return PositionEvent(portfolio, account, instrument, quantity, entry, leverage, mode, margin, 1, 1)


def _price(instrument: str, mark: float, ts: int = 2) -> PriceEvent:
    return PriceEvent(instrument, mark, None, None, None, ts, ts)


def _value(value: Any) -> float:
    """A snapshot number as a float, JSON null as NaN."""
    return math.nan if value is None else float(value)


def _same(book_value: Any, columnar_value: float) -> bool:
    """Equal up to float noise; None in the snapshot matches NaN or inf (JSON has no inf)."""
    if book_value is None:
        return not math.isfinite(columnar_value)
    return bool(columnar_value == pytest.approx(float(book_value), rel=1e-9, abs=1e-9))


def _at(repricing: Repricing, slot: int) -> dict[str, float]:
    return {
        "notional_usd": float(repricing.notional_usd[slot]),
        "delta": float(repricing.delta[slot]),
        "unrealized_pnl_usd": float(repricing.unrealized_pnl_usd[slot]),
        "maintenance_margin_usd": float(repricing.maintenance_margin_usd[slot]),
        "margin_balance_usd": float(repricing.margin_balance_usd[slot]),
        "margin_ratio": float(repricing.margin_ratio[slot]),
        "liquidation_price": float(repricing.liquidation_price[slot]),
        "liquidation_distance": float(repricing.liquidation_distance[slot]),
    }


ISOLATED_FIGURES = (
    "notional_usd", "delta", "unrealized_pnl_usd", "maintenance_margin_usd", "margin_balance_usd",
    "margin_ratio", "liquidation_price", "liquidation_distance",
)
CROSS_FIGURES = ("notional_usd", "delta", "unrealized_pnl_usd", "maintenance_margin_usd")


def _compare_with_book(positions: list[PositionEvent], marks: dict[str, float]) -> int:
    """Build one HedgeBook per portfolio and the columnar store from the same positions; compare."""
    prices = PriceTable(CATALOG)
    for instrument, mark in marks.items():
        prices.apply(_price(instrument, mark))
    books: dict[str, HedgeBook] = {}
    columns = ColumnarPositions(CATALOG)
    for event in positions:
        book = books.setdefault(event.portfolio, HedgeBook(event.portfolio, CATALOG, prices))
        book.apply_position(event)
        book.apply_balance(BalanceEvent(event.portfolio, event.account, "USDT", 5_000.0, 1, 1))
        assert columns.upsert(event)
    repricings = {instrument: columns.reprice(instrument, mark) for instrument, mark in marks.items()}
    compared = 0
    for portfolio, book in books.items():
        for record in published(book)["positions"]:
            repricing = repricings[record["instrument"]]
            assert repricing is not None
            slot = columns.slot(portfolio, record["account"], record["instrument"])
            assert slot is not None
            assert columns.portfolio_name(int(repricing.portfolios[slot])) == portfolio
            figures = _at(repricing, slot)
            names = ISOLATED_FIGURES if record["margin_mode"] == "isolated" else CROSS_FIGURES
            for name in names:
                assert _same(record[name], figures[name]), (portfolio, record["instrument"], name)
            if record["margin_mode"] == "cross":
                assert math.isnan(figures["margin_balance_usd"])  # the snapshot's business
            compared += 1
    return compared


def test_hand_checked_isolated_short_matches_the_formulas() -> None:
    """150 OKX micro contracts short from 60000, isolated 9000, repriced at 54000."""
    columns = ColumnarPositions(CATALOG)
    columns.upsert(_position("seed", "okx", OKX_SWAP, -150, 60_000, margin=9_000.0))
    repricing = columns.reprice(OKX_SWAP, 54_000)
    assert repricing is not None
    figures = _at(repricing, 0)
    assert figures["notional_usd"] == pytest.approx(81_000.0)  # 150 * 0.01 * 54000
    assert figures["delta"] == pytest.approx(-1.5)  # -150 * 0.01
    assert figures["unrealized_pnl_usd"] == pytest.approx(9_000.0)  # -1.5 * (54000 - 60000)
    assert figures["maintenance_margin_usd"] == pytest.approx(324.0)  # 81000 * 0.004 - 0
    assert figures["margin_balance_usd"] == pytest.approx(18_000.0)  # 9000 + 9000
    assert figures["margin_ratio"] == pytest.approx(0.018)  # 324 / 18000
    # OKX: MM plus the 0.05 % closing fee; 150 contracts are tier 1 (0.4 %) at any price:
    # (9000 + 1.5 * 60000) / (1.5 * (0.004 + 0.0005) + 1.5) = 99000 / 1.50675 = 65704.33
    assert figures["liquidation_price"] == pytest.approx(99_000 / 1.50675)
    # |65704.33 - 54000| / 54000 = 0.216747
    assert figures["liquidation_distance"] == pytest.approx((99_000 / 1.50675 - 54_000) / 54_000)


def test_figures_equal_hedge_book_across_kinds_modes_and_tiers() -> None:
    """Linear and inverse, isolated and cross, tiered and tierless: every figure equals the book's."""
    positions = [
        _position("alice", "okx", OKX_SWAP, -150, 60_000, margin=9_000.0),
        # 40 BTC long at 10x: wallet 240000 derived from leverage; notional 2.4M is Binance tier 3
        _position("alice", "binance", BINANCE, 40.0, 60_000, margin=None, leverage=10.0),
        _position("bob", "okx", OKX_INVERSE, -900, 60_000, margin=1.2),
        # 30000 contracts * 100 USD = 3M notional: the inverse's second tier (cum != 0)
        _position("bob", "okx2", OKX_INVERSE, -30_000, 58_000, margin=None, leverage=5.0),
        _position("carol", "deribit", DERIBIT, 5_000, 61_000, margin=None, leverage=20.0),
        _position("carol", "bybit", BYBIT_ETH, -3.5, 3_000, mode="cross", leverage=None),
        _position("dave", "cme", CME, -2, 60_000, margin=5_000.0),
        _position("dave", "okx", OKX_SWAP, 20, 59_000, mode="cross", leverage=None),
    ]
    marks = {OKX_SWAP: 54_000.0, BINANCE: 54_100.0, OKX_INVERSE: 54_050.0, DERIBIT: 53_900.0,
             BYBIT_ETH: 2_700.0, CME: 54_200.0}
    assert _compare_with_book(positions, marks) == len(positions)


def test_randomised_adds_updates_and_removes_stay_equal_to_the_book() -> None:
    """After many swap-removes and in-place updates past the initial capacity, figures still match."""
    rng = random.Random(7)
    instruments = [OKX_SWAP, BINANCE, OKX_INVERSE, DERIBIT, BYBIT_ETH, CME]
    live: dict[tuple[str, str, str], PositionEvent] = {}
    columns = ColumnarPositions(CATALOG)
    for step in range(400):
        instrument = rng.choice(instruments)
        key = (f"p{rng.randrange(30)}", f"a{rng.randrange(2)}", instrument)
        if key in live and rng.random() < 0.4:
            event = _position(*key, 0, 0)
            del live[key]
        else:
            size = rng.choice([1, 5, 50, 500]) * (0.01 if instrument in (BINANCE, BYBIT_ETH) else 1)
            event = _position(
                *key, size * rng.choice([-1, 1]), rng.uniform(50_000, 70_000) if instrument != BYBIT_ETH
                else rng.uniform(2_500, 3_500), mode=rng.choice(["isolated", "cross"]),
                margin=rng.choice([None, 2_000.0]), leverage=rng.choice([None, 3.0, 20.0]))
            live[key] = event
        columns.upsert(event)
        assert len(columns) == len(live), step
    assert len(live) > 16  # past the initial capacity of a block
    marks = {OKX_SWAP: 61_000.0, BINANCE: 60_500.0, OKX_INVERSE: 59_000.0, DERIBIT: 62_000.0,
             BYBIT_ETH: 3_100.0, CME: 60_000.0}
    assert _compare_with_book(list(live.values()), marks) == len(live)
    # the store built by the random walk holds the same figures as one built from scratch
    for instrument, mark in marks.items():
        repricing = columns.reprice(instrument, mark)
        if repricing is None:
            continue
        for (portfolio, account, held_instrument), event in live.items():
            if held_instrument != instrument:
                continue
            slot = columns.slot(portfolio, account, instrument)
            assert slot is not None
            fresh = ColumnarPositions(CATALOG)
            fresh.upsert(event)
            alone = fresh.reprice(instrument, mark)
            assert alone is not None
            np.testing.assert_allclose(
                [_at(repricing, slot)[name] for name in ISOLATED_FIGURES],
                [_at(alone, 0)[name] for name in ISOLATED_FIGURES], rtol=1e-12)


def test_swap_remove_moves_the_last_position_into_the_hole() -> None:
    """Removing the first of three positions moves the third into slot 0; the rest is untouched."""
    columns = ColumnarPositions(CATALOG)
    for portfolio, quantity in (("a", -100), ("b", -200), ("c", -300)):
        columns.upsert(_position(portfolio, "x", OKX_SWAP, quantity, 60_000, margin=9_000.0))
    assert columns.remove("a", "x", OKX_SWAP)
    assert not columns.remove("a", "x", OKX_SWAP)
    assert columns.held(OKX_SWAP) == 2
    assert columns.slot("c", "x", OKX_SWAP) == 0
    assert columns.slot("b", "x", OKX_SWAP) == 1
    repricing = columns.reprice(OKX_SWAP, 50_000)
    assert repricing is not None
    assert columns.portfolio_names(repricing.portfolios) == ["c", "b"]
    # -300 * 0.01 = -3 and -200 * 0.01 = -2 BTC
    assert repricing.delta.tolist() == pytest.approx([-3.0, -2.0])


def test_update_replaces_a_position_in_place_and_quantity_zero_removes_it() -> None:
    """A new state of the same (portfolio, account, instrument) overwrites its slot."""
    columns = ColumnarPositions(CATALOG)
    columns.upsert(_position("a", "x", OKX_SWAP, -100, 60_000, margin=9_000.0))
    columns.upsert(_position("a", "x", OKX_SWAP, -250, 60_000, margin=9_000.0))
    assert columns.held(OKX_SWAP) == 1
    repricing = columns.reprice(OKX_SWAP, 60_000)
    assert repricing is not None
    assert float(repricing.delta[0]) == pytest.approx(-2.5)  # -250 * 0.01
    columns.upsert(_position("a", "x", OKX_SWAP, 0, 0))
    assert columns.held(OKX_SWAP) == 0
    assert columns.reprice(OKX_SWAP, 60_000) is None


def test_spot_and_unknown_instruments_are_not_held() -> None:
    """Only futures of the catalog enter the store."""
    columns = ColumnarPositions(CATALOG)
    assert not columns.upsert(_position("a", "x", "okx:BTC-USDT", 1, 60_000))
    assert not columns.upsert(_position("a", "x", "nowhere:XYZ", 1, 60_000))
    assert len(columns) == 0
    assert columns.reprice("nowhere:XYZ", 1.0) is None


def test_hedge_value_change_per_portfolio_equals_the_books_cumulative_hedge_change() -> None:
    """dF = PnL(P') - PnL(P) summed per portfolio with bincount equals HedgeBook's accrual."""
    positions = [
        _position("a", "okx", OKX_SWAP, -150, 60_000, margin=9_000.0),
        _position("a", "okx2", OKX_SWAP, -50, 61_000, margin=3_000.0),
        _position("b", "okx", OKX_SWAP, -10, 59_000, mode="cross", leverage=None),
    ]
    columns = ColumnarPositions(CATALOG)
    books = {p: HedgeBook(p, CATALOG, PriceTable(CATALOG)) for p in ("a", "b")}
    for event in positions:
        columns.upsert(event)
        books[event.portfolio].apply_position(event)
    for ts, mark in ((2, 60_000.0), (3, 54_000.0)):
        repricing = columns.reprice(OKX_SWAP, mark)
        for book in books.values():
            book.apply_instrument_price(_price(OKX_SWAP, mark, ts))
    assert repricing is not None
    indices, changes = repricing.hedge_pnl_change()
    by_name = dict(zip(columns.portfolio_names(indices), changes.tolist(), strict=True))
    # a: (-150 - 50) * 0.01 * (54000 - 60000) = +12000; b: -10 * 0.01 * -6000 = +600
    assert by_name == pytest.approx({"a": 12_000.0, "b": 600.0})
    assert by_name["a"] == pytest.approx(books["a"].effectiveness["BTC"].cumulative_hedge_usd)
    assert by_name["b"] == pytest.approx(books["b"].effectiveness["BTC"].cumulative_hedge_usd)
    _, delta = repricing.futures_delta()
    assert delta.tolist() == pytest.approx([-2.0, -0.1])  # (-150 - 50) * 0.01; -10 * 0.01


def test_changed_portfolios_respect_the_pnl_and_ratio_tolerances() -> None:
    """A move below both tolerances changes nothing; a larger one names the portfolio and resets."""
    columns = ColumnarPositions(CATALOG, pnl_tolerance_usd=100.0, ratio_tolerance=0.01)
    columns.upsert(_position("a", "x", OKX_SWAP, -150, 60_000, margin=9_000.0))
    columns.upsert(_position("b", "x", OKX_SWAP, -1, 60_000, margin=100.0))
    first = columns.reprice(OKX_SWAP, 60_000)
    assert first is not None
    assert columns.portfolio_names(first.changed) == ["a", "b"]  # first figures appear
    # +50 USD on a 1.5 BTC short is -75 USD of PnL (< 100); its ratio and distance barely move
    small = columns.reprice(OKX_SWAP, 60_050)
    assert small is not None
    assert small.changed.size == 0
    # another +50: -150 USD since the last report (> 100) for a; b lost 1 USD, below tolerance
    larger = columns.reprice(OKX_SWAP, 60_100)
    assert larger is not None
    assert columns.portfolio_names(larger.changed) == ["a"]
    back = columns.reprice(OKX_SWAP, 60_050)  # -75 from the reset reference: nothing again
    assert back is not None
    assert back.changed.size == 0


def test_drop_portfolio_removes_its_positions_in_every_instrument() -> None:
    """Revoking a portfolio's partition empties it from every block and keeps the others."""
    columns = ColumnarPositions(CATALOG)
    columns.upsert(_position("a", "x", OKX_SWAP, -1, 60_000))
    columns.upsert(_position("a", "y", DERIBIT, -10, 60_000))
    columns.upsert(_position("b", "x", OKX_SWAP, -2, 60_000))
    assert columns.drop_portfolio("a") == 2
    assert columns.drop_portfolio("nobody") == 0
    assert len(columns) == 1
    assert columns.slot("b", "x", OKX_SWAP) == 0
    assert columns.nbytes() > 0


def test_fed_back_liquidation_price_gives_a_cross_leg_its_distance() -> None:
    """A cross leg has no liquidation price here until the snapshot's is fed back."""
    columns = ColumnarPositions(CATALOG)
    columns.upsert(_position("a", "x", OKX_SWAP, -100, 60_000, mode="cross", leverage=None))
    before = columns.reprice(OKX_SWAP, 60_000)
    assert before is not None
    assert math.isnan(float(before.liquidation_distance[0]))
    assert columns.set_liquidation_price("a", "x", OKX_SWAP, 75_000.0)
    assert not columns.set_liquidation_price("a", "nobody", OKX_SWAP, 1.0)
    after = columns.reprice(OKX_SWAP, 60_000)
    assert after is not None
    assert float(after.liquidation_distance[0]) == pytest.approx(0.25)  # |75000 - 60000| / 60000


def test_tier_index_by_comparisons_equals_the_binary_search_of_the_formulas() -> None:
    """Counting caps <= notional picks the tier formulas.tier_index picks, boundaries included."""
    instrument = CATALOG.require(BINANCE)
    caps = np.array([tier.cap for tier in instrument.tiers])
    rng = np.random.default_rng(3)
    notionals = np.concatenate([
        caps, np.nextafter(caps, 0), [0.0, 1.0, 49_999.99, 2e12], rng.uniform(0, 6e8, 1_000)])
    expected = np.asarray(f.tier_index(notionals, caps))
    np.testing.assert_array_equal(tier_index(notionals, caps), expected)
    # 50000 is tier 2's floor (caps are exclusive): index 1; 49999.99 stays in tier 1: index 0
    assert tier_index(np.array([50_000.0, 49_999.99]), caps).tolist() == [1, 0]
