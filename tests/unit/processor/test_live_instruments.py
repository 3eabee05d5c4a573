"""hedge.instruments: live contract terms reach the processor's catalog; unknown ones read unknown."""

from __future__ import annotations

import time
from contextlib import AbstractAsyncContextManager
from typing import Any

import jsonschema
import orjson
import pytest

from monitor import schemas
from monitor.bus.base import Topics
from monitor.bus.memory import MemoryBus
from monitor.codec import (
    DecodeError,
    decode_instrument,
    encode_event,
    encode_instrument,
    event_key,
    risk_to_dict,
)
from monitor.domain.events import (
    BalanceEvent,
    Event,
    InstrumentEvent,
    InstrumentTier,
    PositionEvent,
    PriceEvent,
)
from monitor.domain.instruments import default_catalog
from monitor.domain.plans import PortfolioSettings
from monitor.processor.engine import RiskEngine
from monitor.processor.runner import Processor
from tests.support import eventually
from tests.unit.processor.support import memory_processor, running

TOPICS = Topics()
SOL = "okx:SOL-USDT-SWAP"
DEADLINE_S = 5.0


def _sol_terms(ts: int = 1) -> InstrumentEvent:
    """SOL-USDT-SWAP as OKX lists it: ctVal 1 SOL, linear, USDT-settled, one tier of 1 % MMR."""
    return InstrumentEvent(
        SOL, "linear", "perpetual", "SOL", "USDT", "USDT", 1.0, 0.0, 0.01, 0.01, None,
        (InstrumentTier(0, 10_000, 0.01, 20), InstrumentTier(10_000, float("inf"), 0.02, 10)),
        "GET /api/v5/public/instruments, /api/v5/public/position-tiers", ts, ts)


def test_instrument_value_round_trips_and_matches_its_schema() -> None:
    """The encoded value validates against instrument.json and decodes to the same event."""
    event = _sol_terms()
    value = encode_instrument(event)
    jsonschema.Draft202012Validator(schemas.load("instrument")).validate(orjson.loads(value))
    assert decode_instrument(value) == event
    assert orjson.loads(value)["tiers"][1]["cap"] is None  # no upper bound is JSON null


@pytest.mark.parametrize(("change", "reason"), [
    ({"v": 2}, "unsupported instrument version 2"),
    ({"type": "price"}, "unknown type 'price'"),
    ({"kind": "option"}, "field 'kind' must be one of spot, linear, inverse"),
    ({"contract_type": "future"}, "a dated future needs expiry_ms"),
    ({"contract_size": 0}, "contract_size must be > 0"),
    ({"surprise": 1}, "unknown fields ['surprise']"),
])
def test_bad_instrument_values_are_refused_with_a_reason(change: dict[str, Any], reason: str) -> None:
    """An unknown version, type or field, or impossible terms, raise DecodeError naming it."""
    data = orjson.loads(encode_instrument(_sol_terms()))
    data.update(change)
    with pytest.raises(DecodeError, match=reason.replace("[", r"\[").replace("]", r"\]")):
        decode_instrument(orjson.dumps(data))


def _publish(bus: MemoryBus, *events: Event | InstrumentEvent) -> None:
    for event in events:
        if isinstance(event, InstrumentEvent):
            bus.append(TOPICS.instruments, event.instrument.encode(), encode_instrument(event))
        elif isinstance(event, PriceEvent):
            bus.append(TOPICS.prices, event_key(event), encode_event(event))
        else:
            bus.append(TOPICS.positions, event_key(event), encode_event(event))


def _latest_risk(bus: MemoryBus, portfolio: str) -> dict[str, Any] | None:
    for record in reversed(bus.records(TOPICS.risk)):
        if record.key == portfolio.encode():
            value: dict[str, Any] = orjson.loads(record.value)
            return value
    return None


def _running(bus: MemoryBus) -> AbstractAsyncContextManager[Processor]:
    return running(memory_processor(bus))


def _now_ms() -> int:
    return int(time.time() * 1000)


