"""AlertEngine: hysteresis, for-duration, deterministic ids and checkpoint/restore."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import Any

import pytest

from monitor.alerts import AlertEngine, AlertsConfig, AlertStateError, AlertTransition, alert_id
from monitor.domain.snapshot import RiskSnapshot
from tests.unit.alerts.snapshots import T0, asset, hedge_ratio_snapshot, position, snapshot

# Short contracts of 0.01 BTC against 1.5 BTC spot; hedge ratio = contracts * 0.01 / 1.5.
# Band 0.90-1.10 (target 1.00, band 0.10), clear level 1.00 - 0.5 * 0.10 = 0.95.
DRIFT = [
    150,  # 1.50 / 1.5 = 1.000  inside the band
    140,  # 1.40 / 1.5 = 0.933  inside
    134,  # 1.34 / 1.5 = 0.893  < 0.90: fires
    136,  # 1.36 / 1.5 = 0.907  back over 0.90 but under 0.95: still firing
    134,  # 0.893 below again: no second firing
    137,  # 1.37 / 1.5 = 0.913  between
    133,  # 1.33 / 1.5 = 0.887  below
    141,  # 1.41 / 1.5 = 0.940  between
    135,  # 1.35 / 1.5 = 0.900  exactly the band edge: not below, between
    142,  # 1.42 / 1.5 = 0.9467 still under 0.95
    143,  # 1.43 / 1.5 = 0.9533 >= 0.95: resolves
    136,  # 0.907 between: an inactive alert does not fire between the levels
    150,  # 1.000
]


def feed(engine: AlertEngine, snapshots: list[RiskSnapshot]) -> list[AlertTransition]:
    """Evaluate snapshots in order and collect every transition."""
    transitions: list[AlertTransition] = []
    for item in snapshots:
        transitions.extend(engine.evaluate(item))
    return transitions


def drift_snapshots() -> list[RiskSnapshot]:
    """The DRIFT scenario, one snapshot per second."""
    return [hedge_ratio_snapshot(T0 + index * 1000, count) for index, count in enumerate(DRIFT)]


def test_drift_out_of_band_and_back_fires_and_resolves_once() -> None:
    """A hedge ratio oscillating around the band edge gives exactly one firing and one resolved."""
    transitions = feed(AlertEngine(AlertsConfig()), drift_snapshots())
    assert [(item.rule, item.state, item.ts_ms) for item in transitions] == [
        ("hedge_ratio_low", "firing", T0 + 2000),
        ("hedge_ratio_low", "resolved", T0 + 10_000),
    ]
    assert transitions[0].value == pytest.approx(1.34 / 1.5)
    assert transitions[1].value == pytest.approx(1.43 / 1.5)
    assert transitions[1].since_ms == transitions[0].since_ms == T0 + 2000


def test_without_hysteresis_the_same_drift_flaps() -> None:
    """Control: with clear level = firing level the same input fires three times."""
    config = AlertsConfig.from_mapping({"hedge_ratio_low": {"clear_threshold": 1.0}}, source="t")
    transitions = feed(AlertEngine(config), drift_snapshots())
    # below 0.90 at 134, 134 (after 136) and 133 (after 137): three separate firings
    assert [item.state for item in transitions] == ["firing", "resolved"] * 3


def test_condition_must_hold_for_the_whole_for_duration() -> None:
    """A breach fires only after holding for for_ms of snapshot time; an interruption restarts it."""
    config = AlertsConfig.from_mapping({"margin_ratio_high": {"for_ms": 30_000}}, source="t")
    engine = AlertEngine(config)
    high, low = [position(margin_ratio=0.9)], [position(margin_ratio=0.78)]
    assert engine.evaluate(snapshot(T0, positions=high)) == []  # pending since T0
    assert engine.evaluate(snapshot(T0 + 20_000, positions=high)) == []  # 20 s < 30 s
    # 0.78 is not above 0.80: the condition stopped holding, pending is dropped
    assert engine.evaluate(snapshot(T0 + 25_000, positions=low)) == []
    assert engine.evaluate(snapshot(T0 + 31_000, positions=high)) == []  # pending since T0 + 31 s
    assert engine.evaluate(snapshot(T0 + 60_000, positions=high)) == []  # 29 s < 30 s
    fired = engine.evaluate(snapshot(T0 + 61_000, positions=high))  # 30 s >= 30 s
    assert [(item.state, item.since_ms, item.ts_ms) for item in fired] == [
        ("firing", T0 + 31_000, T0 + 61_000)
    ]


def test_null_figure_while_pending_keeps_the_pending_start() -> None:
    """A null figure during the pending period neither restarts nor cancels it."""
    config = AlertsConfig.from_mapping({"r2_low": {"for_ms": 10_000}}, source="t")
    engine = AlertEngine(config)
    assert engine.evaluate(snapshot(T0, effectiveness={"BTC": {"r2": 0.5}})) == []
    assert engine.evaluate(snapshot(T0 + 5000, effectiveness={"BTC": {"r2": None}})) == []
    fired = engine.evaluate(snapshot(T0 + 10_000, effectiveness={"BTC": {"r2": 0.5}}))
    assert [(item.state, item.since_ms) for item in fired] == [("firing", T0)]


def test_ids_are_deterministic_across_engines() -> None:
    """Two engines fed the same snapshots publish identical transitions and ids."""
    first = feed(AlertEngine(AlertsConfig()), drift_snapshots())
    second = feed(AlertEngine(AlertsConfig()), drift_snapshots())
    assert [item.to_dict() for item in first] == [item.to_dict() for item in second]
    identity = f"alice\x1fhedge_ratio_low\x1fBTC\x1f{T0 + 2000}".encode()
    expected = hashlib.sha256(identity).hexdigest()[:16]
    assert first[0].id == alert_id("alice", "hedge_ratio_low", "BTC", T0 + 2000) == expected
    assert first[1].id == f"{expected}:resolved"


def test_to_dict_is_the_documented_alert_value() -> None:
    """to_dict has exactly the hedge.alerts fields, with JSON types."""
    fired = feed(AlertEngine(AlertsConfig()), drift_snapshots())[0]
    value = fired.to_dict()
    assert value == {
        "v": 1,
        "type": "alert",
        "id": fired.id,
        "portfolio": "alice",
        "rule": "hedge_ratio_low",
        "subject": "BTC",
        "severity": "warning",
        "state": "firing",
        "value": pytest.approx(1.34 / 1.5),
        "threshold": pytest.approx(0.9),
        "message": "BTC hedge ratio 0.89 is below the target band 0.90\u20131.10 (target 1.00)",
        "ts_ms": T0 + 2000,
        "since_ms": T0 + 2000,
        "remediation": None,
        "account": None,
    }
    assert json.loads(json.dumps(value))["state"] == "firing"


def test_state_restore_mid_pending_gives_identical_transitions() -> None:
    """A checkpoint taken while pending, restored in a new engine, continues exactly."""
    config = AlertsConfig.from_mapping({"hedge_ratio_low": {"for_ms": 3000}}, source="t")
    # 150 contracts (ratio 1.00) at T0 and T0 + 1 s, 120 (0.80) from T0 + 2 s to T0 + 5 s,
    # 150 again at T0 + 6 s and T0 + 7 s
    steady = [hedge_ratio_snapshot(T0 + index * 1000, 120) for index in range(2, 6)]
    recovery = [hedge_ratio_snapshot(T0 + index * 1000, 150) for index in range(6, 8)]
    start = [hedge_ratio_snapshot(T0 + index * 1000, 150) for index in range(2)]
    scenario = start + steady + recovery
    reference = AlertEngine(config)
    expected = feed(reference, scenario)
    # 120 * 0.01 / 1.5 = 0.80 below 0.90 from T0 + 2 s; fires at T0 + 5 s (3 s later)
    assert [(item.state, item.since_ms, item.ts_ms) for item in expected] == [
        ("firing", T0 + 2000, T0 + 5000),
        ("resolved", T0 + 2000, T0 + 6000),
    ]

    original = AlertEngine(config)
    feed(original, scenario[:4])  # through T0 + 3 s: pending since T0 + 2 s
    checkpoint = json.loads(json.dumps(original.state()))
    assert checkpoint["alerts"] == [
        {
            "portfolio": "alice",
            "rule": "hedge_ratio_low",
            "subject": "BTC",
            "phase": "pending",
            "since_ms": T0 + 2000,
            "fired_ms": None,
            "severity": "warning",
        }
    ]
    restored = AlertEngine(config)
    restored.restore(checkpoint)
    assert restored.state() == original.state()
    assert feed(restored, scenario[4:]) == expected

    # control: without the checkpoint pending restarts at T0 + 4 s, and by T0 + 6 s (ratio back
    # to 1.00) only 1 s < 3 s has passed, so nothing fires at all
    assert feed(AlertEngine(config), scenario[4:]) == []


def test_restore_while_firing_resolves_with_the_original_id() -> None:
    """A firing alert restored from a checkpoint resolves with the id of its firing."""
    engine = AlertEngine(AlertsConfig())
    fired = engine.evaluate(hedge_ratio_snapshot(T0, 120))[0]
    restored = AlertEngine(AlertsConfig())
    restored.restore(engine.state())
    assert restored.firing() == [("alice", "hedge_ratio_low", "BTC", "warning")]
    resolved = restored.evaluate(hedge_ratio_snapshot(T0 + 1000, 150))
    assert [item.id for item in resolved] == [f"{fired.id}:resolved"]


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({"v": 2, "alerts": []}, "alert state must be a mapping with v=1"),
        ({"v": 1, "alerts": {}}, "alert state: 'alerts' must be a list"),
        (
            {"v": 1, "alerts": [{"portfolio": "alice", "rule": "nope", "subject": "BTC"}]},
            "alert state: alerts[0].rule: unknown rule 'nope'",
        ),
        (
            {
                "v": 1,
                "alerts": [
                    {
                        "portfolio": "alice",
                        "rule": "r2_low",
                        "subject": "BTC",
                        "phase": "firing",
                        "since_ms": 1,
                        "fired_ms": None,
                        "severity": "warning",
                    }
                ],
            },
            "alert state: alerts[0].fired_ms: expected an integer, got None",
        ),
    ],
)
def test_restore_rejects_a_malformed_checkpoint(state: dict[str, Any], message: str) -> None:
    """A malformed checkpoint is rejected with the entry and field at fault, keeping old state."""
    engine = AlertEngine(AlertsConfig())
    engine.evaluate(hedge_ratio_snapshot(T0, 120))
    with pytest.raises(AlertStateError) as caught:
        engine.restore(state)
    assert str(caught.value) == message
    assert len(engine.firing()) == 1


def test_firing_lists_every_portfolio_sorted() -> None:
    """firing() lists (portfolio, rule, subject, severity) of firing alerts only, sorted."""
    config = AlertsConfig.from_mapping({"r2_low": {"for_ms": 60_000}}, source="t")
    engine = AlertEngine(config)
    engine.evaluate(snapshot(T0, portfolio="bob", positions=[position(margin_ratio=0.9)]))
    engine.evaluate(snapshot(T0, portfolio="alice", assets={"BTC": asset(1.3)}))
    engine.evaluate(snapshot(T0, portfolio="carol", effectiveness={"BTC": {"r2": 0.1}}))  # pending
    assert engine.firing() == [
        ("alice", "hedge_ratio_high", "BTC", "warning"),
        ("bob", "margin_ratio_high", "okx:BTC-USDT-SWAP", "critical"),
    ]


def test_snapshots_of_one_portfolio_leave_the_others_alone() -> None:
    """An empty snapshot of one portfolio does not resolve another portfolio's alerts."""
    engine = AlertEngine(AlertsConfig())
    engine.evaluate(snapshot(T0, portfolio="bob", positions=[position(margin_ratio=0.9)]))
    assert engine.evaluate(snapshot(T0 + 1, portfolio="alice")) == []
    assert len(engine.firing()) == 1


