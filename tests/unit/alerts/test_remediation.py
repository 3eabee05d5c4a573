"""Every margin, liquidation and hedge-ratio alert says what restores the level, with figures."""

from __future__ import annotations

import json
from typing import Any

import pytest

from monitor.alerts import AlertEngine, AlertsConfig, AlertTransition
from monitor.schemas import load
from tests.unit.alerts.snapshots import T0, asset, position, snapshot

SWAP = "okx:BTC-USDT-SWAP"

# The rally-liquidation leg at a mark of 62,000 (tests/unit/domain/test_book_remediation.py):
# OKX cross 9000 USDT, short 150 x 0.01 BTC @60,000, LP (9000 + 90,000) / 1.50675 = 65,704.33;
# to put LP at 6 % (65,720): X = 1.5 x 65,720 x 0.0045 - (9000 - 1.5 x 5,720) = 23.61 USDT,
# or close 1 contract (23.61 - 39.8474 k <= 0).
RALLY_REMEDIATION: dict[str, Any] = {
    "target_distance": 0.06, "target_price": 65_720.0, "settle": "USDT", "add_margin": 23.61,
    "add_margin_usd": 23.61, "reduce_contracts": 1.0, "reduce_side": "short",
    "requirement_at_target": 443.61, "balance_at_target": 420.0, "mark_price": 62_000.0,
    "transfer_account": "spot-main", "transfer_available": 250.0,
}


def _fire(config: AlertsConfig, row: dict[str, Any] | None = None, **assets: Any) -> AlertTransition:
    engine = AlertEngine(config)
    transitions = engine.evaluate(snapshot(T0, positions=[row] if row else [], assets=assets))
    assert len(transitions) == 1, transitions
    return transitions[0]


def test_the_liquidation_alert_says_add_reduce_or_transfer() -> None:
    """At 4.9 % from LP (below 5 %): the message ends with the three remediations."""
    row = position(liquidation_price=65_704.33, liquidation_distance=0.049, remediation=RALLY_REMEDIATION)
    fired = _fire(AlertsConfig(), row)
    assert fired.message == (
        "okx:BTC-USDT-SWAP is 4.9 % from its liquidation price 65,704.33 (account okx-main), below "
        "5.0 %: add 23.61 USDT margin to bring liquidation back to 6.0 % away (65,720.00), or reduce "
        "the short by 1 contract, or transfer 23.61 USDT from spot-main (free balance 250.00 USDT)")
    assert fired.remediation == {"kind": "liquidation", "instrument": SWAP, "account": "okx-main",
                                 **RALLY_REMEDIATION}
    value = json.loads(json.dumps(fired.to_dict()))
    assert value["remediation"]["add_margin"] == 23.61


def test_a_transfer_source_too_small_is_named_as_such() -> None:
    """A spot wallet of 10 USDT cannot cover 23.61: the message says so instead of proposing it."""
    remedy = {**RALLY_REMEDIATION, "transfer_available": 10.0}
    row = position(liquidation_price=65_704.33, liquidation_distance=0.049, remediation=remedy)
    assert _fire(AlertsConfig(), row).message.endswith(
        "or reduce the short by 1 contract (spot-main holds only 10.00 USDT to transfer)")


def test_the_margin_ratio_alert_says_how_much_margin_brings_it_back() -> None:
    """MM 850, MB 1000: ratio 85 % > 80 %; back to the clear level 75 %: 850 / 0.75 - 1000 = 133.34."""
    # 850 / 0.75 = 1133.333..., less 1000 = 133.333..., rounded up to the cent: 133.34
    row = position(margin_ratio=0.85, maintenance_margin_usd=850.0, margin_balance_usd=1_000.0)
    fired = _fire(AlertsConfig(), row)
    assert fired.remediation is not None
    assert fired.remediation["add_margin_usd"] == pytest.approx(133.34)
    assert fired.message.endswith(": add 133.34 USD margin to bring the margin ratio back to 75.0 %")


