"""Venue margin models against each venue's documented worked examples, and their invariants.

Every expected figure is the venue's published result or a hand calculation from the venue's
formula, written out in the comment beside it; docs/risk-model.md cites the pages.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.domain.instruments import Instrument, MarginTier, default_catalog, tiers_with_cum
from monitor.domain.margin import (
    BinanceMargin,
    BybitMargin,
    MarginLeg,
    MarginModel,
    MexcMargin,
    OkxMargin,
    margin_model_for,
)

CENT = 0.005
CATALOG = default_catalog()
BINANCE = BinanceMargin()
OKX = OkxMargin()
BYBIT = BybitMargin()
MEXC = MexcMargin()

# Binance USDⓈ-M brackets of the liquidation FAQ's cross example (floor, cap, MMR, max leverage);
# cum follows: BTC 1M-10M: 1,000,000 x (2.5 % - 1 %) + 1,300 = 16,300; ETH 2M-5M:
# 2,000,000 x (10 % - 5 %) + 35,365 = 135,365.
BTC_BRACKETS = tiers_with_cum([(0, 50_000, 0.004, 125), (50_000, 250_000, 0.005, 100),
                               (250_000, 1_000_000, 0.01, 50), (1_000_000, 10_000_000, 0.025, 20),
                               (10_000_000, 20_000_000, 0.05, 10)])
ETH_BRACKETS = tiers_with_cum([(0, 10_000, 0.005, 100), (10_000, 100_000, 0.0065, 75),
                               (100_000, 500_000, 0.01, 50), (500_000, 1_000_000, 0.02, 25),
                               (1_000_000, 2_000_000, 0.05, 10), (2_000_000, 5_000_000, 0.1, 5)])


def _linear(instrument_id: str, tiers: tuple[MarginTier, ...], contract_size: float = 1.0) -> Instrument:
    return Instrument(id=instrument_id, kind="linear", base=instrument_id.split(":")[1][:3],
                      quote="USDT", settle="USDT", contract_size=contract_size,
                      tiers=tiers)


def test_binance_brackets_carry_the_documented_maintenance_amounts() -> None:
    """cum_n = floor_n x (MMR_n - MMR_n-1) + cum_n-1 gives Binance's published amounts."""
    # 250,000 x (1 % - 0.5 %) + 50 = 1,300 (Binance "Leverage and Margin" bracket table)
    assert BTC_BRACKETS[2].cum == pytest.approx(1_300.0)
    assert BTC_BRACKETS[3].cum == pytest.approx(16_300.0)
    assert ETH_BRACKETS[5].cum == pytest.approx(135_365.0)


def test_binance_isolated_short_liquidation() -> None:
    """Isolated short 0.5 BTC @60000, wallet 3000, MMR 0.4 %, cum 0 -> 65,737.05."""
    # LP = (WB + cum - side Q EP) / (Q MMR - side Q) = (3000 + 0 + 30000) / (0.002 + 0.5)
    #    = 33000 / 0.502 = 65737.05 (risk-definitions.md "Margin"; notional 32,868 < 50,000)
    leg = MarginLeg(CATALOG.require("binance:BTCUSDT"), -0.5, 60_000.0)
    assert BINANCE.liquidation_price([leg], 3_000.0) == pytest.approx(65_737.05, abs=CENT)


def test_binance_cross_example_from_the_liquidation_faq() -> None:
    """Binance's cross example: WB 1,535,443.01, long BTC and long ETH -> LP 26,316.89 and 1,153.26."""
    btc = _linear("binance:BTCUSDT", BTC_BRACKETS)
    eth = _linear("binance:ETHUSDT", ETH_BRACKETS)
    wallet = 1_535_443.01
    btc_leg = MarginLeg(btc, 109.488, 32_481.98)
    eth_leg = MarginLeg(eth, 3_683.979, 1_456.84)
    # at the marks: BTC 109.488 x 31967.27 = 3,500,032.46 -> MM x 2.5 % - 16,300 = 71,200.81,
    # uPnL 109.488 x (31967.27 - 32481.98) = -56,354.57; ETH 3683.979 x 1335.18 x 10 % - 135,365
    # = 356,512.51, uPnL 3683.979 x (1335.18 - 1456.84) = -448,192.89
    btc_mm = BINANCE.maintenance_margin(btc_leg, 31_967.27)
    eth_mm = BINANCE.maintenance_margin(eth_leg, 1_335.18)
    assert btc_mm == pytest.approx(71_200.81, abs=0.01)
    assert eth_mm == pytest.approx(356_512.51, abs=0.01)
    btc_upnl = btc.pnl_settlement(109.488, 32_481.98, 31_967.27)
    eth_upnl = eth.pnl_settlement(3_683.979, 1_456.84, 1_335.18)
    # ETH: (WB - TMM1 + UPNL1 + cum - Q EP) / (Q MMR - Q)
    #    = (1535443.01 - 71200.81 - 56354.57 + 135365 - 5366967.97) / (368.3979 - 3683.979)
    #    = 1,153.26 (Binance's published result)
    assert BINANCE.liquidation_price([eth_leg], wallet - btc_mm + btc_upnl) == pytest.approx(
        1_153.26, abs=CENT)
    # BTC: (1535443.01 - 356512.51 - 448192.89 + 16300 - 3556387.03) / (2.73720 - 109.488)
    #    = 26,316.89 (Binance's published result)
    assert BINANCE.liquidation_price([btc_leg], wallet - eth_mm + eth_upnl) == pytest.approx(
        26_316.89, abs=CENT)


