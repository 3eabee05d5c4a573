"""The live terminal view of the demo and ``run``: rich tables on a TTY, plain lines otherwise."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from monitor.domain.remediation import position_remediation, remediation_text

ALERT_LOG_SIZE = 1_000
"""Alert transitions the view keeps (the newest): ``run`` shows alerts for as long as it runs."""


def _money(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _percent(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value * 100:.{digits}f} %"


def _duration(seconds: Any) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    return f"{days}d {hours:02d}h {minutes:02d}m" if days else f"{hours:02d}h {minutes:02d}m"


@dataclass(slots=True)
class ViewState:
    """What the view shows: the latest snapshot per portfolio, firing alerts, feed health."""

    snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)
    firing: dict[str, dict[str, Any]] = field(default_factory=dict)
    alert_log: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=ALERT_LOG_SIZE))
    alerts_fired: int = 0
    """Firing transitions seen in all (the log keeps only the newest ``ALERT_LOG_SIZE``)."""
    feeds: dict[str, tuple[str, str]] = field(default_factory=dict)
    events: int = 0
    dead_letters: int = 0
    started: float = field(default_factory=time.monotonic)

    def on_snapshot(self, snapshot: dict[str, Any]) -> None:
        """Keep the newest snapshot of a portfolio."""
        current = self.snapshots.get(snapshot["portfolio"])
        if current is None or snapshot.get("seq", 0) >= current.get("seq", 0):
            self.snapshots[snapshot["portfolio"]] = snapshot

    def on_alert(self, alert: dict[str, Any]) -> None:
        """Track firing alerts, count the firings and keep a log of the newest transitions."""
        key = f"{alert['portfolio']}/{alert['rule']}/{alert['subject']}"
        if alert["state"] == "firing":
            self.firing[key] = alert
            self.alerts_fired += 1
        else:
            self.firing.pop(key, None)
        self.alert_log.append(alert)


def hedge_ratio_text(figures: Mapping[str, Any]) -> Text:
    """The hedge ratio coloured by its position against target ± band."""
    ratio = figures.get("hedge_ratio")
    if ratio is None:
        return Text("-")
    target = figures.get("target_hedge_ratio") or 1.0
    band = figures.get("hedge_band") or 0.1
    style = "green" if abs(ratio - target) <= band else "bold red"
    return Text(f"{ratio:.3f}", style=style).append(
        f"  ({target - band:.2f}-{target + band:.2f})", style="dim")


def render(state: ViewState, title: str) -> Group:
    """The whole screen as rich renderables."""
    parts: list[Any] = []
    for portfolio, snapshot in sorted(state.snapshots.items()):
        assets = Table(title=f"portfolio {portfolio}", title_justify="left", expand=True)
        for column in ("asset", "price", "spot", "futures", "net delta", "net USD", "hedge ratio (band)",
                       "to target", "residual", "basis bps", "h* (cross)"):
            assets.add_column(column, justify="right")
        for asset, figures in sorted(snapshot.get("assets", {}).items()):
            assets.add_row(
                asset, _money(figures.get("price")), _money(figures.get("spot_delta"), 4),
                _money(figures.get("futures_delta"), 4), _money(figures.get("net_delta"), 4),
                _money(figures.get("net_delta_usd")), hedge_ratio_text(figures),
                _money(figures.get("contracts_to_target"), 0), _money(figures.get("residual_delta"), 4),
                _money(figures.get("basis_bps"), 1), _money(figures.get("min_variance_ratio"), 3))
        parts.append(assets)
        legs = Table(expand=True)
        for column in ("hedge leg", "qty", "mark", "uPnL", "margin bal", "maint", "buffer",
                       "margin ratio", "liq price", "venue liq", "model off", "ADL", "liq dist",
                       "funding", "fees"):
            legs.add_column(column, justify="right")
        for position in snapshot.get("positions", []):
            distance = position.get("liquidation_distance")
            style = "bold red" if distance is not None and distance < 0.05 else ""
            legs.add_row(
                position["instrument"], f"{position['quantity']:g}", _money(position.get("mark_price")),
                _money(position.get("unrealized_pnl_usd")), _money(position.get("margin_balance_usd")),
                _money(position.get("maintenance_margin_usd")), _money(position.get("margin_buffer_usd")),
                _percent(position.get("margin_ratio")), _money(position.get("liquidation_price")),
                *venue_cells(position),
                Text(_percent(distance), style=style), _money(position.get("funding_accrued_usd")),
                _money(position.get("fees_usd")))
        parts.append(legs)
        parts.extend(Text(line, style="bold yellow") for line in remediation_lines(snapshot))
        effectiveness = Table(expand=True)
        for column in ("effectiveness", "dollar offset", "effective", "slope", "R²", "var. reduction",
                       "samples", "time left", "opportunity cost"):
            effectiveness.add_column(column, justify="right")
        lifecycle = snapshot.get("lifecycle", {})
        for asset, figures in sorted(snapshot.get("effectiveness", {}).items()):
            life = lifecycle.get(asset, {})
            effectiveness.add_row(
                asset, _money(figures.get("dollar_offset"), 3), str(figures.get("effective")),
                _money(figures.get("slope"), 3), _money(figures.get("r2"), 3),
                _percent(figures.get("variance_reduction")), str(figures.get("samples")),
                _duration(life.get("time_left_s")), _money(life.get("opportunity_cost_usd")))
        parts.append(effectiveness)
        stress = Table(title="stress grid", title_justify="left", expand=True)
        stress.add_column("")
        rows = snapshot.get("stress", [])
        for row in rows:
            stress.add_column(f"{row['shock']:+.0%}", justify="right")
        for label, key in (("spot", "spot_pnl_usd"), ("hedge", "hedge_pnl_usd"), ("net", "net_pnl_usd")):
            stress.add_row(label, *(_money(row[key], 0) for row in rows))
        stress.add_row("liquidated", *(", ".join(row.get("liquidated", [])) or "-" for row in rows))
        parts.append(stress)
        costs = snapshot.get("costs", {})
        parts.append(Text(
            f"costs: fees {_money(costs.get('fees_usd'))}  funding received "
            f"{_money(costs.get('funding_received_usd'))}  paid {_money(costs.get('funding_paid_usd'))}"
            f"  hedge cost {_money(costs.get('hedge_cost_usd'))}  vs protection "
            f"{_money(costs.get('protection_usd'))}  budget {_money(costs.get('cost_budget_usd'))}"))
    alerts = Table(title="firing alerts", title_justify="left", expand=True)
    for column in ("severity", "portfolio", "rule", "subject", "message"):
        alerts.add_column(column)
    for alert in sorted(state.firing.values(), key=lambda a: (a["severity"], a["portfolio"])):
        style = "bold red" if alert["severity"] == "critical" else "yellow"
        alerts.add_row(Text(alert["severity"], style=style), alert["portfolio"], alert["rule"],
                       alert["subject"], alert["message"])
    if not state.firing:
        alerts.add_row("-", "-", "-", "-", "no alert firing")
    parts.append(alerts)
    parts.append(Text(feed_line(state)))
    return Group(Panel.fit(Text(title, style="bold")), *parts)


def feed_line(state: ViewState) -> str:
    """One line of feed health: every stream's status, events, dead letters."""
    feeds = ", ".join(f"{name} {status}" for name, (status, _) in sorted(state.feeds.items()))
    elapsed = time.monotonic() - state.started
    return (f"feeds: {feeds or 'none'} | events {state.events} | dead letters {state.dead_letters}"
            f" | {elapsed:.0f} s")


