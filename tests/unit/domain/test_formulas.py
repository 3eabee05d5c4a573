"""Hand-checked tests of the pure risk formulas (every expected value is computed in a comment)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from monitor.domain import formulas as f

# Binance USDⓈ-M BTCUSDT leverage brackets (first three): caps, maintenance margin rates and
# maintenance amounts. cum_2 = 50000 * (0.005 - 0.004) + 0 = 50; cum_3 = 500000 * (0.01 - 0.005)
# + 50 = 2550.
CAPS = (50_000.0, 500_000.0, 8_000_000.0)
MMRS = (0.004, 0.005, 0.01)
CUMS = (0.0, 50.0, 2_550.0)

# Money figures are checked to the cent, ratios to 1e-9 relative.
CENT = 0.005
RATIO = 1e-9


# --- the seed example ------------------------------------------------------------------------


def test_seed_example_end_to_end() -> None:
    """1.5 BTC at 60000 hedged with 150 micro (0.01 BTC) shorts nets 0 at 54000."""
    spot_quantity = 1.5
    price = 60_000.0
    contract_size = 0.01
    # 1.5 * 60000 = 90000
    exposure = spot_quantity * price
    assert exposure == pytest.approx(90_000.0, abs=CENT)
    # 0.01 * 60000 = 600 USD per contract
    assert f.linear_notional(1.0, contract_size, price) == pytest.approx(600.0, abs=CENT)
    # 1.0 * 90000 / (0.01 * 60000) = 150
    contracts = f.round_to_lot(
        f.contracts_for_target_linear(1.0, exposure, contract_size, price), 1.0
    )
    assert contracts == 150.0
    # -150 * 0.01 = -1.5 BTC; ratio -(-1.5) / 1.5 = 1.0
    futures_delta = f.linear_delta(-contracts, contract_size)
    assert futures_delta == pytest.approx(-1.5, rel=RATIO)
    assert f.hedge_ratio(spot_quantity, futures_delta) == pytest.approx(1.0, rel=RATIO)
    # spot: 1.5 * (54000 - 60000) = -9000
    spot_pnl = f.linear_pnl(spot_quantity, 1.0, price, 54_000.0)
    assert spot_pnl == pytest.approx(-9_000.0, abs=CENT)
    # short: -150 * 0.01 * (54000 - 60000) = +9000
    hedge_pnl = f.linear_pnl(-contracts, contract_size, price, 54_000.0)
    assert hedge_pnl == pytest.approx(9_000.0, abs=CENT)
    # -9000 + 9000 = 0
    assert spot_pnl + hedge_pnl == pytest.approx(0.0, abs=CENT)


# --- delta and hedge ratio -------------------------------------------------------------------


def test_inverse_delta_is_fixed_at_entry() -> None:
    """An inverse position's delta, its accrued coin PnL included, is q * cv / EP at any mark."""
    # risk-definitions.md "Delta": short 900 x 100 USD from 60000 -> -90000 / 60000 = -1.5 BTC;
    # the mark is not an argument: at 54000 the contracts hold -90000 / 54000 = -1.6667 BTC but
    # the coin PnL accrued, -90000 * (1/60000 - 1/54000) = +0.1667 BTC, brings it back to -1.5.
    assert f.inverse_delta(-900.0, 100.0, 60_000.0) == pytest.approx(-1.5, rel=RATIO)
    contracts_coin = -90_000.0 / 54_000.0
    accrued_coin = f.inverse_pnl_coin(-900.0, 100.0, 60_000.0, 54_000.0)
    assert contracts_coin + accrued_coin == pytest.approx(f.inverse_delta(-900.0, 100.0, 60_000.0))
    # entry 0 is undefined, not inf
    assert math.isnan(f.inverse_delta(-900.0, 100.0, 0.0))


def test_hedge_ratio_partial_and_undefined() -> None:
    """Hedge ratio is -futures/spot and undefined (NaN) when there is no spot delta."""
    # -(-1.2) / 1.5 = 0.8 (under-hedged)
    assert f.hedge_ratio(1.5, -1.2) == pytest.approx(0.8, rel=RATIO)
    assert math.isnan(f.hedge_ratio(0.0, -1.2))


def test_contracts_for_target_inverse() -> None:
    """Inverse contracts for a target ratio are h * E / cv."""
    # 1.0 * 90000 / 100 = 900 contracts of 100 USD
    assert f.contracts_for_target_inverse(1.0, 90_000.0, 100.0) == pytest.approx(900.0, rel=RATIO)
    # 0.5 * 90000 / (0.01 * 60000) = 75 micro contracts for a half hedge
    assert f.contracts_for_target_linear(0.5, 90_000.0, 0.01, 60_000.0) == pytest.approx(
        75.0, rel=RATIO
    )
    assert math.isnan(f.contracts_for_target_inverse(1.0, 90_000.0, 0.0))


# --- lot rounding ----------------------------------------------------------------------------


def test_round_to_lot_absorbs_float_noise() -> None:
    """Float noise below 1e-9 lots never changes the rounded contract count."""
    # 149.99999999 lots of 1 -> 150
    assert f.round_to_lot(149.99999999, 1.0) == 150.0
    # 0.1 + 0.2 = 0.30000000000000004 -> 300 lots of 0.001 -> 0.3 exactly
    assert f.round_to_lot(0.1 + 0.2, 0.001) == 0.3
    # 0.15 / 0.1 = 1.4999999999999998 is a tie after snapping: half away from zero -> 2 lots = 0.2
    assert f.round_to_lot(0.15, 0.1) == 0.2


