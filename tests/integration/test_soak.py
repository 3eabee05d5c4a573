"""The soak at CI size: ``hedge-monitor soak --minutes 2`` end to end on the real broker.

The simulator plays the desk scenario, ingest and two processors run as subprocesses; the run must
pass (RSS growth within 5 % after a 1-minute warm-up, lag back to 0) with samples of every child.
The full hour is the same command with ``--minutes 60`` (docs/reliability.md, "Soak").
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path

import orjson
import pytest

from monitor.reliability.soak import SIMULATOR_READY, Children, SoakError

ROOT = Path(__file__).resolve().parents[2]
PROCESSORS = ("processor-0", "processor-1")


async def test_two_minute_soak_passes_with_samples_from_both_processors(
    kafka_bootstrap: str, tmp_path: Path,
) -> None:
    """Exit 0, the JSON says ok, and every sample measured both processors, ingest and the simulator."""
    json_out = tmp_path / "soak.json"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor", "soak", "--kafka", kafka_bootstrap, "--minutes", "2",
        "--warmup-minutes", "1", "--interval-s", "10", "--topic-prefix", f"soak{uuid.uuid4().hex[:8]}.",
        "--work-dir", str(tmp_path / "logs"), "--json-out", str(json_out),
        env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    output, _ = await asyncio.wait_for(process.communicate(), 420)
    text = output.decode("utf-8", "replace")
    assert process.returncode == 0, text[-4000:]
    result = orjson.loads(json_out.read_bytes())
    assert result["ok"] is True, result["problems"]
    assert "result: PASS" in text
    samples = result["samples"]
    # one sample every 10 s for 120 s
    assert len(samples) == 12
    for sample in samples:
        for name in (*PROCESSORS, "ingest", "simulator"):
            assert sample["rss_kib"][name] > 0
            assert sample["fds"][name] > 0
        for name in PROCESSORS:
            assert sample["loop_lag_s"][name] is not None
    assert samples[-1]["processed"]["processor-0"] > 0
    assert samples[-1]["processed"]["processor-1"] > 0
    assert {figure["process"] for figure in result["growth"]} == {*PROCESSORS, "ingest", "simulator"}
    assert result["final_lag"] == 0
    assert result["exit_codes"] == {"ingest": 0, "simulator": 0, "processor-0": 0, "processor-1": 0}


async def test_a_child_that_dies_fails_the_soak_with_its_log_tail(tmp_path: Path) -> None:
    """A simulator that exits (an unknown scenario) ends the wait with its exit code and its error."""
    children = Children(tmp_path, {})
    await children.start("simulator", ["simulate", "--scenario", "no-such-scenario", "--port", "0"])
    with pytest.raises(SoakError) as raised:
        await children.wait_for_log("simulator", SIMULATOR_READY, 60)
    message = str(raised.value)
    assert message.startswith("simulator exited with 1:")
    assert "no shipped scenario 'no-such-scenario'" in message
    await children.kill_all()
