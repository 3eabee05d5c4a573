"""The hedge book: events in, the risk snapshot of risk-definitions.md out."""

from __future__ import annotations

import pytest

from monitor.domain.book import HedgeBook, PriceTable
from monitor.domain.events import BalanceEvent, FillEvent, PositionEvent, PriceEvent
from monitor.domain.instruments import default_catalog
from monitor.domain.plans import EffectivenessSettings, HedgePlan, PortfolioSettings
from tests.support import published

SWAP = "okx:BTC-USDT-SWAP"
SPOT = "okx:BTC-USDT"


def _price(instrument: str, mark: float, ts: int, rate: float | None = None,
           next_funding: int | None = None) -> PriceEvent:
    return PriceEvent(instrument, mark, None, rate, next_funding, ts, ts)


def _seed_book(settings: PortfolioSettings | None = None) -> tuple[HedgeBook, PriceTable]:
    catalog = default_catalog()
    table = PriceTable(catalog)
    book = HedgeBook("seed", catalog, table, settings)
    book.apply_balance(BalanceEvent("seed", "cold", "BTC", 1.5, 1_000, 1_000))
    book.apply_position(PositionEvent("seed", "okx", SWAP, -150, 60_000, 10, "isolated", 9_000,
                                      1_000, 1_000))
    _move(book, table, 60_000, 2_000)
    return book, table


def _move(book: HedgeBook, table: PriceTable, price: float, ts: int,
          rate: float | None = None, next_funding: int | None = None) -> None:
    for instrument in (SWAP, SPOT):
        event = _price(instrument, price, ts, rate, next_funding)
        table.apply(event)
        if instrument == SWAP:
            book.apply_instrument_price(event)
        else:
            book.apply_asset_price("BTC", price, ts)


def test_seed_drop_offsets() -> None:
    """1.5 BTC hedged by 150 x 0.01 BTC short: at 54000 spot -9000, hedge +9000, net delta 0."""
    book, table = _seed_book()
    _move(book, table, 54_000, 3_000)
    snapshot = published(book)
    btc = snapshot["assets"]["BTC"]
    assert btc["spot_delta"] == 1.5
    assert btc["futures_delta"] == pytest.approx(-1.5)  # -150 * 0.01
    assert btc["net_delta"] == pytest.approx(0.0, abs=1e-12)
    assert btc["hedge_ratio"] == pytest.approx(1.0)  # -(-1.5) / 1.5
    assert btc["contracts_to_target"] == 0.0
    position = snapshot["positions"][0]
    assert position["unrealized_pnl_usd"] == pytest.approx(9_000.0)  # -150*0.01*(54000-60000)
    assert position["notional_usd"] == pytest.approx(81_000.0)  # 150 * 0.01 * 54000
    # tier 1 of okx:BTC-USDT-SWAP: 81000 * 0.004 - 0 = 324
    assert position["maintenance_margin_usd"] == pytest.approx(324.0)
    assert position["margin_balance_usd"] == pytest.approx(18_000.0)  # 9000 + 9000
    assert position["margin_ratio"] == pytest.approx(324 / 18_000)
    # OKX liquidates at MM plus the closing fee (taker 0.05 %):
    # (9000 + 1.5 * 60000) / (1.5 * (0.004 + 0.0005) + 1.5) = 99000 / 1.50675 = 65704.33
    assert position["liquidation_price"] == pytest.approx(65_704.33, abs=0.005)
    effectiveness = snapshot["effectiveness"]["BTC"]
    assert effectiveness["spot_change_usd"] == pytest.approx(-9_000.0)  # 1.5 * -6000
    assert effectiveness["hedge_change_usd"] == pytest.approx(9_000.0)
    assert effectiveness["dollar_offset"] == pytest.approx(1.0)  # -(9000) / (-9000)
    stress = {row["shock"]: row for row in snapshot["stress"]}
    # from 54000: spot 1.5 * 54000 * -0.1 = -8100, hedge +8100
    assert stress[-0.1]["spot_pnl_usd"] == pytest.approx(-8_100.0)
    assert stress[-0.1]["net_pnl_usd"] == pytest.approx(0.0, abs=0.005)


