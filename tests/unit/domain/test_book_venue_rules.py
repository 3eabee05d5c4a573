"""The hedge book's figures by each venue's rules: the defects of the margin-models issue, fixed.

Each test builds a book from canonical events and checks the snapshot against the venue's own
figure or a hand calculation from its documented rule (comment beside each number).
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.domain.book import HedgeBook, PriceTable
from monitor.domain.events import AccountModeEvent, BalanceEvent, PositionEvent, PriceEvent
from monitor.domain.instruments import default_catalog
from monitor.domain.plans import HedgePlan, PortfolioSettings
from tests.support import published

CENT = 0.005
CATALOG = default_catalog()
BINANCE = "binance:BTCUSDT"
OKX_SWAP = "okx:BTC-USDT-SWAP"
OKX_INVERSE = "okx:BTC-USD-SWAP"
BYBIT = "bybit:BTCUSDT"


def _book(settings: PortfolioSettings | None = None) -> tuple[HedgeBook, PriceTable]:
    prices = PriceTable(CATALOG)
    return HedgeBook("p", CATALOG, prices, settings), prices


def _price(prices: PriceTable, instrument: str, mark: float, ts: int = 10, index: float | None = None
           ) -> None:
    prices.apply(PriceEvent(instrument, mark, index, None, None, ts, ts))


def _legs(snapshot: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {position["position_side"]: position for position in snapshot["positions"]}


def test_binance_hedge_mode_legs_stay_apart() -> None:
    """Binance's ACCOUNT_UPDATE example: LONG 20 and SHORT 10, each with its own isolated wallet."""
    book, prices = _book()
    book.apply_position(PositionEvent("p", "b", BINANCE, 20, 6_563.66, None, "isolated", 13_200.71,
                                      1, 1, position_side="long"))
    book.apply_position(PositionEvent("p", "b", BINANCE, -10, 6_563.86, None, "isolated", 6_570.43,
                                      1, 1, position_side="short"))
    _price(prices, BINANCE, 6_563.0)
    legs = _legs(published(book))
    assert set(legs) == {"long", "short"}
    # SHORT: (6570.43 + 50 + 65638.6) / (0.05 + 10) = 7,189.95, about +9.5 % from 6,563
    assert legs["short"]["liquidation_price"] == pytest.approx(7_189.95, abs=CENT)
    assert legs["short"]["liquidation_distance"] == pytest.approx((7_189.95 - 6_563) / 6_563, abs=1e-6)
    # LONG: (13200.71 + 50 - 131273.2) / (0.1 - 20) = 5,930.78; never the netted 10 @4,604.78
    assert legs["long"]["liquidation_price"] == pytest.approx(5_930.78, abs=CENT)
    # the book's delta is still the net: 20 - 10 = 10 BTC
    assert published(book)["assets"]["BTC"]["futures_delta"] == pytest.approx(10.0)


def test_okx_maintenance_margin_is_the_whole_value_at_the_tier_rate() -> None:
    """OKX BTC-USDT-SWAP 6M USDT (10,000 contracts at 60,000): MM 60,000, not 33,000."""
    book, prices = _book()
    book.apply_position(PositionEvent("p", "o", OKX_SWAP, -10_000, 60_000, 5, "isolated", 1_200_000,
                                      1, 1))
    _price(prices, OKX_SWAP, 60_000.0)
    leg = published(book)["positions"][0]
    # 6,000,000 x 1 % = 60,000 (OKX "Tiered maintenance margin ratio rules", no deduction)
    assert leg["maintenance_margin_usd"] == pytest.approx(60_000.0, abs=CENT)
    assert leg["margin_model"] == "okx"


