"""The simulator's venue margin rules against the venues' documented worked examples.

Every expected value is worked by hand from the venue's page (the calculation in the comment),
never taken from the code's output.
"""

from __future__ import annotations

import random

import pytest

from monitor.domain.instruments import default_catalog
from monitor.sim.margin import (
    AccountBook,
    BinanceCoinmRule,
    BinanceUsdmRule,
    BybitRule,
    ContractTerms,
    LegState,
    MexcRule,
    OkxRule,
    PositionSide,
    RiskUnit,
    WeexRule,
)
from monitor.sim.terms import (
    BINANCE_BTCUSDT_2021,
    BINANCE_COINM_BTCUSD,
    OKX_TIERS,
    RiskLimit,
    bracket_for,
    brackets_with_cum,
    size_tiers,
)
from monitor.sim.world import SimWorld

NOW_MS = 1_700_000_000_000
USDT = ContractTerms("linear", 1.0, "USDT")


def _world() -> SimWorld:
    return SimWorld(default_catalog(), random.Random(5), lambda: NOW_MS)


def _leg(
    quantity: float,
    entry: float,
    *,
    wallet: float = 0.0,
    mode: str = "isolated",
    side: PositionSide = "one_way",
    symbol: str = "BTCUSDT",
    leverage: float = 10.0,
    terms: ContractTerms = USDT,
) -> LegState:
    return LegState(symbol, side, quantity, entry, leverage, mode, wallet, terms)


def _flat_brackets(mmr: float) -> BinanceUsdmRule:
    return BinanceUsdmRule(lambda _symbol: brackets_with_cum([(0, 1e12, mmr, 125)]))


# -- Binance USDⓈ-M --------------------------------------------------------------------------------


def test_binance_maintenance_amount_follows_the_faq_example() -> None:
    """FAQ: maintenance amount of level 3 = 250,000 * (1% - 0.5%) + 50 = 1,300; 264,000 USDT is 1 %."""
    level_3 = BINANCE_BTCUSDT_2021[2]
    # level 2: 50,000 * (0.5% - 0.4%) + 0 = 50; level 3: 250,000 * 0.5% + 50 = 1,300
    assert BINANCE_BTCUSDT_2021[1].cum == pytest.approx(50.0)
    assert level_3.cum == pytest.approx(1300.0)
    assert bracket_for(BINANCE_BTCUSDT_2021, 264_000).mmr == 0.01


def test_coinm_maintenance_amount_follows_the_faq_example() -> None:
    """COIN-M FAQ: level 5 = 50 BTC * (5% - 2.5%) + 0.56 BTC = 1.81 BTC."""
    # a table whose level 4 amount is 0.56: 28 BTC * (2.5% - 0.5%) = 0.56
    brackets = brackets_with_cum([(0, 28, 0.005, 125), (28, 50, 0.025, 20), (50, 100, 0.05, 10)])
    assert brackets[1].cum == pytest.approx(0.56)
    assert brackets[2].cum == pytest.approx(1.81)


def test_binance_isolated_short_liquidation_matches_the_reference_check() -> None:
    """Isolated short 0.5 BTC @ 60,000, wallet 3,000, MMR 0.4 %, cum 0 -> 65,737.05."""
    rule = _flat_brackets(0.004)
    unit = RiskUnit("BTCUSDT", (_leg(-0.5, 60000.0, wallet=3000.0),), 3000.0)
    # (WB + cum - side * Q * EP) / (Q * MMR - side * Q) = (3000 + 30000) / (0.002 + 0.5) = 33000 / 0.502
    assert rule.liquidation_price(unit) == pytest.approx(65737.05, abs=0.005)


