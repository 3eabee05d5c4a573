"""The hedge calculator's margin side: the leg's liquidation, the capped stress grid, the survival margin.

Every expected value is computed by hand in a comment from the Binance isolated liquidation rule
(risk-definitions.md, Margin): linear ``LP = (WB + cum - side*Q*EP) / (Q*MMR - side*Q)``, inverse
``LP = Q*(MMR + side) / (WB + cum + side*Q/EP)``.
"""

from __future__ import annotations

from typing import Any

import pytest

from monitor.domain.instruments import Instrument, default_catalog, instrument_from_mapping
from monitor.domain.planner import (
    DEFAULT_MAINTENANCE_MARGIN_RATE,
    HedgeRequest,
    plan_hedge,
    whole_leverage_below,
)

CENT = 0.005
SATOSHI = 5e-9
MICRO = instrument_from_mapping(
    "custom:BTC-0.01", {"kind": "linear", "base": "BTC", "contract_size": 0.01, "lot_step": 1})


def _plan(instrument: Instrument, **options: Any) -> dict[str, Any]:
    return plan_hedge(HedgeRequest("BTC", 1.5, 60_000.0, instrument, **options))


def _rows(plan: dict[str, Any]) -> dict[float, dict[str, Any]]:
    return {row["shock"]: row for row in plan["stress"]}


# --- whole leverage ---


@pytest.mark.parametrize(
    ("exact", "allowed", "expected"),
    [
        (4.8828125, None, 4.0),  # 90000 / 18432: 4x leaves LP beyond 72000, 5x would not
        (5.0, None, 4.0),  # exactly 5x puts LP on the shocked price, which liquidates
        (9.578544, 100.0, 9.0),
        (250.0, 100.0, 100.0),  # capped at the tier's maximum leverage
        (0.9, None, None),  # no leverage of 1x or more survives: margin must be added
    ],
)
def test_whole_leverage_below(exact: float, allowed: float | None, expected: float | None) -> None:
    """The highest whole leverage strictly below the exact figure, at most the tier's maximum."""
    assert whole_leverage_below(exact, allowed) == expected


# --- where the rate comes from -------------------------------------------------------------------


def test_maintenance_rate_from_the_tier_the_default_or_the_caller() -> None:
    """A tiered instrument gives its venue's tier; one without tiers the default; a given rate wins."""
    binance = default_catalog().require("binance:BTCUSDT")
    # 90000 USD opens in bracket 2 [50000, 500000): up to 100x; at 10x the liquidation notional
    # 1.5 x 65,7xx ~ 98,600 stays in bracket 2: MMR 0.5 %, cum 50000 x (0.005 - 0.004) = 50
    plan = _plan(binance, leverage=10.0)
    assert (plan["maintenance_margin_rate"], plan["maintenance_amount"]) == (0.005, pytest.approx(50.0))
    assert plan["max_leverage_allowed"] == 100.0
    assert plan["maintenance_margin_source"].startswith("binance:BTCUSDT tier 2 (binance rule")
    default = _plan(MICRO, leverage=10.0)
    assert DEFAULT_MAINTENANCE_MARGIN_RATE == 0.004  # Binance USDⓈ-M BTCUSDT bracket 1: 0.40 %
    assert (default["maintenance_margin_rate"], default["maintenance_amount"]) == (0.004, 0.0)
    assert default["max_leverage_allowed"] is None
    assert "Binance USDⓈ-M BTCUSDT bracket 1" in default["maintenance_margin_source"]
    given = _plan(MICRO, leverage=10.0, maintenance_margin_rate=0.005)
    assert (given["maintenance_margin_rate"], given["maintenance_amount"]) == (0.005, 0.0)


def test_a_coin_collateralised_inverse_short_is_never_liquidated() -> None:
    """A 1x inverse short (wallet = Q / EP coin) has no liquidation price: it reads None."""
    swap = default_catalog().require("okx:BTC-USD-SWAP")
    # LP = Q (MMR - 1) / (WB - Q / EP) with WB = Q / EP: the denominator is 0 -> none
    plan = _plan(swap, leverage=1.0)
    assert plan["liquidation_price"] is None


# --- the plan -------------------------------------------------------------------------------------