async def test_a_position_without_terms_is_unknown_until_its_terms_arrive(bus: MemoryBus) -> None:
    """An uncatalogued SOL swap is held as unknown (alert fires), then priced from hedge.instruments."""
    async with _running(bus):
        _publish(bus,
                 BalanceEvent("desk", "okx", "USDT", 5_000, 1, 1),
                 PositionEvent("desk", "okx", SOL, -10, 150, 10, "isolated", 1_000, 2, 2),
                 PriceEvent(SOL, 140, 140.2, 0.0001, None, 3, _now_ms()))
        unknown = await eventually(
            lambda: (r := _latest_risk(bus, "desk")) and r["positions"] and r, DEADLINE_S)
        alerts = await eventually(lambda: [orjson.loads(r.value) for r in bus.records(TOPICS.alerts)],
                                  DEADLINE_S)
        _publish(bus, _sol_terms(4))
        priced = await eventually(
            lambda: (r := _latest_risk(bus, "desk")) and r["positions"][0]["notional_usd"] and r,
            DEADLINE_S)
        resolved = await eventually(
            lambda: [a for r in bus.records(TOPICS.alerts)
                     if (a := orjson.loads(r.value))["state"] == "resolved"], DEADLINE_S)
    risk_schema = jsonschema.Draft202012Validator(schemas.load("risk"))
    risk_schema.validate(unknown)
    risk_schema.validate(priced)
    leg = unknown["positions"][0]
    assert leg["instrument"] == SOL
    assert leg["quantity"] == -10  # held, never dropped
    assert leg["notional_usd"] is None
    assert leg["margin_ratio"] is None
    assert unknown["unpriced_positions"] == [
        {"account": "okx", "instrument": SOL, "position_side": "one_way", "reason": "no contract terms"}]
    assert all(row["hedge_pnl_usd"] is None and row["net_pnl_usd"] is None for row in unknown["stress"])
    assert [(a["rule"], a["subject"], a["state"]) for a in alerts] == [
        ("unpriced_position", SOL, "firing")]
    leg = priced["positions"][0]
    assert leg["notional_usd"] == pytest.approx(1_400.0)  # 10 contracts * 1 SOL * 140
    assert leg["unrealized_pnl_usd"] == pytest.approx(100.0)  # -10 * 1 * (140 - 150)
    assert leg["delta"] == pytest.approx(-10.0)  # -10 * 1 SOL
    # OKX: tier by contracts (10 < 10 000: 1 %), MM = 10 * 1 * 140 * 0.01 = 14 USDT;
    # isolated margin balance = 1000 + 100 = 1100; margin ratio = 14 / 1100
    assert leg["maintenance_margin_usd"] == pytest.approx(14.0)
    assert leg["margin_ratio"] == pytest.approx(14.0 / 1_100.0)
    assert priced["unpriced_positions"] == []
    assert resolved[0]["rule"] == "unpriced_position"


async def test_an_unknown_instrument_version_is_a_dead_letter(bus: MemoryBus) -> None:
    """A v2 instrument record goes to hedge.dlq with the reason; the catalog is unchanged."""
    async with _running(bus) as processor:
        value = orjson.loads(encode_instrument(_sol_terms()))
        value["v"] = 2
        bus.append(TOPICS.instruments, SOL.encode(), orjson.dumps(value))
        letters = await eventually(lambda: bus.records(TOPICS.dlq), DEADLINE_S)
        assert SOL not in processor.engine.catalog
    letter = orjson.loads(letters[0].value)
    assert letter["source"] == TOPICS.instruments
    assert letter["reason"].startswith("unsupported instrument version 2")


async def test_terms_read_before_positions_at_start(bus: MemoryBus) -> None:
    """Terms already on the compacted topic are in the catalog before the first position is applied."""
    _publish(bus, _sol_terms(1),
             PositionEvent("desk", "okx", SOL, -10, 150, 10, "isolated", 1_000, 2, 2),
             PriceEvent(SOL, 140, None, None, None, 3, _now_ms()))
    async with _running(bus):
        risk = await eventually(
            lambda: (r := _latest_risk(bus, "desk")) and r["positions"][0]["notional_usd"] and r,
            DEADLINE_S)
    assert risk["unpriced_positions"] == []
    assert risk["positions"][0]["notional_usd"] == pytest.approx(1_400.0)


def test_new_terms_replace_the_shipped_ones_in_the_columns() -> None:
    """Live terms of a catalogued contract replace its shipped terms for every holder."""
    engine = RiskEngine(default_catalog(), lambda _: PortfolioSettings())
    catalog = engine.catalog
    swap = "okx:BTC-USDT-SWAP"
    engine.apply_account(PositionEvent("p", "okx", swap, -100, 60_000, 10, "isolated", 6_000, 1, 1), 0, 0)
    live = InstrumentEvent(swap, "linear", "perpetual", "BTC", "USDT", "USDT", 0.01, 0.0, 0.01, 0.01,
                           None, (), "GET /api/v5/public/instruments", 2, 2)
    assert engine.apply_instrument(live) == {"p"}
    assert catalog.require(swap).lot_step == 0.01  # the shipped entry said 1
    assert catalog.require(swap).tiers == default_catalog().require(swap).tiers  # none live: kept
    assert engine.columns.held(swap) == 1
    assert engine.portfolios["p"].book.positions[("okx", swap, "one_way")].instrument is \
        catalog.require(swap)
    assert engine.apply_instrument(live) == set()  # the same terms again change nothing
    assert default_catalog().require(swap).lot_step == 1  # the shipped catalog is untouched


