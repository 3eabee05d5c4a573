"""Binance COIN-M margin (``BinanceMargin`` on inverse contracts) against Binance's documented figures.

Sources: Binance FAQ "How to Calculate Liquidation Price of COIN-M Futures Contracts"
(binance.com/en/support/faq/ceccfcfb4e3a45e3b48b0b1bb1a8ae46, two published versions of its
bracket table), "Leverage and Margin in Coin-Margined Futures Contracts"
(binance.com/en/support/faq/be2c7d9d95b04a7e8044ed02dd7dfe5c) and the Binance calculator's figure
quoted in dev.binance.vision thread 6292 ("Coin-margined futures liquidation price calculation help").
"""

from __future__ import annotations

import pytest

from monitor.domain.instruments import default_catalog, tiers_with_cum
from monitor.domain.margin import BinanceMargin, MarginLeg, margin_model_for

CATALOG = default_catalog()
BTCUSD_PERP = CATALOG.require("binance-coinm:BTCUSD_PERP")


def test_coin_m_instruments_use_binance_brackets_in_coin() -> None:
    """COIN-M is Binance's bracket model; BTCUSD is an inverse 100 USD contract settled in BTC."""
    assert isinstance(margin_model_for(BTCUSD_PERP), BinanceMargin)
    assert (BTCUSD_PERP.kind, BTCUSD_PERP.contract_value, BTCUSD_PERP.settle) == ("inverse", 100.0, "BTC")
    eth = CATALOG.require("binance-coinm:ETHUSD_PERP")
    assert (eth.contract_value, eth.settle) == (10.0, "ETH")
    quarterly = CATALOG.require("binance-coinm:BTCUSD_261225")
    # 2026-12-25 08:00 UTC; a delivery contract pays no funding
    assert (quarterly.expiry_ms, quarterly.funding_interval_hours) == (1_798_185_600_000, None)


def test_maintenance_amounts_of_the_newer_faq_table() -> None:
    """The FAQ's newer table (floors 10, 20, 30, 50, 100, 200 BTC): "Maintenance Amount on Level 5
    = 50 BTC x (5 % - 2.5 %) + 0.56 BTC = 1.81 BTC", and 300 BTC -> 11.81 BTC."""
    tiers = tiers_with_cum([(0, 10, 0.004, 125), (10, 20, 0.005, 100), (20, 30, 0.01, 50),
                            (30, 50, 0.025, 20), (50, 100, 0.05, 10), (100, 200, 0.10, 5),
                            (200, 400, 0.125, 4)])
    # level 4: 10 x 0.1 % + 20 x 0.5 % + 30 x 1.5 % = 0.01 + 0.1 + 0.45 = 0.56
    assert tiers[3].cum == pytest.approx(0.56, abs=1e-12)
    assert tiers[4].cum == pytest.approx(1.81, abs=1e-12)
    # level 7: 1.81 + 100 x 5 % + 200 x 2.5 % = 1.81 + 5 + 5 = 11.81
    assert tiers[6].cum == pytest.approx(11.81, abs=1e-12)


def test_catalog_brackets_give_the_older_faq_figures() -> None:
    """The catalog's BTCUSD brackets (floors 5, 10, 20, 50, 100, 200 BTC) give the older FAQ's
    "if the position of BTCUSD is 300 BTC ... the maintenance margin rate would be 12.5 % ... the
    maintenance amount would be 11.605 BTC"."""
    tier = BTCUSD_PERP.tier_for(300.0)
    assert tier is not None
    # 5 x 0.1 % + 10 x 0.5 % + 20 x 1.5 % + 50 x 2.5 % + 100 x 5 % + 200 x 2.5 %
    # = 0.005 + 0.05 + 0.3 + 1.25 + 5 + 5 = 11.605
    assert tier.mmr == 0.125
    assert tier.cum == pytest.approx(11.605, abs=1e-12)


def test_maintenance_margin_example_of_the_faq() -> None:
    """"100 BTCUSD perpetual contracts, mark 25,000: notional 100 x 100 / 25,000 = 0.4 BTC, level 1:
    Maintenance Margin = 100 x 100 / 25,000 x 0.4 % - 0 = 0.0016 BTC"."""
    leg = MarginLeg(BTCUSD_PERP, 100.0, 25_000.0)
    assert BinanceMargin().maintenance_margin(leg, 25_000.0) == pytest.approx(0.0016, rel=1e-12)


def test_cross_long_liquidation_matches_binances_calculator() -> None:
    """Wallet 101 BTC, long 100,000 contracts (10,000,000 USD) @ 45,000: Binance's calculator shows
    33,599.40.

    COIN-M ``LP = Q (MMR + side) / (WB + cum + side Q / EP)`` with Q = 100,000 x 100 USD; at the
    liquidation price the notional 10,000,000 / 33,599 = 297.6 BTC sits in the 200-400 BTC bracket
    (MMR 12.5 %, cum 11.605): LP = 10,000,000 x 1.125 / (101 + 11.605 + 10,000,000 / 45,000)
    = 11,250,000 / 334.827222... = 33,599.4186. The calculator's 33,599.40 is 0.02 lower (its
    display rounding); the formula's value is asserted exactly, the calculator's to 0.05.
    """
    leg = MarginLeg(BTCUSD_PERP, 100_000.0, 45_000.0)
    price = BinanceMargin().liquidation_price([leg], 101.0)
    assert price == pytest.approx(11_250_000 / (101 + 11.605 + 10_000_000 / 45_000), rel=1e-12)
    assert price == pytest.approx(33_599.40, abs=0.05)
