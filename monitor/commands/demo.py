"""``hedge-monitor demo``: the whole monitor against the exchange simulator, in one process.

The simulator plays a scenario; the real websocket ingest connects to it; canonical events go
over the in-process bus (or a real Kafka with ``--kafka``) to the processor; alerts fire; metrics
are served; the live view (or plain lines when not on a terminal) shows it all, then a summary.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from monitor.alertmanager import run_bridge
from monitor.alerts import AlertsConfig
from monitor.alerts.remediation import remediation_text
from monitor.app import IngestHandle, build_bus, run_pipeline
from monitor.bus.base import Topics
from monitor.bus.kafka import KafkaSettings
from monitor.commands.alertbridge import add_alertmanager_arguments, bridge_settings
from monitor.commands.common import add_event_loop_argument, run_in_event_loop
from monitor.config import MonitorConfig, PortfolioConfig
from monitor.domain.plans import EffectivenessSettings, HedgePlan, PortfolioSettings
from monitor.domain.snapshot import AccountFigures, LegFigures
from monitor.ingest.supervisor import SupervisorSettings
from monitor.live import follow_and_show
from monitor.metrics import Metrics, MetricsServer, serve_metrics
from monitor.processor.runner import Processor, ProcessorSettings
from monitor.runtime import install_stop_signals, setup_logging
from monitor.sim.scenario import Scenario, load_scenario, scenario_names
from monitor.sim.server import SimulatorServer, scenario_venues
from monitor.view import ViewState, remediation_lines

EXAMPLE = "hedge-monitor demo --scenario seed-drop"
PORTFOLIO = "demo"
DAY_MS = 86_400_000
log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo command's flags."""
    parser.add_argument("--scenario", default="seed-drop",
                        help=f"one of {', '.join(scenario_names())} (default seed-drop)")
    parser.add_argument("--speed", type=float, default=None,
                        help="scenario seconds per wall second (default: the scenario in ~60 s)")
    parser.add_argument("--duration", type=float, default=None,
                        help="stop after this many wall seconds (default: the whole scenario)")
    parser.add_argument("--kafka", metavar="HOST:PORT", help="run over a real Kafka broker")
    parser.add_argument("--metrics-port", type=int, default=9464,
                        help="port of /metrics on 127.0.0.1 (default 9464; a free one if taken)")
    parser.add_argument("--plain", action="store_true", help="plain periodic lines, no live view")
    parser.add_argument("--refresh", type=float, default=None,
                        help="seconds between plain status lines (default 5)")
    parser.add_argument("--log-level", choices=("debug", "info", "warning", "error"),
                        default="warning", help="log level (default warning: the view is the output)")
    add_alertmanager_arguments(parser, required=False)
    add_event_loop_argument(parser)


SPOT_SOURCE = "binance-spot:BTCUSDT"
"""Every scenario holds its BTC at Binance spot: that market prices it (the plan's ``spot_source``)."""


DEMO_ALERTS = {"liquidation_distance_low": {"stages": {"warning": 0.08, "emergency": 0.02}}}
"""The demo's alert stages on distance to liquidation: warning under 8 %, critical under 5 % (the
default), emergency under 2 %; a leg's remediation then restores 9 % (8 % plus the 1 % gap)."""


def _plan(scenario: Scenario, start_ms: int) -> dict[str, HedgePlan]:
    """The hedge plan the demo monitors for each scenario (seed steps 3 to 6)."""
    if scenario.name == "cross-hedge":
        return {"BTC": HedgePlan("BTC", "okx:ETH-USDT-SWAP", target_ratio=1.0, band=0.1,
                                 start_ms=start_ms, expiry_ms=start_ms + 7 * DAY_MS,
                                 cost_budget_usd=150.0, spot_source=SPOT_SOURCE)}
    if scenario.name in ("multi-venue", "guide-venues"):
        return {"BTC": HedgePlan("BTC", None, target_ratio=1.0, band=0.1, start_ms=start_ms,
                                 expiry_ms=start_ms + 7 * DAY_MS, spot_source=SPOT_SOURCE)}
    return {"BTC": HedgePlan("BTC", "okx:BTC-USDT-SWAP", target_ratio=1.0, band=0.1,
                             start_ms=start_ms, expiry_ms=start_ms + 7 * DAY_MS,
                             exit_above=65_000.0, stop_loss_usd=12_000.0, cost_budget_usd=150.0,
                             spot_source=SPOT_SOURCE)}