def test_isolated_liquidation_price_follows_a_position_update() -> None:
    """The isolated leg's liquidation price is kept per position event, so an update replaces it."""
    book, table = _seed_book()
    first = published(book)["positions"][0]["liquidation_price"]
    _move(book, table, 61_000, 3_000)
    # the mark does not enter an isolated linear liquidation price: still 99000 / 1.50675
    assert published(book)["positions"][0]["liquidation_price"] == first
    book.apply_position(PositionEvent("seed", "okx", SWAP, -150, 60_000, 10, "isolated", 4_500,
                                      4_000, 4_000))
    # (4500 + 1.5 * 60000) / 1.50675 = 94500 / 1.50675 = 62717.77
    assert published(book)["positions"][0]["liquidation_price"] == pytest.approx(62_717.77, abs=0.005)


def test_under_hedged_contracts_to_target() -> None:
    """Half the hedge closed: ratio 0.5 and 75 more contracts to short."""
    book, _ = _seed_book()
    book.apply_position(PositionEvent("seed", "okx", SWAP, -75, 60_000, 10, "isolated", 4_500,
                                      2_500, 2_500))
    snapshot = published(book)
    btc = snapshot["assets"]["BTC"]
    assert btc["hedge_ratio"] == pytest.approx(0.5)  # 75 * 0.01 / 1.5
    assert btc["contracts_to_target"] == 75.0  # (1.5 - 0.75) / 0.01
    # with 1 BTC standard contracts: 0.75 BTC rounds to 1 contract, residual 0.75 - 1 = -0.25
    assert btc["standard_contracts_to_target"] == 1.0
    assert btc["standard_residual_delta"] == pytest.approx(-0.25)


def test_rally_liquidates_hedge_leg_in_stress() -> None:
    """A +20 % shock crosses the short's liquidation price: the leg loses its margin balance only."""
    book, table = _seed_book()
    _move(book, table, 62_000, 3_000)
    snapshot = published(book)
    position = snapshot["positions"][0]
    # margin balance 9000 + (-150*0.01*(62000-60000)) = 9000 - 3000 = 6000
    assert position["margin_balance_usd"] == pytest.approx(6_000.0)
    stress = {row["shock"]: row for row in snapshot["stress"]}
    # +20 %: 74400 > LP 65737.05 -> liquidated, hedge PnL capped at -6000
    assert stress[0.2]["liquidated"] == [SWAP]
    assert stress[0.2]["hedge_pnl_usd"] == pytest.approx(-6_000.0)
    assert stress[0.2]["spot_pnl_usd"] == pytest.approx(1.5 * 62_000 * 0.2)  # 18600
    # +5 %: 65100 < LP: -150 * 0.01 * 3100 = -4650, not liquidated
    assert stress[0.05]["liquidated"] == []
    assert stress[0.05]["hedge_pnl_usd"] == pytest.approx(-4_650.0)


def test_funding_accrues_to_the_short() -> None:
    """A positive rate at the funding time pays the short: 150 * 0.01 * 60000 * 0.0001 = 9."""
    book, table = _seed_book()
    _move(book, table, 60_000, 3_000, rate=0.0001, next_funding=10_000)
    _move(book, table, 60_000, 10_500, rate=0.0002, next_funding=20_000)
    snapshot = published(book)
    assert snapshot["positions"][0]["funding_accrued_usd"] == pytest.approx(9.0)
    assert snapshot["costs"]["funding_received_usd"] == pytest.approx(9.0)
    assert snapshot["costs"]["hedge_cost_usd"] == pytest.approx(-9.0)  # fees 0 + paid 0 - 9
    # the same tick replayed is ignored: no double funding
    _move(book, table, 60_000, 10_500, rate=0.0002, next_funding=20_000)
    assert published(book)["costs"]["funding_received_usd"] == pytest.approx(9.0)


