"""How the engine reads snapshots cheaply: alerts indexed per portfolio and rule, lazy messages."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from monitor.alerts import AlertEngine, AlertsConfig
from monitor.alerts.reading import Observation
from monitor.alerts.registry import observe
from monitor.domain.snapshot import RiskSnapshot
from tests.unit.alerts.snapshots import T0, asset, position, snapshot

SWAP = "okx:BTC-USDT-SWAP"
LINEAR = "binance:BTCUSDT"


def entry(portfolio: str, rule: str, subject: str, fired_ms: int | None) -> dict[str, Any]:
    """One checkpointed alert: firing since T0 when ``fired_ms`` is set, else pending since T0."""
    return {
        "portfolio": portfolio,
        "rule": rule,
        "subject": subject,
        "phase": "pending" if fired_ms is None else "firing",
        "since_ms": T0,
        "fired_ms": fired_ms,
        "severity": "warning",
    }


def count_messages(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every message worded from an observation from now on."""
    worded: list[str] = []
    original = Observation.message

    def recording(observation: Observation) -> str:
        text: str = original.__get__(observation)
        worded.append(text)
        return text

    monkeypatch.setattr(Observation, "message", property(recording))
    return worded


def healthy(ts_ms: int) -> RiskSnapshot:
    """A snapshot with every section filled and no figure past any level."""
    return snapshot(
        ts_ms,
        assets={"BTC": asset(1.0, price=60000.0)},
        positions=[
            position(margin_buffer_fraction=0.9, margin_ratio=0.1, liquidation_distance=0.3, basis_bps=5.0)
        ],
        effectiveness={"BTC": {"dollar_offset": 1.0, "r2": 0.95, "samples": 30}},
        costs={"hedge_cost_usd": 100.0, "cost_budget_usd": 1000.0},
        lifecycle={"BTC": {"expired": False, "exit_level_crossed": False, "stop_loss_hit": False}},
    )


def test_observe_reports_every_subject_including_clear_ones() -> None:
    """observe() (used by the reliability verifier) reads every held subject, not only breaches."""
    rule = AlertsConfig().rule("margin_buffer_low")
    held = [
        position(SWAP, margin_buffer_fraction=0.9),  # 0.90 >= 0.55: clear
        position(LINEAR, margin_buffer_fraction=0.4),  # 0.40 < 0.50: breach
        position("cme:MBT", margin_buffer_fraction=0.52),  # 0.50 <= 0.52 < 0.55: between
    ]
    observations = observe("margin_buffer_low", snapshot(T0, positions=held), rule)
    assert observations is not None
    assert {subject: item.status for subject, item in observations.items()} == {
        SWAP: "clear",
        LINEAR: "breach",
        "cme:MBT": "between",
    }
    assert observations[SWAP].message == (
        "okx:BTC-USDT-SWAP margin buffer recovered to 90.0 % of margin balance (account okx-main), "
        "at or above 55.0 %"
    )
    assert observations["cme:MBT"].message == ""


def test_a_snapshot_that_changes_nothing_words_no_message(monkeypatch: pytest.MonkeyPatch) -> None:
    """Messages are worded only for transitions: none for healthy or still-firing readings."""
    engine = AlertEngine(AlertsConfig())
    worded = count_messages(monkeypatch)
    assert engine.evaluate(healthy(T0)) == []
    assert worded == []
    # margin ratio 0.95 > 0.80 fires: one sentence for the firing
    breach = snapshot(T0 + 1, positions=[position(margin_ratio=0.95)])
    assert [item.state for item in engine.evaluate(breach)] == ["firing"]
    assert len(worded) == 1
    # the same breach again keeps it firing and words nothing
    assert engine.evaluate(replace(breach, ts_event_ms=T0 + 2)) == []
    assert len(worded) == 1
    # 0.70 <= 0.75 resolves: one more sentence
    cleared = snapshot(T0 + 3, positions=[position(margin_ratio=0.70)])
    assert [item.message for item in engine.evaluate(cleared)] == [
        "okx:BTC-USDT-SWAP margin ratio 70.0 % (account okx-main) is back at or below 75.0 %"
    ]
    assert len(worded) == 2


def test_alerts_of_rules_sharing_a_subject_resolve_independently() -> None:
    """Two rules firing on one instrument keep separate states: one resolving leaves the other."""
    engine = AlertEngine(AlertsConfig())
    # buffer 0.10 < 0.50 and margin ratio 0.90 > 0.80: both fire on the same instrument
    both = engine.evaluate(snapshot(T0, positions=[position(margin_buffer_fraction=0.1, margin_ratio=0.9)]))
    assert [(item.rule, item.subject) for item in both] == [
        ("margin_buffer_low", SWAP),
        ("margin_ratio_high", SWAP),
    ]
    # margin ratio 0.70 <= 0.75 resolves; the buffer 0.10 still breaches
    resolved = engine.evaluate(
        snapshot(T0 + 1, positions=[position(margin_buffer_fraction=0.1, margin_ratio=0.7)])
    )
    assert [(item.rule, item.state) for item in resolved] == [("margin_ratio_high", "resolved")]
    assert engine.firing() == [("alice", "margin_buffer_low", SWAP, "warning")]


def test_state_stays_sorted_and_complete_after_restore_and_resolution() -> None:
    """state() lists every alert sorted by (portfolio, rule, subject) whatever the restore order."""
    checkpoint = [
        entry("bob", "margin_ratio_high", SWAP, T0),
        entry("alice", "r2_low", "BTC", None),
        entry("bob", "margin_ratio_high", LINEAR, T0),
        entry("alice", "hedge_ratio_low", "BTC", T0),
        entry("bob", "basis_wide", SWAP, None),
    ]
    engine = AlertEngine(AlertsConfig())
    engine.restore({"v": 1, "alerts": checkpoint})
    ordered = [checkpoint[3], checkpoint[1], checkpoint[4], checkpoint[2], checkpoint[0]]
    assert engine.state() == {"v": 1, "alerts": ordered}
    # bob: binance:BTCUSDT closed (gone) and SWAP's margin ratio 0.9 > 0.80 still breaching;
    # SWAP's basis 10 bps <= 80 bps drops the pending basis alert without a transition
    held = [position(SWAP, margin_ratio=0.9, basis_bps=10.0)]
    transitions = engine.evaluate(snapshot(T0 + 1000, portfolio="bob", positions=held))
    assert [(item.rule, item.subject, item.state) for item in transitions] == [
        ("margin_ratio_high", LINEAR, "resolved")
    ]
    assert engine.state() == {"v": 1, "alerts": [checkpoint[3], checkpoint[1], checkpoint[0]]}
    assert engine.firing() == [
        ("alice", "hedge_ratio_low", "BTC", "warning"),
        ("bob", "margin_ratio_high", SWAP, "warning"),
    ]