def plain_lines(state: ViewState) -> list[str]:
    """The same figures as short plain lines, for a pipe or a CI log."""
    lines: list[str] = []
    for portfolio, snapshot in sorted(state.snapshots.items()):
        for asset, figures in sorted(snapshot.get("assets", {}).items()):
            lines.append(
                f"[{portfolio}] {asset} price {_money(figures.get('price'))} net delta "
                f"{_money(figures.get('net_delta'), 4)} ({_money(figures.get('net_delta_usd'))} USD) "
                f"hedge ratio {_money(figures.get('hedge_ratio'), 3)} target "
                f"{_money(figures.get('target_hedge_ratio'), 2)} contracts to target "
                f"{_money(figures.get('contracts_to_target'), 0)}")
        lines.extend(
            f"[{portfolio}] {p['instrument']}{_leg_suffix(p)} qty {p['quantity']:g} uPnL "
            f"{_money(p.get('unrealized_pnl_usd'))} margin buffer {_money(p.get('margin_buffer_usd'))}"
            f" liq {_money(p.get('liquidation_price'))} ({_percent(p.get('liquidation_distance'))} away)"
            f" venue liq {_money((p.get('venue_figures') or {}).get('liquidation_price'))}"
            f" model off {_percent((p.get('model_divergence') or {}).get('liquidation_price'), 2)}"
            for p in snapshot.get("positions", [])
        )
        lines.extend(f"[{portfolio}] {line}" for line in remediation_lines(snapshot))
        lines.extend(
            f"[{portfolio}] account {account} ({a.get('mode')}) margin ratio venue "
            f"{_percent((a.get('venue') or {}).get('maintenance_margin_ratio'), 2)} model "
            f"{_percent((a.get('model') or {}).get('maintenance_margin_ratio'), 2)} buffer used "
            f"{_percent(a.get('buffer_used'))}"
            for account, a in sorted(snapshot.get("accounts", {}).items())
        )
        effectiveness = snapshot.get("effectiveness", {})
        lines.extend(
            f"[{portfolio}] {asset} dollar offset {_money(e.get('dollar_offset'), 3)} "
            f"R2 {_money(e.get('r2'), 3)} variance reduction {_percent(e.get('variance_reduction'))}"
            for asset, e in sorted(effectiveness.items())
        )
    lines.extend(
        f"ALERT {a['severity']} [{a['portfolio']}] {a['rule']} {a['subject']}: {a['message']}"
        for a in state.firing.values()
    )
    lines.append(feed_line(state))
    return lines


