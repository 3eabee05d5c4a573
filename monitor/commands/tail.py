"""``hedge-monitor tail``: a downstream subscriber printing risk snapshots or alerts."""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from monitor.commands.common import (
    add_event_loop_argument,
    add_kafka_arguments,
    run_in_event_loop,
    topics_from,
)
from monitor.runtime import install_stop_signals

EXAMPLE = "hedge-monitor tail risk --kafka 127.0.0.1:9092 --portfolio alice"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The tail command's flags."""
    parser.add_argument("stream", choices=("risk", "alerts"), help="which topic to follow")
    add_kafka_arguments(parser, required=True)
    parser.add_argument("--portfolio", help="only this portfolio")
    parser.add_argument("--json", action="store_true", help="print JSON lines")
    parser.add_argument("--from-beginning", action="store_true", help="start at the oldest record")
    parser.add_argument("--max-messages", type=int, default=None, help="exit after N messages")
    add_event_loop_argument(parser)


def _number(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def format_risk(snapshot: dict[str, Any]) -> str:
    """One readable block for a risk snapshot."""
    lines = [f"[{snapshot.get('portfolio')}] seq {snapshot.get('seq')}"]
    for asset, figures in sorted(snapshot.get("assets", {}).items()):
        lines.append(
            f"  {asset}: price {_number(figures.get('price'))}  net delta "
            f"{_number(figures.get('net_delta'), 6)} ({_number(figures.get('net_delta_usd'))} USD)  "
            f"hedge ratio {_number(figures.get('hedge_ratio'), 3)} "
            f"(target {_number(figures.get('target_hedge_ratio'), 2)})  "
            f"contracts to target {_number(figures.get('contracts_to_target'), 0)}")
    lines.extend(
        f"  {position.get('instrument')} x {position.get('quantity')}: uPnL "
        f"{_number(position.get('unrealized_pnl_usd'))}  margin buffer "
        f"{_number(position.get('margin_buffer_usd'))}  liq "
        f"{_number(position.get('liquidation_price'))} "
        f"({_number((position.get('liquidation_distance') or 0) * 100, 1)} % away)"
        for position in snapshot.get("positions", [])
    )
    return "\n".join(lines)


def format_alert(alert: dict[str, Any]) -> str:
    """One readable line for an alert transition."""
    return (f"[{alert.get('portfolio')}] {str(alert.get('state')).upper()} "
            f"{alert.get('severity')} {alert.get('rule')} {alert.get('subject')}: "
            f"{alert.get('message')} (id {alert.get('id')})")


async def _main(args: argparse.Namespace) -> int:
    topics = topics_from(args)
    topic = topics.risk if args.stream == "risk" else topics.alerts
    stop = asyncio.Event()
    install_stop_signals(stop)
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=args.kafka, group_id=f"hedge-tail-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest" if args.from_beginning else "latest",
    )
    await consumer.start()
    printed = 0
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=500)
            for messages in batches.values():
                for message in messages:
                    if args.portfolio and message.key != args.portfolio.encode():
                        continue
                    if args.json:
                        sys.stdout.write(message.value.decode() + "\n")
                    else:
                        value = orjson.loads(message.value)
                        text = format_risk(value) if args.stream == "risk" else format_alert(value)
                        sys.stdout.write(text + "\n")
                    sys.stdout.flush()
                    printed += 1
                    if args.max_messages is not None and printed >= args.max_messages:
                        return 0
    finally:
        await consumer.stop()
    return 0


def run(args: argparse.Namespace) -> int:
    """Follow the topic until interrupted (or --max-messages)."""
    return run_in_event_loop(args, lambda: _main(args))
