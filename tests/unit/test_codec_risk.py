"""The hedge.risk codec: a typed snapshot is written as the schema's JSON and read back unchanged."""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import Any

import jsonschema
import orjson
import pytest

from bench.workload import Workload, bench_catalog
from monitor import schemas
from monitor.alerts import AlertEngine, AlertsConfig
from monitor.codec import DecodeError, decode_risk, encode_risk, risk_to_dict
from monitor.domain.events import PositionEvent, PriceEvent
from monitor.domain.plans import PortfolioSettings
from monitor.domain.snapshot import LegFigures, RiskSnapshot
from monitor.processor.engine import RiskEngine
from tests.unit.deploy.sample_snapshots import add_venue_figures, remediation_value, seed_snapshot

VALIDATOR = jsonschema.Draft202012Validator(schemas.load("risk"))


def desk_snapshots(portfolios: int = 60, ticks: int = 400) -> list[RiskSnapshot]:
    """Every portfolio of a small bench desk after some ticks and position changes; one leg has no
    terms, so an unpriced leg and blanked figures are in the sample too."""
    catalog = bench_catalog()
    engine = RiskEngine(catalog, lambda _: PortfolioSettings(), lambda _: AlertEngine(AlertsConfig()))
    workload = Workload(portfolios, catalog, seed=11, base_ms=1_700_000_000_000)
    offset = 0
    for event in workload.setup_events(1_700_000_000_000):
        offset += 1
        if isinstance(event, PriceEvent):
            engine.apply_price(event)
        else:
            engine.apply_account(event, 0, offset)
    for index in range(ticks):
        offset += 1
        event = workload.next_event(1_700_000_000_000 + index)
        if isinstance(event, PriceEvent):
            engine.apply_price(event)
        else:
            engine.apply_account(event, 0, offset)
    engine.apply_account(PositionEvent("bench-00000", "okx", "okx:NEW-USDT-SWAP", -3.0, 10.0, None,
                                       "cross", None, 1_700_000_000_500, 1_700_000_000_500), 0, offset + 1)
    return [engine.snapshot(portfolio, seq=7, ts_ms=1_700_000_001_000, latency_ms=4)[0]
            for portfolio in sorted(engine.portfolios)]


def test_every_snapshot_of_a_desk_is_schema_json_and_reads_back_unchanged() -> None:
    """Written, a snapshot validates against risk.json; read back and written again it gives the
    same bytes (NaN-free figures compare equal as values too)."""
    snapshots = desk_snapshots()
    assert any(s.unpriced_positions for s in snapshots)
    assert any(p.remediation is not None for s in snapshots for p in s.positions)
    for snapshot in snapshots:
        value = encode_risk(snapshot)
        VALIDATOR.validate(orjson.loads(value))
        assert encode_risk(decode_risk(value)) == value


def test_the_json_keys_are_the_field_names_in_order() -> None:
    """Each object of the value lists its type's fields, in their order: one name for a figure."""
    snapshot = desk_snapshots(portfolios=3, ticks=10)[0]

    def check(typed: object, data: Any) -> None:
        assert is_dataclass(typed)
        assert list(data) == [item.name for item in fields(typed)]
        for item in fields(typed):
            child = getattr(typed, item.name)
            if is_dataclass(child):
                check(child, data[item.name])

    data = risk_to_dict(snapshot)
    check(snapshot, data)
    for leg, leg_data in zip(snapshot.positions, data["positions"], strict=True):
        check(leg, leg_data)
    for asset, figures in snapshot.assets.items():
        check(figures, data["assets"][asset])
    for row, row_data in zip(snapshot.stress, data["stress"], strict=True):
        check(row, row_data)


def test_a_hand_made_value_reads_as_its_figures() -> None:
    """The seed leg of tests/unit/deploy: 150 short at 60000, its venue's figures and a remediation."""
    value = seed_snapshot()
    value["positions"] = value["positions"][:1]  # the sample's spot row is no published position
    add_venue_figures(value)
    value["positions"][0]["remediation"] = remediation_value(23.61, 1.0, 0.06)
    snapshot = decode_risk(orjson.dumps(value))
    leg = snapshot.positions[0]
    assert isinstance(leg, LegFigures)
    assert (leg.instrument, leg.quantity, leg.notional_usd) == ("okx:BTC-USDT-SWAP", -150.0, 90_000.0)
    assert leg.venue_figures is not None
    assert leg.venue_figures.liquidation_price == 66_000.0
    assert leg.remediation is not None
    # 60000 * (1 + 0.06) = 63600
    assert leg.remediation.target_price == pytest.approx(63_600.0)
    assert snapshot.accounts["bybit-uta"].venue.venue_figure == "accountMMRate"
    VALIDATOR.validate(risk_to_dict(snapshot))


@pytest.mark.parametrize(("value", "reason"), [
    (b"[]", "must be a JSON object"),
    (b'{"v": 2, "type": "risk", "portfolio": "a"}', "unsupported risk version 2"),
    (b'{"v": 1, "type": "price", "portfolio": "a"}', "not a risk value"),
    (b'{"v": 1, "type": "risk"}', "portfolio"),
    (b'{"v": 1, "type": "risk", "portfolio": "a", "extra": 1}', "unknown field(s) extra"),
    (b'{"v": 1, "type": "risk", "portfolio": "a", "positions": {}}', "positions must be an array"),
    ((b'{"v": 1, "type": "risk", "portfolio": "a", "positions": [{"account": "x", "instrument": "y", '
      b'"margin": 1}]}'), "positions[0] has unknown field(s) margin"),
    (b'{"v": 1, "type": "risk", "portfolio": "a", "assets": {"BTC": 1}}', "assets.BTC must be an object"),
    (b'{"v": 1, "type": "risk", "portfolio": "a", "assets": {"BTC": {"price": "60000"}}}',
     'assets.BTC.price must be a number or null, got "60000"'),
    (b'{"v": 1, "type": "risk", "portfolio": "a", "assets": {"BTC": {"spot_delta": true}}}',
     "assets.BTC.spot_delta must be a number, got true"),
    (b'{"v": 1, "type": "risk", "portfolio": "a", "assets": {"BTC": {"hedge_band": [0.85, 1.05]}}}',
     "assets.BTC.hedge_band must be a number or null, got [0.85,1.05]"),
    (b'{"v": 1, "type": "risk", "portfolio": "a", "seq": 1.5}', "seq must be an integer, got 1.5"),
    ((b'{"v": 1, "type": "risk", "portfolio": "a", "positions": [{"account": "x", "instrument": "y", '
      b'"margin_model": "okx", "position_side": "sideways"}]}'),
     "positions[0].position_side must be one of 'one_way', 'long', 'short', got \"sideways\""),
    (b'{"v": 1, "type": "risk", "portfolio": "a", "feeds": {"stale": [3]}}',
     "feeds.stale[0] must be a string, got int"),
    ((b'{"v": 1, "type": "risk", "portfolio": "a", "positions": [{"account": "x", "instrument": "y", '
      b'"margin_model": "okx", "position_side": ["long"]}]}'),
     "positions[0].position_side must be one of 'one_way', 'long', 'short', got [\"long\"]"),
    (b'{"v": 1, "type": "risk", "portfolio": "a", "stress": [1]}', "stress[0] must be an object, got int"),
    (b'{"v": 1, "type": "risk", "portfolio": "a", "accounts": []}', "accounts must be an object, got list"),
])
def test_a_value_of_another_shape_is_refused_with_where(value: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as raised:
        decode_risk(value)
    assert reason in raised.value.reason
