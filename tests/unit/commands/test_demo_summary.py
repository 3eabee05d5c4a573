"""The demo summary and the live view show the venue's figure beside the model's."""

from __future__ import annotations

from rich.console import Console

from monitor.codec import decode_risk
from monitor.commands.demo import account_line, venue_beside_model
from monitor.view import ViewState, plain_lines, render
from tests.unit.deploy.sample_snapshots import add_venue_figures, seed_snapshot


def test_the_summary_shows_the_venue_figure_and_the_divergence() -> None:
    """The seed leg: model 65737.05, the venue's 66000 reported 1 s before the snapshot:
    |65737.05 - 66000| / 66000 = 0.398 % off."""
    value = seed_snapshot()
    add_venue_figures(value)
    snapshot = decode_risk(value)
    assert venue_beside_model(snapshot.positions[0]) == (
        "; venue's liquidation 66,000.00 as of 2023-11-14 22:13:19 UTC (model 0.40 % off), "
        "ADL rank 2 of 5")
    assert venue_beside_model(decode_risk(seed_snapshot()).positions[0]) == "; the venue reported no figures"
    assert account_line("bybit-uta", snapshot.accounts["bybit-uta"]) == (
        "account bybit-uta (unified): venue accountMMRate 0.1000, margin ratio venue 0.1000 / model "
        "0.1000, liquidation at 1.0000, buffer used 0.1000")


def test_the_live_view_has_the_venue_columns() -> None:
    snapshot = seed_snapshot()
    add_venue_figures(snapshot)
    state = ViewState()
    state.on_snapshot(decode_risk(snapshot))
    lines = plain_lines(state)
    assert any("liq 65,737.05" in line and "venue liq 66,000.00 model off 0.40 %" in line
               for line in lines)
    assert any("account bybit-uta (unified) margin ratio venue 10.00 % model 10.00 % buffer used 10.0 %"
               in line for line in lines)
    console = Console(width=250, record=True)
    console.print(render(state, "test"))
    text = console.export_text()
    assert "venue liq" in text
    assert "66,000.00" in text