def test_round_to_lot_half_away_from_zero() -> None:
    """Ties round away from zero (not to even), symmetric for shorts."""
    # 1.5 -> 2, 2.5 -> 3 (banker's rounding would give 2), -1.5 -> -2
    assert f.round_to_lot(1.5, 1.0) == 2.0
    assert f.round_to_lot(2.5, 1.0) == 3.0
    assert f.round_to_lot(-1.5, 1.0) == -2.0
    # 7 with lot 5: 7 / 5 = 1.4 lots -> 1 lot = 5
    assert f.round_to_lot(7.0, 5.0) == 5.0
    # 1.234 with lot 0.01 -> 123.4 lots -> 123 -> 1.23
    assert f.round_to_lot(1.234, 0.01) == 1.23
    assert math.isnan(f.round_to_lot(1.0, 0.0))
    # a tie past 2^52 after the 1e9 snap: 4503.8125 / 0.001 = 4503812.5 lots -> 4503813 -> 4503.813
    assert f.round_to_lot(4503.8125, 0.001) == 4503.813
    rounded = f.round_to_lot(np.array([4503.8125]), np.array([0.001]))
    assert isinstance(rounded, np.ndarray)
    assert rounded[0] == 4503.813


def test_micro_versus_standard_contract_residual() -> None:
    """The micro contract hedges 1.5 BTC exactly; a 1 BTC contract leaves 0.5 BTC residual."""
    exposure = 1.5 * 60_000.0
    # micro: 90000 / (0.01 * 60000) = 150 -> residual 1.5 - 150 * 0.01 = 0
    micro = f.round_to_lot(f.contracts_for_target_linear(1.0, exposure, 0.01, 60_000.0), 1.0)
    assert 1.5 - micro * 0.01 == pytest.approx(0.0, abs=1e-12)
    # standard 1 BTC: 90000 / 60000 = 1.5 -> nearest, half away from zero -> 2
    # residual 1.5 - 2 * 1 = -0.5 BTC (over-hedged by half a coin)
    standard = f.round_to_lot(f.contracts_for_target_linear(1.0, exposure, 1.0, 60_000.0), 1.0)
    assert standard == 2.0
    assert 1.5 - standard * 1.0 == pytest.approx(-0.5, abs=1e-12)
    # CME MBT (0.1 BTC) on 1.55 BTC: 1.55 * 60000 / 6000 = 15.5 -> 16; residual 1.55 - 1.6 = -0.05
    mbt = f.round_to_lot(f.contracts_for_target_linear(1.0, 1.55 * 60_000.0, 0.1, 60_000.0), 1.0)
    assert mbt == 16.0
    assert 1.55 - mbt * 0.1 == pytest.approx(-0.05, abs=1e-12)


# --- PnL and notional ------------------------------------------------------------------------


def test_linear_pnl_long_and_short() -> None:
    """Linear PnL is q * cs * (P - EP) in quote currency."""
    # long 2 contracts of 0.1 BTC from 50000 to 51000: 2 * 0.1 * 1000 = 200
    assert f.linear_pnl(2.0, 0.1, 50_000.0, 51_000.0) == pytest.approx(200.0, abs=CENT)
    # short: -2 * 0.1 * 1000 = -200
    assert f.linear_pnl(-2.0, 0.1, 50_000.0, 51_000.0) == pytest.approx(-200.0, abs=CENT)


def test_inverse_pnl_okx_btc_usd_swap() -> None:
    """OKX BTC-USD-SWAP (cv 100): short 900 from 60000 to 54000 earns 1/6 BTC = 9000 USD."""
    # -900 * 100 * (1/60000 - 1/54000) = 90000 * 6000 / (60000 * 54000) = 1/6 BTC
    coin = f.inverse_pnl_coin(-900.0, 100.0, 60_000.0, 54_000.0)
    assert coin == pytest.approx(1.0 / 6.0, rel=RATIO)
    # 1/6 * 54000 = 9000 USD
    assert f.inverse_pnl_usd(-900.0, 100.0, 60_000.0, 54_000.0) == pytest.approx(9_000.0, abs=CENT)
    # up 10 %: -900 * 100 * (1/60000 - 1/66000) = -90000 * 6000 / 3.96e9 = -0.136364 BTC
    # in USD: -0.136364 * 66000 = -9000
    assert f.inverse_pnl_coin(-900.0, 100.0, 60_000.0, 66_000.0) == pytest.approx(
        -90_000.0 * 6_000.0 / 3.96e9, rel=RATIO
    )
    assert f.inverse_pnl_usd(-900.0, 100.0, 60_000.0, 66_000.0) == pytest.approx(
        -9_000.0, abs=CENT
    )


def test_notional_is_unsigned() -> None:
    """Notional is |q| * cs * P (linear) and |q| * cv (inverse), the same for long and short."""
    # 150 * 0.01 * 60000 = 90000
    assert f.linear_notional(-150.0, 0.01, 60_000.0) == pytest.approx(90_000.0, abs=CENT)
    # 900 * 100 = 90000
    assert f.inverse_notional(-900.0, 100.0) == pytest.approx(90_000.0, abs=CENT)