def test_binance_hedge_mode_legs_have_their_own_isolated_liquidation() -> None:
    """ACCOUNT_UPDATE's LONG 20 @6563.66 (iw 13200.71) and SHORT 10 @6563.86 (iw 6570.43)."""
    btc = CATALOG.require("binance:BTCUSDT")
    # SHORT: notional at LP ~71,900 is in the 50k-500k bracket (0.5 %, cum 50):
    # (6570.43 + 50 + 10 x 6563.86) / (10 x 0.005 + 10) = 72259.03 / 10.05 = 7,189.95 (+9.5 %)
    short = BINANCE.liquidation_price([MarginLeg(btc, -10.0, 6_563.86)], 6_570.43)
    assert short == pytest.approx(7_189.95, abs=CENT)
    # LONG: notional at LP ~118,600, same bracket:
    # (13200.71 + 50 - 20 x 6563.66) / (20 x 0.005 - 20) = -118022.49 / -19.9 = 5,930.78
    long = BINANCE.liquidation_price([MarginLeg(btc, 20.0, 6_563.66)], 13_200.71)
    assert long == pytest.approx(5_930.78, abs=CENT)


def test_binance_cross_hedge_mode_solves_both_legs_of_the_symbol_together() -> None:
    """Cross: (WB + cumL + cumS - QL EPL + QS EPS) / (QL MMRL + QS MMRS - QL + QS)."""
    btc = CATALOG.require("binance:BTCUSDT")
    legs = [MarginLeg(btc, 20.0, 6_563.66), MarginLeg(btc, -10.0, 6_563.86)]
    # wallet 10,000; at LP ~5,638 the legs' notionals (112,760 and 56,380) are both in the
    # 50k-500k bracket (0.5 %, cum 50 each):
    # (10000 + 50 + 50 - 20 x 6563.66 + 10 x 6563.86) / (20 x 0.005 + 10 x 0.005 - 20 + 10)
    # = (10100 - 131273.2 + 65638.6) / (0.15 - 10) = -55534.6 / -9.85 = 5,638.03
    assert BINANCE.liquidation_price(legs, 10_000.0) == pytest.approx(5_638.03, abs=CENT)


def test_okx_charges_the_whole_position_at_its_tier_rate() -> None:
    """OKX BTC-USDT-SWAP at 6M USDT (10,000 contracts at 60,000) in the 1 % tier: MM 60,000."""
    swap = CATALOG.require("okx:BTC-USDT-SWAP")
    leg = MarginLeg(swap, -10_000.0, 60_000.0)
    # 10,000 x 0.01 x 60,000 = 6,000,000 USDT x 1 % = 60,000; no deduction (OKX "Tiered
    # maintenance margin ratio rules"); Binance's rule would give 6M x 1 % - cum.
    assert OKX.maintenance_margin(leg, 60_000.0) == pytest.approx(60_000.0, abs=CENT)
    # the tier is counted in contracts, so the same 10,000 contracts stay at 1 % at any price
    assert OKX.maintenance_margin(leg, 30_000.0) == pytest.approx(30_000.0, abs=CENT)


