"""``hedge-monitor soak``: the whole pipeline under the desk scenario for an hour; fail on growth or lag.

Starts the simulator, ingest and ``--processors`` processors as subprocesses on fresh, uniquely
prefixed topics of the ``--kafka`` broker, samples RSS, open file descriptors, consumer lag and
event-loop lag every ``--interval-s``, and judges the run (docs/reliability.md, "Soak"). Prints a
table; exits 0 when it passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path

from monitor import eventloop
from monitor.commands.common import add_event_loop_argument, add_logging_arguments, chosen_event_loop
from monitor.reliability.soak import SoakSettings, print_result, run_soak, write_json
from monitor.runtime import setup_logging

EXAMPLE = "hedge-monitor soak --kafka 127.0.0.1:9092 --minutes 60 --json-out soak.json"
log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The soak command's flags."""
    parser.add_argument("--kafka", required=True, metavar="HOST:PORT",
                        help="Kafka bootstrap servers, e.g. 127.0.0.1:9092")
    parser.add_argument("--minutes", type=float, default=60.0, help="length of the load (default 60)")
    parser.add_argument("--interval-s", type=float, default=10.0,
                        help="seconds between samples (default 10)")
    parser.add_argument("--warmup-minutes", type=float, default=None,
                        help="minutes before the RSS baseline (default 10 %% of the run, at least one "
                             "interval)")
    parser.add_argument("--processors", type=int, default=2, help="processor subprocesses (default 2)")
    parser.add_argument("--partitions", type=int, default=6, help="partitions per topic (default 6)")
    parser.add_argument("--scenario", default="desk", help="simulator scenario (default desk)")
    parser.add_argument("--topic-prefix", default="",
                        help="prefix of the soak's topics (default: unique per run, never the real topics)")
    parser.add_argument("--drain-timeout", type=float, default=120.0,
                        help="seconds allowed for the lag to return to 0 at the end (default 120)")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="where the config and the children's logs go (default: a new temporary "
                             "directory)")
    parser.add_argument("--json-out", type=Path, default=None, help="also write the JSON result to this file")
    add_logging_arguments(parser)
    add_event_loop_argument(parser)


def settings_from(args: argparse.Namespace) -> SoakSettings:
    """Soak settings from parsed flags."""
    return SoakSettings(
        bootstrap=args.kafka, minutes=args.minutes, interval_s=args.interval_s,
        warmup_minutes=args.warmup_minutes, processors=args.processors, partitions=args.partitions,
        scenario=args.scenario, topic_prefix=args.topic_prefix, drain_timeout_s=args.drain_timeout,
        work_dir=args.work_dir)


def run(args: argparse.Namespace) -> int:
    """Run the soak, print the table (and write the JSON); 0 when it passed."""
    setup_logging(args.log_format or "text", args.log_level or "info")
    try:
        settings = settings_from(args)
    except ValueError as exc:
        sys.stderr.write(f"hedge-monitor soak: {exc}\n")
        return 2
    loop = chosen_event_loop(args)
    if loop is None:
        return 2
    command = shlex.join([
        "hedge-monitor", "soak", "--kafka", settings.bootstrap, "--minutes", f"{settings.minutes:g}",
        "--interval-s", f"{settings.interval_s:g}",
        *(() if settings.warmup_minutes is None else ("--warmup-minutes", f"{settings.warmup_minutes:g}")),
        "--processors", str(settings.processors), "--scenario", settings.scenario,
        *(("--event-loop", loop) if loop != eventloop.DEFAULT_EVENT_LOOP else ()),
    ])
    result = eventloop.run(run_soak(settings, command=command), loop)
    print_result(result, sys.stdout)
    if args.json_out is not None:
        write_json(result, args.json_out)
    log.info("config and logs in %s", result.log_dir)
    return 0 if result.ok else 1
