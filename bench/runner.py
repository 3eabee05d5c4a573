"""Runs the chosen scenarios, prints their tables and writes one JSON file for the run."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench import core, e2e, fanout, recovery, scaleout, shipped, snapshot
from bench.broker import kafka_broker
from bench.report import DEFAULT_RESULTS_DIR, context, write_json
from monitor import eventloop

FULL_REPEATS = 3


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


@contextlib.contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    """``os.environ[name] = value`` for the block (child processes inherit it), then as it was."""
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


def run(args: argparse.Namespace) -> int:
    """Run ``args.scenario`` at ``args.size``; 0 when every scenario ran (targets are reported only).

    The event loop (``--event-loop``, else ``$HEDGE_EVENT_LOOP``, else asyncio) is resolved once,
    recorded as ``"event_loop"`` and exported as ``$HEDGE_EVENT_LOOP`` for the run, so the scenarios
    (``monitor.eventloop.run``) and the e2e worker processes they start use the same loop.
    """
    scenario: str = args.scenario
    size: str = args.size
    repeats: int = args.repeats if args.repeats is not None else (FULL_REPEATS if size == "full" else 1)
    if repeats < 1:
        sys.stderr.write("bench: --repeats must be at least 1\n")
        return 2
    try:
        event_loop = eventloop.resolve(eventloop.requested_loop(args.event_loop))
    except eventloop.EventLoopError as exc:
        sys.stderr.write(f"bench: {exc}\n")
        return 2
    with _environment(eventloop.ENVIRONMENT_VARIABLE, event_loop):
        return _run(args, scenario, size, repeats, event_loop)


def _run(args: argparse.Namespace, scenario: str, size: str, repeats: int, event_loop: str) -> int:
    results: dict[str, Any] = {"scenario": scenario, "size": size, "repeats": repeats,
                               "event_loop": event_loop, **context(sys.argv), "scenarios": {}}
    scenarios = results["scenarios"]
    if scenario in ("core", "all"):
        _say(f"core ({size}, {repeats} run(s)) ...")
        scenarios["core"] = core.run(size, repeats)
        _say(scenarios["core"]["table"] + "\n")
    if scenario in ("fanout", "all"):
        _say(f"fanout ({size}, {repeats} run(s)) ...")
        scenarios["fanout"] = fanout.run(size, repeats)
        _say(scenarios["fanout"]["table"] + "\n")
    if scenario in ("snapshot", "all"):
        _say(f"snapshot ({size}, {repeats} run(s)) ...")
        scenarios["snapshot"] = snapshot.run(size, repeats)
        _say(scenarios["snapshot"]["table"] + "\n")
    if scenario in ("e2e", "ceiling", "all"):
        latency = scenario in ("e2e", "all")
        ceiling = scenario in ("ceiling", "all")
        _say(f"{scenario} on Kafka ({size}, {repeats} run(s)) ...")
        with kafka_broker(args.kafka) as bootstrap:
            figures = e2e.run(size, repeats, bootstrap, latency=latency, ceiling=ceiling)
        scenarios["ceiling" if ceiling and not latency else "e2e"] = figures
        _say(figures["table"] + "\n")
    if scenario in ("shipped", "all"):
        _say(f"shipped command on Kafka ({size}) ...")
        with kafka_broker(args.kafka) as bootstrap:
            scenarios["shipped"] = shipped.run(size, bootstrap)
        _say(scenarios["shipped"]["table"] + "\n")
    for named, module in (("recovery", recovery), ("scaleout", scaleout)):
        if scenario == named:
            _say(f"{named} on Kafka ({size}) ...")
            with kafka_broker(args.kafka) as bootstrap:
                scenarios[named] = module.run(size, bootstrap)
            _say(scenarios[named]["table"] + "\n")
    if hasattr(os, "getloadavg"):
        results["machine"]["load_average_1m_end"] = round(os.getloadavg()[0], 2)
    path = Path(args.json_out) if args.json_out else DEFAULT_RESULTS_DIR / f"{scenario}-{size}.json"
    _say(f"results written to {write_json(path, results)}")
    return 0