def test_okx_inverse_liquidation_has_no_deduction_and_counts_the_fee() -> None:
    """OKX BTC-USD-SWAP short 900 x 100 USD from 60000 on 0.15 BTC: LP = Q (MMR + fee - 1) / (W - Q/EP)."""
    swap = CATALOG.require("okx:BTC-USD-SWAP")
    # OKX liquidates at "maintenance margin plus any applicable liquidation fees" (taker 0.05 %):
    # 90000 x (0.004 + 0.0005 - 1) / (0.15 - 90000 / 60000) = -89595 / -1.35 = 66,366.67
    leg = MarginLeg(swap, -900.0, 60_000.0)
    assert OKX.liquidation_price([leg], 0.15) == pytest.approx(66_366.67, abs=CENT)
    # the maintenance margin itself excludes the fee: at 66,366.67 it is 90000 / 66366.67 x 0.4 %
    assert OKX.maintenance_margin(leg, 66_366.67) == pytest.approx(90_000 / 66_366.67 * 0.004)


def test_bybit_isolated_linear_example_one() -> None:
    """Bybit: long 1 BTC @20,000 at 50x, MMR 0.5 % -> 19,700 (the project's old rule: 19,698.49)."""
    btc = CATALOG.require("bybit:BTCUSDT")
    # IM = 20000 / 50 = 400, MM = 20000 x 0.5 % = 100 at entry; LP = 20000 - (400 - 100) / 1
    assert BYBIT.liquidation_price([MarginLeg(btc, 1.0, 20_000.0)], 400.0) == pytest.approx(
        19_700.0, abs=CENT)
    # the short mirror (arithmetic from the same formula): 20000 + (400 - 100) / 1 = 20,300
    assert BYBIT.liquidation_price([MarginLeg(btc, -1.0, 20_000.0)], 400.0) == pytest.approx(
        20_300.0, abs=CENT)


def test_bybit_uses_the_risk_limit_the_position_carries() -> None:
    """A position carrying the 2,600,000 risk limit is charged that tier, whatever its value."""
    btc = CATALOG.require("bybit:BTCUSDT")
    # 95 BTC @20,000 = 1,900,000: tier 1 by value (0.5 %): MM = 1,900,000 x 0.5 % = 9,500
    by_value = MarginLeg(btc, 95.0, 20_000.0)
    assert BYBIT.maintenance_margin(by_value, 20_000.0) == pytest.approx(9_500.0, abs=CENT)
    # carrying riskLimitValue 2,600,000 (tier 2: MMR 0.56 %, deduction 2,000,000 x 0.06 % = 1,200):
    # MM = 1,900,000 x 0.56 % - 1,200 = 10,640 - 1,200 = 9,440
    carried = MarginLeg(btc, 95.0, 20_000.0, risk_limit_value=2_600_000.0)
    assert BYBIT.maintenance_margin(carried, 20_000.0) == pytest.approx(9_440.0, abs=CENT)
    # 110 BTC = 2,200,000 in tier 2 carried at tier 2: 2,200,000 x 0.56 % - 1,200 = 11,120
    inside = MarginLeg(btc, 110.0, 20_000.0, risk_limit_value=2_600_000.0)
    assert BYBIT.maintenance_margin(inside, 25_000.0) == pytest.approx(11_120.0, abs=CENT)


def test_bybit_inverse_isolated_by_the_documented_formula() -> None:
    """Bybit inverse isolated: long LP = Q / (PV + IM - MM), PV = Q / EP (help page, 2024 copy)."""
    inverse = Instrument(id="bybit:BTCUSD", kind="inverse", base="BTC", quote="USD", settle="BTC",
                         contract_value=1.0, tiers=tiers_with_cum([(0, 150, 0.005, 100)]))
    # 60,000 USD @ 50,000, 10x: PV = 1.2 BTC, IM = 0.12, MM = 1.2 x 0.5 % = 0.006
    # long: 60000 / (1.2 + 0.12 - 0.006) = 60000 / 1.314 = 45,662.10
    long = BYBIT.liquidation_price([MarginLeg(inverse, 60_000.0, 50_000.0)], 0.12)
    assert long == pytest.approx(45_662.10, abs=CENT)
    # short: 60000 / (1.2 - 0.12 + 0.006) = 60000 / 1.086 = 55,248.62
    short = BYBIT.liquidation_price([MarginLeg(inverse, -60_000.0, 50_000.0)], 0.12)
    assert short == pytest.approx(55_248.62, abs=CENT)


def test_mexc_isolated_example() -> None:
    """MEXC: 0.1 BTC long @50,000 at 25x, MMR 0.4 % -> LP 48,200 (commission excluded)."""
    btc = Instrument(id="mexc:BTC_USDT", kind="linear", base="BTC", quote="USDT", settle="USDT",
                     contract_size=0.0001, tiers=tiers_with_cum([(0, 1_000_000, 0.004, 125)]))
    # 1,000 contracts x 0.0001 = 0.1 BTC; MM = 5000 x 0.4 % = 20; PM = 5000 / 25 = 200
    # LP = (MM - PM + EP x size) / size = (20 - 200 + 5000) / 0.1 = 48,200
    assert MEXC.liquidation_price([MarginLeg(btc, 1_000.0, 50_000.0)], 200.0) == pytest.approx(
        48_200.0, abs=CENT)