def test_an_unpriced_cross_leg_makes_its_accounts_cross_figures_unknown() -> None:
    """A cross leg without terms shares the account's wallet: the other cross legs' margin figures,
    the hedge ratio and the stress totals read unknown, never the figures without it."""
    engine = RiskEngine(default_catalog(), lambda _: PortfolioSettings())
    swap = "okx:BTC-USDT-SWAP"
    seed: list[BalanceEvent | PositionEvent] = [
        BalanceEvent("p", "okx", "USDT", 10_000, 1, 1),
        BalanceEvent("p", "cold", "BTC", 1.0, 1, 1),
        PositionEvent("p", "okx", swap, -100, 60_000, 10, "cross", None, 1, 1),
    ]
    for offset, event in enumerate(seed):
        engine.apply_account(event, 0, offset)
    engine.apply_price(PriceEvent(swap, 60_000, 60_000, None, None, 2, 2))
    before = risk_to_dict(engine.snapshot("p")[0])
    assert before["positions"][0]["margin_ratio"] is not None
    assert before["assets"]["BTC"]["hedge_ratio"] == pytest.approx(1.0)  # 100 * 0.01 / 1.0
    engine.apply_account(PositionEvent("p", "okx", SOL, -10, 150, 10, "cross", None, 3, 3), 0, 3)
    after = risk_to_dict(engine.snapshot("p")[0])
    btc_leg = next(p for p in after["positions"] if p["instrument"] == swap)
    assert btc_leg["margin_ratio"] is None
    assert btc_leg["liquidation_price"] is None
    assert btc_leg["notional_usd"] == pytest.approx(60_000.0)  # its own figures stay known
    assert after["assets"]["BTC"]["hedge_ratio"] is None  # the SOL leg's base is unknown too
    assert all(row["net_pnl_usd"] is None for row in after["stress"])


def test_a_quarterly_leg_reports_time_to_expiry_and_annualised_basis() -> None:
    """Dated future 30 days from the last event, F = 61 000 (mark), S = 60 000 (its index):
    annualised basis = (F / S - 1) * 365 / days = (1 / 60) * 365 / 30 = 0.2027... (risk-definitions
    "Funding, fees, basis"); time to expiry = 30 * 86 400 s."""
    now = 1_800_000_000_000
    expiry = now + 30 * 86_400_000
    quarterly = "okx:BTC-USDT-280101"
    engine = RiskEngine(default_catalog(), lambda _: PortfolioSettings())
    engine.apply_instrument(InstrumentEvent(
        quarterly, "linear", "future", "BTC", "USDT", "USDT", 0.01, 0.0, 0.1, 0.1, expiry,
        (InstrumentTier(0, 1e15, 0.01, 50),), "GET /api/v5/public/instruments", now - 10, now - 10))
    engine.apply_account(BalanceEvent("p", "okx", "USDT", 10_000, now - 5, now - 5), 0, 0)
    engine.apply_account(BalanceEvent("p", "cold", "BTC", 1.0, now - 5, now - 5), 0, 1)
    engine.apply_account(PositionEvent("p", "okx", quarterly, -100, 60_500, 10, "cross", None,
                                       now - 5, now - 5), 0, 2)
    engine.apply_price(PriceEvent("okx:BTC-USDT", 60_000, None, None, None, now, now))
    engine.apply_price(PriceEvent(quarterly, 61_000, 60_000, None, None, now, now))
    snapshot = risk_to_dict(engine.snapshot("p")[0])
    (leg,) = snapshot["positions"]
    assert leg["contract_type"] == "future"
    assert leg["expiry_ms"] == expiry
    assert leg["time_to_expiry_s"] == pytest.approx(30 * 86_400.0)
    assert leg["annualized_basis"] == pytest.approx((61_000 / 60_000 - 1) * 365 / 30)
    assert leg["annualized_basis"] == pytest.approx(0.202777, rel=1e-5)
    assert snapshot["unpriced_positions"] == []


def test_a_perpetual_leg_has_no_expiry_figures() -> None:
    """A perpetual: contract_type perpetual, no expiry, no annualised basis."""
    engine = RiskEngine(default_catalog(), lambda _: PortfolioSettings())
    swap = "okx:BTC-USDT-SWAP"
    engine.apply_account(PositionEvent("p", "okx", swap, -100, 60_000, 10, "isolated", 6_000, 1, 1), 0, 0)
    engine.apply_price(PriceEvent(swap, 60_000, 60_000, None, None, 2, 2))
    (leg,) = risk_to_dict(engine.snapshot("p")[0])["positions"]
    assert (leg["contract_type"], leg["expiry_ms"], leg["time_to_expiry_s"], leg["annualized_basis"]) == (
        "perpetual", None, None, None)
