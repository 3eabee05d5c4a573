"""The crash-test verifier finds every kind of discrepancy it claims to check, and only those."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from monitor.bus.base import Record
from monitor.codec import encode_event, event_key, risk_to_dict
from monitor.domain.events import BalanceEvent, Event, FillEvent, PositionEvent, PriceEvent
from monitor.reliability.verify import (
    AlertLog,
    InputLog,
    SnapshotLog,
    VerificationReport,
    check_alerts,
    recompute,
    reflects_settle,
    same_number,
    verify,
)

SWAP = "okx:BTC-USDT-SWAP"  # linear, 0.01 BTC per contract
SPOT = "okx:BTC-USDT"


def _inputs(events: list[Event]) -> InputLog:
    inputs = InputLog()
    offsets = {"prices": 0, "positions": 0}
    for event in events:
        topic = "prices" if isinstance(event, PriceEvent) else "positions"
        record = Record(topic, 0, offsets[topic], event_key(event), encode_event(event), 0)
        offsets[topic] += 1
        if topic == "prices":
            inputs.add_price(record)
        else:
            inputs.add_account(record)
    return inputs


def _events() -> list[Event]:
    return [
        PriceEvent(SWAP, 60_000.0, 60_000.0, None, None, 1_000, 1_000),
        PriceEvent(SPOT, 60_000.0, None, None, None, 1_000, 1_000),
        BalanceEvent("a", "cold", "BTC", 1.0, 2_000, 2_000),
        PositionEvent("a", "okx", SWAP, -100, 60_000, 10, "isolated", 6_000, 2_000, 2_000),
        BalanceEvent("a", "cold", "BTC", 1.5, 3_000, 3_000),
        PositionEvent("a", "okx", SWAP, -150, 59_000, 10, "isolated", 9_000, 3_000, 3_000),
        FillEvent("a", "okx", SWAP, -50, 59_000, 1.5, 3_000, 3_000),
        PriceEvent(SWAP, 54_000.0, 54_000.0, None, None, 4_000, 4_000),
        PriceEvent(SPOT, 54_000.0, None, None, None, 4_000, 4_000),
    ]


def _snapshots(snapshot: dict[str, Any], seq: int = 10) -> SnapshotLog:
    log = SnapshotLog()
    log.add(Record("risk", 0, 0, b"a", orjson.dumps({**snapshot, "seq": seq}), 0))
    return log


def _alert(state: str, alert_id: str, ts_ms: int, rule: str = "hedge_ratio_low") -> dict[str, Any]:
    return {"id": alert_id, "portfolio": "a", "rule": rule, "subject": "BTC", "state": state,
            "ts_ms": ts_ms, "since_ms": ts_ms}


def test_recomputation_holds_the_last_update_of_every_key() -> None:
    """The replay keeps the last position and balance, the fill's fee and the latest price."""
    snapshot = risk_to_dict(recompute(_inputs(_events())).snapshot("a")[0])
    btc = snapshot["assets"]["BTC"]
    assert btc["price"] == 54_000.0
    assert btc["spot_delta"] == 1.5
    # -150 contracts * 0.01 BTC = -1.5 BTC: ratio 1.5 / 1.5 = 1.0
    assert btc["futures_delta"] == pytest.approx(-1.5)
    assert btc["hedge_ratio"] == pytest.approx(1.0)
    position = snapshot["positions"][0]
    assert (position["quantity"], position["entry_price"], position["fees_usd"]) == (-150, 59_000, 1.5)
    # -1.5 BTC * (54000 - 59000) = +7500
    assert position["unrealized_pnl_usd"] == pytest.approx(7_500.0)


def test_outputs_equal_to_the_recomputation_pass_every_check() -> None:
    """A final snapshot equal to the replay, with a consistent alert history, passes."""
    inputs = _inputs(_events())
    snapshot = risk_to_dict(recompute(inputs).snapshot("a")[0])
    alerts = AlertLog([_alert("firing", "x", 2_000), _alert("resolved", "x:resolved", 3_000)])
    report = verify(inputs, _snapshots(snapshot), alerts, written_accounts=[
        e for e in _events() if not isinstance(e, PriceEvent)])
    assert report.ok, report.failures
    assert report.portfolios_verified == 1
    # positions: a/okx/SWAP; balances: a/cold/BTC
    assert (report.positions_checked, report.balances_checked) == (1, 1)


def test_a_lost_update_fails_the_snapshot_and_update_checks() -> None:
    """A snapshot still showing an older position quantity is reported by both checks."""
    inputs = _inputs(_events())
    snapshot = risk_to_dict(recompute(inputs).snapshot("a")[0])
    stale = copy.deepcopy(snapshot)
    stale["positions"][0]["quantity"] = -100
    report = verify(inputs, _snapshots(stale), AlertLog())
    assert not report.passed("snapshots")
    assert not report.passed("updates")
    assert any("quantity" in message for message in report.failures["snapshots"])