# --- tiered maintenance margin ---------------------------------------------------------------


def test_tier_index_caps_are_exclusive() -> None:
    """A notional equal to a cap belongs to the next tier; beyond every cap is the last tier."""
    assert f.tier_index(49_999.99, CAPS) == 0
    assert f.tier_index(50_000.0, CAPS) == 1
    assert f.tier_index(600_000.0, CAPS) == 2
    assert f.tier_index(1e9, CAPS) == 2


def test_tiered_maintenance_margin_binance_btcusdt() -> None:
    """Maintenance margin is notional * MMR - cum with the bracket the notional falls in."""
    # 600000 is in tier 3: 600000 * 0.01 - 2550 = 3450
    assert f.tiered_maintenance_margin(600_000.0, 0.01, 2_550.0) == pytest.approx(3_450.0, abs=CENT)
    assert f.maintenance_margin_for_tiers(600_000.0, CAPS, MMRS, CUMS) == pytest.approx(
        3_450.0, abs=CENT
    )
    # 10000 is in tier 1: 10000 * 0.004 - 0 = 40
    assert f.maintenance_margin_for_tiers(10_000.0, CAPS, MMRS, CUMS) == pytest.approx(
        40.0, abs=CENT
    )


def test_tiered_maintenance_margin_is_continuous_at_boundaries() -> None:
    """cum makes the maintenance margin continuous where the bracket changes."""
    # 50000 * 0.004 - 0 = 200 = 50000 * 0.005 - 50
    assert f.tiered_maintenance_margin(50_000.0, 0.004, 0.0) == pytest.approx(200.0, abs=CENT)
    assert f.tiered_maintenance_margin(50_000.0, 0.005, 50.0) == pytest.approx(200.0, abs=CENT)
    # 500000 * 0.005 - 50 = 2450 = 500000 * 0.01 - 2550
    assert f.tiered_maintenance_margin(500_000.0, 0.005, 50.0) == pytest.approx(2_450.0, abs=CENT)
    assert f.tiered_maintenance_margin(500_000.0, 0.01, 2_550.0) == pytest.approx(
        2_450.0, abs=CENT
    )
    # either side of the first boundary through the picker: 49999.99 * 0.004 = 199.99996; 200
    notionals = np.array([49_999.99, 50_000.0])
    margins = np.asarray(f.maintenance_margin_for_tiers(notionals, CAPS, MMRS, CUMS))
    assert margins.tolist() == pytest.approx([199.99996, 200.0], abs=CENT)


def test_tier_tables_must_be_consistent() -> None:
    """Mismatched or unsorted tier tables are rejected instead of silently mispriced."""
    with pytest.raises(ValueError, match="same length"):
        f.maintenance_margin_for_tiers(1.0, CAPS, MMRS[:2], CUMS)
    with pytest.raises(ValueError, match="increase"):
        f.maintenance_margin_for_tiers(1.0, (2.0, 1.0), (0.1, 0.2), (0.0, 0.1))


# --- margin ratio and buffer -----------------------------------------------------------------


def test_margin_ratio_and_buffer() -> None:
    """Margin ratio MM / MB, buffer MB - MM and its fraction of MB."""
    # 120 / 3000 = 0.04; 3000 - 120 = 2880; 2880 / 3000 = 0.96
    assert f.margin_ratio(120.0, 3_000.0) == pytest.approx(0.04, rel=RATIO)
    assert f.margin_buffer(3_000.0, 120.0) == pytest.approx(2_880.0, abs=CENT)
    assert f.margin_buffer_fraction(3_000.0, 120.0) == pytest.approx(0.96, rel=RATIO)


def test_margin_ratio_with_no_margin_balance() -> None:
    """A non-positive margin balance is liquidated (ratio inf) and has no buffer fraction."""
    assert f.margin_ratio(120.0, 0.0) == math.inf
    assert f.margin_ratio(120.0, -5.0) == math.inf
    assert math.isnan(f.margin_buffer_fraction(0.0, 120.0))
    assert math.isnan(f.margin_buffer_fraction(-5.0, 120.0))


def test_initial_margin() -> None:
    """Initial margin is notional / leverage; undefined for leverage 0."""
    # the seed's hedge at 10x: 90000 / 10 = 9000
    assert f.initial_margin(90_000.0, 10.0) == pytest.approx(9_000.0, abs=CENT)
    assert math.isnan(f.initial_margin(90_000.0, 0.0))


# --- liquidation -----------------------------------------------------------------------------


def test_liquidation_price_isolated_short_reference_example() -> None:
    """Short 0.5 BTC at 60000, WB 3000, MMR 0.004: LP = 33000 / 0.502 = 65737.05."""
    # (3000 + 0 - (-1) * 0.5 * 60000) / (0.5 * 0.004 - (-1) * 0.5) = 33000 / 0.502
    price = f.liquidation_price_linear(-1.0, 0.5, 60_000.0, 3_000.0, 0.004, 0.0)
    assert price == pytest.approx(65_737.05, abs=CENT)
    # at LP: MM = 0.5 * 65737.05 * 0.004 = 131.47; MB = 3000 - 0.5 * 5737.05 = 131.47 -> ratio 1
    maintenance = f.tiered_maintenance_margin(f.linear_notional(0.5, 1.0, price), 0.004, 0.0)
    balance = 3_000.0 + f.linear_pnl(-0.5, 1.0, 60_000.0, price)
    assert maintenance == pytest.approx(131.47, abs=CENT)
    assert f.margin_ratio(maintenance, balance) == pytest.approx(1.0, rel=RATIO)
    # distance: (65737.05 - 60000) / 60000 = 0.0956175
    assert f.liquidation_distance(price, 60_000.0) == pytest.approx(0.0956175, abs=1e-7)


