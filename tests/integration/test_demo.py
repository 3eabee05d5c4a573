"""The demo runs headless to completion for each scenario and shows the expected figures."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _demo(scenario: str, *extra: str) -> str:
    """Run the demo at 30x with plain output; return stdout (it must exit 0)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "demo", "--scenario", scenario, "--speed", "30",
         "--plain", "--refresh", "2", "--metrics-port", "0", *extra],
        env=env, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def _figure(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    assert match is not None, f"{pattern!r} not in output:\n{text[-3000:]}"
    return float(match.group(1).replace(",", ""))


def test_seed_drop_hedge_offsets_the_fall() -> None:
    """seed-drop: 150 contracts short, BTC falls ~9 %, spot and hedge changes cancel within basis noise."""
    out = _demo("seed-drop")
    assert re.search(r"okx:BTC-USDT-SWAP \(one-way \w+, okx margin rule\): -150 contracts", out)
    assert "BTC: price" in out
    assert "hedge ratio 1.000" in out
    spot = _figure(r"BTC: spot value change ([-+][\d,.]+) USD", out)
    hedge = _figure(r"hedge value change ([-+][\d,.]+) USD", out)
    net = _figure(r"\(incl. funding\), net ([-+][\d,.]+) USD", out)
    # the fall is ~ 1.5 * 60000 * -0.09 = -8100; the short gains the same
    assert spot < -6_000
    assert hedge > 6_000
    assert net == pytest.approx(spot + hedge, abs=0.01)
    # net within the basis noise and fees: under 0.2 % of the 90000 USD exposure (180 USD)
    assert abs(net) < 180
    assert "alerts fired: 0" in out


def test_rally_liquidation_fires_the_liquidation_alert() -> None:
    """rally-liquidation: the short nears its liquidation price and the critical alert fires."""
    out = _demo("rally-liquidation")
    assert re.search(r"critical liquidation_distance_low okx:BTC-USDT-SWAP: .* from its liquidation", out)
    distance = _figure(r"liquidation 65,704\.33 \((0\.\d+) away\)", out)
    # OKX liquidates at MM plus the 0.05 % closing fee: (9000 + 1.5 * 60000) / (1.5 * 1.0045)
    # = 65704.33; the rally ends within 5 % of it
    assert distance < 0.05


def test_cross_hedge_reports_effectiveness_and_min_variance_ratio() -> None:
    """cross-hedge: BTC hedged with ETH futures leaks; effectiveness figures and h* are shown."""
    out = _demo("cross-hedge")
    offset = _figure(r"BTC: .*dollar offset ([\d.]+), R2", out)
    assert offset < 0.8  # BTC -8 % vs ETH -5 %: the hedge offsets well under 80 %
    assert re.search(r"BTC .*hedge ratio [\d.]+ .*contracts to target -?\d+", out)
    assert "dollar_offset_out_of_band BTC" in out


def test_stale_feed_alerts_and_resync_corrects_the_position() -> None:
    """stale-feed: the silent venue raises a stale alert; the resync finds the cut to 140 contracts."""
    out = _demo("stale-feed")
    assert "stale_feed okx:BTC-USDT-SWAP" in out
    assert re.search(r"okx:BTC-USDT-SWAP \(one-way \w+, okx margin rule\): -140 contracts", out)
    # 1.5 BTC against 140 * 0.01 = 1.4 BTC short: 0.1 BTC under, 10 contracts to target
    assert "net delta +0.1000 BTC" in out
    assert "contracts to target 10" in out


def test_sigterm_stops_the_demo_gracefully() -> None:
    """SIGTERM mid-run ends the demo with a summary and exit status 0."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", "demo", "--scenario", "seed-drop", "--speed", "2",
         "--plain", "--refresh", "0.5", "--metrics-port", "0"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("[demo] BTC price"):
            break
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err[-2000:]
    assert "== summary of seed-drop" in out


def test_rally_liquidation_prints_a_remediation_that_checks_by_hand() -> None:
    """The critical alert says what to add, and its check line adds up by OKX's rule."""
    out = _demo("rally-liquidation")
    assert re.search(r"to restore okx:BTC-USDT-SWAP .*: add [\d,.]+ USDT margin to bring liquidation "
                     r"back to 9\.0 % away", out)
    check = re.search(r"check: at ([\d,.]+) \(9\.0 % above the mark ([\d,.]+)\) the venue requires "
                      r"([\d,.]+) USDT and the margin balance is (-?[\d,.]+) USDT: .* = ([\d,.]+) USDT", out)
    assert check is not None, out[-3000:]
    target, mark, requirement, balance, add = (float(g.replace(",", "")) for g in check.groups())
    # By hand, OKX cross, short 150 x 0.01 BTC @60,000 on a 9,000 USDT wallet; the demo's stages
    # resolve at 9 % (warning 8 % + the 1 % gap), so:
    #   target T = mark x 1.09
    #   requirement(T) = 1.5 x T x (0.4 % MMR + 0.05 % closing fee)      (OKX tier 1, contracts < 1000)
    #   balance(T) = 9,000 - 1.5 x (T - 60,000)                           (wallet + uPnL of the short)
    #   X = requirement(T) - balance(T); e.g. mark 62,000: T 67,580, 1.5 x 67,580 x 0.0045 = 456.17,
    #   9,000 - 1.5 x 7,580 = -2,370, X = 456.17 + 2,370 = 2,826.17 USDT
    assert target == pytest.approx(mark * 1.09, abs=0.01)
    assert requirement == pytest.approx(1.5 * target * 0.0045, abs=0.01)
    assert balance == pytest.approx(9_000 - 1.5 * (target - 60_000), abs=0.01)
    assert add == pytest.approx(requirement - balance, abs=0.011)