def test_plan_linear_seed_at_10x_row_by_row() -> None:
    """The seed at 10x: the short is liquidated at +9.56 %, and the grid caps it at its 9000 margin."""
    plan = _plan(MICRO, leverage=10.0)
    # wallet = 150 * 600 / 10 = 9000 USD; LP = 99000 / 1.506 = 65737.05; (65737.05 - 60000) / 60000
    assert plan["initial_margin_usd"] == pytest.approx(9_000.0)
    assert plan["initial_margin"] == pytest.approx(9_000.0)
    assert plan["settlement_currency"] == "USD"
    assert plan["margin_mode"] == "isolated"
    assert plan["maintenance_margin_rate"] == 0.004
    assert plan["maintenance_amount"] == 0.0
    assert plan["max_leverage_allowed"] is None  # a custom contract lists no tiers
    assert plan["liquidation_price"] == pytest.approx(65_737.05, abs=CENT)
    assert plan["liquidation_distance"] == pytest.approx(0.0956175, abs=1e-7)
    rows = _rows(plan)
    # shock: shocked price; spot 1.5 * (P' - 60000); hedge -1.5 * (P' - 60000) unless P' >= 65737.05
    expected = {
        -0.2: (48_000.0, -18_000.0, 18_000.0, 0.0, False),
        -0.1: (54_000.0, -9_000.0, 9_000.0, 0.0, False),
        -0.05: (57_000.0, -4_500.0, 4_500.0, 0.0, False),
        0.05: (63_000.0, 4_500.0, -4_500.0, 0.0, False),  # 63000 < 65737.05
        0.1: (66_000.0, 9_000.0, -9_000.0, 0.0, True),  # 66000 >= LP: loses the 9000 wallet
        0.2: (72_000.0, 18_000.0, -9_000.0, 9_000.0, True),  # the spot's +18000 is unprotected
    }
    for shock, (shocked, spot, hedge, net, liquidated) in expected.items():
        row = rows[shock]
        assert row["shocked_price"] == pytest.approx(shocked)
        assert row["spot_pnl_usd"] == pytest.approx(spot, abs=CENT)
        assert row["hedge_pnl_usd"] == pytest.approx(hedge, abs=CENT)
        assert row["net_pnl_usd"] == pytest.approx(net, abs=CENT)
        assert row["liquidated"] is liquidated


def test_plan_linear_survival_per_shock() -> None:
    """Per shock the wallet WB = P' * 1.5 * 1.004 - 90000 and the leverage 90000 / WB, floored."""
    rows = _rows(_plan(MICRO, leverage=10.0))
    expected = {
        0.05: (4_878.0, 18.450185, 18.0),  # 63000 * 1.506 = 94878; 90000 / 4878 = 18.45 -> 18x
        0.1: (9_396.0, 9.578544, 9.0),  # 66000 * 1.506 = 99396; 90000 / 9396 = 9.58 -> 9x
        0.2: (18_432.0, 4.882813, 4.0),  # 72000 * 1.506 = 108432; 90000 / 18432 = 4.88 -> 4x
    }
    for shock, (margin, exact, highest) in expected.items():
        row = rows[shock]
        assert row["margin_to_survive"] == pytest.approx(margin, abs=CENT)
        assert row["margin_to_survive_usd"] == pytest.approx(margin, abs=CENT)
        assert row["max_leverage_to_survive_exact"] == pytest.approx(exact, abs=1e-6)
        assert row["max_leverage_to_survive"] == highest
    # A fall cannot liquidate the short: 57000 * 1.506 - 90000 = -4158 < 0, no wallet needed and
    # no limit the plan knows of (a custom contract has no maximum leverage).
    for shock in (-0.2, -0.1, -0.05):
        row = rows[shock]
        assert row["margin_to_survive"] == 0.0
        assert row["max_leverage_to_survive_exact"] is None
        assert row["max_leverage_to_survive"] is None
    # the leverage of 10x is above 9x: the +10 % row is liquidated, as the grid says.
    assert rows[0.1]["liquidated"] is True
    assert rows[0.05]["liquidated"] is False