def test_liquidation_price_isolated_long() -> None:
    """Long 0.5 BTC at 60000, WB 3000: LP = (3000 - 30000) / (0.002 - 0.5) = 54216.87."""
    # -27000 / -0.498 = 54216.867
    price = f.liquidation_price_linear(1.0, 0.5, 60_000.0, 3_000.0, 0.004, 0.0)
    assert price == pytest.approx(54_216.87, abs=CENT)
    balance = 3_000.0 + f.linear_pnl(0.5, 1.0, 60_000.0, price)
    maintenance = 0.5 * price * 0.004
    assert f.margin_ratio(maintenance, balance) == pytest.approx(1.0, rel=RATIO)


def test_liquidation_price_none_for_fully_covered_long() -> None:
    """A long whose wallet covers the notional has no liquidation price (NaN, not <= 0)."""
    # (40000 - 30000) / (0.002 - 0.5) = -20080 <= 0 -> NaN
    assert math.isnan(f.liquidation_price_linear(1.0, 0.5, 60_000.0, 40_000.0, 0.004, 0.0))
    # no position, no liquidation price
    assert math.isnan(f.liquidation_price_linear(-1.0, 0.0, 60_000.0, 3_000.0, 0.004, 0.0))


def test_liquidation_price_cross_with_other_positions() -> None:
    """Cross margin: the other positions' MM (TMM1) and UPNL (UPNL1) move the price."""
    # WB 5000, TMM1 100, UPNL1 -400: (5000 - 100 - 400 + 0 + 0.5 * 60000) / 0.502
    # = 34500 / 0.502 = 68725.10
    price = f.liquidation_price_linear(
        -1.0, 0.5, 60_000.0, 5_000.0, 0.004, 0.0,
        other_maintenance_margin=100.0, other_unrealized_pnl=-400.0,
    )
    assert price == pytest.approx(68_725.10, abs=CENT)
    # without the others: 35000 / 0.502 = 69721.12 (the other positions bring liquidation closer)
    alone = f.liquidation_price_linear(-1.0, 0.5, 60_000.0, 5_000.0, 0.004, 0.0)
    assert alone == pytest.approx(69_721.12, abs=CENT)
    # account-wide at LP: MB = 5000 - 400 - 0.5 * (LP - 60000); MM = 100 + 0.5 * LP * 0.004
    balance = 5_000.0 - 400.0 + f.linear_pnl(-0.5, 1.0, 60_000.0, price)
    maintenance = 100.0 + 0.5 * price * 0.004
    assert f.margin_ratio(maintenance, balance) == pytest.approx(1.0, rel=RATIO)


def test_liquidation_price_inverse_short() -> None:
    """Inverse short 90000 USD at 60000 with 0.3 BTC: LP = 90000 * 0.996 / 1.2 = 74700."""
    # Q (MMR + side) / (WB + cum + side Q / EP) = 90000 * (0.004 - 1) / (0.3 - 90000 / 60000)
    # = -89640 / -1.2 = 74700
    price = f.liquidation_price_inverse(-1.0, 90_000.0, 60_000.0, 0.3, 0.004, 0.0)
    assert price == pytest.approx(74_700.0, abs=CENT)
    # at LP, in coin: MB = 0.3 + inverse PnL = 0.3 - 90000 (1/60000 - 1/74700) = 0.0048193
    # MM = 90000 * 0.004 / 74700 = 0.0048193 -> ratio 1
    balance = 0.3 + f.inverse_pnl_coin(-900.0, 100.0, 60_000.0, price)
    maintenance = 90_000.0 * 0.004 / price
    assert balance == pytest.approx(0.0048193, abs=1e-7)
    assert f.margin_ratio(maintenance, balance) == pytest.approx(1.0, rel=RATIO)


def test_liquidation_price_inverse_long_and_collateralised_short() -> None:
    """Inverse long has a price below entry; a 1x coin-collateralised short has none."""
    # long: 90000 * 1.004 / (0.3 + 1.5) = 90360 / 1.8 = 50200
    price = f.liquidation_price_inverse(1.0, 90_000.0, 60_000.0, 0.3, 0.004, 0.0)
    assert price == pytest.approx(50_200.0, abs=CENT)
    balance = 0.3 + f.inverse_pnl_coin(900.0, 100.0, 60_000.0, price)
    assert f.margin_ratio(90_000.0 * 0.004 / price, balance) == pytest.approx(1.0, rel=RATIO)
    # short with 1.5 BTC = 90000 / 60000: denominator 1.5 - 1.5 = 0 -> never liquidated
    assert math.isnan(f.liquidation_price_inverse(-1.0, 90_000.0, 60_000.0, 1.5, 0.004, 0.0))
    # over-collateralised (2 BTC): -89640 / 0.5 < 0 -> none
    assert math.isnan(f.liquidation_price_inverse(-1.0, 90_000.0, 60_000.0, 2.0, 0.004, 0.0))


