"""Remediations against hand-solved liquidation equations, and the property that they work.

Each worked example writes the venue's liquidation equation, solves it for the wallet (add margin)
or for the contracts closed (reduce), and checks the code's figure; the properties apply the
remediation through the margin model and check the liquidation price lands at the distance asked.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.domain.instruments import Instrument, default_catalog, tiers_with_cum
from monitor.domain.margin import (
    BinanceMargin,
    BybitMargin,
    MarginLeg,
    MarginModel,
    OkxMargin,
    margin_model_for,
)
from monitor.domain.remediation import (
    contracts_to_reduce,
    liquidation_remediation,
    margin_for_buffer,
    margin_for_ratio,
    margin_to_add,
)

CENT = 0.005
CATALOG = default_catalog()
BINANCE = BinanceMargin()
OKX = OkxMargin()
BYBIT = BybitMargin()


def test_binance_isolated_short_add_margin_by_hand() -> None:
    """Short 0.5 BTC @60000, isolated wallet 3000 (LP 65,737.05), mark 63,000, D = 6 %."""
    # Binance LP = (WB + cum - side Q EP) / (Q MMR - side Q); side -1, Q 0.5, cum 0, MMR 0.4 %
    # (notional at the target 0.5 x 66,780 = 33,390 < 50,000). Target T = 63,000 x 1.06 = 66,780.
    # Solve for WB: WB = T (Q MMR + Q) - Q EP = 66,780 x 0.502 - 30,000 = 33,523.56 - 30,000
    #             = 3,523.56  ->  X = 3,523.56 - 3,000 = 523.56 USDT.
    leg = MarginLeg(CATALOG.require("binance:BTCUSDT"), -0.5, 60_000.0)
    assert margin_to_add(BINANCE, [leg], 3_000.0, 66_780.0) == pytest.approx(523.56, abs=CENT)
    assert BINANCE.liquidation_price([leg], 3_523.56) == pytest.approx(66_780.0, abs=CENT)


def test_binance_isolated_short_reduce_by_hand() -> None:
    """Same leg: close k BTC at 63,000 (realised PnL and the 0.05 % taker fee go to the wallet)."""
    # wallet' = 3000 - k (63,000 - 60,000) - k x 63,000 x 0.0005 = 3000 - 3031.5 k
    # at T = 66,780: MM = (0.5 - k) x 66,780 x 0.004 = 133.56 - 267.12 k
    #                balance = wallet' - (0.5 - k)(66,780 - 60,000) = -390 + 3748.5 k
    # MM <= balance  <=>  523.56 <= 4015.62 k  <=>  k >= 0.130381  ->  0.131 BTC (lot 0.001)
    leg = MarginLeg(CATALOG.require("binance:BTCUSDT"), -0.5, 60_000.0)
    assert contracts_to_reduce(BINANCE, [leg], 0, 3_000.0, 63_000.0, 66_780.0, 0.001) == pytest.approx(0.131)


def test_okx_cross_short_of_the_rally_scenario_by_hand() -> None:
    """rally-liquidation: OKX cross 9000 USDT, short 150 contracts (0.01 BTC) @60000, mark 62,000."""
    # OKX liquidates at MM + fee: 1.5 T (0.004 + 0.0005) = balance; tier 0-1000 contracts, 0.4 %.
    # T = 62,000 x 1.06 = 65,720. requirement = 1.5 x 65,720 x 0.0045 = 443.61
    # balance at T = 9000 - 1.5 x (65,720 - 60,000) = 420  ->  X = 443.61 - 420 = 23.61 USDT
    # Check: LP = (9023.61 + 90,000) / (1.5 x 1.0045) = 99,023.61 / 1.50675 = 65,720.00
    leg = MarginLeg(CATALOG.require("okx:BTC-USDT-SWAP"), -150.0, 60_000.0)
    remedy = liquidation_remediation(OKX, [leg], 0, 9_000.0, 62_000.0, 0.06)
    assert remedy is not None
    assert remedy.target_price == pytest.approx(65_720.0)
    assert remedy.add_margin == pytest.approx(23.61, abs=CENT)
    assert OKX.liquidation_price([leg], 9_023.61) == pytest.approx(65_720.0, abs=CENT)
    # Reduce k contracts at 62,000: wallet' = 9000 - 20 k - 0.31 k (fee 0.01 k x 62,000 x 0.05 %);
    # requirement = 0.01 (150 - k) x 65,720 x 0.0045 = 443.61 - 2.9574 k;
    # balance = 9000 - 20.31 k - 0.01 (150 - k) x 5,720 = 420 + 36.89 k
    # 443.61 - 2.9574 k <= 420 + 36.89 k  <=>  k >= 0.5925  ->  1 contract (lot 1)
    assert remedy.reduce_contracts == 1.0
    assert remedy.reduce_side == "short"


def test_bybit_long_at_entry_add_margin_by_hand() -> None:
    """Bybit's example, long 1 BTC @20,000 at 50x (IM 400, MM 100 at entry): LP 19,700."""
    # LP = EP - (IM - MM) / Q; for LP = T = 20,000 x 0.95 = 19,000: IM' = MM + (EP - T) Q
    #    = 100 + 1,000 = 1,100  ->  X = 1,100 - 400 = 700 USDT
    instrument = Instrument(id="bybit:BTCUSDT", kind="linear", base="BTC", quote="USDT", settle="USDT",
                            tiers=tiers_with_cum([(0, 2_000_000, 0.005, 100)]))
    leg = MarginLeg(instrument, 1.0, 20_000.0)
    assert BYBIT.liquidation_price([leg], 400.0) == pytest.approx(19_700.0, abs=CENT)
    remedy = liquidation_remediation(BYBIT, [leg], 0, 400.0, 20_000.0, 0.05)
    assert remedy is not None
    assert remedy.add_margin == pytest.approx(700.0, abs=CENT)
    assert remedy.target_price == pytest.approx(19_000.0)


