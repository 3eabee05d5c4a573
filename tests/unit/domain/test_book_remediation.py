"""The risk snapshot carries a remediation on a leg nearer its liquidation price than the target."""

from __future__ import annotations

from collections import deque

import pytest

from monitor.domain.book import HedgeBook, PriceTable
from monitor.domain.events import BalanceEvent, PositionEvent, PriceEvent
from monitor.domain.instruments import default_catalog
from tests.support import published

SWAP = "okx:BTC-USDT-SWAP"


def _rally_book(mark: float) -> HedgeBook:
    """The rally-liquidation scenario's accounts: spot 1.5 BTC + 250 USDT, OKX cross 9000 USDT."""
    catalog = default_catalog()
    table = PriceTable(catalog)
    book = HedgeBook("rally", catalog, table)
    book.apply_balance(BalanceEvent("rally", "spot-main", "BTC", 1.5, 1_000, 1_000))
    book.apply_balance(BalanceEvent("rally", "spot-main", "USDT", 250.0, 1_000, 1_000))
    book.apply_balance(BalanceEvent("rally", "okx-main", "USDT", 9_000.0, 1_000, 1_000))
    book.apply_position(PositionEvent("rally", "okx-main", SWAP, -150, 60_000, 10, "cross", None,
                                      1_000, 1_000))
    event = PriceEvent(SWAP, mark, None, None, None, 2_000, 2_000)
    table.apply(event)
    book.apply_instrument_price(event)
    return book


def test_a_leg_near_liquidation_gets_the_margin_to_add_and_the_contracts_to_close() -> None:
    """Mark 62,000: LP 65,704.33 is 5.97 % away, inside the 6 % target -> T = 65,720."""
    # LP = (9000 + 90,000) / 1.50675 = 65,704.33; distance (65,704.33 - 62,000) / 62,000 = 5.975 %
    # X = 1.5 x 65,720 x 0.0045 - (9000 - 1.5 x 5,720) = 443.61 - 420 = 23.61 USDT
    # K: 23.61 - 39.8474 k <= 0 -> k >= 0.59 -> 1 contract (tests/unit/domain/test_remediation.py)
    position = published(_rally_book(62_000.0))["positions"][0]
    assert position["liquidation_distance"] == pytest.approx(0.05975, abs=1e-5)
    remedy = position["remediation"]
    assert remedy["target_distance"] == 0.06
    assert remedy["target_price"] == pytest.approx(65_720.0)
    assert remedy["add_margin"] == pytest.approx(23.61, abs=0.005)
    assert remedy["add_margin_usd"] == pytest.approx(23.61, abs=0.005)
    assert remedy["requirement_at_target"] == pytest.approx(443.61)  # 1.5 x 65,720 x 0.45 %
    assert remedy["balance_at_target"] == pytest.approx(420.0)  # 9000 - 1.5 x 5,720
    assert remedy["mark_price"] == 62_000.0
    assert remedy["reduce_contracts"] == 1.0
    assert remedy["reduce_side"] == "short"
    assert remedy["transfer_account"] == "spot-main"
    assert remedy["transfer_available"] == 250.0


def test_a_leg_with_its_buffer_has_no_remediation() -> None:
    """Mark 60,000: LP 65,704.33 is 9.5 % away, beyond the 6 % target."""
    position = published(_rally_book(60_000.0))["positions"][0]
    assert position["remediation"] is None


def test_the_snapshot_carries_the_realised_volatility_of_the_samples() -> None:
    """Samples 60,000, 66,000, 59,400 every 60 s: returns ln 1.1 and ln 0.9, as in
    tests/unit/alerts/test_stages.py: s = 0.1418958, / sqrt(60) = 0.0183187 per sqrt-second."""
    book = _rally_book(60_000.0)
    book.asset_samples["BTC"] = deque([60_000.0, 66_000.0, 59_400.0])
    assert published(book)["assets"]["BTC"]["realised_volatility"] == pytest.approx(0.0183187, abs=1e-7)
    book.asset_samples["BTC"].append(59_400.0)  # a new sample: recomputed, not the cached figure
    # returns 0.0953102, -0.1053605, 0: mean -0.0033501; deviations 0.0986603, -0.1020104,
    # 0.0033501; squares 0.0097339 + 0.0104061 + 0.0000112 = 0.0201512; / 2 = 0.0100756;
    # s = 0.1003773; / sqrt(60) = 7.7459667 -> 0.0129587
    assert published(book)["assets"]["BTC"]["realised_volatility"] == pytest.approx(0.0129587, abs=1e-7)