def test_liquidation_price_tiered_short_moves_up_a_tier() -> None:
    """Short 0.8 BTC at 60000 (tier 1 at entry) is liquidated in tier 2: 52050 / 0.804."""
    # tier 1 guess: (4000 + 48000) / (0.8 * 1.004) = 64741.03 -> notional 51792.8 >= 50000
    # tier 2: (4000 + 50 + 48000) / (0.8 * 1.005) = 52050 / 0.804 = 64738.81 -> 51791.04, tier 2
    price = f.liquidation_price_linear_tiered(-1.0, 0.8, 60_000.0, 4_000.0, CAPS, MMRS, CUMS)
    assert price == pytest.approx(64_738.81, abs=CENT)
    assert f.tier_index(0.8 * price, CAPS) == 1
    maintenance = f.maintenance_margin_for_tiers(0.8 * price, CAPS, MMRS, CUMS)
    balance = 4_000.0 + f.linear_pnl(-0.8, 1.0, 60_000.0, price)
    assert f.margin_ratio(maintenance, balance) == pytest.approx(1.0, rel=RATIO)


def test_liquidation_price_tiered_long_moves_down_a_tier() -> None:
    """Long 1 BTC at 60000 (tier 2 at entry) is liquidated in tier 1: 45000 / 0.996."""
    # tier 2 guess: (15000 + 50 - 60000) / (0.005 - 1) = 45175.88 -> below 50000 -> tier 1
    # tier 1: (15000 - 60000) / (0.004 - 1) = 45180.72
    price = f.liquidation_price_linear_tiered(1.0, 1.0, 60_000.0, 15_000.0, CAPS, MMRS, CUMS)
    assert price == pytest.approx(45_180.72, abs=CENT)
    maintenance = f.maintenance_margin_for_tiers(price, CAPS, MMRS, CUMS)
    balance = 15_000.0 + f.linear_pnl(1.0, 1.0, 60_000.0, price)
    assert f.margin_ratio(maintenance, balance) == pytest.approx(1.0, rel=RATIO)


def test_liquidation_price_tiered_exactly_on_a_boundary() -> None:
    """A liquidation notional exactly on a tier cap is found from either side of it."""
    # short 1 BTC at 45000, WB 5200: tier 1 (5200 + 45000) / 1.004 = 50000;
    # tier 2 (5200 + 50 + 45000) / 1.005 = 50000 -> both tiers agree on 50000
    price = f.liquidation_price_linear_tiered(-1.0, 1.0, 45_000.0, 5_200.0, CAPS, MMRS, CUMS)
    assert price == pytest.approx(50_000.0, abs=CENT)
    # MM = 200 at 50000; MB = 5200 - (50000 - 45000) = 200
    maintenance = f.maintenance_margin_for_tiers(price, CAPS, MMRS, CUMS)
    balance = 5_200.0 + f.linear_pnl(-1.0, 1.0, 45_000.0, price)
    assert f.margin_ratio(maintenance, balance) == pytest.approx(1.0, rel=1e-6)


def test_liquidation_price_tiered_cross_and_none() -> None:
    """The tiered solver passes TMM1/UPNL1 through and returns NaN without a solution."""
    # one tier (0.004, cum 0) reduces to the cross example: 34500 / 0.502 = 68725.10
    price = f.liquidation_price_linear_tiered(
        -1.0, 0.5, 60_000.0, 5_000.0, (1e12,), (0.004,), (0.0,), 100.0, -400.0
    )
    assert price == pytest.approx(68_725.10, abs=CENT)
    # fully covered long: no positive price in any tier
    assert math.isnan(
        f.liquidation_price_linear_tiered(1.0, 0.5, 60_000.0, 40_000.0, CAPS, MMRS, CUMS)
    )


def test_is_liquidated_at() -> None:
    """Longs are liquidated at or below LP, shorts at or above; no LP never liquidates."""
    assert f.is_liquidated_at(-1.0, 66_000.0, 65_737.05) is True
    assert f.is_liquidated_at(-1.0, 63_000.0, 65_737.05) is False
    assert f.is_liquidated_at(1.0, 54_000.0, 54_216.87) is True
    assert f.is_liquidated_at(1.0, 57_000.0, 54_216.87) is False
    assert f.is_liquidated_at(-1.0, 1e9, math.nan) is False


def test_liquidation_distance_propagates_nan() -> None:
    """No liquidation price means no distance (NaN), not 0."""
    assert math.isnan(f.liquidation_distance(math.nan, 60_000.0))


# --- funding, fees, basis --------------------------------------------------------------------


def test_funding_sign_for_shorts() -> None:
    """Shorts receive funding when the rate is positive and pay when it is negative."""
    # -(-150) * 0.01 * 60000 * 0.0001 = 90000 * 0.0001 = +9 received
    assert f.funding_payment_linear(-150.0, 0.01, 60_000.0, 0.0001) == pytest.approx(
        9.0, abs=1e-9
    )
    # -(-150) * 0.01 * 60000 * -0.0001 = -9 paid
    assert f.funding_payment_linear(-150.0, 0.01, 60_000.0, -0.0001) == pytest.approx(
        -9.0, abs=1e-9
    )
    # a long pays at a positive rate: -150 * 0.01 * 60000 * 0.0001 = -9
    assert f.funding_payment_linear(150.0, 0.01, 60_000.0, 0.0001) == pytest.approx(
        -9.0, abs=1e-9
    )
    # inverse short: -(-900) * 100 * 0.0001 = +9 USD
    assert f.funding_payment_inverse(-900.0, 100.0, 0.0001) == pytest.approx(9.0, abs=1e-9)
    assert f.funding_payment_inverse(-900.0, 100.0, -0.0001) == pytest.approx(-9.0, abs=1e-9)


