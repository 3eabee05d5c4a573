"""``hedge-monitor process``: the stateful risk processor on Kafka."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from dataclasses import replace

from monitor.alerts import AlertEngine, AlertsConfig
from monitor.app import build_engine as build_config_engine
from monitor.bus.base import Bus
from monitor.commands.common import (
    add_event_loop_argument,
    add_kafka_arguments,
    add_logging_arguments,
    kafka_bus,
    run_in_event_loop,
    topics_from,
)
from monitor.config import ConfigError, load_config
from monitor.domain.instruments import default_catalog
from monitor.domain.plans import PortfolioSettings
from monitor.metrics import Metrics, serve_metrics
from monitor.processor.engine import RiskEngine, RiskLevels
from monitor.processor.runner import Processor, ProcessorSettings
from monitor.runtime import install_stop_signals, setup_logging

EXAMPLE = "hedge-monitor process --kafka 127.0.0.1:9092 --metrics-port 9464"
log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The process command's flags."""
    add_kafka_arguments(parser, required=True)
    parser.add_argument("--config", help="TOML configuration file (portfolios, plans, alerts)")
    parser.add_argument("--group-id", default=None,
                        help="consumer group of the processors (default hedge-monitor)")
    parser.add_argument("--partitions", type=int, default=6, help="partitions of created topics")
    parser.add_argument("--publish-interval-ms", type=int, default=None,
                        help="at most one snapshot per portfolio per interval (0 = every change)")
    parser.add_argument("--checkpoint-interval-ms", type=int, default=None,
                        help="how often state and offsets are checkpointed (default 1000)")
    parser.add_argument("--metrics-host", default="127.0.0.1", help="bind address of /metrics")
    parser.add_argument("--metrics-port", type=int, default=None,
                        help="serve Prometheus /metrics on this port (omit: no endpoint)")
    add_logging_arguments(parser)
    add_event_loop_argument(parser, config=True)


def build_engine() -> RiskEngine:
    """A risk engine with default settings and alert rules for every portfolio."""
    alerts = AlertsConfig()
    return RiskEngine(default_catalog(), lambda _: PortfolioSettings(), lambda _: AlertEngine(alerts),
                      risk_levels=RiskLevels.from_alerts([alerts]))


async def run_processor(
    bus: Bus, engine: RiskEngine, settings: ProcessorSettings, stop: asyncio.Event,
    *, partitions: int, metrics: Metrics | None = None,
) -> Processor:
    """Create the topics and run one processor until ``stop``."""
    await bus.create_topics(settings.topics.specs(partitions))
    processor = Processor(bus, engine, settings, metrics=metrics)
    await processor.run(stop)
    return processor


def _engine_and_settings(args: argparse.Namespace) -> tuple[RiskEngine, ProcessorSettings, str | None] | None:
    """The engine, the processor settings and the config's event loop (None without --config)."""
    base = ProcessorSettings()
    engine = build_engine()
    event_loop = None
    if args.config:
        try:
            config = load_config(args.config)
        except ConfigError as exc:
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            return None
        base = config.processor
        engine = build_config_engine(config)
        event_loop = config.event_loop
    topics = topics_from(args) if args.topic_prefix else base.topics
    settings = replace(
        base,
        topics=topics,
        group_id=args.group_id or base.group_id,
        publish_interval_ms=(base.publish_interval_ms if args.publish_interval_ms is None
                             else args.publish_interval_ms),
        checkpoint_interval_ms=(base.checkpoint_interval_ms if args.checkpoint_interval_ms is None
                                else args.checkpoint_interval_ms),
    )
    return engine, settings, event_loop


async def _main(args: argparse.Namespace, engine: RiskEngine, settings: ProcessorSettings) -> int:
    stop = asyncio.Event()
    install_stop_signals(stop)
    metrics = Metrics()
    server = None
    if args.metrics_port is not None:
        server = await serve_metrics(metrics, args.metrics_host, args.metrics_port)
        log.info("metrics on http://%s:%d/metrics", args.metrics_host, server.port)
    try:
        await run_processor(kafka_bus(args.kafka), engine, settings, stop,
                            partitions=args.partitions, metrics=metrics)
    finally:
        if server is not None:
            await server.close()
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the processor until SIGINT/SIGTERM."""
    setup_logging(args.log_format or "text", args.log_level or "info")
    built = _engine_and_settings(args)
    if built is None:
        return 2
    engine, settings, event_loop = built
    return run_in_event_loop(args, lambda: _main(args, engine, settings), configured=event_loop)
