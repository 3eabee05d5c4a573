"""Flags and builders shared by the commands that run the pipeline."""

from __future__ import annotations

import argparse

from monitor.bus.base import Topics
from monitor.bus.kafka import KafkaBus, KafkaSettings


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
