"""``hedge-monitor bench``: the benchmark suite (the ``bench`` package of a source checkout).

The scenarios live in the top-level ``bench`` package beside ``monitor/`` (``python -m bench`` runs
the same thing). It is not part of the installed wheel, so this command finds it in the checkout
the ``monitor`` package was installed from (an editable install) and says so when there is none.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import cast

from monitor.commands.common import add_event_loop_argument

EXAMPLE = "hedge-monitor bench core --size tiny --json-out bench-results/core.json"
SCENARIOS = ("core", "fanout", "snapshot", "e2e", "ceiling", "all")
SIZES = ("tiny", "full")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The bench command's flags."""
    parser.add_argument("scenario", nargs="?", choices=SCENARIOS, default="all",
                        help="which scenario to run (default all)")
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


def _load_runner() -> Callable[[argparse.Namespace], int] | None:
    """``bench.runner.run`` from the import path, else from the checkout beside ``monitor/``."""
    try:
        module = importlib.import_module("bench.runner")
    except ModuleNotFoundError as exc:
        if exc.name not in ("bench", "bench.runner"):
            raise
        checkout = Path(__file__).resolve().parents[2]
        if not (checkout / "bench" / "runner.py").is_file():
            return None
        sys.path.insert(0, str(checkout))
        module = importlib.import_module("bench.runner")
    return cast("Callable[[argparse.Namespace], int]", module.run)


def run(args: argparse.Namespace) -> int:
    """Run the chosen scenarios; print tables and write JSON."""
    runner = _load_runner()
    if runner is None:
        sys.stderr.write("hedge-monitor bench: the bench/ package is not here: it ships with the "
                         "source checkout, not the installed package (run it from a checkout)\n")
        return 2
    return runner(args)
