"""The live terminal view of the demo and ``run``: rich tables on a TTY, plain lines otherwise."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from monitor.domain.remediation import remediation_text
from monitor.domain.snapshot import AssetFigures, LegFigures, RiskSnapshot, position_remediation

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

    snapshots: dict[str, RiskSnapshot] = field(default_factory=dict)
    firing: dict[str, dict[str, Any]] = field(default_factory=dict)
    alert_log: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=ALERT_LOG_SIZE))
    alerts_fired: int = 0
    """Firing transitions seen in all (the log keeps only the newest ``ALERT_LOG_SIZE``)."""
    feeds: dict[str, tuple[str, str]] = field(default_factory=dict)
    events: int = 0
    dead_letters: int = 0
    started: float = field(default_factory=time.monotonic)

    def on_snapshot(self, snapshot: RiskSnapshot) -> None:
        """Keep the newest snapshot of a portfolio."""
        current = self.snapshots.get(snapshot.portfolio)
        if current is None or snapshot.seq >= current.seq:
            self.snapshots[snapshot.portfolio] = snapshot

    def on_alert(self, alert: dict[str, Any]) -> None:
        """Track firing alerts, count the firings and keep a log of the newest transitions."""
        key = f"{alert['portfolio']}/{alert['rule']}/{alert['subject']}"
        if alert["state"] == "firing":
            self.firing[key] = alert
            self.alerts_fired += 1
        else:
            self.firing.pop(key, None)
        self.alert_log.append(alert)


def hedge_ratio_text(figures: AssetFigures) -> Text:
    """The hedge ratio coloured by its position against target ± band."""
    ratio = figures.hedge_ratio
    if ratio is None:
        return Text("-")
    target = figures.target_hedge_ratio or 1.0
    band = figures.hedge_band or 0.1
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
        for asset, figures in sorted(snapshot.assets.items()):
            assets.add_row(
                asset, _money(figures.price), _money(figures.spot_delta, 4),
                _money(figures.futures_delta, 4), _money(figures.net_delta, 4),
                _money(figures.net_delta_usd), hedge_ratio_text(figures),
                _money(figures.contracts_to_target, 0), _money(figures.residual_delta, 4),
                _money(figures.basis_bps, 1), _money(figures.min_variance_ratio, 3))
        parts.append(assets)
        legs = Table(expand=True)
        for column in ("hedge leg", "qty", "mark", "uPnL", "margin bal", "maint", "buffer",
                       "margin ratio", "liq price", "venue liq", "model off", "ADL", "liq dist",
                       "funding", "fees"):
            legs.add_column(column, justify="right")
        for position in snapshot.positions:
            distance = position.liquidation_distance
            style = "bold red" if distance is not None and distance < 0.05 else ""
            legs.add_row(
                position.instrument, _quantity(position), _money(position.mark_price),
                _money(position.unrealized_pnl_usd), _money(position.margin_balance_usd),
                _money(position.maintenance_margin_usd), _money(position.margin_buffer_usd),
                _percent(position.margin_ratio), _money(position.liquidation_price),
                *venue_cells(position),
                Text(_percent(distance), style=style), _money(position.funding_accrued_usd),
                _money(position.fees_usd))
        parts.append(legs)
        parts.extend(Text(line, style="bold yellow") for line in remediation_lines(snapshot))
        effectiveness = Table(expand=True)
        for column in ("effectiveness", "dollar offset", "effective", "slope", "R²", "var. reduction",
                       "samples", "time left", "opportunity cost"):
            effectiveness.add_column(column, justify="right")
        for asset, measures in sorted(snapshot.effectiveness.items()):
            life = snapshot.lifecycle.get(asset)
            effectiveness.add_row(
                asset, _money(measures.dollar_offset, 3), str(measures.effective),
                _money(measures.slope, 3), _money(measures.r2, 3),
                _percent(measures.variance_reduction), str(measures.samples),
                _duration(None if life is None else life.time_left_s),
                _money(None if life is None else life.opportunity_cost_usd))
        parts.append(effectiveness)
        stress = Table(title="stress grid", title_justify="left", expand=True)
        stress.add_column("")
        rows = snapshot.stress
        for row in rows:
            stress.add_column(f"{row.shock:+.0%}", justify="right")
        stress.add_row("spot", *(_money(row.spot_pnl_usd, 0) for row in rows))
        stress.add_row("hedge", *(_money(row.hedge_pnl_usd, 0) for row in rows))
        stress.add_row("net", *(_money(row.net_pnl_usd, 0) for row in rows))
        stress.add_row("liquidated", *(", ".join(row.liquidated) or "-" for row in rows))
        parts.append(stress)
        costs = snapshot.costs
        parts.append(Text(
            f"costs: fees {_money(costs.fees_usd)}  funding received "
            f"{_money(costs.funding_received_usd)}  paid {_money(costs.funding_paid_usd)}"
            f"  hedge cost {_money(costs.hedge_cost_usd)}  vs protection "
            f"{_money(costs.protection_usd)}  budget {_money(costs.cost_budget_usd)}"))
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
        for asset, figures in sorted(snapshot.assets.items()):
            lines.append(
                f"[{portfolio}] {asset} price {_money(figures.price)} net delta "
                f"{_money(figures.net_delta, 4)} ({_money(figures.net_delta_usd)} USD) "
                f"hedge ratio {_money(figures.hedge_ratio, 3)} target "
                f"{_money(figures.target_hedge_ratio, 2)} contracts to target "
                f"{_money(figures.contracts_to_target, 0)}")
        lines.extend(
            f"[{portfolio}] {p.instrument}{_leg_suffix(p)} qty {_quantity(p)} uPnL "
            f"{_money(p.unrealized_pnl_usd)} margin buffer {_money(p.margin_buffer_usd)}"
            f" liq {_money(p.liquidation_price)} ({_percent(p.liquidation_distance)} away)"
            f" venue liq {_money(None if p.venue_figures is None else p.venue_figures.liquidation_price)}"
            f" model off {_percent(p.model_divergence.liquidation_price, 2)}"
            for p in snapshot.positions
        )
        lines.extend(f"[{portfolio}] {line}" for line in remediation_lines(snapshot))
        lines.extend(
            f"[{portfolio}] account {account} ({a.mode}) margin ratio venue "
            f"{_percent(a.venue.maintenance_margin_ratio, 2)} model "
            f"{_percent(a.model.maintenance_margin_ratio, 2)} buffer used "
            f"{_percent(a.buffer_used)}"
            for account, a in sorted(snapshot.accounts.items())
        )
        lines.extend(
            f"[{portfolio}] {asset} dollar offset {_money(e.dollar_offset, 3)} "
            f"R2 {_money(e.r2, 3)} variance reduction {_percent(e.variance_reduction)}"
            for asset, e in sorted(snapshot.effectiveness.items())
        )
    lines.extend(
        f"ALERT {a['severity']} [{a['portfolio']}] {a['rule']} {a['subject']}: {a['message']}"
        for a in state.firing.values()
    )
    lines.append(feed_line(state))
    return lines


def remediation_lines(snapshot: RiskSnapshot) -> list[str]:
    """One line per leg nearer its liquidation price than the target: what restores the buffer."""
    lines: list[str] = []
    for position in snapshot.positions:
        remedy = position_remediation(position)
        if remedy is None or not remedy.get("add_margin"):
            continue
        mark = _money(position.mark_price)
        liquidation = _money(position.liquidation_price)
        lines.append(f"to restore {position.instrument}{_leg_suffix(position)} (mark {mark}, "
                     f"liquidation {liquidation}): {remediation_text(remedy)}")
    return lines


def make_console(force_plain: bool = False) -> tuple[Console, bool]:
    """A console and whether it is a live terminal (False when piped or asked for plain)."""
    console = Console()
    return console, console.is_terminal and not force_plain


def venue_cells(position: LegFigures) -> tuple[str, Text, str]:
    """The venue's own liquidation price, how far the model's is from it (red past 0.5 %) and the
    venue's ADL rank of the leg ("-" when the venue reported none: unknown)."""
    venue = position.venue_figures
    divergence = position.model_divergence.liquidation_price
    style = "bold red" if divergence is not None and divergence > 0.005 else ""
    rank = None if venue is None else venue.adl_rank
    adl = "-" if venue is None or rank is None else f"{rank}/{venue.adl_rank_top}"
    liquidation = None if venue is None else venue.liquidation_price
    return _money(liquidation), Text(_percent(divergence, 2), style=style), adl


def _leg_suffix(position: LegFigures) -> str:
    """`` long`` / `` short`` for a hedge-mode leg, nothing for a one-way position."""
    side = position.position_side
    return "" if side == "one_way" else f" {side}"


def _quantity(position: LegFigures) -> str:
    return "-" if position.quantity is None else f"{position.quantity:g}"
