"""The risk engine's columnar store: kept in step with the books, and urgent portfolios per tick."""

from __future__ import annotations

import orjson
import pytest

from monitor.alerts import AlertsConfig
from monitor.codec import risk_to_dict
from monitor.domain.events import BalanceEvent, PositionEvent, PriceEvent
from monitor.domain.instruments import default_catalog
from monitor.domain.plans import PortfolioSettings
from monitor.processor.engine import RiskEngine, RiskLevels

SWAP = "okx:BTC-USDT-SWAP"


def _engine() -> RiskEngine:
    return RiskEngine(default_catalog(), lambda _: PortfolioSettings())


def _short(portfolio: str, wallet: float, offset: int, engine: RiskEngine, partition: int = 0) -> None:
    engine.apply_account(BalanceEvent(portfolio, "cold", "BTC", 1.5, 1_000, 1_000), partition, offset)
    engine.apply_account(PositionEvent(portfolio, "okx", SWAP, -150, 60_000, 10, "isolated", wallet,
                                       1_000, 1_000), partition, offset + 1)


def _tick(engine: RiskEngine, mark: float, ts: int) -> set[str]:
    return engine.apply_price(PriceEvent(SWAP, mark, None, None, None, ts, ts))


def test_default_levels_are_the_default_alert_levels() -> None:
    """margin_buffer_low 0.50 -> margin ratio 1 - 0.50 = 0.50; liquidation_distance_low 0.05."""
    assert RiskLevels.from_alerts([AlertsConfig()]) == RiskLevels(0.5, 0.05)


def test_levels_take_the_most_sensitive_rule_of_every_config() -> None:
    """A portfolio with a tighter margin_ratio_high (0.3) and a wider distance (0.1) sets both levels."""
    tight = AlertsConfig.from_mapping({
        "margin_ratio_high": {"threshold": 0.3, "clear_threshold": 0.25},
        "liquidation_distance_low": {"threshold": 0.1, "clear_threshold": 0.12},
    }, source="test")
    assert RiskLevels.from_alerts([AlertsConfig(), tight]) == RiskLevels(0.3, 0.1)


def test_a_warning_stage_makes_a_portfolio_urgent_from_its_level() -> None:
    """A liquidation warning stage at 8 %: snapshots go out at once from 8 %, not only from 5 %."""
    staged = AlertsConfig.from_mapping(
        {"liquidation_distance_low": {"stages": {"warning": 0.08}}}, source="test")
    assert RiskLevels.from_alerts([staged]) == RiskLevels(0.5, 0.08)


def test_columns_follow_positions_restore_and_revocation() -> None:
    """Every held futures position is in the columnar store, and only those."""
    engine = _engine()
    _short("a", 9_000, 0, engine, partition=0)
    _short("b", 9_000, 0, engine, partition=1)
    assert engine.columns.held(SWAP) == 2
    engine.apply_account(PositionEvent("b", "okx", SWAP, 0, 60_000, 10, "isolated", 0.0, 2_000, 2_000),
                         1, 5)
    assert engine.columns.held(SWAP) == 1  # closed: quantity 0
    checkpoint = engine.checkpoint("a")
    assert engine.drop_partition(0) == ["a"]
    assert engine.columns.held(SWAP) == 0
    engine.restore("a", 0, checkpoint)
    assert engine.columns.held(SWAP) == 1


def test_a_tick_near_liquidation_makes_the_portfolio_urgent() -> None:
    """150 x 0.01 BTC short, wallet 9000 at 60000: liquidation at 65704.33 (see test_book)."""
    engine = _engine()
    _short("near", 9_000, 0, engine)
    _short("far", 30_000, 0, engine, partition=1)
    assert _tick(engine, 60_000, 2_000) == {"near", "far"}
    # |65704.33 - 60000| / 60000 = 9.5 % > 5 %: not urgent
    assert engine.urgent == set()
    _tick(engine, 63_000, 3_000)
    # |65704.33 - 63000| / 63000 = 4.3 % <= 5 %; "far": (30000 + 90000) / 1.50675 = 79642 -> 26 %
    assert engine.urgent == {"near"}