def test_binance_isolated_short_in_the_world_uses_the_catalog_bracket() -> None:
    """The same short through the world: the notional at 65,737 (32,869) is in bracket 1 (0.4 %)."""
    world = _world()
    world.set_quote("binance", "BTCUSDT", 61000.0)
    world.set_position("binance", "a", "BTCUSDT", -0.5, 60000.0, 10, "isolated", isolated_margin=3000.0)
    figures = world.leg_figures("binance", "a", "BTCUSDT")
    assert figures is not None
    assert figures.liquidation_price == pytest.approx(65737.05, abs=0.005)
    # MM at the mark: 0.5 * 61000 * 0.4 % - 0 = 122
    assert figures.maintenance_margin == pytest.approx(122.0)
    # margin balance: 3000 + (-0.5) * (61000 - 60000) = 2500
    assert figures.margin_balance == pytest.approx(2500.0)


def test_binance_hedge_example_legs_liquidate_on_their_own_wallets() -> None:
    """The documented hedge-mode ACCOUNT_UPDATE: LONG 20 @ 6563.665 iw 13200.70726908, SHORT 10 @
    6563.86 iw 6570.42511771, each isolated on its own wallet (bracket 2: 0.5 %, cum 50)."""
    world = _world()
    world.set_quote("binance", "BTCUSDT", 6600.0)
    world.set_position("binance", "h", "BTCUSDT", 20, 6563.665, 10, "isolated", "long", 13200.70726908)
    world.set_position("binance", "h", "BTCUSDT", -10, 6563.86, 10, "isolated", "short", 6570.42511771)
    long_leg = world.leg_figures("binance", "h", "BTCUSDT", "long")
    short_leg = world.leg_figures("binance", "h", "BTCUSDT", "short")
    assert long_leg is not None
    assert short_leg is not None
    # LONG: (13200.70726908 + 50 - 20 * 6563.665) / (20 * 0.005 - 20) = -118022.59273092 / -19.9
    #       = 5930.78355; its notional 20 * 5930.78 = 118,616 is in bracket 2 (50,000-500,000)
    assert long_leg.liquidation_price == pytest.approx(5930.78355, abs=1e-4)
    # SHORT: (6570.42511771 + 50 + 10 * 6563.86) / (10 * 0.005 + 10) = 72259.02511771 / 10.05
    #        = 7189.95275; notional 71,900 in bracket 2
    assert short_leg.liquidation_price == pytest.approx(7189.95275, abs=1e-4)
    assert (long_leg.isolated_wallet, short_leg.isolated_wallet) == (13200.70726908, 6570.42511771)


def test_binance_bracket_is_taken_at_the_liquidation_notional() -> None:
    """Long 1 BTC @ 60,000 isolated with 12,000: the entry notional is in bracket 2, the notional
    at the liquidation price in bracket 1, so bracket 1's rate and amount apply."""
    world = _world()
    world.set_quote("binance", "BTCUSDT", 60000.0)
    world.set_position("binance", "a", "BTCUSDT", 1.0, 60000.0, 5, "isolated", isolated_margin=12000.0)
    figures = world.leg_figures("binance", "a", "BTCUSDT")
    assert figures is not None
    # bracket 2: (12000 + 50 - 60000) / (0.005 - 1) = 48191.0 -> notional 48,191 is not in bracket 2;
    # bracket 1: (12000 + 0 - 60000) / (0.004 - 1) = -48000 / -0.996 = 48192.77 (in bracket 1)
    assert figures.liquidation_price == pytest.approx(48192.771, abs=1e-3)
    assert figures.tier == 2  # at the current mark the notional 60,000 is in bracket 2


def test_binance_cross_hedge_puts_both_legs_and_other_symbols_in_one_formula() -> None:
    """Cross hedge mode: WB = cw, TMM1/UPNL1 of ETHUSDT, BTCUSDT's LONG and SHORT together."""
    world = _world()
    world.set_balance("binance", "c", "USDT", 10000.0)
    world.set_quote("binance", "BTCUSDT", 60000.0)
    world.set_quote("binance", "ETHUSDT", 2900.0)
    world.set_position("binance", "c", "BTCUSDT", 1.0, 60000.0, 10, "cross", "long")
    world.set_position("binance", "c", "BTCUSDT", -0.5, 62000.0, 10, "cross", "short")
    world.set_position("binance", "c", "ETHUSDT", 10.0, 3000.0, 10, "cross", "long")
    long_leg = world.leg_figures("binance", "c", "BTCUSDT", "long")
    short_leg = world.leg_figures("binance", "c", "BTCUSDT", "short")
    assert long_leg is not None
    assert short_leg is not None
    # ETHUSDT: UPNL1 = 10 * (2900 - 3000) = -1000; TMM1 = 29,000 * 0.75 % - 10 = 207.5
    # LP = (10000 - 207.5 - 1000 + 0 + 0 - 1 * 60000 + 0.5 * 62000) / (0.004 + 0.5 * 0.004 - 1 + 0.5)
    #    = -20207.5 / -0.494 = 40905.87 (notionals 40,906 and 20,453: both in bracket 1)
    assert long_leg.liquidation_price == pytest.approx(40905.870, abs=1e-3)
    assert short_leg.liquidation_price == long_leg.liquidation_price


