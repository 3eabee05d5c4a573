"""Deribit standard margin and continuous funding against Deribit's documented rules and examples.

Sources: Deribit help "Inverse Perpetual" / "Linear Perpetual" (Standard Margin IM & MM examples,
BTC price 100,000), "11 January 2022" (BTC MM 1 % + size x 0.005 %, ETH MM 1 % + size x 0.0004 %),
"Funding Specifications" (premium, damper 0.025 %, caps, time fraction of 8 hours).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from monitor.domain import formulas as f
from monitor.domain.book import HedgeBook, PriceTable
from monitor.domain.events import BalanceEvent, PositionEvent, PriceEvent
from monitor.domain.instruments import Instrument, default_catalog
from monitor.domain.margin import DeribitMargin, MarginLeg, margin_model_for
from tests.support import published

CATALOG = default_catalog()
BTC_PERPETUAL = CATALOG.require("deribit:BTC-PERPETUAL")
ETH_PERPETUAL = CATALOG.require("deribit:ETH-PERPETUAL")
DERIBIT = DeribitMargin()


def test_deribit_instruments_use_the_deribit_model() -> None:
    """BTC-PERPETUAL (10 USD) and ETH-PERPETUAL (1 USD) are inverse, margined in coin, by Deribit's rule."""
    assert margin_model_for(BTC_PERPETUAL).name == "deribit"
    assert (BTC_PERPETUAL.contract_value, BTC_PERPETUAL.settle) == (10.0, "BTC")
    assert (ETH_PERPETUAL.contract_value, ETH_PERPETUAL.settle) == (1.0, "ETH")
    future = CATALOG.require("deribit:BTC-25DEC26")
    assert (future.expiry_ms, future.funding_interval_hours) == (1_798_185_600_000, None)


@pytest.mark.parametrize(
    ("btc", "rate", "margin"),
    [
        # "Position size 25: 1% + 25 * 0.005% = 1.125% ... 25 * 1.125% = 0.28125 BTC"
        (25.0, 0.01125, 0.28125),
        # 1% + 350 * 0.005% = 2.75%; 350 * 2.75% = 9.625 BTC
        (350.0, 0.0275, 9.625),
    ],
)
def test_btc_maintenance_margin_examples(btc: float, rate: float, margin: float) -> None:
    """Deribit's BTC examples at a BTC price of 100,000: size in BTC = contracts x 10 / 100,000."""
    contracts = btc * 100_000 / 10
    leg = MarginLeg(BTC_PERPETUAL, -contracts, 100_000.0)
    tier = DERIBIT.tier(leg, 100_000.0)
    assert tier is not None
    assert tier.mmr == pytest.approx(rate, rel=1e-12)
    assert DERIBIT.maintenance_margin(leg, 100_000.0) == pytest.approx(margin, rel=1e-12)


def test_eth_maintenance_margin_uses_its_own_increase_factor() -> None:
    """ETH: 1 % + 1,000 ETH x 0.0004 % = 1.4 %, so 1,000 ETH need 14 ETH (3,000,000 contracts of
    1 USD at 3,000)."""
    leg = MarginLeg(ETH_PERPETUAL, 3_000_000.0, 3_000.0)
    assert DERIBIT.maintenance_margin(leg, 3_000.0) == pytest.approx(14.0, rel=1e-12)


def test_vectorised_maintenance_margins_equal_the_scalar_ones() -> None:
    """The column form gives the same figures as the per-leg form."""
    quantity = np.array([-250_000.0, 6_000.0, 0.0])
    entry = np.array([100_000.0, 60_000.0, 60_000.0])
    columns = DERIBIT.maintenance_margins(BTC_PERPETUAL, quantity, entry, 100_000.0, np.full(3, np.nan))
    scalar = [DERIBIT.maintenance_margin(MarginLeg(BTC_PERPETUAL, q, e), 100_000.0)
              for q, e in zip(quantity, entry, strict=True)]
    assert columns.tolist() == pytest.approx(scalar, rel=1e-15)


def test_short_hedge_liquidates_above_where_equity_meets_the_size_dependent_margin() -> None:
    """Short 6,000 contracts (60,000 USD = 1 BTC at 60,000) against 0.5 BTC.

    Equity ``0.5 + Q (1/P - 1/EP)`` with Q = -60,000 ... in u = 1/P: balance = 0.5 - 1 + 60,000 u;
    MM = 0.01 x 60,000 u + 0.00005 x (60,000 u)^2 = 600 u + 180,000 u^2. Equal when
    180,000 u^2 - 59,400 u + 0.5 = 0: u = (59,400 - sqrt(59,400^2 - 4 x 180,000 x 0.5)) / 360,000
    = (59,400 - 59,396.9696) / 360,000 = 8.4177e-6, P = 118,796.97. (The other root, P ~ 3.03, is
    where a short's growing coin size would meet the margin far below: not the adverse side.)
    """
    u = (59_400 - math.sqrt(59_400**2 - 4 * 180_000 * 0.5)) / 360_000
    leg = MarginLeg(BTC_PERPETUAL, -6_000.0, 60_000.0)
    price = DERIBIT.liquidation_price([leg], 0.5)
    assert price == pytest.approx(1 / u, rel=1e-9)
    assert price == pytest.approx(118_796.97, abs=0.01)
    # at that price equity equals the maintenance margin
    equity = 0.5 + BTC_PERPETUAL.pnl_settlement(-6_000.0, 60_000.0, price)
    assert equity == pytest.approx(DERIBIT.maintenance_margin(leg, price), rel=1e-9)


