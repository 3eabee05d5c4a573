"""Hyperliquid's margin model against the docs' worked example and its margin-tier rules.

Sources: hyperliquid-docs trading/liquidations (maintenance margin = half the initial margin at max
leverage; liq_price = price - side x margin_available / position_size / (1 - l x side)),
trading/margin-tiers (tier rate and deduction), for-developers/api/info-endpoint/perpetuals (the
clearinghouseState example whose isolated ETH position reports liquidationPx 2866.26936529).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.domain.instruments import Instrument, default_catalog, tiers_with_cum
from monitor.domain.margin import HyperliquidMargin, MarginLeg, margin_model_for

CATALOG = default_catalog()
MODEL = HyperliquidMargin()
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "exchanges"
FIXTURE = FIXTURES / "hyperliquid_info_clearinghouseState.json"


def _eth_at_max_leverage(max_leverage: float) -> Instrument:
    """ETH as the docs example had it: one tier, MMR = 1 / (2 x max leverage)."""
    return Instrument(id="hyperliquid:ETH", kind="linear", base="ETH", quote="USDC", settle="USDC",
                      contract_size=1.0,
                      tiers=tiers_with_cum([(0, 1e15, 1 / (2 * max_leverage), max_leverage)]))


def test_the_docs_isolated_example_liquidates_at_its_reported_price() -> None:
    """Isolated long 0.0335 ETH @2986.3, max leverage 50, marginUsed 4.967826, uPnL -0.0134.

    l = 1 / (2 x 50) = 0.01; isolated wallet W = 4.967826 + 0.0134 = 4.981226.
    W + q (P - EP) = l q P  ->  P = (q EP - W) / (q (1 - l))
      = (100.04105 - 4.981226) / (0.0335 x 0.99) = 95.059824 / 0.033165 = 2866.269380
    against the docs' own liquidationPx 2866.26936529: the inputs are shown to 6 decimals, and half
    a unit of the last one moves the result by 0.0000005 / 0.033165 = 0.000015.
    """
    position = json.loads(FIXTURE.read_text())["assetPositions"][0]["position"]
    instrument = _eth_at_max_leverage(position["maxLeverage"])
    wallet = float(position["marginUsed"]) - float(position["unrealizedPnl"])
    leg = MarginLeg(instrument, float(position["szi"]), float(position["entryPx"]), isolated_wallet=wallet)
    assert MODEL.liquidation_price([leg], wallet) == pytest.approx(2866.26936529, abs=1.6e-5)
    assert float(position["liquidationPx"]) == pytest.approx(2866.26936529)


def test_the_docs_formula_in_its_own_form() -> None:
    """liq = price - side x margin_available / size / (1 - l x side), at any current mark.

    Same position at mark 2985.9 (positionValue 100.02765 / 0.0335): equity = marginUsed 4.967826,
    MM = 100.02765 x 0.01 = 1.0002765, margin_available = 3.9675495;
    liq = 2985.9 - 3.9675495 / 0.0335 / 0.99 = 2985.9 - 119.6306... = 2866.2694 (as above).
    """
    instrument = _eth_at_max_leverage(50)
    leg = MarginLeg(instrument, 0.0335, 2986.3, isolated_wallet=4.981226)
    assert MODEL.maintenance_margin(leg, 2985.9) == pytest.approx(1.0002765)
    margin_available = 4.967826 - 1.0002765
    by_the_docs = 2985.9 - margin_available / 0.0335 / (1 - 0.01)
    assert by_the_docs == pytest.approx(2866.26936529, abs=1e-4)
    assert MODEL.liquidation_price([leg], 4.981226) == pytest.approx(by_the_docs, abs=1e-4)


def test_a_short_liquidates_above_by_the_same_formula() -> None:
    """Isolated short 1 BTC @60,000 at 40x max leverage (l = 1.25 %), wallet 1,500 (initial margin at 40x).

    side -1: W - (P - EP) = l P  ->  P = (W + EP) / (1 + l) = 61,500 / 1.0125 = 60,740.7407...
    """
    instrument = CATALOG.require("hyperliquid:BTC")
    leg = MarginLeg(instrument, -1.0, 60_000.0, isolated_wallet=1_500.0)
    assert MODEL.liquidation_price([leg], 1_500.0) == pytest.approx(61_500 / 1.0125)


def test_maintenance_margin_is_half_the_initial_margin_at_max_leverage() -> None:
    """Every Hyperliquid tier of the catalog: MMR x max leverage = 1/2 (docs "Liquidations")."""
    for instrument_id in ("hyperliquid:BTC", "hyperliquid:ETH"):
        for tier in CATALOG.require(instrument_id).tiers:
            assert tier.mmr * tier.max_leverage == pytest.approx(0.5)


def test_margin_tiers_deduct_so_the_margin_is_continuous() -> None:
    """BTC mainnet tiers 0-150M at 40x, >150M at 20x (docs "Margin tiers").

    deduction(1) = 150,000,000 x (2.5 % - 1.25 %) = 1,875,000;
    1 BTC at 200,000,000 USDC: MM = 200,000,000 x 2.5 % - 1,875,000 = 3,125,000;
    at 150,000,000 both tiers give 1,875,000.
    """
    instrument = CATALOG.require("hyperliquid:BTC")
    assert instrument.tiers[1].cum == pytest.approx(1_875_000.0)
    leg = MarginLeg(instrument, 1.0, 100_000.0)
    assert MODEL.maintenance_margin(leg, 200_000_000.0) == pytest.approx(3_125_000.0)
    assert MODEL.maintenance_margin(leg, 150_000_000.0) == pytest.approx(1_875_000.0)
    assert MODEL.maintenance_margin(leg, 100_000.0) == pytest.approx(1_250.0)  # 100,000 x 1.25 %


def test_hyperliquid_terms_in_the_catalog() -> None:
    """USDC-settled linear perpetuals sized in coin, hourly funding, chosen model ``hyperliquid``."""
    for coin in ("BTC", "ETH"):
        instrument = CATALOG.require(f"hyperliquid:{coin}")
        assert (instrument.kind, instrument.settle, instrument.contract_size) == ("linear", "USDC", 1.0)
        assert instrument.funding_interval_hours == 1
        assert margin_model_for(instrument).name == "hyperliquid"