def test_binance_cross_wallet_excludes_isolated_wallets() -> None:
    """cw = wallet - isolated wallets (single-asset mode), so a cross leg is not backed by them."""
    world = _world()
    world.set_balance("binance", "a", "USDT", 10000.0)
    world.set_position("binance", "a", "ETHUSDT", 1.0, 3000.0, 10, "isolated", isolated_margin=300.0)
    # 10000 - 300 = 9700
    assert world.cross_wallet("binance", "a", "USDT") == pytest.approx(9700.0)


def test_binance_multi_assets_cross_wallet_counts_every_asset_with_its_haircut() -> None:
    """Multi-Assets Mode: USD value of the whole wallet, BTC at 95 %; single-asset mode: USDT only."""
    rule = _flat_brackets(0.004)
    leg = _leg(-0.5, 60000.0, mode="cross")
    wallets = {"USDT": 1000.0, "BTC": 0.1}
    single = AccountBook("binance", "a", (leg,), {"BTCUSDT": 60000.0}, wallets, {"BTC": 60000.0, "USDT": 1.0})
    multi = AccountBook("binance", "a", (leg,), {"BTCUSDT": 60000.0}, wallets, {"BTC": 60000.0}, True)
    assert rule.cross_wallet(single, "USDT") == pytest.approx(1000.0)
    # 1000 * 1 + 0.1 * 60000 * 0.95 = 6700
    assert rule.cross_wallet(multi, "USDT") == pytest.approx(6700.0)
    figures = rule.figures(multi, "BTCUSDT", "one_way")
    # (6700 + 0.5 * 60000) / (0.5 * 0.004 + 0.5) = 36700 / 0.502 = 73107.57
    assert figures.liquidation_price == pytest.approx(73107.57, abs=0.01)


# -- Binance COIN-M ----------------------------------------------------------------------------------


def test_coinm_formula_reproduces_binances_calculator() -> None:
    """dev.binance.vision "Coin-margined futures liquidation price calculation help": a 101 BTC
    wallet, long 100,000 contracts (CM 100 USD) at 45,000 in cross; Binance's calculator: 33,599.40."""
    rule = BinanceCoinmRule(lambda _symbol: BINANCE_COINM_BTCUSD)
    terms = ContractTerms("inverse", 100.0, "BTC")
    unit = RiskUnit("BTCUSD_PERP", (_leg(100_000, 45000.0, mode="cross", terms=terms),), 101.0)
    # notional at ~33,600 = 10,000,000 / 33,600 = 297.6 BTC: level 7 (200-400 BTC), 12.5 %, cum:
    # 5 * 0.1% + 10 * 0.5% + 20 * 1.5% + 50 * 2.5% + 100 * 5% + 200 * 2.5% = 11.605 BTC
    # LP = (0.125 + 1) * 100 * 100000 / (101 + 11.605 + 100 * 100000 / 45000) = 11,250,000 / 334.8272
    #    = 33599.42; the forum post quotes the calculator's 33,599.40
    assert rule.liquidation_price(unit) == pytest.approx(33599.40, abs=0.05)