def demo_config(scenario: Scenario, speed: float, kafka: str | None) -> MonitorConfig:
    """The monitor's configuration for a scenario played ``speed`` times faster than real time."""
    start_ms = int(time.time() * 1000)
    effectiveness = EffectivenessSettings(sample_interval_ms=max(50, int(10_000 / speed)), window=120)
    settings = PortfolioSettings(plans=_plan(scenario, start_ms), effectiveness=effectiveness)
    config = MonitorConfig(source="<demo>")
    topics = Topics.with_prefix(f"demo-{uuid.uuid4().hex[:8]}.") if kafka else Topics()
    processor = ProcessorSettings(
        topics=topics, group_id=f"demo-{uuid.uuid4().hex[:8]}", fetch_timeout_ms=50,
        stale_after_ms=max(1_000, int(15_000 / speed)), checkpoint_interval_ms=1_000)
    return replace(
        config,
        kafka=None if kafka is None else KafkaSettings(bootstrap_servers=kafka),
        topics=topics,
        topic_partitions=1 if kafka is None else 3,
        processor=processor,
        effectiveness=effectiveness,
        portfolios={PORTFOLIO: PortfolioConfig(PORTFOLIO, settings, AlertsConfig.from_mapping(
            DEMO_ALERTS, source="<demo>", base=config.alerts))},
    )


async def _metrics_server(metrics: Metrics, port: int) -> MetricsServer:
    try:
        return await serve_metrics(metrics, "127.0.0.1", port)
    except OSError:
        log.warning("port %d is taken; serving /metrics on a free port", port)
        return await serve_metrics(metrics, "127.0.0.1", 0)


def summary(state: ViewState, scenario: Scenario) -> list[str]:
    """The end-of-demo summary: what the hedge did, what fired."""
    lines = [f"== summary of {scenario.name}: {scenario.description}"]
    snapshot = state.snapshots.get(PORTFOLIO)
    if snapshot is None:
        return [*lines, "no risk snapshot was published"]
    for asset, figures in sorted(snapshot.assets.items()):
        lines.append(
            f"{asset}: price {_fmt(figures.price, 2)}, net delta {_signed(figures.net_delta, 4)} "
            f"{asset}, hedge ratio {_fmt(figures.hedge_ratio, 3)}, contracts to target "
            f"{_fmt(figures.contracts_to_target, 0)}")
    for asset, measures in sorted(snapshot.effectiveness.items()):
        spot, hedge = measures.spot_change_usd, measures.hedge_change_usd
        lines.append(
            f"{asset}: spot value change {spot:+,.2f} USD, hedge value change {hedge:+,.2f} USD "
            f"(incl. funding), net {spot + hedge:+,.2f} USD; dollar offset "
            f"{_fmt(measures.dollar_offset, 3)}, R2 {_fmt(measures.r2, 3)}, variance "
            f"reduction {_fmt(measures.variance_reduction, 3)} over {measures.samples} samples")
    lines.extend(
        f"{position.instrument} ({_leg_name(position)}, {position.margin_model} margin "
        f"rule): {_quantity(position)} contracts, uPnL "
        f"{_fmt(position.unrealized_pnl_usd, 2)} USD, maintenance margin "
        f"{_fmt(position.maintenance_margin_usd, 2)} USD, margin buffer "
        f"{_fmt(position.margin_buffer_usd, 2)} USD, liquidation "
        f"{_fmt(position.liquidation_price, 2)} "
        f"({_fmt(position.liquidation_distance, 4)} away){venue_beside_model(position)}"
        for position in snapshot.positions
    )
    lines.extend(account_line(account, figures) for account, figures in sorted(snapshot.accounts.items()))
    costs = snapshot.costs
    lines.append(f"costs: fees {_fmt(costs.fees_usd, 2)} USD, funding received "
                 f"{_fmt(costs.funding_received_usd, 2)} USD, paid "
                 f"{_fmt(costs.funding_paid_usd, 2)} USD")
    lines.extend(remediation_lines(snapshot))
    fired = [a for a in state.alert_log if a["state"] == "firing"]
    shown = "" if len(fired) == state.alerts_fired else f" (the last {len(fired)} below)"
    lines.append(f"alerts fired: {state.alerts_fired}{shown}")
    for alert in fired:
        lines.append(f"  {alert['severity']} {alert['rule']} {alert['subject']}: {alert['message']}")
        lines.extend(f"    {line}" for line in remediation_check(alert.get("remediation")))
    return lines


def remediation_check(remedy: Mapping[str, Any] | None) -> list[str]:
    """The remediation of a fired alert as a line a person can check by hand."""
    if not remedy:
        return []
    lines = [f"remediation: {remediation_text(remedy)}"]
    if remedy.get("kind") == "liquidation":
        settle = remedy["settle"]
        requirement, balance = remedy["requirement_at_target"], remedy["balance_at_target"]
        side = "above" if remedy["target_price"] > remedy["mark_price"] else "below"
        lines.append(
            f"check: at {remedy['target_price']:,.2f} ({remedy['target_distance'] * 100:.1f} % {side} the "
            f"mark {remedy['mark_price']:,.2f}) the venue requires {requirement:,.2f} {settle} and the "
            f"margin balance is {balance:,.2f} {settle}: {requirement:,.2f} - ({balance:,.2f}) = "
            f"{remedy['add_margin']:,.2f} {settle} to add")
    return lines


