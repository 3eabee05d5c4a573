"""The live view shows each leg's remediation and the alerts' sentences."""

from __future__ import annotations

from rich.console import Console

from monitor.view import ALERT_LOG_SIZE, ViewState, plain_lines, remediation_lines, render
from tests.unit.alerts.snapshots import T0, position, snapshot
from tests.unit.alerts.test_remediation import RALLY_REMEDIATION


def _state() -> ViewState:
    state = ViewState()
    leg = position(mark_price=62_000.0, liquidation_price=65_704.33, liquidation_distance=0.0597,
                   remediation=RALLY_REMEDIATION, position_side="one_way")
    state.on_snapshot(snapshot(T0, positions=[leg]))
    return state


def test_a_leg_inside_the_target_gets_a_line_with_its_figures() -> None:
    """The line names the leg, its mark and liquidation price, and the three remediations."""
    lines = remediation_lines(_state().snapshots["alice"])
    assert lines == [
        ("to restore okx:BTC-USDT-SWAP (mark 62,000.00, liquidation 65,704.33): add 23.61 USDT margin "
        "to bring liquidation back to 6.0 % away (65,720.00), or reduce the short by 1 contract, or "
        "transfer 23.61 USDT from spot-main (free balance 250.00 USDT)")]


def test_plain_and_live_views_show_the_remediation() -> None:
    """Both the plain lines and the rich screen carry it."""
    state = _state()
    assert any(line.startswith("[alice] to restore okx:BTC-USDT-SWAP") for line in plain_lines(state))
    console = Console(width=400, record=True)
    console.print(render(state, "test"))
    assert "add 23.61 USDT margin" in console.export_text()


def test_a_leg_with_its_buffer_has_no_line() -> None:
    """No remediation, no line."""
    state = ViewState()
    state.on_snapshot(snapshot(T0, positions=[position(liquidation_distance=0.2)]))
    assert remediation_lines(state.snapshots["alice"]) == []


def test_the_alert_log_keeps_the_newest_transitions_and_counts_every_firing() -> None:
    """``run`` shows alerts for as long as it runs: the log is bounded, the count is not."""
    state = ViewState()
    total = ALERT_LOG_SIZE + 500
    for index in range(total):
        state.on_alert({"portfolio": "seed", "rule": "margin_ratio", "subject": f"leg-{index}",
                        "state": "firing", "severity": "warning", "message": str(index)})
    state.on_alert({"portfolio": "seed", "rule": "margin_ratio", "subject": "leg-0",
                    "state": "resolved", "severity": "warning", "message": "clear"})
    assert len(state.alert_log) == ALERT_LOG_SIZE
    assert state.alerts_fired == total  # 1,500 firings, the resolution not among them
    assert state.alert_log[-1]["state"] == "resolved"
    assert state.alert_log[0]["message"] == str(total - ALERT_LOG_SIZE + 1)  # the oldest ones left
    assert "seed/margin_ratio/leg-0" not in state.firing
    assert len(state.firing) == total - 1