def test_fee() -> None:
    """A fill's fee is notional * rate."""
    # taker 0.05 % on the seed's 90000 notional: 90000 * 0.0005 = 45
    assert f.fee(90_000.0, 0.0005) == pytest.approx(45.0, abs=1e-9)


def test_basis_and_annualised_basis() -> None:
    """Basis is (P - S) / S; a dated future's is annualised over the days to expiry."""
    # (60060 - 60000) / 60000 = 0.001 = 10 bps
    assert f.basis(60_060.0, 60_000.0) == pytest.approx(0.001, rel=RATIO)
    assert f.basis_bps(60_060.0, 60_000.0) == pytest.approx(10.0, rel=RATIO)
    # (61000 / 60000 - 1) * 365 / 30 = (1/60) * 365 / 30 = 0.2027778
    assert f.annualized_basis(61_000.0, 60_000.0, 30.0) == pytest.approx(
        365.0 / 1_800.0, rel=RATIO
    )
    assert math.isnan(f.annualized_basis(61_000.0, 60_000.0, 0.0))
    assert math.isnan(f.annualized_basis(61_000.0, 60_000.0, -1.0))
    assert math.isnan(f.basis(60_060.0, 0.0))


# --- hedge effectiveness ---------------------------------------------------------------------


def test_dollar_offset_defined_above_minimum_move() -> None:
    """Dollar offset is -dF / dS once |dS| reaches 0.5 % of the exposure."""
    # -(8100) / (-9000) = 0.9
    assert f.dollar_offset(8_100.0, -9_000.0, 90_000.0) == pytest.approx(0.9, rel=RATIO)
    # exactly at the threshold 0.005 * 90000 = 450: -(450) / (-450) = 1.0
    assert f.dollar_offset(450.0, -450.0, 90_000.0) == pytest.approx(1.0, rel=RATIO)


def test_dollar_offset_small_denominator_is_undefined() -> None:
    """Below 0.5 % of exposure the dollar offset is NaN, never 0 or inf."""
    # |dS| = 400 < 450
    assert math.isnan(f.dollar_offset(380.0, -400.0, 90_000.0))
    # |dS| = 449.99 < 450
    assert math.isnan(f.dollar_offset(450.0, -449.99, 90_000.0))
    # no move and no exposure: 0 / 0 would be undefined
    assert math.isnan(f.dollar_offset(0.0, 0.0, 0.0))
    # a custom threshold 0.1 % of 90000 = 90 makes dS = -400 usable: 380 / 400 = 0.95
    assert f.dollar_offset(380.0, -400.0, 90_000.0, 0.001) == pytest.approx(0.95, rel=RATIO)


def test_effective_dollar_offset_band() -> None:
    """80-125 % is effective, inclusive at both ends; NaN is not effective."""
    assert f.effective_dollar_offset(0.80) is True
    assert f.effective_dollar_offset(1.25) is True
    assert f.effective_dollar_offset(0.9) is True
    assert f.effective_dollar_offset(0.79) is False
    assert f.effective_dollar_offset(1.26) is False
    assert f.effective_dollar_offset(math.nan) is False


def test_perfect_hedge_regression_and_variance_reduction() -> None:
    """dF = -dS exactly: slope -1, R² 1, variance reduction 1."""
    spot = np.array([100.0, -250.0, 40.0, 310.0, -75.0])
    hedge = -spot
    slope, r_squared = f.regression_slope_r2(spot, hedge)
    # Cov(dS, -dS) / Var(dS) = -1; R² = 1
    assert slope == pytest.approx(-1.0, rel=RATIO)
    assert r_squared == pytest.approx(1.0, rel=RATIO)
    # Var(dS + dF) = Var(0) = 0 -> 1 - 0 = 1
    assert f.variance_reduction(spot, hedge) == pytest.approx(1.0, rel=RATIO)


def test_noisy_hedge_regression_and_variance_reduction() -> None:
    """A hand-computed noisy hedge: slope -0.8, R² 0.64, variance reduction 0.6."""
    spot = [1.0, 2.0, 3.0, 4.0]
    hedge = [-1.0, -3.0, -2.0, -4.0]
    # means 2.5 and -2.5; deviations dS (-1.5, -0.5, 0.5, 1.5), dF (1.5, -0.5, 0.5, -1.5)
    # Sxy = -2.25 + 0.25 + 0.25 - 2.25 = -4; Sxx = Syy = 5
    # slope = -4 / 5 = -0.8; R² = 16 / 25 = 0.64
    slope, r_squared = f.regression_slope_r2(spot, hedge)
    assert slope == pytest.approx(-0.8, rel=RATIO)
    assert r_squared == pytest.approx(0.64, rel=RATIO)
    # dS + dF = (0, -1, 1, 0): Var = 2/3; Var(dS) = 5/3 -> 1 - (2/3) / (5/3) = 0.6
    assert f.variance_reduction(spot, hedge) == pytest.approx(0.6, rel=RATIO)


