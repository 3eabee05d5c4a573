"""``hedge-monitor ingest``, ``run`` and ``check-config``: the configured pipeline."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from dataclasses import replace
from typing import Any

from monitor.alertmanager import run_bridge
from monitor.app import build_bus, run_ingest, run_pipeline, start_metrics
from monitor.bus.kafka import KafkaBus, KafkaSettings
from monitor.commands.common import add_event_loop_argument, add_logging_arguments, run_in_event_loop
from monitor.config import ConfigError, MonitorConfig, check_config_command, load_config
from monitor.live import follow_and_show
from monitor.metrics import Metrics
from monitor.runtime import install_stop_signals, setup_logging
from monitor.view import ViewState

INGEST_EXAMPLE = "hedge-monitor ingest --config examples/monitor.toml --kafka 127.0.0.1:9092"
RUN_EXAMPLE = "hedge-monitor run --config examples/monitor.toml"
CHECK_EXAMPLE = "hedge-monitor check-config examples/monitor.toml"
log = logging.getLogger(__name__)


def add_check_arguments(parser: argparse.ArgumentParser) -> None:
    """The check-config command's flags."""
    parser.add_argument("file", help="the TOML configuration file to check")


def run_check(args: argparse.Namespace) -> int:
    """Report every problem of a config file (exit 2) or OK (exit 0)."""
    return check_config_command(args.file)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags shared by ingest and run."""
    parser.add_argument("--config", required=True, help="TOML configuration file")
    parser.add_argument("--kafka", metavar="HOST:PORT",
                        help="Kafka bootstrap servers (overrides [kafka] bootstrap_servers)")
    parser.add_argument("--metrics-host", default=None, help="bind address of /metrics")
    parser.add_argument("--metrics-port", type=int, default=None, help="port of /metrics")
    add_logging_arguments(parser)
    add_event_loop_argument(parser, config=True)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of run: the shared ones plus the view."""
    add_arguments(parser)
    parser.add_argument("--view", choices=("auto", "live", "plain", "none"), default="auto",
                        help="live view on a terminal, plain lines otherwise (auto), or none")
    parser.add_argument("--refresh", type=float, default=5.0,
                        help="seconds between plain status lines (default 5)")


def _load(args: argparse.Namespace) -> MonitorConfig | None:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return None
    if args.kafka:
        kafka = config.kafka or KafkaSettings(bootstrap_servers=args.kafka)
        config = replace(config, kafka=replace(kafka, bootstrap_servers=args.kafka))
    if args.metrics_host is not None:
        config = replace(config, metrics=replace(config.metrics, host=args.metrics_host))
    return config


async def _ingest(config: MonitorConfig, args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    install_stop_signals(stop)
    if config.kafka is None:
        log.error("ingest publishes to Kafka: give --kafka HOST:PORT or [kafka] bootstrap_servers "
                  "(or use `hedge-monitor run` for the one-process mode)")
        return 2
    bus = KafkaBus(config.kafka)
    await bus.create_topics(config.topics.specs(config.topic_partitions))
    metrics = Metrics(portfolio_label_limit=config.metrics.portfolio_label_limit)
    server = await start_metrics(config, metrics, args.metrics_port)
    try:
        await run_ingest(config, bus, stop, metrics=metrics)
    finally:
        if server is not None:
            await server.close()
    return 0


async def _run(config: MonitorConfig, args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    install_stop_signals(stop)
    metrics = Metrics(portfolio_label_limit=config.metrics.portfolio_label_limit)
    server = await start_metrics(config, metrics, args.metrics_port)
    bus = build_bus(config)
    log.info("run: %s bus, %d accounts, %d feeds, %d holdings",
             "Kafka" if config.kafka else "in-process", len(config.accounts), len(config.feeds),
             len(config.holdings))
    handles: dict[str, Any] = {}
    extra = []
    if args.view != "none":
        state = ViewState()

        async def show(stop_event: asyncio.Event) -> None:
            await follow_and_show(bus, config.topics, state, f"hedge-monitor run: {config.source}",
                                  stop_event, plain=args.view == "plain", refresh_s=args.refresh,
                                  handles=handles)

        extra.append(show)
    if config.alertmanager is not None:
        bridge_settings = config.alertmanager

        async def bridge(stop_event: asyncio.Event) -> None:
            await run_bridge(bus, config.topics, bridge_settings, stop_event)

        extra.append(bridge)
        log.info("run: alert transitions go to Alertmanager at %s", bridge_settings.url)
    try:
        await run_pipeline(config, stop, bus=bus, metrics=metrics, extra=extra,
                           on_ingest=lambda handle: handles.__setitem__("ingest", handle),
                           on_processor=lambda processor: handles.__setitem__("processor", processor))
    finally:
        if server is not None:
            await server.close()
    return 0


def _start(args: argparse.Namespace, body: Any) -> int:
    config = _load(args)
    if config is None:
        return 2
    setup_logging(args.log_format or config.logging.format, args.log_level or config.logging.level)
    return run_in_event_loop(args, lambda: body(config, args), configured=config.event_loop)


def run_ingest_command(args: argparse.Namespace) -> int:
    """Connect the configured venues and publish canonical events to Kafka."""
    return _start(args, _ingest)


def run_run_command(args: argparse.Namespace) -> int:
    """Ingest and processor in one process."""
    return _start(args, _run)
