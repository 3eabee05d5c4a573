"""``hedge-monitor simulate``: the exchange simulator as a standalone server."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from monitor.commands.common import add_event_loop_argument, run_in_event_loop
from monitor.runtime import install_stop_signals, setup_logging
from monitor.sim.scenario import load_scenario, scenario_names
from monitor.sim.server import SimulatorServer, serve_simulator

EXAMPLE = "hedge-monitor simulate --scenario seed-drop --port 8765"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The simulate command's flags."""
    parser.add_argument("--scenario", default=None,
                        help=f"scenario to play: {', '.join(scenario_names())} or a JSON file")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    parser.add_argument("--speed", type=float, default=1.0, help="scenario seconds per second")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: the scenario's)")
    parser.add_argument("--log-level", choices=("debug", "info", "warning", "error"), default="info")
    add_event_loop_argument(parser)


def _announce(sim: SimulatorServer) -> None:
    print(f"simulator listening on {sim.host}:{sim.port}", flush=True)
    for venue in sorted(sim.venues):
        print(f"  {venue:<13} ws {sim.ws_url(venue):<40} rest {sim.rest_url(venue)}", flush=True)
    for (venue, account) in sorted(sim.world.accounts):
        if venue == "hyperliquid":  # watched by wallet address (simulated, not a real wallet)
            print(f"  account {venue}/{account}: address {sim.address(venue, account)}", flush=True)
            continue
        print(f"  account {venue}/{account}: api key sim-{venue}-{account}-key "
              f"(secret and passphrase follow the same pattern)", flush=True)


async def _main(args: argparse.Namespace) -> int:
    scenario = None if args.scenario is None else load_scenario(args.scenario)
    seed = args.seed if args.seed is not None else (0 if scenario is None else scenario.seed)
    stop = asyncio.Event()
    install_stop_signals(stop)
    server = asyncio.ensure_future(serve_simulator(
        scenario, host=args.host, port=args.port, seed=seed, speed=args.speed, on_ready=_announce))
    stopper = asyncio.ensure_future(stop.wait())
    await asyncio.wait({server, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    server.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await server
    return 0


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM."""
    setup_logging("text", args.log_level)
    return run_in_event_loop(args, lambda: _main(args))
