"""Schema version 3: the venue's own figures, forced fills and account margins; v1/v2 still read."""

from __future__ import annotations

import jsonschema
import orjson
import pytest

from monitor import schemas
from monitor.codec import SCHEMA_VERSION, DecodeError, decode, encode_event
from monitor.domain.events import (
    AccountMarginEvent,
    Event,
    EventError,
    FillEvent,
    PositionEvent,
)

SWAP = "okx:BTC-USDT-SWAP"
V2_POSITION = {
    "v": 2, "type": "position", "portfolio": "alice", "account": "okx-main", "instrument": SWAP,
    "quantity": -150.0, "entry_price": 60000.0, "leverage": 10.0, "margin_mode": "isolated",
    "isolated_margin": 9000.0, "position_side": "one_way", "risk_limit_value": None,
    "ts_event_ms": 1700000000000,
}


def _position(**figures: object) -> PositionEvent:
    return PositionEvent("alice", "okx-main", SWAP, -150, 60_000, 10, "isolated", 9_000, 5, 6,
                         **figures)  # type: ignore[arg-type]


def test_writers_write_version_3() -> None:
    """Every value is written at v3 (docs/topics.md, Migration from v2 to v3)."""
    assert SCHEMA_VERSION == 3
    assert orjson.loads(encode_event(_position()))["v"] == 3


def test_a_v2_position_reads_with_every_venue_figure_unknown() -> None:
    """A v2 value (written before the upgrade) decodes; its venue figures are None, never 0."""
    event = decode(orjson.dumps(V2_POSITION))
    assert isinstance(event, PositionEvent)
    assert event.venue_liquidation_price is None
    assert event.venue_maintenance_margin is None
    assert event.venue_margin_ratio is None
    assert event.adl_rank is None
    assert event.adl_rank_top is None


def test_a_v2_fill_reads_as_an_own_trade() -> None:
    value = {"v": 2, "type": "fill", "portfolio": "alice", "account": "okx-main", "instrument": SWAP,
             "quantity": -150.0, "price": 60000.0, "fee_usd": 4.5, "ts_event_ms": 1}
    event = decode(orjson.dumps(value))
    assert isinstance(event, FillEvent)
    assert event.forced is None


@pytest.mark.parametrize("version", [0, 4, 99, "3", True, None])
def test_an_unknown_version_is_refused_with_its_reason(version: object) -> None:
    """The processor sends the value to hedge.dlq with this reason."""
    with pytest.raises(DecodeError) as caught:
        decode(orjson.dumps({**V2_POSITION, "v": version}))
    assert caught.value.reason == (
        f"unsupported version {version!r} (this release reads versions 1, 2 and 3)")


def test_account_margin_is_a_version_3_type() -> None:
    """A v2 value cannot carry the type v3 added."""
    event = AccountMarginEvent("alice", "bybit-uta", "unified", "accountMMRate", 0.0017, 0.0017, 1.0,
                               3.0, 0.005, 0.0017, None, 7, 8)
    value = orjson.loads(encode_event(event))
    assert decode(orjson.dumps(value)) == event
    with pytest.raises(DecodeError, match="unknown type 'account_margin' of version 2"):
        decode(orjson.dumps({**value, "v": 2}))


def test_v3_values_round_trip_and_match_the_schema() -> None:
    validator = jsonschema.Draft202012Validator(schemas.load("positions"))
    events: list[Event] = [
        _position(venue_liquidation_price=66_000.0, venue_maintenance_margin=36.0,
                  venue_margin_ratio=0.004, adl_rank=5, adl_rank_top=5),
        FillEvent("alice", "okx-main", SWAP, 150, 61_000, 0.0, 9, 9, forced="adl"),
        AccountMarginEvent("alice", "binance-pm", "portfolio_margin", "uniMMR", 5167.92171923,
                           1 / 5167.92171923, 1 / 1.05, 122607.35137903, 23.72469206, None,
                           "NORMAL", 7, 8),
    ]
    for event in events:
        value = encode_event(event)
        validator.validate(orjson.loads(value))
        assert decode(value) == event


@pytest.mark.parametrize(("figures", "message"), [
    ({"venue_liquidation_price": 0.0}, "venue_liquidation_price must be > 0"),
    ({"venue_margin_ratio": -0.1}, "venue_margin_ratio must be >= 0"),
    ({"adl_rank": 2}, "adl_rank and adl_rank_top go together"),
    ({"adl_rank": 6, "adl_rank_top": 5}, "adl_rank must be within"),
])
def test_venue_figures_are_validated(figures: dict[str, object], message: str) -> None:
    with pytest.raises(EventError, match=message):
        _position(**figures)


def test_a_forced_fill_reason_is_validated() -> None:
    value = {"v": 3, "type": "fill", "portfolio": "alice", "account": "okx-main", "instrument": SWAP,
             "quantity": 1.0, "price": 1.0, "fee_usd": 0.0, "ts_event_ms": 1, "forced": "margin"}
    with pytest.raises(DecodeError, match="field 'forced' must be 'liquidation', 'adl' or null"):
        decode(orjson.dumps(value))