def test_a_fully_collateralised_short_has_no_liquidation_price_above() -> None:
    """1 BTC short against 1 BTC: balance 1 - 1 + 60,000 u = 60,000 u stays above MM = 600 u +
    180,000 u^2 for every u < 59,400 / 180,000 (P > 3.03), so nothing liquidates it on the way up;
    the only root, P = 3.03, is the far one on the favourable side: no liquidation price."""
    leg = MarginLeg(BTC_PERPETUAL, -6_000.0, 60_000.0)
    assert math.isnan(DERIBIT.liquidation_price([leg], 1.0))


def test_long_liquidates_below_entry_and_an_undocumented_coin_is_unknown() -> None:
    """Long 6,000 contracts @60,000 with 0.5 BTC: balance 0.5 + 1 - 60,000 u = 600 u + 180,000 u^2,
    180,000 u^2 + 60,600 u - 1.5 = 0, u = (-60,600 + sqrt(60,600^2 + 4 x 180,000 x 1.5)) / 360,000
    -> P = 40,402.97. A coin without a documented increase factor has no figure (NaN)."""
    u = (-60_600 + math.sqrt(60_600**2 + 4 * 180_000 * 1.5)) / 360_000
    leg = MarginLeg(BTC_PERPETUAL, 6_000.0, 60_000.0)
    assert DERIBIT.liquidation_price([leg], 0.5) == pytest.approx(1 / u, rel=1e-9)
    sol = Instrument(id="deribit:SOL-PERPETUAL", kind="inverse", base="SOL", quote="USD", settle="SOL",
                     contract_value=10.0, tiers=BTC_PERPETUAL.tiers)
    unknown = MarginLeg(sol, -10.0, 150.0)
    assert math.isnan(DERIBIT.maintenance_margin(unknown, 150.0))
    assert math.isnan(DERIBIT.liquidation_price([unknown], 1.0))


@pytest.mark.parametrize(
    ("mark", "rate"),
    [
        # premium (10,010 - 10,000) / 10,000 = 0.1 %: max(0.025 %, 0.1 %) + min(-0.025 %, 0.1 %) = 0.075 %
        (10_010.0, 0.00075),
        # premium 0.02 % is inside the +/-0.025 % damper: 0
        (10_002.0, 0.0),
        # premium -0.1 %: max(0.025 %, -0.1 %) + min(-0.025 %, -0.1 %) = 0.025 % - 0.1 % = -0.075 %
        (9_990.0, -0.00075),
        # premium 1 %: 0.975 % uncapped, capped at BTC-PERPETUAL's 0.5 %
        (10_100.0, 0.005),
    ],
)
def test_funding_rate_is_the_damped_capped_premium(mark: float, rate: float) -> None:
    """Deribit's funding rate against an index of 10,000 with the BTC cap of 0.5 %."""
    assert f.deribit_funding_rate(mark, 10_000.0, cap=0.005) == pytest.approx(rate, abs=1e-15)


def test_funding_accrues_per_millisecond_over_eight_hours() -> None:
    """At 0.075 % a 1 BTC long pays 0.075 % x 1 x (1 minute / 480 minutes) = 0.0000015625 BTC; the
    short receives it; a whole 8 hours is the whole rate."""
    minute = 60_000
    assert f.deribit_funding_received(1.0, 0.00075, minute) == pytest.approx(-0.0000015625, rel=1e-12)
    assert f.deribit_funding_received(-1.0, 0.00075, minute) == pytest.approx(0.0000015625, rel=1e-12)
    assert f.deribit_funding_received(-2.0, 0.00075, 8 * 3_600_000) == pytest.approx(0.0015, rel=1e-12)


def test_the_book_accrues_deribit_funding_continuously() -> None:
    """A short of 6,000 BTC-PERPETUAL contracts (1 BTC at 60,000) at an 8-hour rate of 0.01 % for
    one hour receives 0.0001 x 1 BTC x 1/8 = 0.0000125 BTC = 0.75 USD at 60,000 (Deribit
    "Funding Payment = Funding Rate * Position Size * Time Fraction"), in two half hours."""
    instrument = "deribit:BTC-PERPETUAL"
    catalog = default_catalog()
    table = PriceTable(catalog)
    book = HedgeBook("p", catalog, table)
    book.apply_balance(BalanceEvent("p", "deribit-main", "BTC", 1.0, 1_000, 1_000))
    book.apply_position(PositionEvent("p", "deribit-main", instrument, -6_000, 60_000, 10, "cross", None,
                                      1_000, 1_000))
    for ts in (1_000, 1_000 + 1_800_000, 1_000 + 3_600_000):  # every half hour
        event = PriceEvent(instrument, 60_000.0, 60_000.0, 0.0001, None, ts, ts)
        table.apply(event)
        book.apply_instrument_price(event)
    (position,) = published(book)["positions"]
    assert position["funding_accrued_usd"] == pytest.approx(0.75, rel=1e-12)
    assert published(book)["costs"]["funding_received_usd"] == pytest.approx(0.75, rel=1e-12)
