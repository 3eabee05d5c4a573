"""``hedge-monitor fuzz``: mutated exchange frames through every venue parser and the codec."""

from __future__ import annotations

import argparse
from importlib.resources.abc import Traversable
from pathlib import Path

from monitor import eventloop
from monitor.codec import MAX_VALUE_BYTES
from monitor.commands.common import add_event_loop_argument, chosen_event_loop
from monitor.fuzzing import VARIANTS, FuzzReport, default_fixture_dir, run_fuzz
from monitor.venues.base import MAX_FRAME_BYTES, MAX_LIST_ITEMS

EXAMPLE = "hedge-monitor fuzz --frames 1000000 --seed 1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The fuzz command's flags."""
    parser.add_argument("--frames", type=_positive, default=100_000,
                        help="how many frames to generate and parse (default 100000)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the mutation engine (default 1)")
    parser.add_argument("--fixtures", type=Path, default=None, metavar="DIR",
                        help="directory of the documented exchange fixtures (default: the corpus "
                             "shipped with the package, monitor/fuzz_corpus)")
    parser.add_argument("--venue", action="append", choices=VARIANTS, dest="variants", metavar="VENUE",
                        help=f"fuzz only this venue (repeatable; one of {', '.join(VARIANTS)})")
    parser.add_argument("--hang-timeout", type=float, default=60.0, metavar="SECONDS",
                        help="a frame still being parsed after this long dumps the stacks and ends "
                             "the process with status 1 (default 60)")
    parser.add_argument("--per-target", action="store_true", help="also print the figures per target")
    add_event_loop_argument(parser)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def report_lines(report: FuzzReport, *, per_target: bool = False) -> list[str]:
    """The human-readable summary of a run."""
    limits = (
        f"input limits: MAX_FRAME_BYTES={MAX_FRAME_BYTES}: {report.oversize_rejected_naming_limit} of "
        f"{report.oversize_frames} oversized frames rejected naming the limit "
        f"({report.oversize_unread} sent to targets that never read their input); "
        f"MAX_LIST_ITEMS={MAX_LIST_ITEMS}: {report.long_list_rejected_naming_limit} of "
        f"{report.long_list_frames} frames with an over-long list rejected naming the limit "
        f"(the rest had it where no parser reads a list); codec MAX_VALUE_BYTES={MAX_VALUE_BYTES}: "
        f"{report.value_limit_rejections} values rejected naming the limit"
    )
    speed = f"{report.frames_per_s:,.0f}"
    lines = [
        f"frames: {report.frames} (seed {report.seed}) in {report.elapsed_s:.1f} s, {speed} frames/s",
        f"frames accepted: {report.accepted}",
        f"frames rejected: {report.rejected} (dead letters counted: {report.dead_letters})",
        f"crashes: {report.crashes}",
        f"events produced: {report.events}, invalid: {report.invalid_events}",
        limits,
        f"slowest frame: {report.slowest_frame_s * 1000:.1f} ms ({report.slowest_target})",
        "mutations: " + ", ".join(f"{kind} {count}" for kind, count in sorted(report.kinds.items())),
    ]
    lines.extend(
        f"CRASH x{sample.count} {sample.target}: {sample.error}; first frame {sample.frame_start}"
        for sample in report.crash_samples.values()
    )
    lines.extend(f"INVALID EVENT: {problem}" for problem in report.invalid_samples)
    if per_target:
        for label, counts in sorted(report.by_target.items()):
            lines.append(f"  {label}: frames {counts.frames}, accepted {counts.accepted}, "
                         f"rejected {counts.rejected}, crashes {counts.crashes}, events {counts.events}")
    lines.append("result: OK" if report.ok else "result: FAILED")
    return lines


def run(args: argparse.Namespace) -> int:
    """Run the fuzzer; 0 when no frame crashed a parser and every event was valid, else 1."""
    loop = chosen_event_loop(args)
    if loop is None:
        return 2
    fixtures: Traversable = args.fixtures or default_fixture_dir()
    if not fixtures.is_dir():
        print(f"hedge-monitor fuzz: fixture directory {fixtures} not found (use --fixtures DIR)")
        return 2

    def progress(report: FuzzReport) -> None:
        print(f"... {report.frames} frames, {report.crashes} crashes, {report.frames_per_s:,.0f} frames/s",
              flush=True)

    report = eventloop.run(run_fuzz(
        args.frames, args.seed, fixtures, variants=args.variants, hang_timeout_s=args.hang_timeout,
        progress=progress,
    ), loop)
    for line in report_lines(report, per_target=args.per_target):
        print(line)
    return 0 if report.ok else 1
