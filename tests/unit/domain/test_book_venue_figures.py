"""The venue's own figures beside the model's in the risk snapshot, with their divergence."""

from __future__ import annotations

from dataclasses import replace

import pytest

from monitor.domain import formulas as f
from monitor.domain.book import HedgeBook, PriceTable
from monitor.domain.events import AccountMarginEvent, BalanceEvent, PositionEvent, PriceEvent
from monitor.domain.instruments import default_catalog
from tests.support import published

SWAP = "okx:BTC-USDT-SWAP"
# The okx:BTC-USDT-SWAP leg of test_book.py: -150 contracts @ 60000, isolated wallet 9000. The
# model's liquidation price (OKX: MM plus the closing fee) is (9000 + 1.5 * 60000) / 1.50675 =
# 65704.33; at mark 54000 the model's maintenance margin is 81000 * 0.004 = 324 USD.
MODEL_LIQUIDATION = 99_000 / 1.50675
LEG = PositionEvent("seed", "okx", SWAP, -150, 60_000, 10, "isolated", 9_000, 1_000, 1_000)


def _book(position: PositionEvent, mark: float = 54_000, mark_ts: int = 2_000) -> HedgeBook:
    catalog = default_catalog()
    table = PriceTable(catalog)
    book = HedgeBook("seed", catalog, table)
    book.apply_balance(BalanceEvent("seed", "cold", "BTC", 1.5, 1_000, 1_000))
    book.apply_position(position)
    event = PriceEvent(SWAP, mark, None, None, None, mark_ts, mark_ts)
    table.apply(event)
    book.apply_instrument_price(event)
    return book


def test_the_relative_divergence_formula() -> None:
    """``|model - venue| / |venue|``: 101 against 100 is 1 %; a venue figure of 0 has none."""
    assert f.relative_divergence(101.0, 100.0) == pytest.approx(0.01)
    assert f.relative_divergence(99.0, 100.0) == pytest.approx(0.01)
    assert f.relative_divergence(1.0, 0.0) != f.relative_divergence(1.0, 0.0)  # nan


def test_without_venue_figures_the_model_stands_alone() -> None:
    """No venue figure reported: ``venue_figures`` null and every divergence null (unknown)."""
    position = published(_book(LEG))["positions"][0]
    assert position["venue_figures"] is None
    assert position["model_divergence"] == {"liquidation_price": None, "maintenance_margin_usd": None}
    model = position["model_figures"]
    assert model["source"] == "model"
    assert model["as_of_ms"] == 2_000  # the mark's event time: the model moves with the mark
    assert model["liquidation_price"] == pytest.approx(MODEL_LIQUIDATION)


def test_the_venue_figure_beside_the_model_and_their_divergence() -> None:
    """The venue reports liqPx 66000 and mmr 324 USDT with the leg at t=1000: divergence of the
    liquidation price |65704.33 - 66000| / 66000 = 0.44798 %; maintenance margin 0."""
    reported = replace(LEG, venue_liquidation_price=66_000.0, venue_maintenance_margin=324.0,
                       venue_margin_ratio=0.018, adl_rank=2, adl_rank_top=5)
    position = published(_book(reported))["positions"][0]
    venue = position["venue_figures"]
    assert venue == {
        "source": "venue", "as_of_ms": 1_000, "liquidation_price": 66_000.0,
        "maintenance_margin_usd": 324.0, "margin_ratio": 0.018, "adl_rank": 2, "adl_rank_top": 5}
    divergence = position["model_divergence"]
    assert divergence["liquidation_price"] == pytest.approx((66_000 - MODEL_LIQUIDATION) / 66_000)
    assert divergence["liquidation_price"] == pytest.approx(0.0044798, abs=1e-7)
    assert divergence["maintenance_margin_usd"] == pytest.approx(0.0, abs=1e-12)
    # the margin ratio stands beside the model's (324 / 18000 = 0.018) but is not compared: the
    # venues define it differently
    assert "margin_ratio" not in divergence
    assert position["model_figures"]["margin_ratio"] == pytest.approx(0.018)
    # the flat figures stay the model's
    assert position["liquidation_price"] == pytest.approx(MODEL_LIQUIDATION)


def test_venue_figures_hold_while_the_leg_is_unchanged_and_drop_when_it_changes() -> None:
    """A later update without figures (Binance ACCOUNT_UPDATE after a funding fee) keeps the
    venue's last figures and their as-of time; a size change drops them: unknown, never stale."""
    reported = replace(LEG, venue_liquidation_price=66_000.0)
    book = _book(reported)
    book.apply_position(replace(LEG, ts_event_ms=3_000, ts_receive_ms=3_000))
    venue = published(book)["positions"][0]["venue_figures"]
    assert (venue["liquidation_price"], venue["as_of_ms"]) == (66_000.0, 1_000)
    book.apply_position(replace(LEG, quantity=-100, isolated_margin=6_000, ts_event_ms=4_000,
                                ts_receive_ms=4_000))
    assert published(book)["positions"][0]["venue_figures"] is None


def test_venue_figures_survive_a_checkpoint() -> None:
    reported = replace(LEG, venue_liquidation_price=66_000.0)
    book = _book(reported)
    book.apply_position(replace(LEG, ts_event_ms=3_000, ts_receive_ms=3_000))
    restored = _book(LEG)
    restored.restore_state(book.to_state())
    restored.apply_instrument_price(PriceEvent(SWAP, 54_000, None, None, None, 2_000, 2_000))
    assert published(restored)["positions"][0]["venue_figures"]["as_of_ms"] == 1_000