def test_coinm_short_liquidation_solves_balance_equals_maintenance() -> None:
    """Isolated short 1,000 contracts of 100 USD at 50,000 with 0.2 BTC (bracket 1, 0.4 %)."""
    rule = BinanceCoinmRule(lambda _symbol: BINANCE_COINM_BTCUSD)
    terms = ContractTerms("inverse", 100.0, "BTC")
    unit = RiskUnit("BTCUSD_PERP", (_leg(-1000, 50000.0, wallet=0.2, terms=terms),), 0.2)
    # LP = (0.004 - 1) * 100,000 / (0.2 + 0 - 100,000 / 50,000) = -99,600 / -1.8 = 55,333.33
    # (notional 100,000 / 55,333 = 1.81 BTC: level 1)
    assert rule.liquidation_price(unit) == pytest.approx(55333.333, abs=1e-3)


# -- OKX -------------------------------------------------------------------------------------------------


def test_okx_maintenance_margin_at_six_million_is_in_the_one_percent_tier() -> None:
    """BTC-USDT-SWAP: 10,000 contracts of 0.01 BTC at 60,000 = 6M USDT, tier 8,000-15,000 at 1 %."""
    world = _world()
    world.set_quote("okx", "BTC-USDT-SWAP", 60000.0)
    world.set_balance("okx", "a", "USDT", 100_000.0)
    world.set_position("okx", "a", "BTC-USDT-SWAP", -10_000, 60000.0, 10, "cross")
    figures = world.leg_figures("okx", "a", "BTC-USDT-SWAP")
    assert figures is not None
    # position value 10,000 * 0.01 * 60,000 = 6,000,000; * 1 % = 60,000, no deduction
    assert figures.maintenance_margin == pytest.approx(60000.0)
    assert figures.maintenance_margin_rate == 0.01
    # liquidation fee at the taker rate: 6,000,000 * 0.05 % = 3,000
    assert figures.closing_fee == pytest.approx(3000.0)
    # 100,000 - 100 * (P - 60,000) = 100 * P * (1 % + 0.05 %) -> P = 6,100,000 / 101.05 = 60366.155
    assert figures.liquidation_price == pytest.approx(60366.155, abs=1e-3)


def test_okx_tier_is_counted_in_contracts_not_notional() -> None:
    """At 30,000 the same 10,000 contracts are 3M USDT but stay in the 1 % tier."""
    rule = OkxRule(OKX_TIERS.__getitem__)
    terms = ContractTerms("linear", 0.01, "USDT")
    leg = _leg(-10_000, 30000.0, symbol="BTC-USDT-SWAP", terms=terms, wallet=30000.0)
    # 10,000 * 0.01 * 30,000 = 3,000,000 * 1 % = 30,000
    assert rule.maintenance_margin(leg, (leg,), 30000.0) == pytest.approx(30000.0)


def test_okx_cross_hedge_legs_share_the_tier_of_their_sum() -> None:
    """Cross long_short_mode: 6,000 long + 4,000 short = 10,000 contracts -> the 1 % tier for both."""
    rule = OkxRule(OKX_TIERS.__getitem__)
    terms = ContractTerms("linear", 0.01, "USDT")
    long_leg = _leg(6000, 60000.0, mode="cross", side="long", symbol="BTC-USDT-SWAP", terms=terms)
    short_leg = _leg(-4000, 60000.0, mode="cross", side="short", symbol="BTC-USDT-SWAP", terms=terms)
    # 6,000 * 0.01 * 60,000 * 1 % = 36,000; 4,000 * 0.01 * 60,000 * 1 % = 24,000
    assert rule.maintenance_margin(long_leg, (long_leg, short_leg), 60000.0) == pytest.approx(36000.0)
    assert rule.maintenance_margin(short_leg, (long_leg, short_leg), 60000.0) == pytest.approx(24000.0)


# -- Bybit -------------------------------------------------------------------------------------------