def venue_beside_model(position: LegFigures) -> str:
    """``; venue's liquidation 65,704.33 as of <UTC time> (model 0.00 % off)``: the venue's own figure
    beside the model's, or that the venue reported none (docs/venue-fields.md)."""
    venue = position.venue_figures
    if venue is None:
        return "; the venue reported no figures"
    divergence = position.model_divergence.liquidation_price
    off = "-" if divergence is None else f"{divergence * 100:.2f} %"
    adl = venue.adl_rank
    adl_text = "" if adl is None else f", ADL rank {adl} of {venue.adl_rank_top}"
    return (f"; venue's liquidation {_fmt(venue.liquidation_price, 2)} as of "
            f"{_utc(venue.as_of_ms)} (model {off} off){adl_text}")


def _utc(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def account_line(account: str, figures: AccountFigures) -> str:
    """One unified / portfolio-margin account: the venue's ratio beside the model's."""
    venue, model = figures.venue, figures.model
    return (f"account {account} ({figures.mode}): venue {venue.venue_figure} "
            f"{_fmt(venue.venue_value, 4)}, margin ratio venue "
            f"{_fmt(venue.maintenance_margin_ratio, 4)} / model "
            f"{_fmt(model.maintenance_margin_ratio, 4)}, liquidation at "
            f"{_fmt(figures.liquidation_ratio, 4)}, buffer used {_fmt(figures.buffer_used, 4)}")


def _fmt(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _quantity(position: LegFigures) -> str:
    return "-" if position.quantity is None else f"{position.quantity:g}"


def _signed(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:+.{digits}f}"


async def run_demo(args: argparse.Namespace) -> int:
    """Play the scenario through the whole monitor and show it."""
    scenario = load_scenario(args.scenario)
    speed = args.speed or max(1.0, scenario.duration_s / 60.0)
    config = demo_config(scenario, speed, args.kafka)
    stop = asyncio.Event()
    install_stop_signals(stop)
    state = ViewState()
    metrics = Metrics()
    server = await _metrics_server(metrics, args.metrics_port)
    handles: dict[str, Any] = {}
    print(f"hedge-monitor demo: scenario {scenario.name} at {speed:g}x "
          f"({scenario.duration_s / speed:.0f} s), bus "
          f"{'Kafka ' + args.kafka if args.kafka else 'in-process'}, "
          f"metrics http://127.0.0.1:{server.port}/metrics", flush=True)
    async with SimulatorServer(seed=scenario.seed, heartbeat_s=1.0 / speed) as sim:
        await sim.load_accounts(scenario)
        venues = scenario_venues(sim, scenario, portfolio=PORTFOLIO, catalog=config.catalog)
        bus = build_bus(config)

        async def play(stop_event: asyncio.Event) -> None:
            with contextlib.suppress(asyncio.CancelledError):
                task = asyncio.ensure_future(
                    sim.run_scenario(scenario, speed, load_accounts=False))
                limit = args.duration if args.duration is not None else scenario.duration_s / speed + 2
                stopper = asyncio.ensure_future(stop_event.wait())
                await asyncio.wait({task, stopper}, timeout=limit,
                                   return_when=asyncio.FIRST_COMPLETED)
                stopper.cancel()
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            stop_event.set()

        async def show(stop_event: asyncio.Event) -> None:
            await follow_and_show(
                bus, config.topics, state, f"hedge-monitor demo: {scenario.name} at {speed:g}x",
                stop_event, plain=args.plain, refresh_s=args.refresh or 5.0, handles=handles)

        def on_ingest(handle: IngestHandle) -> None:
            handles["ingest"] = handle

        def on_processor(processor: Processor) -> None:
            handles["processor"] = processor

        settings = bridge_settings(args) if args.alertmanager else None
        extra = [play, show]
        if settings is not None:
            bridge_with = settings

            async def bridge(stop_event: asyncio.Event) -> None:
                await run_bridge(bus, config.topics, bridge_with, stop_event)

            extra.append(bridge)
        try:
            await run_pipeline(
                config, stop, bus=bus, metrics=metrics,
                supervisor_settings=SupervisorSettings(time_scale=1.0 / speed),
                extra=extra, on_ingest=on_ingest, on_processor=on_processor, venues=venues)
        finally:
            await server.close()
    for line in summary(state, scenario):
        print(line)
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the demo to the end of its scenario (or --duration), then print a summary."""
    setup_logging("text", args.log_level)
    return run_in_event_loop(args, lambda: run_demo(args))


def _leg_name(position: LegFigures) -> str:
    """``one-way`` or the hedge-mode leg (``long leg``, ``short leg``), with its margin mode."""
    side = position.position_side
    leg = "one-way" if side == "one_way" else f"{side} leg"
    return f"{leg} {position.margin_mode}"