def test_the_margin_buffer_alert_says_how_much_margin_brings_it_back() -> None:
    """MM 600, MB 1000: buffer 40 % < 50 %; back to 55 %: 600 / 0.45 - 1000 = 333.34 (rounded up)."""
    row = position(margin_buffer_fraction=0.4, maintenance_margin_usd=600.0, margin_balance_usd=1_000.0)
    fired = _fire(AlertsConfig(), row)
    assert fired.message.endswith(": add 333.34 USD margin to bring the margin buffer back to 55.0 %")


def test_the_hedge_ratio_alert_says_how_many_contracts_to_sell() -> None:
    """1.5 BTC hedged by 120 contracts (ratio 0.80 < 0.90): sell 30 x 0.01 BTC to return to 1.00."""
    row = asset(0.8, spot_delta=1.5, price=60_000.0, contracts_to_target=30.0, hedge_instrument=SWAP)
    fired = _fire(AlertsConfig(), BTC=row)
    assert fired.message.endswith(": sell 30 contracts of okx:BTC-USDT-SWAP to return to target 1.00")
    assert fired.remediation == {"kind": "hedge_ratio", "asset": "BTC", "instrument": SWAP,
                                 "action": "sell", "contracts": 30.0, "target_ratio": 1.0}


def test_an_over_hedge_says_buy_back() -> None:
    """Ratio 1.20 > 1.10 with 1.5 BTC: 30 contracts too many, buy them back."""
    row = asset(1.2, spot_delta=1.5, price=60_000.0, contracts_to_target=-30.0, hedge_instrument=SWAP)
    assert _fire(AlertsConfig(), BTC=row).message.endswith(
        ": buy 30 contracts of okx:BTC-USDT-SWAP to return to target 1.00")


def test_no_remediation_without_the_figures() -> None:
    """A leg without a remediation row keeps today's sentence; the field reads null."""
    row = position(liquidation_price=65_704.33, liquidation_distance=0.049)
    fired = _fire(AlertsConfig(), row)
    assert fired.message.endswith("below 5.0 %")
    assert fired.to_dict()["remediation"] is None


def test_the_resolution_carries_no_remediation() -> None:
    """Once the distance is back at 6 %, the resolution has no remediation."""
    engine = AlertEngine(AlertsConfig())
    row = position(liquidation_price=65_704.33, liquidation_distance=0.049, remediation=RALLY_REMEDIATION)
    engine.evaluate(snapshot(T0, positions=[row]))
    resolved = engine.evaluate(snapshot(T0 + 1000, positions=[position(liquidation_distance=0.07)]))
    assert [item.state for item in resolved] == ["resolved"]
    assert resolved[0].remediation is None


def test_alert_values_with_a_remediation_match_the_schema() -> None:
    """The hedge.alerts schema takes the remediation field."""
    jsonschema = pytest.importorskip("jsonschema")
    row = position(liquidation_price=65_704.33, liquidation_distance=0.049, remediation=RALLY_REMEDIATION)
    jsonschema.validate(_fire(AlertsConfig(), row).to_dict(), load("alert"))


def test_a_hedge_mode_account_takes_the_remediation_of_the_leg_that_breaches() -> None:
    """Long and short legs in one account: the short at 4.9 % carries the remediation, not the long."""
    long_leg = position(liquidation_distance=0.4, quantity=50.0, position_side="long")
    short_leg = position(liquidation_price=65_704.33, liquidation_distance=0.049,
                         remediation=RALLY_REMEDIATION, position_side="short")
    fired = AlertEngine(AlertsConfig()).evaluate(
        snapshot(T0, positions=[long_leg, short_leg]))
    assert [t.rule for t in fired] == ["liquidation_distance_low"]
    assert fired[0].remediation is not None
    assert fired[0].remediation["add_margin"] == 23.61