def test_bingx_adds_the_closing_fee_to_the_requirement() -> None:
    """BingX: risk = (MM + closing fee) / (margin + uPnL) = 100 % at the liquidation price."""
    btc = CATALOG.require("bingx:BTC-USDT")
    # long 1 BTC @60,000 at 10x: wallet 6,000; at LP ~54,000 the notional is in tier 1
    # (0.38 %, amount 0) and the closing fee is the 0.05 % taker rate:
    # LP = (6000 + 0 - 60000) / (0.0038 + 0.0005 - 1) = -54000 / -0.9957 = 54,233.20
    assert margin_model_for(btc).liquidation_price([MarginLeg(btc, 1.0, 60_000.0)], 6_000.0) == (
        pytest.approx(54_233.20, abs=CENT))


def test_models_are_chosen_by_venue() -> None:
    """Each venue's instrument gets its venue's model; a venue without one gets Binance's rule."""
    assert margin_model_for(CATALOG.require("okx:BTC-USDT-SWAP")).name == "okx"
    assert margin_model_for(CATALOG.require("bybit:BTCUSDT")).name == "bybit"
    assert margin_model_for(CATALOG.require("binance:BTCUSDT")).name == "binance"
    assert margin_model_for(CATALOG.require("mexc:BTC_USDT")).name == "mexc"
    assert margin_model_for(CATALOG.require("bingx:BTC-USDT")).name == "bingx"
    assert margin_model_for(CATALOG.require("weex:BTCUSDT")).name == "weex"
    assert margin_model_for(CATALOG.require("deribit:BTC-PERPETUAL")).name == "deribit"
    assert margin_model_for(CATALOG.require("binance-coinm:BTCUSD_PERP")).name == "binance"


def test_no_tiers_no_figure() -> None:
    """Without a tier table nothing is computed: unknown, never a safe-looking number."""
    plain = CATALOG.require("coinbase:BIT")
    leg = MarginLeg(plain, -150.0, 60_000.0)
    assert math.isnan(BINANCE.maintenance_margin(leg, 60_000.0))
    assert math.isnan(BINANCE.liquidation_price([leg], 9_000.0))


# -- invariants --------------------------------------------------------------------------------

MODELS: list[tuple[MarginModel, str]] = [
    (BINANCE, "binance:BTCUSDT"), (OKX, "okx:BTC-USDT-SWAP"), (BYBIT, "bybit:BTCUSDT"),
    (OKX, "okx:BTC-USD-SWAP"), (BINANCE, "deribit:BTC-PERPETUAL"),
    (margin_model_for(CATALOG.require("bingx:BTC-USDT")), "bingx:BTC-USDT"),
    (MEXC, "mexc:BTC_USDT"), (margin_model_for(CATALOG.require("weex:BTCUSDT")), "weex:BTCUSDT"),
    (margin_model_for(CATALOG.require("hyperliquid:BTC")), "hyperliquid:BTC"),
]
model_cases = st.sampled_from(MODELS)
entries = st.floats(1_000.0, 100_000.0)
leverages = st.floats(1.5, 50.0)
sizes = st.floats(1.0, 5_000.0)
sides = st.sampled_from([1.0, -1.0])


@given(case=model_cases, entry=entries, leverage=leverages, size=sizes, side=sides)
def test_at_the_liquidation_price_margin_balance_equals_maintenance_margin(
    case: tuple[MarginModel, str], entry: float, leverage: float, size: float, side: float,
) -> None:
    """For every model and side: wallet + PnL(LP) = the venue's requirement at LP (MM, + fee on OKX)."""
    model, instrument_id = case
    instrument = CATALOG.require(instrument_id)
    quantity = side * size
    leg = MarginLeg(instrument, quantity, entry)
    wallet = instrument.settlement_notional(quantity, entry) / leverage
    price = model.liquidation_price([leg], wallet)
    if math.isnan(price):
        return  # no liquidation (a fully collateralised inverse short, say)
    balance = wallet + instrument.pnl_settlement(quantity, entry, price)
    requirement = model.liquidation_requirement(leg, price)
    assert balance == pytest.approx(requirement, rel=1e-7, abs=1e-9 * wallet)