def test_a_figure_off_by_more_than_1e9_relative_is_reported() -> None:
    """Unrealised PnL off by 1e-6 relative fails; off by 1e-12 relative passes."""
    inputs = _inputs(_events())
    snapshot = risk_to_dict(recompute(inputs).snapshot("a")[0])
    for factor, passes in ((1 + 1e-6, False), (1 + 1e-12, True)):
        changed = copy.deepcopy(snapshot)
        changed["positions"][0]["unrealized_pnl_usd"] *= factor
        assert verify(inputs, _snapshots(changed), AlertLog()).passed("snapshots") is passes
    assert same_number(None, None)
    assert not same_number(0.0, None)


def test_a_lower_seq_on_the_last_snapshot_is_reported() -> None:
    """The last snapshot must carry the highest seq a consumer has seen."""
    inputs = _inputs(_events())
    snapshot = risk_to_dict(recompute(inputs).snapshot("a")[0])
    log = _snapshots(snapshot, seq=20)
    log.add(Record("risk", 0, 1, b"a", orjson.dumps({**snapshot, "seq": 15}), 0))
    report = verify(inputs, log, AlertLog())
    assert log.replayed == 1
    assert report.failure_counts["snapshots"] == 1


def test_written_events_missing_from_the_topic_are_reported() -> None:
    """The input check compares what the driver wrote with what hedge.positions holds."""
    inputs = _inputs(_events())
    snapshot = risk_to_dict(recompute(inputs).snapshot("a")[0])
    written = [e for e in _events() if not isinstance(e, PriceEvent)]
    extra = BalanceEvent("a", "cold", "ETH", 3.0, 5_000, 5_000)
    report = verify(inputs, _snapshots(snapshot), AlertLog(), written_accounts=[*written, extra])
    # one event too few, one written event missing, and a different last update
    assert report.failure_counts["inputs"] == 3


def test_duplicates_up_to_the_resent_count_pass_and_beyond_it_fail() -> None:
    """A chunk resent after a failed delivery may appear twice; more duplicates than resent fail."""
    events = _events()
    written = [e for e in events if not isinstance(e, PriceEvent)]
    doubled = _inputs([*events[:7], events[6], *events[7:]])  # the resent fill held twice, adjacent
    snapshot = risk_to_dict(recompute(doubled).snapshot("a")[0])
    resent = verify(doubled, _snapshots(snapshot), AlertLog(), written_accounts=written, resent_accounts=1)
    assert resent.passed("inputs"), resent.failures["inputs"]
    unexplained = verify(doubled, _snapshots(snapshot), AlertLog(), written_accounts=written)
    assert unexplained.failure_counts["inputs"] == 1  # 6 held, 5 written, none resent


def test_duplicates_with_the_same_id_are_counted_not_failed() -> None:
    """A firing and its resolution delivered twice are duplicates, not inconsistencies."""
    report = VerificationReport()
    firing, resolved = _alert("firing", "x", 1_000), _alert("resolved", "x:resolved", 2_000)
    check_alerts(report, [firing, firing, resolved, {**resolved, "ts_ms": 2_500}], {})
    assert report.passed("alert_pairs"), report.failures
    assert report.alert_duplicates == 2


def test_a_second_firing_id_before_the_resolution_is_reported() -> None:
    """Two firings of one (portfolio, rule, subject) with different ids and no resolution fail."""
    report = VerificationReport()
    check_alerts(report, [_alert("firing", "x", 1_000), _alert("firing", "y", 1_500)], {})
    assert report.failure_counts["alert_pairs"] == 1
    report = VerificationReport()
    check_alerts(report, [_alert("firing", "x", 1_000), _alert("resolved", "y:resolved", 1_500)], {})
    assert report.failure_counts["alert_pairs"] == 1


def test_the_last_transition_must_match_the_final_state() -> None:
    """A breaching final hedge ratio needs a firing last transition; a clear one must not fire."""
    under = recompute(_inputs([*_events()[:4], BalanceEvent("a", "cold", "BTC", 2.0, 5_000, 5_000)]))
    snapshot = under.snapshot("a")[0]
    # 1.0 BTC hedged of 2.0 held: ratio 0.5 < 0.9 breaches hedge_ratio_low
    assert snapshot.assets["BTC"].hedge_ratio == pytest.approx(0.5)
    report = VerificationReport()
    check_alerts(report, [_alert("firing", "x", 1_000), _alert("resolved", "x:resolved", 2_000)],
                 {"a": snapshot})
    assert report.failure_counts["alert_final"] == 1
    report = VerificationReport()
    check_alerts(report, [_alert("firing", "x", 1_000)], {"a": snapshot})
    assert report.passed("alert_final")
    hedged = recompute(_inputs(_events())).snapshot("a")[0]
    report = VerificationReport()
    check_alerts(report, [_alert("firing", "x", 1_000)], {"a": hedged})
    assert report.failure_counts["alert_final"] == 1


def test_settle_prices_must_be_in_the_snapshot() -> None:
    """A snapshot reflects the settle tick only when every asset price and mark equals it."""
    snapshot = risk_to_dict(recompute(_inputs(_events())).snapshot("a")[0])
    assert reflects_settle(snapshot, {"BTC": 54_000.0}, {SWAP: 54_000.0})
    assert not reflects_settle(snapshot, {"BTC": 54_000.5}, {SWAP: 54_000.0})
    assert not reflects_settle(snapshot, {"BTC": 54_000.0}, {SWAP: 55_000.0})
    assert not reflects_settle(None, {}, {})
