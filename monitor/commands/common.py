"""Flags and builders shared by the commands that run the pipeline."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from monitor import eventloop
from monitor.bus.base import Topics
from monitor.bus.kafka import KafkaBus, KafkaSettings

log = logging.getLogger(__name__)


def add_logging_arguments(parser: argparse.ArgumentParser) -> None:
    """--log-format and --log-level."""
    parser.add_argument("--log-format", choices=("text", "json"), default=None,
                        help="log lines as text or JSON objects (default text, or the config's)")
    parser.add_argument("--log-level", choices=("debug", "info", "warning", "error"),
                        default=None, help="least severe level logged (default info, or the config's)")


def add_kafka_arguments(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """--kafka and --topic-prefix."""
    parser.add_argument("--kafka", required=required, metavar="HOST:PORT",
                        help="Kafka bootstrap servers, e.g. 127.0.0.1:9092")
    parser.add_argument("--topic-prefix", default="", help="prefix of every topic name")


def kafka_bus(bootstrap: str) -> KafkaBus:
    """A Kafka bus with default settings for ``bootstrap``."""
    return KafkaBus(KafkaSettings(bootstrap_servers=bootstrap))


def topics_from(args: argparse.Namespace) -> Topics:
    """Topic names with the ``--topic-prefix``."""
    return Topics.with_prefix(args.topic_prefix)


def add_event_loop_argument(parser: argparse.ArgumentParser, *, config: bool = False) -> None:
    """--event-loop {auto,asyncio,uvloop} (``config``: the command also reads [monitor] event_loop)."""
    fallback = "the config's [monitor] event_loop, else asyncio" if config else "asyncio"
    parser.add_argument(
        "--event-loop", choices=eventloop.EVENT_LOOPS, default=None,
        help=f"event loop: asyncio, uvloop (needs {eventloop.INSTALL_HINT}) or auto (uvloop when "
             f"installed, else asyncio); default ${eventloop.ENVIRONMENT_VARIABLE}, else {fallback}")


def chosen_event_loop(args: argparse.Namespace, configured: str | None = None) -> str | None:
    """The loop to run on ("asyncio" or "uvloop"), else None after one line on stderr naming the fix.

    The choice is exported as ``$HEDGE_EVENT_LOOP`` so the command's child processes (crash-test's
    processors) run on the same loop.
    """
    try:
        loop = eventloop.resolve(eventloop.requested_loop(args.event_loop, configured))
    except eventloop.EventLoopError as exc:
        command = getattr(args, "command", None)
        sys.stderr.write(f"hedge-monitor {command}: {exc}\n" if command else f"hedge-monitor: {exc}\n")
        return None
    os.environ[eventloop.ENVIRONMENT_VARIABLE] = loop
    log.info("event loop: %s", loop)
    return loop


def run_in_event_loop(
    args: argparse.Namespace, main: Callable[[], Coroutine[Any, Any, int]], *, configured: str | None = None,
) -> int:
    """Run ``main()`` on the loop ``--event-loop`` chooses; exit status 2 when that loop cannot be had."""
    loop = chosen_event_loop(args, configured)
    if loop is None:
        return 2
    return eventloop.run(main(), loop)
