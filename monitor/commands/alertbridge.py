"""``hedge-monitor alert-bridge``: push ``hedge.alerts`` transitions to Alertmanager's API."""

from __future__ import annotations

import argparse
import asyncio

from monitor.alertmanager import BridgeSettings, run_bridge
from monitor.commands.common import (
    add_event_loop_argument,
    add_kafka_arguments,
    kafka_bus,
    run_in_event_loop,
    topics_from,
)
from monitor.runtime import install_stop_signals, setup_logging

EXAMPLE = "hedge-monitor alert-bridge --kafka 127.0.0.1:9092 --alertmanager http://127.0.0.1:9093"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The alert-bridge command's flags."""
    add_kafka_arguments(parser, required=True)
    add_alertmanager_arguments(parser, required=True)
    parser.add_argument("--log-level", choices=("debug", "info", "warning", "error"), default="info",
                        help="log level (default info)")
    add_event_loop_argument(parser)


def add_alertmanager_arguments(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """--alertmanager URL and --alertmanager-resend-s."""
    parser.add_argument("--alertmanager", required=required, metavar="URL",
                        help="Alertmanager base URL, e.g. http://127.0.0.1:9093 (POST /api/v2/alerts)")
    parser.add_argument("--alertmanager-resend-s", type=float, default=60.0, metavar="SECONDS",
                        help="re-post firing alerts this often, under Alertmanager's resolve_timeout "
                             "(default 60)")


def bridge_settings(args: argparse.Namespace) -> BridgeSettings:
    """The bridge settings from the flags (BridgeError names a wrong one)."""
    return BridgeSettings(args.alertmanager, resend_s=args.alertmanager_resend_s)


async def _main(args: argparse.Namespace) -> int:
    settings = bridge_settings(args)
    stop = asyncio.Event()
    install_stop_signals(stop)
    bus = kafka_bus(args.kafka)
    try:
        bridge = await run_bridge(bus, topics_from(args), settings, stop)
    finally:
        await bus.close()
    print(f"alert-bridge: posted {bridge.posted} alerts to {settings.url} "
          f"({bridge.failures} failed attempts retried)", flush=True)
    return 0


def run(args: argparse.Namespace) -> int:
    """Follow hedge.alerts and post to Alertmanager until interrupted."""
    setup_logging("text", args.log_level)
    return run_in_event_loop(args, lambda: _main(args))