def test_binance_cross_wallet_is_cw_in_single_asset_mode() -> None:
    """Cross legs are backed by the settlement asset's cw, not wb and not other stablecoins."""
    book, prices = _book()
    # USDT wb 10,000 of which 3,000 sit in isolated wallets: cw 7,000; USDC 5,000 beside it
    book.apply_balance(BalanceEvent("p", "b", "USDT", 10_000, 1, 1, cross_wallet=7_000))
    book.apply_balance(BalanceEvent("p", "b", "USDC", 5_000, 1, 1))
    book.apply_position(PositionEvent("p", "b", BINANCE, -0.5, 60_000, None, "cross", None, 1, 1))
    _price(prices, BINANCE, 60_000.0)
    leg = published(book)["positions"][0]
    # margin balance = cw + uPnL = 7,000 + 0; LP = (7000 - 0 + 0 + 30000) / (0.002 + 0.5)
    #                = 37000 / 0.502 = 73,705.18
    assert leg["margin_balance_usd"] == pytest.approx(7_000.0, abs=CENT)
    assert leg["liquidation_price"] == pytest.approx(73_705.18, abs=CENT)
    # Multi-Assets Mode: every stablecoin's cross wallet backs it: 7,000 + 5,000 = 12,000;
    # LP = (12000 + 30000) / 0.502 = 83,665.34 (notional 41,833 < 50,000: first bracket)
    book.apply_account_mode(AccountModeEvent("p", "b", True, 2, 2))
    leg = published(book)["positions"][0]
    assert leg["margin_balance_usd"] == pytest.approx(12_000.0, abs=CENT)
    assert leg["liquidation_price"] == pytest.approx(83_665.34, abs=CENT)


def test_a_cross_leg_liquidation_price_follows_its_wallet_and_its_size_between_ticks() -> None:
    """A cross leg alone on its wallet keeps its liquidation price from tick to tick (cached), and
    a new wallet or a new size moves it at once."""
    book, prices = _book()
    book.apply_balance(BalanceEvent("p", "b", "USDT", 10_000, 1, 1, cross_wallet=7_000))
    book.apply_position(PositionEvent("p", "b", BINANCE, -0.5, 60_000, None, "cross", None, 1, 1))
    _price(prices, BINANCE, 60_000.0)
    # LP = (7000 + 0.5 x 60000) / (0.5 x 0.004 + 0.5) = 37000 / 0.502 = 73,705.18 at any mark
    assert published(book)["positions"][0]["liquidation_price"] == pytest.approx(73_705.18, abs=CENT)
    _price(prices, BINANCE, 61_000.0, 11)
    assert published(book)["positions"][0]["liquidation_price"] == pytest.approx(73_705.18, abs=CENT)
    # cw 8,000: (8000 + 30000) / 0.502 = 75,697.21
    book.apply_balance(BalanceEvent("p", "b", "USDT", 11_000, 12, 12, cross_wallet=8_000))
    assert published(book)["positions"][0]["liquidation_price"] == pytest.approx(75_697.21, abs=CENT)
    # short 0.6: (8000 + 0.6 x 60000) / (0.6 x 0.004 + 0.6) = 44000 / 0.6024 = 73,041.17
    book.apply_position(PositionEvent("p", "b", BINANCE, -0.6, 60_000, None, "cross", None, 13, 13))
    assert published(book)["positions"][0]["liquidation_price"] == pytest.approx(73_041.17, abs=CENT)


