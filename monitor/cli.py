"""Command-line interface: parses flags and hands each sub-command to ``monitor.commands``."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from monitor import __version__
from monitor.commands import (
    alertbridge,
    bench,
    crashtest,
    demo,
    fuzz,
    pipeline,
    plan,
    process,
    simulate,
    soak,
    tail,
)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line naming the flag, with exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``hedge-monitor`` parser with every sub-command."""
    parser = _Parser(
        prog="hedge-monitor",
        description="Live risk monitor for crypto holdings hedged with futures.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  hedge-monitor demo --scenario seed-drop\n",
    )
    parser.add_argument("--version", action="version", version=f"hedge-monitor {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    plan_parser = commands.add_parser(
        "plan", help="compute a hedge: contracts, residual, margin, stress",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"example:\n  {plan.EXAMPLE}\n")
    plan.add_arguments(plan_parser)
    plan_parser.set_defaults(handler=plan.run)

    for name, module, help_text in (
        ("demo", demo, "watch a hedge live: simulator, ingest, processor, alerts, metrics"),
        ("process", process, "run the stateful risk processor on Kafka"),
        ("tail", tail, "print risk snapshots or alerts from Kafka"),
        ("alert-bridge", alertbridge, "push the monitor's alert transitions to Alertmanager's API"),
        ("bench", bench, "the benchmarks run from a source checkout: prints the python -m bench command"),
        ("crash-test", crashtest, "kill processors under load and verify outputs against a recomputation"),
        ("fuzz", fuzz, "fuzz every venue parser and the event decoder with mutated fixtures"),
        ("simulate", simulate, "serve the exchange simulator (Binance, Bybit, OKX wire formats)"),
        ("soak", soak, "run simulator, ingest, Kafka and processors for an hour; fail on growth or lag"),
    ):
        sub = commands.add_parser(
            name, help=help_text, formatter_class=argparse.RawDescriptionHelpFormatter,
            epilog=f"example:\n  {module.EXAMPLE}\n")
        module.add_arguments(sub)
        sub.set_defaults(handler=module.run)

    for name, add, handler, example, help_text in (
        ("ingest", pipeline.add_arguments, pipeline.run_ingest_command, pipeline.INGEST_EXAMPLE,
         "connect the configured venues and publish canonical events to Kafka"),
        ("run", pipeline.add_run_arguments, pipeline.run_run_command, pipeline.RUN_EXAMPLE,
         "ingest and processor in one process (in-process bus unless Kafka is configured)"),
        ("check-config", pipeline.add_check_arguments, pipeline.run_check, pipeline.CHECK_EXAMPLE,
         "check a configuration file and report every problem"),
    ):
        sub = commands.add_parser(
            name, help=help_text, formatter_class=argparse.RawDescriptionHelpFormatter,
            epilog=f"example:\n  {example}\n")
        add(sub)
        sub.set_defaults(handler=handler)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``hedge-monitor`` command."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    status: int = args.handler(args)
    return status
