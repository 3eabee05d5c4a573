"""``hedge-monitor process``: the stateful risk processor on Kafka."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from dataclasses import replace

from monitor.app import DEFAULT_CONFIG_SOURCE, run_processor
from monitor.commands.common import (
    add_event_loop_argument,
    add_kafka_arguments,
    add_logging_arguments,
    kafka_bus,
    run_in_event_loop,
    topics_from,
)
from monitor.config import ConfigError, MonitorConfig, load_config
from monitor.loopwatch import EventLoopWatch
from monitor.metrics import Metrics, serve_metrics
from monitor.runtime import install_stop_signals, setup_logging

EXAMPLE = "hedge-monitor process --kafka 127.0.0.1:9092 --metrics-port 9464"
log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The process command's flags."""
    add_kafka_arguments(parser, required=True)
    parser.add_argument("--config", help="TOML configuration file (portfolios, plans, alerts)")
    parser.add_argument("--group-id", default=None,
                        help="consumer group of the processors (default hedge-monitor)")
    parser.add_argument("--instance-id", default=None,
                        help="static group member id, one per processor: a restart under the same id "
                             "takes its partitions back at once (default: a dynamic member)")
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


def processor_config(args: argparse.Namespace) -> MonitorConfig | None:
    """The ``--config`` file (the defaults without one) with the flags applied; None if it is invalid."""
    config = MonitorConfig(source=DEFAULT_CONFIG_SOURCE)
    if args.config:
        try:
            config = load_config(args.config)
        except ConfigError as exc:
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            return None
    base = config.processor
    topics = topics_from(args) if args.topic_prefix else base.topics
    settings = replace(
        base,
        topics=topics,
        group_id=args.group_id or base.group_id,
        instance_id=args.instance_id or base.instance_id,
        publish_interval_ms=(base.publish_interval_ms if args.publish_interval_ms is None
                             else args.publish_interval_ms),
        checkpoint_interval_ms=(base.checkpoint_interval_ms if args.checkpoint_interval_ms is None
                                else args.checkpoint_interval_ms),
    )
    return replace(config, topics=topics, topic_partitions=args.partitions, processor=settings)


async def _main(args: argparse.Namespace, config: MonitorConfig) -> int:
    stop = asyncio.Event()
    install_stop_signals(stop)
    metrics = Metrics()
    server = None
    if args.metrics_port is not None:
        server = await serve_metrics(metrics, args.metrics_host, args.metrics_port)
        log.info("metrics on http://%s:%d/metrics", args.metrics_host, server.port)
    try:
        async with EventLoopWatch(metrics.event_loop_lag):
            await run_processor(config, kafka_bus(args.kafka), stop, metrics=metrics)
    finally:
        if server is not None:
            await server.close()
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the processor until SIGINT/SIGTERM."""
    setup_logging(args.log_format or "text", args.log_level or "info")
    config = processor_config(args)
    if config is None:
        return 2
    configured = config.event_loop if args.config else None
    return run_in_event_loop(args, lambda: _main(args, config), configured=configured)