def test_a_cross_leg_gets_its_liquidation_price_from_the_snapshot() -> None:
    """A cross leg has no liquidation price of its own in the store until a snapshot supplies it."""
    engine = _engine()
    engine.apply_account(BalanceEvent("x", "okx", "USDT", 9_000, 1_000, 1_000), 0, 0)
    engine.apply_account(PositionEvent("x", "okx", SWAP, -150, 60_000, 10, "cross", None,
                                       1_000, 1_000), 0, 1)
    _tick(engine, 63_000, 2_000)
    assert engine.urgent == set()  # NaN distance: unknown, never urgent
    snapshot = risk_to_dict(engine.snapshot("x")[0])
    liquidation = snapshot["positions"][0]["liquidation_price"]
    # cross wallet 9000 USDT and no other legs: the same price as the isolated leg,
    # 99000 / 1.50675 = 65704.33 (OKX: MM plus the 0.05 % closing fee)
    assert liquidation == pytest.approx(65_704.33, abs=0.005)
    _tick(engine, 63_100, 3_000)
    assert engine.urgent == {"x"}


def test_a_book_valued_at_the_newest_price_of_its_asset_follows_every_instrument_of_it() -> None:
    """Rule 3 of the reference price (no spot source, no hedge of the asset): any ETH price may move
    the ETH balance's value, so a tick of an ETH future the book does not hold touches it; a book
    hedging BTC with a priced BTC leg is not touched by another BTC future."""
    engine = _engine()
    engine.apply_price(PriceEvent(SWAP, 60_000.0, 59_990.0, None, None, 900, 900))
    engine.apply_account(BalanceEvent("eth-only", "cold", "ETH", 10.0, 1_000, 1_000), 0, 0)
    _short("hedged", 9_000, 0, engine)
    eth_future = "bybit:ETHUSDT"
    other_btc_future = "binance:BTCUSDT"
    assert engine.apply_price(PriceEvent(eth_future, 3_000.0, None, None, None, 1_001, 1_001)) == {
        "eth-only"}
    assert "hedged" not in engine.apply_price(
        PriceEvent(other_btc_future, 60_100.0, None, None, None, 1_002, 1_002))
    snapshot, _ = engine.snapshot("eth-only")
    assert risk_to_dict(snapshot)["assets"]["ETH"]["price"] == 3_000.0


def test_a_book_stops_following_its_assets_other_instruments_once_its_hedge_is_priced() -> None:
    """Positions before prices (the shipped desk's setup): until its leg's contract is priced, the
    BTC reference is the newest BTC price of any instrument (rule 3) and every BTC instrument
    touches the book; its first price makes it the reference (rule 2), and another BTC future's
    tick no longer does."""
    engine = _engine()
    engine.apply_account(BalanceEvent("a", "cold", "BTC", 1.5, 1_000, 1_000), 0, 0)
    engine.apply_account(PositionEvent("a", "okx", SWAP, -150, 60_000, 10, "isolated", 9_000,
                                       1_000, 1_000), 0, 1)
    other = "binance:BTCUSDT"
    assert engine.apply_price(PriceEvent(other, 60_050.0, None, None, None, 1_001, 1_001)) == {"a"}
    assert engine.apply_price(PriceEvent(SWAP, 60_000.0, 59_990.0, None, None, 1_002, 1_002)) == {"a"}
    assert engine.apply_price(PriceEvent(other, 60_100.0, None, None, None, 1_003, 1_003)) == set()
    snapshot, _ = engine.snapshot("a")
    assert risk_to_dict(snapshot)["assets"]["BTC"]["price"] == 59_990.0  # the swap's index


def test_a_portfolio_restored_into_a_running_engine_samples_on_its_own_clock() -> None:
    """A partition assigned from another member brings its sampling due times: B's first interval
    (its clock starts at its second tick, 1,001: due 1,001 + 60,000 = 61,001) ends at a tick at
    61,200 although the running book A is due only at 2,001 + 60,000 = 62,001, so the instrument's
    cached earliest horizon (A's) must not hide B."""
    def tick(engine: RiskEngine, mark: float, ts: int) -> None:
        engine.sample(_tick(engine, mark, ts))

    other = _engine()
    _short("b", 9_000, 0, other)
    for ts, mark in ((1_000, 60_000.0), (1_001, 60_100.0)):
        tick(other, mark, ts)
    moved = orjson.loads(orjson.dumps(other.checkpoint("b")))
    assert moved["book"]["effectiveness"]["BTC"]["sample_due_ms"] == 61_001

    engine = _engine()
    _short("a", 9_000, 0, engine)
    for ts, mark in ((2_000, 60_000.0), (2_001, 60_100.0), (2_002, 60_200.0)):
        tick(engine, mark, ts)  # A due at 62,001: the swap's earliest horizon, cached
    engine.restore("b", 1, moved)
    engine.catch_up_prices("b")
    engine.sample(["b"])
    tick(engine, 60_300.0, 61_200)
    assert len(engine.checkpoint("b")["book"]["effectiveness"]["BTC"]["hedge_changes"]) == 1
    assert engine.checkpoint("a")["book"]["effectiveness"]["BTC"]["hedge_changes"] == []