def remediation_lines(snapshot: Mapping[str, Any]) -> list[str]:
    """One line per leg nearer its liquidation price than the target: what restores the buffer."""
    lines: list[str] = []
    for position in snapshot.get("positions", []):
        remedy = position_remediation(position)
        if remedy is None or not remedy.get("add_margin"):
            continue
        mark = _money(position.get("mark_price"))
        liquidation = _money(position.get("liquidation_price"))
        lines.append(f"to restore {position['instrument']}{_leg_suffix(position)} (mark {mark}, "
                     f"liquidation {liquidation}): {remediation_text(remedy)}")
    return lines


def make_console(force_plain: bool = False) -> tuple[Console, bool]:
    """A console and whether it is a live terminal (False when piped or asked for plain)."""
    console = Console()
    return console, console.is_terminal and not force_plain


def venue_cells(position: Mapping[str, Any]) -> tuple[str, Text, str]:
    """The venue's own liquidation price, how far the model's is from it (red past 0.5 %) and the
    venue's ADL rank of the leg ("-" when the venue reported none: unknown)."""
    venue = position.get("venue_figures") or {}
    divergence = (position.get("model_divergence") or {}).get("liquidation_price")
    style = "bold red" if isinstance(divergence, (int, float)) and divergence > 0.005 else ""
    rank = venue.get("adl_rank")
    adl = "-" if rank is None else f"{rank}/{venue.get('adl_rank_top')}"
    return _money(venue.get("liquidation_price")), Text(_percent(divergence, 2), style=style), adl


def _leg_suffix(position: dict[str, Any]) -> str:
    """`` long`` / `` short`` for a hedge-mode leg, nothing for a one-way position."""
    side = position.get("position_side", "one_way")
    return "" if side == "one_way" else f" {side}"
