"""``hedge-monitor bench``: the benchmark suite's flags, and where the suite runs (a source checkout).

The scenarios live in the top-level ``bench`` package beside ``monitor/`` in the source tree; they
start a Kafka broker with ``deploy/kafka`` and write under ``bench-results/``, so they are not part
of the installed package. They run from a checkout with ``python -m bench`` (or ``make bench``),
which takes the flags defined here; ``hedge-monitor bench`` says so, with the command to type.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from monitor.commands.common import add_event_loop_argument

EXAMPLE = "python -m bench core --size tiny --json-out bench-results/core.json"
SCENARIOS = ("core", "fanout", "snapshot", "e2e", "ceiling", "shipped", "recovery", "scaleout", "all")
SIZES = ("tiny", "full")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The bench command's flags."""
    parser.add_argument("scenario", nargs="?", choices=SCENARIOS, default="all",
                        help="which scenario to run (default all: every one but recovery and "
                             "scaleout, which write hours of ticks or 100k portfolios and run only "
                             "when named)")
    parser.add_argument("--size", choices=SIZES, default="full",
                        help="tiny: seconds per scenario, one run (smoke test); full: the published "
                             "figures, medians of --repeats runs (default full)")
    parser.add_argument("--json-out", metavar="PATH", default=None,
                        help="write the results here (default bench-results/<scenario>-<size>.json)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="runs per measurement (default 3 at full size, 1 at tiny)")
    parser.add_argument("--kafka", metavar="HOST:PORT", default=None,
                        help="broker for e2e/ceiling (default $HEDGE_KAFKA_BOOTSTRAP, else start one "
                             "with deploy/kafka/kafka.sh on a free port)")
    add_event_loop_argument(parser)


def checkout_command(args: argparse.Namespace) -> str:
    """The ``python -m bench`` command line that runs what ``args`` asks for."""
    words = ["python", "-m", "bench", args.scenario, "--size", args.size]
    for flag, value in (("--json-out", args.json_out), ("--repeats", args.repeats),
                        ("--kafka", args.kafka), ("--event-loop", args.event_loop)):
        if value is not None:
            words += [flag, str(value)]
    return shlex.join(words)


def run(args: argparse.Namespace) -> int:
    """Say where the benchmarks run and with which command; exit status 2 (nothing was run)."""
    sys.stderr.write(
        "hedge-monitor bench: the benchmarks are not part of the installed package; they run from "
        "a source checkout of hedge-monitor (the bench/ package beside monitor/, with the checkout's "
        "environment installed: make setup). From the checkout's root run:\n"
        f"  {checkout_command(args)}\n"
        "or: make bench (every scenario at full size)\n")
    return 2