def test_bybit_linear_isolated_long_matches_example_one() -> None:
    """Bybit "Liquidation Price (USDT Contract)" example 1: long 1 BTC @ 20,000, 50x, MMR 0.5 % -> 19,700."""
    world = _world()
    world.set_quote("bybit", "BTCUSDT", 20100.0)
    world.set_position("bybit", "a", "BTCUSDT", 1.0, 20000.0, 50, "isolated")
    figures = world.leg_figures("bybit", "a", "BTCUSDT")
    assert figures is not None
    # IM = 20,000 / 50 = 400; MM = 20,000 * 0.5 % - 0 = 100; LP = 20,000 - (400 - 100) / 1 = 19,700
    assert figures.liquidation_price == pytest.approx(19700.0)
    assert figures.initial_margin == pytest.approx(400.0)
    assert figures.maintenance_margin == pytest.approx(100.0)
    assert (figures.tier, figures.tier_limit) == (1, 2_000_000.0)


def test_bybit_extra_margin_moves_the_liquidation_price() -> None:
    """LP = EP - (IM - MM)/Q - extra/Q: 200 USDT added to example 1 -> 19,500."""
    rule = BybitRule(lambda _symbol: (RiskLimit(1, 2_000_000, 0.005, 0.01, 0.0),))
    unit = RiskUnit("BTCUSDT", (_leg(1.0, 20000.0, wallet=600.0, leverage=50),), 600.0)
    # 20,000 - (400 - 100) / 1 - 200 / 1 = 19,500
    assert rule.liquidation_price(unit) == pytest.approx(19500.0)


def test_bybit_inverse_isolated_long_follows_the_uta_page() -> None:
    """ "Liquidation Price Calculation under Isolated Mode (UTA)", inverse example: long 60,000 USD
    at 50,000, 10x, MMR 0.5 %."""
    rule = BybitRule(lambda _symbol: (RiskLimit(1, 1e9, 0.005, 0.01, 0.0),))
    terms = ContractTerms("inverse", 1.0, "BTC")
    unit = RiskUnit("BTCUSD", (_leg(60000, 50000.0, wallet=0.12, symbol="BTCUSD", terms=terms),), 0.12)
    # PV = 60,000 / 50,000 = 1.2 BTC; IM = 0.12; MM = 1.2 * 0.5 % = 0.006
    # LP = 60,000 / (1.2 + (0.12 - 0.006)) = 60,000 / 1.314 = 45,662.10 (the stored page cuts off
    # before its own result)
    assert rule.liquidation_price(unit) == pytest.approx(45662.100, abs=1e-3)


# -- MEXC, BingX, WEEX -------------------------------------------------------------------------------


def test_mexc_long_matches_the_liquidation_blog_example() -> None:
    """MEXC "Liquidation in Futures": long 0.1 BTC @ 50,000, 25x, MMR 0.4 % -> 48,200."""
    world = _world()
    world.set_quote("mexc", "BTC_USDT", 50000.0)
    # 0.1 BTC = 1,000 contracts of 0.0001 BTC (level 1: up to 150,000 contracts, 0.4 %)
    world.set_position("mexc", "a", "BTC_USDT", 1000, 50000.0, 25, "isolated")
    figures = world.leg_figures("mexc", "a", "BTC_USDT")
    assert figures is not None
    # MM = 50,000 * 0.1 * 0.4 % = 20; PM = 5,000 / 25 = 200; LP = (20 - 200 + 5,000) / 0.1 = 48,200
    assert figures.maintenance_margin == pytest.approx(20.0)
    assert figures.liquidation_price == pytest.approx(48200.0)


def test_mexc_short_mirrors_the_long_formula() -> None:
    """LP(short) = (EP * size - MM + PM) / size."""
    rule = MexcRule(lambda _symbol: size_tiers([(0, 1e12, 0.004, 125)]))
    terms = ContractTerms("linear", 0.0001, "USDT")
    unit = RiskUnit("BTC_USDT", (_leg(-1000, 50000.0, wallet=200.0, symbol="BTC_USDT", terms=terms),), 200.0)
    # (5,000 - 20 + 200) / 0.1 = 51,800
    assert rule.liquidation_price(unit) == pytest.approx(51800.0)