BYBIT = "bybit:BTCUSDT"


def _unified_book() -> tuple[HedgeBook, PriceTable]:
    """A Bybit unified account: 1 BTC of spot collateral, 10000 USDT, short 1 BTC of BTCUSDT at
    60000; the venue reports (accountMMRate) MM 600 USD over equity 70000 USD at mark 60000."""
    catalog = default_catalog()
    table = PriceTable(catalog)
    book = HedgeBook("p", catalog, table)
    book.apply_balance(BalanceEvent("p", "uta", "BTC", 1.0, 1_000, 1_000))
    book.apply_balance(BalanceEvent("p", "uta", "USDT", 10_000.0, 1_000, 1_000))
    book.apply_position(PositionEvent("p", "uta", BYBIT, -1.0, 60_000, 10, "cross", None, 1_000, 1_000))
    _mark(book, table, 60_000, 1_500)
    book.apply_account_margin(AccountMarginEvent(
        "p", "uta", "unified", "accountMMRate", 600 / 70_000, 600 / 70_000, 1.0, 70_000.0, 600.0,
        None, None, 2_000, 2_000))
    return book, table


def _mark(book: HedgeBook, table: PriceTable, mark: float, ts: int) -> None:
    event = PriceEvent(BYBIT, mark, None, None, None, ts, ts)
    table.apply(event)
    book.apply_instrument_price(event)


def test_the_account_ratio_is_the_venue_figure_with_its_model_beside() -> None:
    """At the venue's update the model equals it: 600 / 70000 = 0.857 %; buffer used 0.857 % of
    the way to liquidation at 100 %."""
    book, _ = _unified_book()
    account = published(book)["accounts"]["uta"]
    assert account["mode"] == "unified"
    assert account["venue"]["maintenance_margin_ratio"] == pytest.approx(600 / 70_000)
    assert account["venue"]["as_of_ms"] == 2_000
    assert account["model"]["maintenance_margin_ratio"] == pytest.approx(600 / 70_000)
    assert account["buffer_used"] == pytest.approx(600 / 70_000)


def test_the_account_model_moves_with_the_mark_between_venue_updates() -> None:
    """Mark 60000 -> 66000: the short loses 6000, the BTC collateral gains 6000 (equity stays
    70000, the spot coin backs the short); the notional grows 60000 -> 66000 so the modelled MM is
    600 * 1.1 = 660: model ratio 660 / 70000 = 0.9429 %, beside the venue's last 0.8571 %; the
    buffer used is the higher one."""
    book, table = _unified_book()
    _mark(book, table, 66_000, 3_000)
    account = published(book)["accounts"]["uta"]
    assert account["venue"]["maintenance_margin_ratio"] == pytest.approx(600 / 70_000)
    assert account["model"]["maintenance_margin_ratio"] == pytest.approx(660 / 70_000)
    assert account["model"]["as_of_ms"] == 3_000
    assert account["model_divergence"] == pytest.approx(0.1)  # |660 - 600| / 600
    assert account["buffer_used"] == pytest.approx(660 / 70_000)


def test_portfolio_margin_buffer_is_measured_to_the_venue_liquidation_level() -> None:
    """Binance PM uniMMR 1.5 (ratio 1/1.5 = 0.6667) against liquidation at uniMMR 1.05 (1/1.05 =
    0.95238): buffer used 0.6667 / 0.95238 = 70 %. No marks known: the model is unknown."""
    catalog = default_catalog()
    book = HedgeBook("p", catalog, PriceTable(catalog))
    book.apply_account_margin(AccountMarginEvent(
        "p", "pm", "portfolio_margin", "uniMMR", 1.5, 1 / 1.5, 1 / 1.05, 1500.0, 1000.0, None,
        "MARGIN_CALL", 2_000, 2_000))
    account = published(book)["accounts"]["pm"]
    assert account["buffer_used"] == pytest.approx(1.05 / 1.5)
    assert account["venue"]["status"] == "MARGIN_CALL"
    restored = HedgeBook("p", catalog, PriceTable(catalog))
    restored.restore_state(book.to_state())
    assert published(restored)["accounts"] == published(book)["accounts"]


def test_the_maintenance_margin_is_compared_at_the_venue_figure_mark() -> None:
    """The venue's mmr 324 USDT came with mark 54000 (81000 * 0.004). At mark 60000 the model's
    is 90000 * 0.004 = 360, but compared at 54000 it is 324 again: no divergence from the mark
    having moved since the venue's update."""
    book = _book(replace(LEG, venue_maintenance_margin=324.0))
    event = PriceEvent(SWAP, 60_000, None, None, None, 3_000, 3_000)
    book.prices.apply(event)
    book.apply_instrument_price(event)
    position = published(book)["positions"][0]
    assert position["model_figures"]["maintenance_margin_usd"] == pytest.approx(360.0)
    assert position["venue_figures"]["maintenance_margin_usd"] == pytest.approx(324.0)
    assert position["model_divergence"]["maintenance_margin_usd"] == pytest.approx(0.0, abs=1e-12)