def test_plan_inverse_okx_at_10x_row_by_row() -> None:
    """OKX BTC-USD-SWAP at 10x: LP 66366.67 (+10.61 %), +10 % survives, +20 % loses the 0.15 BTC wallet."""
    plan = _plan(default_catalog().require("okx:BTC-USD-SWAP"), leverage=10.0)
    # wallet = 90000 / 10 = 9000 USD = 9000 / 60000 = 0.15 BTC; OKX liquidates at MM plus the
    # 0.05 % closing fee: LP = 90000 x (1 - 0.004 - 0.0005) / (1.5 - 0.15) = 89595 / 1.35 = 66366.67
    assert plan["initial_margin_usd"] == pytest.approx(9_000.0)
    assert plan["initial_margin"] == pytest.approx(0.15)
    assert plan["settlement_currency"] == "BTC"
    assert plan["maintenance_margin_rate"] == 0.004  # tier 1, notional 90000 < 2,000,000
    assert plan["max_leverage_allowed"] == 100.0
    assert plan["liquidation_price"] == pytest.approx(66_366.67, abs=CENT)
    assert plan["liquidation_distance"] == pytest.approx(6_366.6667 / 60_000.0)  # 0.10611
    rows = _rows(plan)
    # hedge USD PnL = -90000 * (1/60000 - 1/P') * P' = -90000 * (P'/60000 - 1) while P' < 66366.67;
    # liquidated: the 0.15 BTC wallet, worth 9000 USD at the plan's price, is lost.
    expected = {
        -0.2: (-18_000.0, 18_000.0, 0.0, False),  # -90000 * (0.8 - 1) = +18000
        -0.1: (-9_000.0, 9_000.0, 0.0, False),
        -0.05: (-4_500.0, 4_500.0, 0.0, False),
        0.05: (4_500.0, -4_500.0, 0.0, False),  # -90000 * 0.05
        0.1: (9_000.0, -9_000.0, 0.0, False),  # 66000 < 66366.67: still alive
        0.2: (18_000.0, -9_000.0, 9_000.0, True),  # 72000 >= 66366.67
    }
    for shock, (spot, hedge, net, liquidated) in expected.items():
        row = rows[shock]
        assert row["spot_pnl_usd"] == pytest.approx(spot, abs=CENT)
        assert row["hedge_pnl_usd"] == pytest.approx(hedge, abs=CENT)
        assert row["net_pnl_usd"] == pytest.approx(net, abs=CENT)
        assert row["liquidated"] is liquidated


def test_plan_inverse_survival_per_shock() -> None:
    """Inverse: WB = 1.5 - 89595 / P' BTC (OKX: MM + 0.05 % fee), in USD at 60000, leverage floored."""
    rows = _rows(_plan(default_catalog().require("okx:BTC-USD-SWAP"), leverage=10.0))
    # WB = Q/EP - Q (1 - MMR - fee) / P' = 1.5 - 90000 x 0.9955 / P'
    expected = {
        # 1.5 - 89595 / 63000 = 0.07785714 BTC = 4671.43 USD; 90000 / 4671.43 = 19.27 -> 19x
        0.05: (0.07785714, 4_671.43, 19.0),
        # 1.5 - 89595 / 66000 = 0.1425 BTC = 8550 USD; 90000 / 8550 = 10.53 -> 10x
        0.1: (0.1425, 8_550.0, 10.0),
        # 1.5 - 89595 / 72000 = 0.255625 BTC = 15337.50 USD; 90000 / 15337.5 = 5.87 -> 5x
        0.2: (0.255625, 15_337.5, 5.0),
    }
    for shock, (coin, usd, highest) in expected.items():
        row = rows[shock]
        assert row["margin_to_survive"] == pytest.approx(coin, abs=SATOSHI)
        assert row["margin_to_survive_usd"] == pytest.approx(usd, abs=CENT)
        assert row["max_leverage_to_survive"] == highest
    # 89595 / 57000 = 1.5718 > 1.5: a fall needs no wallet; the tier allows up to 100x.
    for shock in (-0.2, -0.1, -0.05):
        assert rows[shock]["margin_to_survive"] == 0.0
        assert rows[shock]["max_leverage_to_survive"] == 100.0