def test_bingx_isolated_short_counts_the_closing_fee() -> None:
    """BingX: liquidation when margin + upnl = MM + taker fee; BTC-USDT bracket 1 (0.38 %)."""
    world = _world()
    world.set_quote("bingx", "BTC-USDT", 60000.0)
    world.set_position("bingx", "a", "BTC-USDT", -1.0, 60000.0, 20, "isolated")
    figures = world.leg_figures("bingx", "a", "BTC-USDT")
    assert figures is not None
    # wallet 60,000 / 20 = 3,000; 3,000 - (P - 60,000) = P * (0.38 % + 0.05 %)
    # P = 63,000 / 1.0043 = 62,730.26 (notional 62,730 in the 0-150,000 bracket)
    assert figures.liquidation_price == pytest.approx(62730.260, abs=1e-3)


def test_weex_cross_matches_its_pro_formula() -> None:
    """WEEX Futures Pro: LP = mark - (total value - total MM) / ((L - S) * (1 - MMR)) for a long."""
    rule = WeexRule(lambda _symbol: size_tiers([(0, 1e12, 0.005, 100)]))
    leg = _leg(2.0, 60000.0, mode="cross")
    book = AccountBook("weex", "a", (leg,), {"BTCUSDT": 61000.0}, {"USDT": 20000.0}, {})
    # total value = 20,000 + 2 * (61,000 - 60,000) = 22,000; total MM = 2 * 61,000 * 0.5 % = 610
    # LP = 61,000 - (22,000 - 610) / (2 * 0.995) = 61,000 - 10,748.74 = 50,251.26
    assert rule.figures(book, "BTCUSDT", "one_way").liquidation_price == pytest.approx(50251.256, abs=1e-3)


# -- the world's hedge legs ------------------------------------------------------------------------------


def test_hedge_fills_open_and_close_their_own_leg() -> None:
    """A sell on the LONG leg closes it (realising PnL); a sell on the SHORT leg opens that leg."""
    world = _world()
    world.set_balance("binance", "a", "USDT", 1000.0)
    world.apply_fill("binance", "a", "BTCUSDT", 1.0, 60000.0, position_side="long")
    world.apply_fill("binance", "a", "BTCUSDT", -0.4, 61000.0, position_side="short")
    fill, _ = world.apply_fill("binance", "a", "BTCUSDT", -0.5, 62000.0, position_side="long")
    long_leg = world.position("binance", "a", "BTCUSDT", "long")
    short_leg = world.position("binance", "a", "BTCUSDT", "short")
    assert long_leg is not None
    assert short_leg is not None
    # long closes 0.5 * (62,000 - 60,000) = +1,000; the short leg is untouched
    assert fill.realised_pnl == pytest.approx(1000.0)
    assert (long_leg.quantity, short_leg.quantity, short_leg.entry_price) == (0.5, -0.4, 61000.0)
    assert world.balances[("binance", "a", "USDT")] == pytest.approx(2000.0)
    with pytest.raises(ValueError, match="long leg cannot hold"):
        world.apply_fill("binance", "a", "BTCUSDT", -1.0, 62000.0, position_side="long")
    with pytest.raises(ValueError, match="one-way and hedge legs"):
        world.set_position("binance", "a", "BTCUSDT", 1.0, 60000.0)


def test_isolated_wallet_grows_with_opening_fills_and_is_released_pro_rata() -> None:
    """Isolated wallet: + value / leverage per opening fill, scaled down by closing ones."""
    world = _world()
    world.set_position("binance", "a", "BTCUSDT", 1.0, 60000.0, 10, "isolated")
    world.apply_fill("binance", "a", "BTCUSDT", 1.0, 62000.0)
    opened = world.position("binance", "a", "BTCUSDT")
    world.apply_fill("binance", "a", "BTCUSDT", -0.5, 63000.0)
    reduced = world.position("binance", "a", "BTCUSDT")
    assert opened is not None
    assert reduced is not None
    # 60,000 / 10 + 62,000 / 10 = 12,200; after closing 0.5 of 2: 12,200 * 1.5 / 2 = 9,150
    assert opened.isolated_margin == pytest.approx(12200.0)
    assert reduced.isolated_margin == pytest.approx(9150.0)
