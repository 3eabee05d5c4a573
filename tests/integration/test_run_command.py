"""``hedge-monitor run --config``: one process, in-process bus, against the simulator."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

from monitor.sim.scenario import load_scenario
from monitor.sim.server import SimulatorServer
from tests.support import eventually

ROOT = Path(__file__).resolve().parents[2]


async def test_run_monitors_the_configured_accounts(tmp_path: Path) -> None:
    """run connects the config's OKX and Binance spot accounts and prints the seed's figures."""
    scenario = load_scenario("seed-drop")
    async with SimulatorServer(seed=scenario.seed, heartbeat_s=0.2) as sim:
        template = (ROOT / "examples" / "simulator.toml").read_text(encoding="utf-8")
        config = tmp_path / "monitor.toml"
        config.write_text(template.replace("127.0.0.1:8765", f"127.0.0.1:{sim.port}")
                          .replace("port = 9464", "port = 0"), encoding="utf-8")
        env = {
            **os.environ, "PYTHONPATH": str(ROOT),
            "SIM_OKX_KEY": "sim-okx-okx-main-key", "SIM_OKX_SECRET": "sim-okx-okx-main-secret",
            "SIM_OKX_PASSPHRASE": "sim-okx-okx-main-passphrase",
            "SIM_SPOT_KEY": "sim-binance-spot-spot-main-key",
            "SIM_SPOT_SECRET": "sim-binance-spot-spot-main-secret",
        }
        await sim.load_accounts(scenario)
        player = asyncio.ensure_future(sim.run_scenario(scenario, 20.0, load_accounts=False))
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "monitor", "run", "--config", str(config), "--view", "plain",
            "--refresh", "0.5", env=env, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        stdout = process.stdout
        assert stdout is not None
        seen: list[str] = []

        async def seed_figures_printed() -> bool:
            line = (await asyncio.wait_for(stdout.readline(), 30)).decode()
            if not line:
                raise AssertionError(f"run closed its output early: {''.join(seen[-20:])}")
            seen.append(line)
            return "[seed] okx:BTC-USDT-SWAP qty -150" in line and any(
                "[seed] BTC price" in s and "hedge ratio 1.000" in s for s in seen)

        try:
            # one line per turn, read as soon as it is printed
            await eventually(seed_figures_printed, 60, interval_s=0, state=lambda: "".join(seen[-20:]))
            process.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(process.communicate(), 30)
        finally:
            player.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await player
            if process.returncode is None:
                process.kill()
    # 1.5 BTC spot against 150 * 0.01 BTC short: net delta 0, hedge ratio 1
    assert "net delta 0.0000" in "".join(seen)
    assert process.returncode == 0, err.decode()[-2000:]