def test_linear_tier_is_re_solved_at_the_liquidation_notional() -> None:
    """Binance BTCUSDT 0.8 BTC at 2x: bracket 1 at entry, bracket 2 at the liquidation notional."""
    binance = default_catalog().require("binance:BTCUSDT")
    plan = plan_hedge(HedgeRequest("BTC", 0.8, 60_000.0, binance, leverage=2.0))
    # notional 0.8 * 60000 = 48000 (bracket 1, 0.4 %, 125x), WB = 24000.
    # bracket 1: (24000 + 48000) / (0.8 * 1.004) = 89641.43, notional 71713 >= 50000: bracket 2
    # bracket 2: (24000 + 50 + 48000) / (0.8 * 1.005) = 72050 / 0.804 = 89614.43, notional
    # 71691.5 still in bracket 2. Check: MM = 71691.54 * 0.005 - 50 = 308.46 = MB
    # = 24000 - 0.8 * (89614.43 - 60000) = 308.46.
    assert plan["liquidation_price"] == pytest.approx(89_614.43, abs=CENT)
    assert plan["maintenance_margin_rate"] == 0.005
    assert plan["maintenance_amount"] == pytest.approx(50.0)
    assert plan["max_leverage_allowed"] == 125.0  # the opening notional's bracket
    rows = _rows(plan)
    # +20 %: notional 0.8 * 72000 = 57600 is in bracket 2:
    # WB = 72000 * 0.8 * 1.005 - 48000 - 50 = 57888 - 48050 = 9838; 48000 / 9838 = 4.88 -> 4x
    assert rows[0.2]["maintenance_margin_rate"] == 0.005
    assert rows[0.2]["margin_to_survive"] == pytest.approx(9_838.0, abs=CENT)
    assert rows[0.2]["max_leverage_to_survive"] == 4.0
    # +5 %: notional 0.8 * 63000 = 50400, bracket 2 too:
    # 63000 * 0.804 - 48050 = 50652 - 48050 = 2602; 48000 / 2602 = 18.45 -> 18x
    assert rows[0.05]["margin_to_survive"] == pytest.approx(2_602.0, abs=CENT)
    # -5 %: notional 0.8 * 57000 = 45600, bracket 1: 57000 * 0.8 * 1.004 - 48000 < 0
    assert rows[-0.05]["maintenance_margin_rate"] == 0.004
    assert rows[-0.05]["max_leverage_to_survive"] == 125.0


def test_without_leverage_the_liquidation_is_unknown_not_safe() -> None:
    """No leverage: no wallet, so no liquidation price, liquidated is None, the PnL is not capped."""
    plan = _plan(MICRO)
    assert plan["initial_margin_usd"] is None
    assert plan["initial_margin"] is None
    assert plan["liquidation_price"] is None
    assert plan["liquidation_distance"] is None
    rows = _rows(plan)
    assert all(row["liquidated"] is None for row in plan["stress"])
    # -1.5 * (72000 - 60000) = -18000, uncapped; the survival figures need no leverage.
    assert rows[0.2]["hedge_pnl_usd"] == pytest.approx(-18_000.0, abs=CENT)
    assert rows[0.2]["margin_to_survive"] == pytest.approx(18_432.0, abs=CENT)


def test_a_given_rate_moves_the_liquidation_price() -> None:
    """A given MMR of 0.5 %: LP = 99000 / (1.5 * 1.005) = 65671.64."""
    plan = _plan(MICRO, leverage=10.0, maintenance_margin_rate=0.005)
    assert plan["liquidation_price"] == pytest.approx(65_671.64, abs=CENT)
    assert plan["maintenance_margin_source"] == "given rate 0.005"


def test_a_wallet_at_the_maintenance_margin_is_liquidated_at_once() -> None:
    """At 250x the wallet 90000 / 250 = 360 equals 90000 * 0.004: LP = 90360 / 1.506 = 60000, now."""
    plan = _plan(MICRO, leverage=250.0)
    assert plan["liquidated_at_open"] is True
    assert plan["liquidation_price"] == pytest.approx(60_000.0, abs=CENT)
    # every row, falls included, has lost the 360 wallet: the short no longer exists
    for row in plan["stress"]:
        assert row["liquidated"] is True
        assert row["hedge_pnl_usd"] == pytest.approx(-360.0, abs=CENT)
    # at 10x the short is open and alive at the plan's price
    assert _plan(MICRO, leverage=10.0)["liquidated_at_open"] is False
    assert _plan(MICRO)["liquidated_at_open"] is None  # no leverage, no wallet: unknown