def test_an_exactly_hedged_inverse_book_stays_hedged_after_the_move() -> None:
    """1.5 BTC and a short of 900 x 100 USD from 60,000, at 54,000: delta -1.5, ratio 1, 0 to trade."""
    book, prices = _book(PortfolioSettings(plans={"BTC": HedgePlan("BTC", OKX_INVERSE)}))
    book.apply_balance(BalanceEvent("p", "cold", "BTC", 1.5, 1, 1))
    book.apply_position(PositionEvent("p", "o", OKX_INVERSE, -900, 60_000, None, "isolated", 0.3,
                                      1, 1))
    _price(prices, OKX_INVERSE, 54_000.0)
    snapshot = published(book)
    btc = snapshot["assets"]["BTC"]
    # delta = -900 x 100 / 60000 = -1.5 (not -90000 / 54000 = -1.667)
    assert snapshot["positions"][0]["delta"] == pytest.approx(-1.5)
    assert btc["net_delta"] == pytest.approx(0.0, abs=1e-12)
    assert btc["hedge_ratio"] == pytest.approx(1.0)
    assert btc["contracts_to_target"] == 0.0
    for row in snapshot["stress"]:
        if abs(row["shock"]) == 0.1:
            # spot 1.5 x 5400 = 8100 each way; hedge -90000 x (+/-5400) / 60000 = -/+ 8100
            assert row["spot_pnl_usd"] == pytest.approx(8_100.0 * (1 if row["shock"] > 0 else -1))
            assert row["net_pnl_usd"] == pytest.approx(0.0, abs=CENT)


@given(mark=st.floats(30_000.0, 90_000.0), other=st.floats(30_000.0, 90_000.0))
def test_an_isolated_liquidation_price_does_not_move_with_the_mark(mark: float, other: float) -> None:
    """Fixed terms, any two marks: the same liquidation price, inverse and linear (defect 5)."""
    for instrument, quantity, wallet in ((OKX_INVERSE, -900, 0.15), (BINANCE, -1.5, 9_000.0),
                                         (BYBIT, 1.5, 9_000.0), (OKX_SWAP, -150, 9_000.0),
                                         ("bingx:BTC-USDT", -1.5, 9_000.0),
                                         ("mexc:BTC_USDT", 15_000, 9_000.0),
                                         ("weex:BTCUSDT", -1.5, 9_000.0),
                                         ("deribit:BTC-PERPETUAL", -9_000, 0.15)):
        book, prices = _book()
        book.apply_position(PositionEvent("p", "a", instrument, quantity, 60_000, None, "isolated",
                                          wallet, 1, 1))
        _price(prices, instrument, mark, 10)
        first = published(book)["positions"][0]["liquidation_price"]
        book.positions[("a", instrument, "one_way")].isolated_liquidation = None  # no cache
        _price(prices, instrument, other, 20)
        assert published(book)["positions"][0]["liquidation_price"] == pytest.approx(first, rel=1e-12)


def test_bybit_isolated_liquidation_by_bybit_rule() -> None:
    """Bybit example 1 through the book: long 1 BTC @20,000, 50x, wallet 400 -> 19,700."""
    book, prices = _book()
    book.apply_position(PositionEvent("p", "y", BYBIT, 1, 20_000, 50, "isolated", 400, 1, 1))
    _price(prices, BYBIT, 20_000.0)
    # 20000 - (400 - 20000 x 0.5 %) / 1 = 19,700 (Binance's rule would say 19,698.49)
    assert published(book)["positions"][0]["liquidation_price"] == pytest.approx(19_700.0, abs=CENT)


def test_the_reference_price_does_not_depend_on_arrival_order() -> None:
    """Two BTC futures on two venues: the book's S is its own hedge's index, in any tick order."""
    ticks = [
        PriceEvent(OKX_SWAP, 60_100.0, 60_000.0, None, None, 10, 10),
        PriceEvent(BINANCE, 59_500.0, 59_400.0, None, None, 12, 12),
        PriceEvent("okx:BTC-USDT", 59_950.0, None, None, None, 11, 11),
    ]
    results = set()
    for order in itertools.permutations(ticks):
        book, prices = _book()
        book.apply_balance(BalanceEvent("p", "cold", "BTC", 1.5, 1, 1))
        book.apply_position(PositionEvent("p", "o", OKX_SWAP, -100, 60_000, 10, "isolated", 600,
                                          1, 1))
        for tick in order:
            prices.apply(tick)
        btc = published(book)["assets"]["BTC"]
        results.add((btc["price"], btc["net_delta_usd"], btc["basis_bps"]))
    # the hedge is okx:BTC-USDT-SWAP: S = its index 60,000; net (1.5 - 1.0) x 60000 = 30,000;
    # basis 1e4 x (60100 - 60000) / 60000 = 16.67 bps
    assert len(results) == 1
    price, net_usd, basis = results.pop()
    assert price == 60_000.0
    assert net_usd == pytest.approx(30_000.0)
    assert basis == pytest.approx(16.6667, abs=1e-4)


