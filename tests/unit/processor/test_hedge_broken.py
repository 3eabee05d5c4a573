"""A liquidation or ADL fill breaks the hedge: the critical hedge_broken alert with the delta left."""

from __future__ import annotations

from typing import Any

import pytest

from monitor.alerts import AlertEngine, AlertsConfig
from monitor.domain.events import BalanceEvent, FillEvent, PositionEvent, PriceEvent
from monitor.domain.instruments import default_catalog
from monitor.domain.plans import PortfolioSettings
from monitor.processor.engine import RiskEngine

SWAP = "okx:BTC-USDT-SWAP"
INVERSE = "okx:BTC-USD-SWAP"
SPOT = "okx:BTC-USDT"


def _engine() -> RiskEngine:
    engine = RiskEngine(default_catalog(), lambda _: PortfolioSettings(),
                        lambda _: AlertEngine(AlertsConfig()))
    engine.apply_price(PriceEvent(SPOT, 60_000, None, None, None, 1_000, 1_000))
    engine.apply_account(BalanceEvent("p", "cold", "BTC", 1.5, 1_000, 1_000), 0, 0)
    return engine


def _alerts(engine: RiskEngine) -> list[dict[str, Any]]:
    outbox = engine.portfolios["p"].outbox
    return [alert for alert in outbox if alert["rule"] == "hedge_broken"]


def test_an_adl_fill_on_a_linear_hedge_fires_with_the_unhedged_delta() -> None:
    """150 short x 0.01 BTC; ADL buys back 50 at 61000: delta 50 * 0.01 = +0.5 BTC now unhedged,
    0.5 * 60000 (the spot reference price) = +30000 USD."""
    engine = _engine()
    engine.apply_account(PositionEvent("p", "okx", SWAP, -150, 60_000, 10, "cross", None, 1_000, 1_000),
                         0, 1)
    engine.apply_account(FillEvent("p", "okx", SWAP, 50, 61_000, 0.0, 2_000, 2_000, forced="adl"), 0, 2)
    (fired,) = _alerts(engine)
    assert (fired["state"], fired["severity"], fired["subject"]) == ("firing", "critical", SWAP)
    assert fired["value"] == pytest.approx(0.5)
    assert fired["message"] == (
        f"{SWAP} in account okx: an auto-deleveraging (ADL) fill bought 50 contracts at 61000; "
        "the hedge is broken, +0.5 BTC (+30,000.00 USD) of delta now unhedged")
    # an own fill in the same direction adds to the loss: still broken; selling 50 re-hedges
    engine.apply_account(FillEvent("p", "okx", SWAP, 10, 61_000, 0.0, 3_000, 3_000), 0, 3)
    assert len(_alerts(engine)) == 1
    engine.apply_account(FillEvent("p", "okx", SWAP, -50, 61_000, 0.0, 4_000, 4_000), 0, 4)
    assert [alert["state"] for alert in _alerts(engine)] == ["firing", "resolved"]


def test_a_liquidation_of_an_inverse_hedge_counts_coin_delta_at_the_entry() -> None:
    """-300 x 100 USD contracts entered at 50000; a liquidation buys back 100 at 66000: the lost
    delta is 100 * 100 / 50000 = +0.2 BTC (inverse: q cv / EP at the leg's entry), 0.2 * 60000 =
    +12000 USD."""
    engine = _engine()
    engine.apply_account(PositionEvent("p", "okx", INVERSE, -300, 50_000, 10, "cross", None, 1_000,
                                       1_000), 0, 1)
    engine.apply_account(
        FillEvent("p", "okx", INVERSE, 100, 66_000, 0.0, 2_000, 2_000, forced="liquidation"), 0, 2)
    (fired,) = _alerts(engine)
    assert fired["value"] == pytest.approx(0.2)
    assert "a liquidation fill bought 100 contracts at 66000" in fired["message"]
    assert "+0.2 BTC (+12,000.00 USD) of delta now unhedged" in fired["message"]


def test_an_own_trade_breaks_nothing() -> None:
    engine = _engine()
    engine.apply_account(PositionEvent("p", "okx", SWAP, -150, 60_000, 10, "cross", None, 1_000, 1_000),
                         0, 1)
    engine.apply_account(FillEvent("p", "okx", SWAP, 50, 61_000, 0.0, 2_000, 2_000), 0, 2)
    assert _alerts(engine) == []