def test_over_hedge_has_no_variance_reduction() -> None:
    """dF = -2 dS leaves dS + dF = -dS: variance reduction 0, slope -2."""
    spot = np.array([1.0, -2.0, 0.5, 3.0])
    slope, _ = f.regression_slope_r2(spot, -2.0 * spot)
    assert slope == pytest.approx(-2.0, rel=RATIO)
    # 1 - Var(-dS) / Var(dS) = 0
    assert f.variance_reduction(spot, -2.0 * spot) == pytest.approx(0.0, abs=1e-12)


def test_effectiveness_undefined_cases() -> None:
    """Too few samples or a constant dS give NaN; a constant dF gives slope 0 and R² NaN."""
    assert all(math.isnan(x) for x in f.regression_slope_r2([1.0], [-1.0]))
    assert all(math.isnan(x) for x in f.regression_slope_r2([2.0, 2.0, 2.0], [1.0, -1.0, 0.0]))
    assert math.isnan(f.variance_reduction([1.0], [-1.0]))
    # 0.1 three times has float-noise variance; still constant
    assert math.isnan(f.variance_reduction([0.1, 0.1, 0.1], [1.0, -1.0, 0.0]))
    slope, r_squared = f.regression_slope_r2([1.0, 2.0, 3.0], [5.0, 5.0, 5.0])
    assert slope == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(r_squared)
    with pytest.raises(ValueError, match="same length"):
        f.variance_reduction([1.0, 2.0], [1.0])


def test_min_variance_ratio_exact_multiple() -> None:
    """rA = 0.8 rB exactly gives h* = 0.8."""
    hedge = np.array([0.01, -0.02, 0.015, 0.03, -0.005])
    # Cov(0.8 rB, rB) / Var(rB) = 0.8
    assert f.min_variance_ratio(0.8 * hedge, hedge) == pytest.approx(0.8, rel=RATIO)


def test_min_variance_ratio_by_hand() -> None:
    """h* = Cov(rA, rB) / Var(rB) on four hand-computed returns is 0.6."""
    hedged = [0.02, 0.01, 0.04, 0.03]
    hedge = [0.01, 0.02, 0.03, 0.04]
    # means 0.025; deviations rA (-0.005, -0.015, 0.015, 0.005), rB (-0.015, -0.005, 0.005, 0.015)
    # Sxy = 7.5e-5 * 4 = 3e-4 (each product 7.5e-5); Syy = 5e-4 -> 3e-4 / 5e-4 = 0.6
    assert f.min_variance_ratio(hedged, hedge) == pytest.approx(0.6, rel=RATIO)


def test_min_variance_ratio_undefined() -> None:
    """Fewer than 2 samples or a constant hedge return series give NaN."""
    assert math.isnan(f.min_variance_ratio([0.01], [0.02]))
    assert math.isnan(f.min_variance_ratio([0.01, 0.02, 0.03], [0.01, 0.01, 0.01]))


# --- stress ----------------------------------------------------------------------------------


def test_stress_short_leg_liquidated_beyond_its_liquidation_price() -> None:
    """Short 0.5 BTC (LP 65737.05, MB 3000): +10 % is liquidated (-3000), +5 % loses 1500."""
    liquidation = f.liquidation_price_linear(-1.0, 0.5, 60_000.0, 3_000.0, 0.004, 0.0)
    # +10 %: 66000 >= 65737.05 -> liquidated, PnL = -margin balance = -3000
    assert f.stress_leg_pnl_linear(-0.5, 1.0, 60_000.0, 66_000.0, liquidation, 3_000.0) == (
        pytest.approx(-3_000.0, abs=CENT)
    )
    # +5 %: -0.5 * (63000 - 60000) = -1500, not liquidated
    assert f.stress_leg_pnl_linear(-0.5, 1.0, 60_000.0, 63_000.0, liquidation, 3_000.0) == (
        pytest.approx(-1_500.0, abs=CENT)
    )


def test_stress_grid_over_an_array_of_shocks() -> None:
    """The stress grid prices all six shocks at once; +10 % and +20 % hit the cap."""
    shocks = np.array([-0.20, -0.10, -0.05, 0.05, 0.10, 0.20])
    shocked = 60_000.0 * (1.0 + shocks)
    pnl = np.asarray(f.stress_leg_pnl_linear(-0.5, 1.0, 60_000.0, shocked, 65_737.05, 3_000.0))
    # -0.5 * (48000, 54000, 57000, 63000) - 60000 = 6000, 3000, 1500, -1500; then -3000 twice
    assert pnl.tolist() == pytest.approx([6_000.0, 3_000.0, 1_500.0, -1_500.0, -3_000.0, -3_000.0])
    liquidated = np.asarray(f.is_liquidated_at(-1.0, shocked, 65_737.05))
    assert liquidated.tolist() == [False, False, False, False, True, True]