def test_the_reference_follows_the_largest_leg_as_the_legs_change() -> None:
    """Without a plan the hedge is the leg with the largest delta, re-chosen on every leg change."""
    book, prices = _book()
    book.apply_balance(BalanceEvent("p", "cold", "BTC", 1.5, 1, 1))
    _price(prices, OKX_SWAP, 60_100.0, 10, index=60_000.0)
    _price(prices, BYBIT, 60_200.0, 10, index=60_050.0)
    # OKX 100 x 0.01 BTC = 1.0 BTC; Bybit 0.5 BTC: OKX is the hedge, S = its index 60,000
    book.apply_position(PositionEvent("p", "o", OKX_SWAP, -100, 60_000, 10, "isolated", 600, 1, 1))
    book.apply_position(PositionEvent("p", "b", BYBIT, -0.5, 60_000, 10, "isolated", 300, 2, 2))
    assert published(book)["assets"]["BTC"]["price"] == 60_000.0
    assert book.holds(BYBIT)
    # Bybit grows to 1.2 BTC > 1.0 BTC: it is the hedge now, S = its index 60,050
    book.apply_position(PositionEvent("p", "b", BYBIT, -1.2, 60_000, 10, "isolated", 720, 3, 3))
    assert published(book)["assets"]["BTC"]["price"] == 60_050.0
    # Bybit closed: back to OKX's index, and the book no longer holds Bybit
    book.apply_position(PositionEvent("p", "b", BYBIT, 0, 60_000, 10, "isolated", 0, 4, 4))
    assert published(book)["assets"]["BTC"]["price"] == 60_000.0
    assert not book.holds(BYBIT)


def test_a_configured_spot_source_is_the_reference() -> None:
    """A plan's spot_source wins over the hedge's index."""
    settings = PortfolioSettings(plans={"BTC": HedgePlan("BTC", OKX_SWAP, spot_source="okx:BTC-USDT")})
    book, prices = _book(settings)
    book.apply_balance(BalanceEvent("p", "cold", "BTC", 1.5, 1, 1))
    _price(prices, OKX_SWAP, 60_100.0, 10, index=60_000.0)
    _price(prices, "okx:BTC-USDT", 59_950.0, 5)
    assert published(book)["assets"]["BTC"]["price"] == 59_950.0


@given(spot=st.floats(0.1, 50.0), entry=st.floats(10_000.0, 100_000.0),
       move=st.floats(0.5, 1.5), contract_value=st.sampled_from([10.0, 100.0]))
def test_an_exactly_hedged_inverse_book_reads_ratio_one_at_any_mark(
    spot: float, entry: float, move: float, contract_value: float,
) -> None:
    """q cv / EP = -spot: hedge ratio 1 and net delta 0 wherever the mark goes (defect 4)."""
    instrument = OKX_INVERSE if contract_value == 100.0 else "deribit:BTC-PERPETUAL"
    contracts = -spot * entry / contract_value  # delta = contracts x cv / EP = -spot exactly
    book, prices = _book(PortfolioSettings(plans={"BTC": HedgePlan("BTC", instrument)}))
    book.apply_balance(BalanceEvent("p", "cold", "BTC", spot, 1, 1))
    book.apply_position(PositionEvent("p", "o", instrument, contracts, entry, None, "isolated",
                                      spot, 1, 1))
    _price(prices, instrument, entry * move)
    btc = published(book)["assets"]["BTC"]
    assert btc["hedge_ratio"] == pytest.approx(1.0, rel=1e-9)
    assert btc["net_delta"] == pytest.approx(0.0, abs=1e-9 * spot)