def test_fees_and_lifecycle() -> None:
    """Fill fees count against the cost budget; exit level and expiry are reported."""
    plan = HedgePlan("BTC", SWAP, expiry_ms=7_000, exit_above=65_000, stop_loss_usd=2_000,
                     cost_budget_usd=40.0)
    book, table = _seed_book(PortfolioSettings(plans={"BTC": plan}))
    book.apply_fill(FillEvent("seed", "okx", SWAP, -150, 60_000, 45.0, 2_100, 2_100))
    _move(book, table, 65_500, 8_000)
    lifecycle = published(book)["lifecycle"]["BTC"]
    assert lifecycle["expired"] is True  # 8000 >= 7000
    assert lifecycle["time_left_s"] == 0.0
    assert lifecycle["exit_level_crossed"] is True  # 65500 >= 65000
    # hedge PnL -150 * 0.01 * 5500 = -8250 <= -2000
    assert lifecycle["stop_loss_hit"] is True
    assert lifecycle["opportunity_cost_usd"] == pytest.approx(8_250.0)
    assert lifecycle["cost_budget_exceeded"] is True  # fees 45 > 40


def test_cross_hedge_min_variance_ratio() -> None:
    """BTC hedged with ETH futures: h* from sampled returns (ETH moves 2x BTC -> h* = 0.5)."""
    catalog = default_catalog()
    table = PriceTable(catalog)
    plan = HedgePlan("BTC", "okx:ETH-USDT-SWAP")
    settings = PortfolioSettings(plans={"BTC": plan},
                                 effectiveness=EffectivenessSettings(sample_interval_ms=1_000))
    book = HedgeBook("x", catalog, table, settings)
    book.apply_balance(BalanceEvent("x", "cold", "BTC", 1.0, 0, 0))
    book.apply_position(PositionEvent("x", "okx", "okx:ETH-USDT-SWAP", -100, 3_000, None, "cross",
                                      None, 0, 0))
    btc = 60_000.0
    eth = 3_000.0
    for step, r in enumerate([0.01, -0.02, 0.015, -0.005, 0.01]):
        btc *= 1 + r
        eth *= 1 + 2 * r
        ts = (step + 1) * 1_000
        for instrument, price in (("okx:BTC-USDT", btc), ("okx:ETH-USDT", eth),
                                  ("okx:ETH-USDT-SWAP", eth)):
            table.apply(_price(instrument, price, ts))
        book.sample(ts)
    # rBTC = 0.5 * rETH exactly, so Cov(rBTC, rETH) / Var(rETH) = 0.5
    assert published(book)["assets"]["BTC"]["min_variance_ratio"] == pytest.approx(0.5)


def test_state_round_trip() -> None:
    """to_state / restore_state gives a book whose snapshot is identical."""
    book, table = _seed_book()
    _move(book, table, 57_000, 3_000, rate=0.0001, next_funding=4_000)
    _move(book, table, 55_000, 4_500)
    restored = HedgeBook("seed", default_catalog(), table)
    restored.restore_state(book.to_state())
    assert published(restored) == published(book)


def test_sampling_waits_for_its_interval_but_not_for_a_new_asset() -> None:
    """sample() skips work until an interval ends, yet a newly held asset is sampled at once."""
    book, table = _seed_book()
    book.sample(2_000)
    assert len(book.asset_samples["BTC"]) == 1  # the first sample of BTC at 2000
    book.sample(2_001)
    assert len(book.asset_samples["BTC"]) == 1  # the 60 s interval has not ended
    eth = PriceEvent("okx:ETH-USDT", 3_000, None, None, None, 2_002, 2_002)
    table.apply(eth)
    book.apply_balance(BalanceEvent("seed", "cold", "ETH", 10.0, 2_002, 2_002))
    book.sample(2_002)
    assert list(book.asset_samples["ETH"]) == [3_000]  # a new asset: sampled without waiting
    assert len(book.asset_samples["BTC"]) == 1
    book.sample(62_000)
    assert len(book.asset_samples["BTC"]) == 2  # 2000 + 60000: BTC's interval ended