def test_stress_grid_of_one_leg_in_one_call() -> None:
    """The same short 0.5 BTC and inverse short as above, each grid priced in one call per leg."""
    shocked = [48_000.0, 54_000.0, 63_000.0, 66_000.0]  # -20 %, -10 %, +5 %, +10 % of 60000
    # linear: -0.5 * (-12000, -6000, +3000) = 6000, 3000, -1500; 66000 >= LP 65737.05 -> -3000
    assert f.stress_grid_linear(-0.5, 1.0, 60_000.0, shocked, 65_737.05, 3_000.0) == pytest.approx(
        [6_000.0, 3_000.0, -1_500.0, -3_000.0], abs=CENT)
    assert f.liquidated_in_grid(-1.0, shocked, 65_737.05) == [False, False, False, True]
    # inverse, LP 74700, MB 18000 USD: -90000 / 60000 = -1.5 USD per USD of price:
    # -1.5 * (-12000, -6000, +3000, +6000) = 18000, 9000, -4500, -9000 (none reaches 74700)
    assert f.stress_grid_inverse(-900.0, 100.0, 60_000.0, 60_000.0, shocked, 74_700.0,
                                 18_000.0) == pytest.approx([18_000.0, 9_000.0, -4_500.0, -9_000.0], abs=CENT)
    # a long leg liquidates below: 48000 <= 50000
    assert f.liquidated_in_grid(1.0, shocked, 50_000.0) == [True, False, False, False]
    assert f.liquidated_in_grid(1.0, shocked, math.nan) == [False] * 4  # no liquidation price


def test_stress_seed_minus_ten_percent() -> None:
    """Seed: -10 % gives spot -9000, hedge +9000, net 0 (no liquidation price for the hedge)."""
    # spot 1.5 * (54000 - 60000) = -9000; hedge -150 * 0.01 * (54000 - 60000) = +9000
    spot = f.linear_pnl(1.5, 1.0, 60_000.0, 54_000.0)
    hedge = f.stress_leg_pnl_linear(-150.0, 0.01, 60_000.0, 54_000.0, math.nan, 1_000.0)
    assert hedge == pytest.approx(9_000.0, abs=CENT)
    assert spot + hedge == pytest.approx(0.0, abs=CENT)


def test_stress_inverse_leg() -> None:
    """Inverse short 90000 USD from 60000 (LP 74700, MB 18000 USD): value change q cv (P' - P) / EP."""
    # at the entry, +10 %: -90000 * (66000 - 60000) / 60000 = -9000
    assert f.stress_leg_pnl_inverse(-900.0, 100.0, 60_000.0, 60_000.0, 66_000.0, 74_700.0,
                                    18_000.0) == pytest.approx(-9_000.0, abs=CENT)
    # -20 %: -90000 * (48000 - 60000) / 60000 = +18000
    assert f.stress_leg_pnl_inverse(-900.0, 100.0, 60_000.0, 60_000.0, 48_000.0, 74_700.0,
                                    18_000.0) == pytest.approx(18_000.0, abs=CENT)
    # +30 %: 78000 >= 74700 -> liquidated, -18000
    assert f.stress_leg_pnl_inverse(-900.0, 100.0, 60_000.0, 60_000.0, 78_000.0, 74_700.0,
                                    18_000.0) == pytest.approx(-18_000.0, abs=CENT)


def test_stress_inverse_leg_after_a_move_still_offsets_the_spot() -> None:
    """From a mark of 54000 the short's change per dollar is still 1.5 BTC, as the spot's is."""
    # issue defect 4: 1.5 BTC spot, short 900 x 100 from 60000, mark 54000, shock +10 % -> 59400:
    # hedge -90000 * (59400 - 54000) / 60000 = -8100; spot 1.5 * 5400 = +8100; net 0
    hedge = f.stress_leg_pnl_inverse(-900.0, 100.0, 60_000.0, 54_000.0, 59_400.0, math.nan,
                                     math.inf)
    assert hedge == pytest.approx(-8_100.0, abs=CENT)
    assert hedge + 1.5 * (59_400.0 - 54_000.0) == pytest.approx(0.0, abs=CENT)


# --- lifecycle -------------------------------------------------------------------------------


def test_time_left_seconds() -> None:
    """Time left is (expiry - now) / 1000 s, never negative."""
    expiry = 7 * 86_400_000
    # one hour before expiry: 3600000 / 1000 = 3600
    assert f.time_left_seconds(expiry, expiry - 3_600_000) == pytest.approx(3_600.0, abs=1e-9)
    assert f.time_left_seconds(expiry, expiry + 1) == 0.0


def test_opportunity_cost() -> None:
    """The hedge's loss while the price rises is the upside given up; a gain costs nothing."""
    # max(0, -(-9000)) = 9000; max(0, -9000) = 0
    assert f.opportunity_cost_usd(-9_000.0) == pytest.approx(9_000.0, abs=CENT)
    assert f.opportunity_cost_usd(9_000.0) == 0.0


# --- result types ----------------------------------------------------------------------------


def test_scalar_inputs_give_builtin_numbers() -> None:
    """Scalar calls return built-in float/bool/int (JSON-safe), arrays return arrays."""
    assert type(f.linear_pnl(1.0, 1.0, 1.0, 2.0)) is float
    assert type(f.margin_ratio(1.0, 0.0)) is float
    assert type(f.is_liquidated_at(-1.0, 2.0, 1.0)) is bool
    assert type(f.effective_dollar_offset(1.0)) is bool
    assert type(f.tier_index(1.0, CAPS)) is int
    assert type(f.maintenance_margin_for_tiers(1.0, CAPS, MMRS, CUMS)) is float
    assert isinstance(f.linear_pnl(np.array([1.0]), 1.0, 1.0, 2.0), np.ndarray)