def test_per_portfolio_config_applies_to_its_portfolio_only() -> None:
    """A portfolio's own AlertsConfig replaces the global one for that portfolio."""
    strict = AlertsConfig.from_mapping({"margin_ratio_high": {"threshold": 0.5}}, source="t")
    engine = AlertEngine(AlertsConfig(), per_portfolio={"alice": strict})
    # 0.6 > 0.5 (alice's level) but not > 0.8 (the global level)
    alice = engine.evaluate(snapshot(T0, portfolio="alice", positions=[position(margin_ratio=0.6)]))
    bob = engine.evaluate(snapshot(T0, portfolio="bob", positions=[position(margin_ratio=0.6)]))
    assert [(item.portfolio, item.threshold) for item in alice] == [("alice", 0.5)]
    assert bob == []


def test_disabled_rule_never_fires_and_resolves_restored_alerts() -> None:
    """A disabled rule publishes no firing, and a firing alert restored under it resolves."""
    firing_engine = AlertEngine(AlertsConfig())
    firing_engine.evaluate(hedge_ratio_snapshot(T0, 120))
    disabled = AlertsConfig.from_mapping({"hedge_ratio_low": {"enabled": False}}, source="t")
    engine = AlertEngine(disabled)
    assert engine.evaluate(hedge_ratio_snapshot(T0, 120)) == []
    engine.restore(firing_engine.state())
    resolved = engine.evaluate(hedge_ratio_snapshot(T0 + 1000, 120))
    assert [(item.state, item.message) for item in resolved] == [
        ("resolved", "hedge ratio below target band alert for BTC resolved: rule disabled")
    ]


def test_evaluate_rejects_a_snapshot_without_identity() -> None:
    """A snapshot without a portfolio id is a programming error (its type makes ts_event_ms an int)."""
    engine = AlertEngine(AlertsConfig())
    with pytest.raises(AlertStateError, match="portfolio"):
        engine.evaluate(replace(snapshot(T0), portfolio=""))