def test_nothing_to_add_when_the_buffer_is_there() -> None:
    """LP 65,737.05 from a mark of 60,000 is 9.6 % away: nothing to add or reduce for 6 %."""
    leg = MarginLeg(CATALOG.require("binance:BTCUSDT"), -0.5, 60_000.0)
    remedy = liquidation_remediation(BINANCE, [leg], 0, 3_000.0, 60_000.0, 0.06)
    assert remedy is not None
    assert remedy.add_margin == 0.0
    assert remedy.reduce_contracts == 0.0


def test_margin_ratio_and_buffer_by_hand() -> None:
    """MM 800, MB 1000: ratio 80 % -> 75 % needs 800 / 0.75 - 1000 = 66.67; buffer 20 % -> 55 %
    needs 800 / 0.45 - 1000 = 777.78."""
    assert margin_for_ratio(800.0, 1_000.0, 0.75) == pytest.approx(66.6667, abs=1e-3)
    assert margin_for_buffer(800.0, 1_000.0, 0.55) == pytest.approx(777.7778, abs=1e-3)
    assert margin_for_ratio(100.0, 1_000.0, 0.75) == 0.0


# -- the remediation works, for every model -----------------------------------------------------

MODELS: list[tuple[MarginModel, str]] = [
    (BINANCE, "binance:BTCUSDT"), (OKX, "okx:BTC-USDT-SWAP"), (BYBIT, "bybit:BTCUSDT"),
    (OKX, "okx:BTC-USD-SWAP"), (margin_model_for(CATALOG.require("bingx:BTC-USDT")), "bingx:BTC-USDT"),
    (margin_model_for(CATALOG.require("mexc:BTC_USDT")), "mexc:BTC_USDT"),
    (margin_model_for(CATALOG.require("weex:BTCUSDT")), "weex:BTCUSDT"),
]


def _distance(liquidation: float, price: float) -> float:
    return math.inf if math.isnan(liquidation) else abs(liquidation - price) / price


@given(case=st.sampled_from(MODELS), entry=st.floats(10_000.0, 100_000.0),
       leverage=st.floats(2.0, 50.0), size=st.floats(1.0, 3_000.0), side=st.sampled_from([1.0, -1.0]),
       move=st.floats(0.0, 0.9), distance=st.floats(0.01, 0.2))
def test_applying_the_remediation_restores_the_distance(
    case: tuple[MarginModel, str], entry: float, leverage: float, size: float, side: float,
    move: float, distance: float,
) -> None:
    """Adding X, or closing K contracts, puts the liquidation price at least D from the mark."""
    model, instrument_id = case
    instrument = CATALOG.require(instrument_id)
    quantity = side * round(size)
    leg = MarginLeg(instrument, quantity, entry)
    wallet = instrument.settlement_notional(quantity, entry) / leverage
    liquidation = model.liquidation_price([leg], wallet)
    if math.isnan(liquidation):
        return
    price = entry + move * (liquidation - entry)  # part of the way to liquidation
    remedy = liquidation_remediation(model, [leg], 0, wallet, price, distance)
    assert remedy is not None
    after = model.liquidation_price([leg], wallet + remedy.add_margin)
    assert _distance(after, price) >= distance * (1 - 1e-9)
    if remedy.add_margin > 0:
        # not much more than needed: one rounding step less would fall short
        step = 1e-8 if instrument.settles_in_coin else 0.01
        less = model.liquidation_price([leg], wallet + remedy.add_margin - 2 * step)
        assert _distance(less, price) < distance * (1 + 1e-6)
    if remedy.reduce_contracts is None:
        return
    closed = math.copysign(remedy.reduce_contracts, quantity)
    reduced_wallet = (wallet + instrument.pnl_settlement(closed, entry, price)
                      - instrument.settlement_notional(closed, price) * instrument.taker_fee)
    reduced = replace(leg, quantity=quantity - closed)
    after_reduce = model.liquidation_price([reduced], reduced_wallet) if reduced.quantity else math.nan
    assert _distance(after_reduce, price) >= distance * (1 - 1e-9)
    if remedy.reduce_contracts >= 2 * instrument.lot_step:
        # the fewest: one lot less leaves the liquidation price nearer than D
        fewer = math.copysign(remedy.reduce_contracts - instrument.lot_step, quantity)
        fewer_wallet = (wallet + instrument.pnl_settlement(fewer, entry, price)
                        - instrument.settlement_notional(fewer, price) * instrument.taker_fee)
        short_of = model.liquidation_price([replace(leg, quantity=quantity - fewer)], fewer_wallet)
        assert _distance(short_of, price) < distance * (1 + 1e-9)
