"""``hedge-monitor crash-test``: SIGKILL processors under a seeded workload, then verify every portfolio.

Starts ``--processors`` ``hedge-monitor process`` subprocesses on fresh, uniquely prefixed topics,
writes ``--events`` events while killing a random processor ``--kills`` times, waits until they
have caught up, and recomputes every portfolio from the input topics (docs/reliability.md).
Prints a table and a JSON document; exits 0 when everything matched, 1 otherwise.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path

import orjson

from monitor import eventloop
from monitor.commands.common import add_event_loop_argument, add_logging_arguments, chosen_event_loop
from monitor.reliability.crashtest import (
    CrashTestSettings,
    KafkaScriptBroker,
    print_result,
    run_crash_test,
)
from monitor.reliability.workload import WorkloadSettings
from monitor.runtime import setup_logging

EXAMPLE = (
    "hedge-monitor crash-test --kafka 127.0.0.1:9092 --events 100000 --portfolios 100 --kills 20 --seed 1"
)
log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The crash-test command's flags."""
    parser.add_argument("--kafka", required=True, metavar="HOST:PORT",
                        help="Kafka bootstrap servers, e.g. 127.0.0.1:9092")
    parser.add_argument("--topic-prefix", default="",
                        help="prefix of the test's topics (default: unique per run, never the real topics)")
    parser.add_argument("--events", type=int, default=100_000, help="events to write (default 100000)")
    parser.add_argument("--portfolios", type=int, default=100, help="portfolios (default 100)")
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs of a random processor (default 20)")
    parser.add_argument("--seed", type=int, default=1,
                        help="seed of the workload and kill points (default 1)")
    parser.add_argument("--processors", type=int, default=2, help="processor subprocesses (default 2)")
    parser.add_argument("--partitions", type=int, default=6, help="partitions per topic (default 6)")
    parser.add_argument("--checkpoint-interval-ms", type=int, default=200,
                        help="the processors' checkpoint interval (default 200)")
    parser.add_argument("--price-share", type=float, default=0.5,
                        help="fraction of events that are price ticks (default 0.5)")
    parser.add_argument("--catch-up-timeout", type=float, default=300.0,
                        help="seconds allowed to catch up after the last event (default 300)")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="where the processors' logs go (default: a new temporary directory)")
    parser.add_argument("--rebalance-kill-share", type=float, default=0.2,
                        help="share of kills that land while a new member joins (default 0.2)")
    parser.add_argument("--leave-share", type=float, default=0.1,
                        help="share of kills after which no processor restarts; a new member joins at "
                             "a later kill point (default 0.1)")
    parser.add_argument("--broker-restarts", type=int, default=0,
                        help="stop and start the broker this many times during the run, with the "
                             "project's deploy/kafka/kafka.sh for the --kafka port (default 0)")
    parser.add_argument("--kafka-run-dir", type=Path, default=None,
                        help="the broker's HEDGE_KAFKA_RUN_DIR for --broker-restarts (default the "
                             "script's own: <cache>/kafka/run-<port>)")
    parser.add_argument("--dynamic-members", action="store_true",
                        help="run the processors as dynamic group members (default: static members, "
                             "--instance-id per slot, as a supervisor restarting them would)")
    parser.add_argument("--history-hours", type=float, default=0.0,
                        help="hours of old price ticks (10/s per instrument) written before the run, "
                             "which restarted processors must not re-read (default 0)")
    parser.add_argument("--json", type=Path, default=None, help="also write the JSON result to this file")
    add_logging_arguments(parser)
    add_event_loop_argument(parser)


def _broker_port(bootstrap: str) -> int:
    host, _, port = bootstrap.rpartition(":")
    if host not in ("127.0.0.1", "localhost") or not port.isdigit():
        raise ValueError(f"--broker-restarts restarts a local broker: --kafka must be 127.0.0.1:PORT, "
                         f"got {bootstrap!r}")
    return int(port)


def settings_from(args: argparse.Namespace) -> CrashTestSettings:
    """Crash-test settings from parsed flags."""
    restart = None
    if args.broker_restarts:
        restart = KafkaScriptBroker(_broker_port(args.kafka), run_dir=args.kafka_run_dir)
    return CrashTestSettings(
        bootstrap=args.kafka,
        workload=WorkloadSettings(events=args.events, portfolios=args.portfolios, seed=args.seed,
                                  price_share=args.price_share),
        kills=args.kills,
        processors=args.processors,
        partitions=args.partitions,
        topic_prefix=args.topic_prefix,
        checkpoint_interval_ms=args.checkpoint_interval_ms,
        catch_up_timeout_s=args.catch_up_timeout,
        work_dir=args.work_dir,
        rebalance_kill_share=args.rebalance_kill_share,
        leave_share=args.leave_share,
        broker_restarts=args.broker_restarts,
        restart_broker=restart,
        history_hours=args.history_hours,
        static_members=not args.dynamic_members,
    )


def run(args: argparse.Namespace) -> int:
    """Run the crash test, print the table and JSON; 0 when it passed."""
    setup_logging(args.log_format or "text", args.log_level or "info")
    try:
        settings = settings_from(args)
    except ValueError as exc:
        sys.stderr.write(f"hedge-monitor crash-test: {exc}\n")
        return 2
    loop = chosen_event_loop(args)
    if loop is None:
        return 2
    command = shlex.join([
        "hedge-monitor", "crash-test", "--kafka", settings.bootstrap,
        "--events", str(settings.workload.events), "--portfolios", str(settings.workload.portfolios),
        "--kills", str(settings.kills), "--seed", str(settings.workload.seed),
        "--processors", str(settings.processors), "--partitions", str(settings.partitions),
        *(("--broker-restarts", str(settings.broker_restarts)) if settings.broker_restarts else ()),
        *(("--history-hours", str(settings.history_hours)) if settings.history_hours else ()),
        *(("--event-loop", loop) if loop != eventloop.DEFAULT_EVENT_LOOP else ()),
    ])
    result = eventloop.run(run_crash_test(settings, command=command), loop)
    print_result(result, sys.stdout)
    if args.json is not None:
        args.json.write_bytes(orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2))
    log.info("processor logs in %s", result.log_dir)
    return 0 if result.ok else 1
